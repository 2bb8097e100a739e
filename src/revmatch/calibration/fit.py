"""Fitting the calibration model: NUTS (PyMC's own or nutpie, ``choose_sampler``) or
mean-field ADVI stopped once its loss settles; the posterior as ``arviz.InferenceData``.

ADVI fits the centred parametrisation of the model and refines its fit with smaller steps:
so its quality, leniency, accuracy and expertise precision rank within 0.05 Spearman of NUTS
at KDD'09 size (``benchmarks/calibration_vi.py``); ``check_reviewer_report`` refuses the
reviewer report of any method not shown to (``REVIEWER_REPORT_METHODS``)."""

from __future__ import annotations

import importlib.util
import logging
import time

import numpy as np
import pandas as pd

from revmatch.calibration.diagnostics import advi_loss_change
from revmatch.calibration.model import add_threshold_draws, build_model

logger = logging.getLogger(__name__)

METHODS = ("nuts", "advi")
SAMPLERS = ("auto", "nutpie", "pymc")
# With sampler "auto", below this many reviews PyMC's own NUTS (C backend, compiled in ~3 s)
# runs: there nutpie's numba compilation (~18 s) costs more than its faster sampling saves.
# Measured: 1,800 reviews (KDD'09 size) PyMC 42.7 s vs nutpie 69 s; 9,000 reviews PyMC
# 522 s vs nutpie 304 s (2 chains of 300 + 1000, 2 cores, same load).
NUTPIE_MIN_REVIEWS = 4000

# ADVI: Adam steps (the loss settles within a few thousand on conference-sized data), step
# size and gradient-norm bound (PyMC's default adagrad steps reach NaN on the demo reviews).
ADVI_ITERATIONS = 10_000
ADVI_LEARNING_RATE = 0.01
ADVI_MAX_GRAD_NORM = 100.0
# ADVI stops early, checked every ADVI_CHECK_EVERY steps from ADVI_MIN_ITERATIONS on, once
# the loss fell by less than ADVI_STOP_LOSS_CHANGE between the last two windows.
ADVI_CHECK_EVERY = 500
ADVI_MIN_ITERATIONS = 2000
ADVI_STOP_LOSS_CHANGE = 0.001
# Then ADVI refines: ADVI_REFINE_ITERATIONS more steps (at most ADVI_REFINE_FRACTION of the
# budget ``advi_iterations``, which counts them) at a tenth of the step size, each gradient
# averaged over ADVI_REFINE_DRAWS draws. Without it the reviewer parameters end where Adam's
# noisy steps left them: leniency ranked 0.88-0.90 Spearman against NUTS at KDD'09 size,
# 0.99 with it (``benchmarks/calibration_vi.py``).
ADVI_REFINE_ITERATIONS = 2000
ADVI_REFINE_FRACTION = 0.2
ADVI_REFINE_LEARNING_RATE = ADVI_LEARNING_RATE / 10
ADVI_REFINE_DRAWS = 4
# ADVI fits the centred parametrisation of the thresholds (``build_model``): mean-field ADVI
# on the non-centred one, whose leniency is a ratio of independent factors, recovers it worse.
ADVI_PARAMETRISATION = "centred"


# Methods whose reviewer estimates (leniency, accuracy) and expertise precisions may be
# reported: each recovered within 0.05 Spearman of NUTS on simulated conferences of KDD'09
# size (``benchmarks/calibration_vi.py``, ``benchmarks/README.md``, "Variational
# calibration"). ADVI meets it since it fits the centred model and refines (seeds 0 and 1:
# leniency 0.99 Spearman with NUTS); before, its leniency ranked 0.88-0.90 with NUTS.
REVIEWER_REPORT_METHODS = ("nuts", "advi")


class ReviewerReportRefused(ValueError):
    """The reviewer report was asked of a fit whose reviewer estimates are not trustworthy."""


def check_reviewer_report(method: str) -> None:
    """Raise ``ReviewerReportRefused`` unless the reviewer report (leniency, accuracy,
    expertise precisions) may be written from a fit by ``method`` (``REVIEWER_REPORT_METHODS``:
    a fitting method joins it once ``benchmarks/calibration_vi.py`` shows it within 0.05
    Spearman of NUTS). Call it before fitting, in the step that writes reviewer outputs."""
    check_method(method)
    if method not in REVIEWER_REPORT_METHODS:
        raise ReviewerReportRefused(
            f"calibration method {method!r} cannot write the reviewer report: on simulated "
            "conferences of KDD'09 size its reviewer leniency, accuracy and expertise precisions are "
            "not shown within 0.05 Spearman of NUTS (the bar for reporting them; benchmarks/README.md, "
            "'Variational calibration'), so reviewers would be ranked on fitting noise. "
            f"Use one of {REVIEWER_REPORT_METHODS}"
        )


def _review_data(reviews: pd.DataFrame):
    """The reviews as an ``xarray.Dataset`` along ``review`` (the observed data group)."""
    import xarray as xr

    columns = {name: ("review", reviews[name].to_numpy()) for name in ("score", "expertise")}
    for name in ("submission_id", "reviewer_id"):
        columns[name] = ("review", reviews[name].astype(str).to_numpy(dtype=str))
    return xr.Dataset(columns, coords={"review": np.arange(len(reviews))})


def check_method(method: str) -> None:
    """Raise ``ValueError`` unless ``method`` is one of ``METHODS``."""
    if method not in METHODS:
        raise ValueError(f"method must be 'nuts' or 'advi', got {method!r}")


