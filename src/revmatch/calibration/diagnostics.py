"""Convergence of a calibration fit: R-hat, ESS and divergences of NUTS, the settling of the
ADVI loss, and the problems they show."""

from __future__ import annotations

from typing import Any

import numpy as np

# ADVI counts as settled when its loss fell by at most ADVI_MAX_LOSS_CHANGE (relative) from
# the second-last to the last ADVI_LOSS_WINDOW of the iterations.
ADVI_LOSS_WINDOW = 0.1
ADVI_MAX_LOSS_CHANGE = 0.005


def advi_loss_change(losses: np.ndarray, window: float = ADVI_LOSS_WINDOW) -> float:
    """Relative drop of the ADVI loss (negative ELBO) between the last two windows of
    ``window`` of the iterations: near 0 once the fit has settled, clearly positive while the
    loss still falls (then more iterations are needed)."""
    losses = np.asarray(losses, dtype=np.float64)
    size = int(len(losses) * window)
    if size < 1:
        return float("nan")
    previous, last = losses[-2 * size:-size].mean(), losses[-size:].mean()
    return float((previous - last) / abs(last))


def calibration_diagnostics(idata) -> dict:
    """Convergence summary: method, chains, draws, max R-hat, min bulk/tail ESS over every
    scalar of every posterior variable, the variable with the worst R-hat, divergences.

    R-hat and ESS are None for ADVI (draws of an approximation, not chains).
    """
    import arviz as az

    posterior = idata.posterior
    method = posterior.attrs.get("method", "nuts")
    diagnostics: dict[str, Any] = {
        "method": method,
        "sampler": posterior.attrs.get("sampler"),
        "chains": int(posterior.sizes["chain"]),
        "draws": int(posterior.sizes["draw"]),
        "fit_seconds": posterior.attrs.get("fit_seconds"),
        "max_rhat": None,
        "worst_rhat_variable": None,
        "min_ess_bulk": None,
        "min_ess_tail": None,
        "divergences": None,
    }
    if method == "advi":
        diagnostics["advi_iterations"] = posterior.attrs.get("advi_iterations")
        diagnostics["advi_final_loss"] = posterior.attrs.get("advi_final_loss")
        diagnostics["advi_loss_change"] = posterior.attrs.get("advi_loss_change")
        return diagnostics
    names = [name for name in posterior.data_vars if posterior[name].size > 0]
    rhat = az.rhat(posterior, var_names=names)
    ess_bulk = az.ess(posterior, var_names=names, method="bulk")
    ess_tail = az.ess(posterior, var_names=names, method="tail")
    worst = {name: float(np.nanmax(rhat[name].to_numpy())) for name in names}
    if diagnostics["chains"] > 1 and worst:
        diagnostics["worst_rhat_variable"] = max(worst, key=worst.get)
        diagnostics["max_rhat"] = worst[diagnostics["worst_rhat_variable"]]
    diagnostics["min_ess_bulk"] = float(min(np.nanmin(ess_bulk[name].to_numpy()) for name in names))
    diagnostics["min_ess_tail"] = float(min(np.nanmin(ess_tail[name].to_numpy()) for name in names))
    if "sample_stats" in idata and "diverging" in idata.sample_stats:
        diagnostics["divergences"] = int(idata.sample_stats["diverging"].sum())
    return diagnostics


def check_convergence(
    diag: dict, max_rhat: float = 1.05, min_ess: float = 100, max_loss_change: float = ADVI_MAX_LOSS_CHANGE
) -> list[str]:
    """Problems found in ``calibration_diagnostics`` output (empty when fine): NUTS with an
    R-hat above ``max_rhat``, a bulk or tail ESS below ``min_ess`` or any divergence; ADVI
    with a non-finite loss or a loss still falling by more than ``max_loss_change``."""
    problems = []
    if diag.get("max_rhat") is not None and not diag["max_rhat"] <= max_rhat:
        problems.append(f"R-hat {diag['max_rhat']:.3f} > {max_rhat} ({diag.get('worst_rhat_variable')})")
    for key, label in (("min_ess_bulk", "bulk"), ("min_ess_tail", "tail")):
        if diag.get(key) is not None and not diag[key] >= min_ess:
            problems.append(f"{label} ESS {diag[key]:.0f} < {min_ess}")
    if diag.get("divergences"):
        problems.append(f"{diag['divergences']} divergent transition(s)")
    loss = diag.get("advi_final_loss")
    if loss is not None and not np.isfinite(loss):
        problems.append(f"ADVI loss is not finite ({loss})")
    change = diag.get("advi_loss_change")
    if change is not None and np.isfinite(change) and change > max_loss_change:
        problems.append(
            f"ADVI loss still falling ({change:.2%} over the last iterations > {max_loss_change:.2%})"
        )
    return problems