def check_sampler(sampler: str) -> None:
    """Raise ``ValueError`` unless ``sampler`` is one of ``SAMPLERS``."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")


def _nutpie_available() -> bool:
    return importlib.util.find_spec("nutpie") is not None


def choose_sampler(sampler: str, n_reviews: int) -> str:
    """The NUTS implementation to run: ``"nutpie"`` or ``"pymc"``.

    ``"auto"`` takes nutpie (when installed) from ``NUTPIE_MIN_REVIEWS`` reviews up, where its
    faster sampling outweighs its compilation, and PyMC's sampler below; ``"nutpie"`` without
    nutpie installed falls back to PyMC's sampler with a warning.
    """
    check_sampler(sampler)
    if sampler == "pymc":
        return "pymc"
    if not _nutpie_available():
        if sampler == "nutpie":
            logger.warning("nutpie is not installed; sampling with PyMC's NUTS")
        return "pymc"
    return "nutpie" if sampler == "nutpie" or n_reviews >= NUTPIE_MIN_REVIEWS else "pymc"


def fit_calibration(
    reviews: pd.DataFrame,
    n_levels: int,
    n_expertise: int,
    method: str = "nuts",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    hyper: dict | None = None,
    cores: int = 1,
    advi_iterations: int = ADVI_ITERATIONS,
    sampler: str = "auto",
):
    """Posterior of the calibration model (``build_model``) as ``arviz.InferenceData``.

    ``method="nuts"`` samples ``chains`` chains of ``tune`` + ``draws`` with the NUTS of
    ``choose_sampler(sampler, len(reviews))``: nutpie (``posterior.attrs["compile_seconds"]``:
    its numba compilation) or PyMC's own. ``method="advi"`` fits mean-field ADVI to the
    centred model (``ADVI_PARAMETRISATION``) with at most ``advi_iterations`` Adam steps:
    until the loss settles (``stop_when_settled``), then ``ADVI_REFINE_ITERATIONS`` smaller,
    less noisy steps; it returns ``draws`` draws of the approximation as one chain (``tune``
    and ``chains`` are not used). Its expertise precisions rank as NUTS's but the highest run
    low (by a third at KDD'09 size, ``benchmarks/README.md``). The posterior holds
    ``thresholds`` and ``threshold_shift`` too (``add_threshold_draws``); ``posterior.attrs``
    records the method, the sampler and the wall time.
    """
    import pymc as pm

    check_method(method)
    parametrisation = ADVI_PARAMETRISATION if method == "advi" else "noncentred"
    model = build_model(reviews, n_levels, n_expertise, hyper, parametrisation=parametrisation)
    start = time.perf_counter()
    nuts_sampler = choose_sampler(sampler, len(reviews)) if method == "nuts" else None
    with model:
        if nuts_sampler == "nutpie":
            import nutpie

            compiled = nutpie.compile_pymc_model(model)
            compile_seconds = time.perf_counter() - start
            idata = nutpie.sample(
                compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed, progress_bar=False
            )
            idata.posterior.attrs["sampler"] = "nutpie"
            idata.posterior.attrs["compile_seconds"] = compile_seconds
        elif method == "nuts":
            idata = pm.sample(
                draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed,
                progressbar=False, compute_convergence_checks=False,
            )
            idata.posterior.attrs["sampler"] = "pymc"
        else:
            refine = min(ADVI_REFINE_ITERATIONS, int(ADVI_REFINE_FRACTION * advi_iterations))
            inference = pm.ADVI(random_seed=seed)
            inference.fit(
                n=advi_iterations - refine, progressbar=False,
                obj_optimizer=pm.adam(learning_rate=ADVI_LEARNING_RATE),
                total_grad_norm_constraint=ADVI_MAX_GRAD_NORM, callbacks=[stop_when_settled],
            )
            settled_after = len(inference.hist)
            if refine:
                inference.fit(
                    n=refine, progressbar=False, obj_n_mc=ADVI_REFINE_DRAWS,
                    obj_optimizer=pm.adam(learning_rate=ADVI_REFINE_LEARNING_RATE),
                    total_grad_norm_constraint=ADVI_MAX_GRAD_NORM,
                )
            approx = inference.approx
            idata = approx.sample(draws, random_seed=seed, return_inferencedata=True)
            losses = np.asarray(inference.hist, dtype=np.float64)
            idata.posterior.attrs["sampler"] = "advi"
            idata.posterior.attrs["parametrisation"] = parametrisation
            idata.posterior.attrs["advi_iterations"] = int(len(losses))
            idata.posterior.attrs["advi_refine_iterations"] = int(len(losses) - settled_after)
            final_loss = float(losses[-100:].mean()) if len(losses) else float("nan")
            idata.posterior.attrs["advi_final_loss"] = final_loss
            idata.posterior.attrs["advi_loss_change"] = advi_loss_change(losses)
    seconds = time.perf_counter() - start
    add_threshold_draws(idata, n_levels)
    idata.add_groups(observed_data=_review_data(reviews))
    idata.posterior.attrs["method"] = method
    idata.posterior.attrs["fit_seconds"] = seconds
    logger.info("fitted the calibration model (%s) in %.1f s", method, seconds)
    return idata


def stop_when_settled(approx, losses: np.ndarray, iteration: int) -> None:
    """``pm.fit`` callback: stop ADVI (``StopIteration``) once its loss has settled."""
    if iteration < ADVI_MIN_ITERATIONS or iteration % ADVI_CHECK_EVERY:
        return
    change = advi_loss_change(losses[:iteration])
    if np.isfinite(change) and abs(change) < ADVI_STOP_LOSS_CHANGE:
        logger.info("ADVI settled after %d steps (loss change %.4f%%)", iteration, 100 * change)
        raise StopIteration
