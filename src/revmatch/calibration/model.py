"""The SIGKDD'09 Bayesian model of review scores (Flach et al., 2010) in PyMC.

Each review ``r`` of submission ``s`` by reviewer ``j`` at expertise level ``e`` gives an
ordinal score ``y`` in ``0 .. L-1``. The model (the chairs' spec, ``calibration.md``):

- submission quality ``q[s] ~ Normal(m_q, precision p_q)``, ``m_q`` the middle of the scale;
- expertise precision ``gamma[e] ~ Gamma(k_e, beta_e)``;
- latent review score ``z[r] ~ Normal(q[s], precision gamma[e])``;
- reviewer accuracy ``a[j] ~ Gamma(k_a, beta_a)``;
- reviewer thresholds ``theta[j, t] ~ Normal(theta0[t], precision a[j])``;
- the score is the number of the reviewer's thresholds below ``z[r]``.

The nominal thresholds ``theta0[t] = t + 0.5`` lie half way between adjacent rating levels,
so the latent quality is on the scale of the scores themselves. Marginalising ``z`` gives an
ordered-probit likelihood ``P(y >= t+1) = Phi((q - theta[j, t]) * sqrt(gamma[e]))``.

The fit keeps every reviewer's thresholds ordered and non-centred (``theta0 + z / sqrt(a)``
with ``z`` parameterised by its first entry and log gaps) under exactly the spec's prior,
restricted to ordered thresholds (see ``build_model``; ADVI fits the same prior with the
thresholds centred, ``parametrisation="centred"``); the likelihood gathers only the two
thresholds that bound each observed score (``ordered_probit_logp``). Scores are 0-based
(``0`` = lowest recommendation); expertise levels are 1-based.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from revmatch.calibration.data import check_levels

DEFAULT_HYPER: dict[str, float | None] = {
    # q[s] ~ Normal(quality_mean, precision quality_precision); None = middle of the scale,
    # (L - 1) / 2. Precision 0.25 (sd 2) is broad on a 0..4 scale.
    "quality_mean": None,
    "quality_precision": 0.25,
    # gamma[e] ~ Gamma(expertise_shape, expertise_rate): mean 1.5, sd 0.87; the same prior
    # for every level, so the data alone decide whether experts are more precise.
    "expertise_shape": 3.0,
    "expertise_rate": 2.0,
    # a[j] ~ Gamma(accuracy_shape, accuracy_rate): mean 5 (threshold sd about 0.45 of a
    # rating level), sd 2.2.
    "accuracy_shape": 5.0,
    "accuracy_rate": 1.0,
}


# ------------------------------------------------------------------ the scale


def nominal_thresholds(n_levels: int) -> np.ndarray:
    """Nominal thresholds ``theta0``: one half way between each pair of adjacent levels."""
    if n_levels < 2:
        raise ValueError(f"an ordinal scale needs at least 2 levels, got {n_levels}")
    return np.arange(n_levels - 1, dtype=np.float64) + 0.5


def resolve_hyper(hyper: Mapping[str, Any] | None, n_levels: int) -> dict[str, float]:
    """``DEFAULT_HYPER`` updated with ``hyper``; ``quality_mean`` None -> middle of the scale."""
    unknown = set(hyper or {}) - set(DEFAULT_HYPER)
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}; known: {sorted(DEFAULT_HYPER)}")
    resolved = {**DEFAULT_HYPER, **(hyper or {})}
    if resolved["quality_mean"] is None:
        resolved["quality_mean"] = (n_levels - 1) / 2
    values = {key: float(value) for key, value in resolved.items()}
    for key in ("quality_precision", "expertise_shape", "expertise_rate", "accuracy_shape", "accuracy_rate"):
        if not values[key] > 0:
            raise ValueError(f"hyperparameter {key} must be positive, got {values[key]}")
    return values


# ------------------------------------------------------------------ the model


def _encode(reviews: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray, pd.Index]:
    """Submission and reviewer codes in order of first appearance, and their ids."""
    submission_code, submission_ids = pd.factorize(reviews["submission_id"].astype(str), sort=False)
    reviewer_code, reviewer_ids = pd.factorize(reviews["reviewer_id"].astype(str), sort=False)
    return submission_code, pd.Index(submission_ids), reviewer_code, pd.Index(reviewer_ids)


# Above this, log Phi(x) is taken as log Phi(LOG_PHI_CLIP) (|error| < 7e-16); keeps erfcx finite.
LOG_PHI_CLIP = 8.0


def _log_phi(x):
    """``log Phi(x)`` (standard normal CDF) through ``erfcx``: one special function, accurate
    deep in the lower tail; ``x`` above ``LOG_PHI_CLIP`` counts as ``LOG_PHI_CLIP``."""
    import pytensor.tensor as pt

    u = -pt.minimum(x, LOG_PHI_CLIP) * np.sqrt(0.5)
    return pt.log(0.5 * pt.erfcx(u)) - u**2


def _log_normal_interval(lower, upper):
    """``log(Phi(upper) - Phi(lower))`` for ``lower < upper``, stable in both tails: an
    interval above zero is mirrored below it, where ``Phi`` has no cancellation."""
    import pytensor.tensor as pt

    mirror = (lower + upper) > 0
    low = pt.switch(mirror, -upper, lower)
    high = pt.switch(mirror, -lower, upper)
    log_high = _log_phi(high)
    return log_high + pt.log1mexp(_log_phi(low) - log_high)


# A missing bound (below the lowest or above the highest threshold) stands OPEN_BOUND
# standard deviations beyond the other bound or beyond 0, whichever is further out: the mass
# left out is below Phi(-OPEN_BOUND) (about e^-800) relative to the interval, and all finite.
OPEN_BOUND = 40.0


def ordered_probit_logp(
    quality, thresholds, precision, submission_code: np.ndarray, reviewer_code: np.ndarray,
    expertise_code: np.ndarray, score: np.ndarray, n_levels: int, as_data: bool = False,
):
    """Log likelihood of all reviews (a pytensor scalar).

    ``P(y = k) = Phi((theta[j, k] - q[s]) sqrt(gamma[e])) - Phi((theta[j, k-1] - q[s])
    sqrt(gamma[e]))`` with ``theta[j, -1] = -inf`` and ``theta[j, T] = +inf``. Only the two
    thresholds that bound each observed score are gathered (not all ``T`` of them), by integer
    indices fixed once from the data; a missing bound at either end of the scale stands
    ``OPEN_BOUND`` standard deviations beyond the other bound (or beyond 0), so every review
    is one interval of one vectorised expression (a smaller graph: faster to compile). With
    ``as_data`` (inside a model) the indices are ``pm.Data``, not constants in the graph.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_thresholds = n_levels - 1
    score = np.asarray(score, dtype=np.int64)
    base = np.asarray(reviewer_code, dtype=np.int64) * n_thresholds
    lower_index = base + np.maximum(score - 1, 0)
    upper_index = base + np.minimum(score, n_thresholds - 1)

    def index(name: str, values: np.ndarray):
        return pm.Data(name, values.astype(np.int64)) if as_data else values

    flat_thresholds = thresholds.reshape((-1,))
    centre = quality[index("review_submission", np.asarray(submission_code, dtype=np.int64))]
    root_precision = pt.sqrt(precision)[index("review_expertise", np.asarray(expertise_code, dtype=np.int64))]
    lower = (flat_thresholds[index("review_lower_threshold", lower_index)] - centre) * root_precision
    upper = (flat_thresholds[index("review_upper_threshold", upper_index)] - centre) * root_precision
    lower = pt.switch(score == 0, pt.minimum(upper, 0.0) - OPEN_BOUND, lower)
    upper = pt.switch(score == n_thresholds, pt.maximum(lower, 0.0) + OPEN_BOUND, upper)
    return _log_normal_interval(lower, upper).sum()


PARAMETRISATIONS = ("noncentred", "centred")


def build_model(
    reviews: pd.DataFrame, n_levels: int, n_expertise: int, hyper: Mapping[str, Any] | None = None,
    parametrisation: str = "noncentred",
):
    """The PyMC model of ``reviews`` (columns submission_id, reviewer_id, score, expertise).

    Quality, expertise precision and accuracy are as in the spec. Reviewer thresholds are the
    spec's ``theta[j] = theta0 + z[j] / sqrt(a[j])`` with ``z[j, t] ~ Normal(0, 1)``
    (non-centred), kept ordered by parameterising ``z`` from its first entry and the log of
    its gaps: ``z[j, t] = z[j, t-1] - d[t] sqrt(a[j]) + exp(g[j, t])``, ``d`` the nominal
    spacing, so that ``theta[j, t] - theta[j, t-1] = exp(g[j, t]) / sqrt(a[j]) > 0``. The prior
    density of ``z`` (and the Jacobian ``sum(g)``) enters as a potential, so the prior on
    ``theta`` given ``a`` is exactly the spec's ``Normal(theta0, precision a)`` restricted to
    ordered thresholds (as with PyMC's ordered transform, the restriction is not
    renormalised). The likelihood is the ordered probit of ``ordered_probit_logp``.

    ``parametrisation="centred"`` keeps the same prior and likelihood but parameterises each
    reviewer's thresholds directly, by the first threshold ``threshold_first[j] ~
    Normal(theta0[0], precision a[j])`` and the log gaps ``threshold_log_gap[j, t] =
    log(theta[j, t] - theta[j, t-1])`` (prior density of the other thresholds and the Jacobian
    ``sum(log_gap)`` as a potential). NUTS samples the non-centred form better; variational
    fits need the centred one (``fit.py``): there the leniency is a variational parameter
    itself, not a ratio of two independent factors.

    The model has no deterministics (they would be evaluated at every draw inside the
    sampler); ``add_threshold_draws`` derives the thresholds and their shift from the draws.
    """
    import pymc as pm
    import pytensor.tensor as pt

    if parametrisation not in PARAMETRISATIONS:
        raise ValueError(f"parametrisation must be one of {PARAMETRISATIONS}, got {parametrisation!r}")
    check_levels(reviews, n_levels, n_expertise)
    h = resolve_hyper(hyper, n_levels)
    theta0 = nominal_thresholds(n_levels)
    n_thresholds = len(theta0)
    submission_code, submission_ids, reviewer_code, reviewer_ids = _encode(reviews)
    expertise_code = reviews["expertise"].to_numpy(dtype=np.int64) - 1
    score = reviews["score"].to_numpy(dtype=np.int64)
    n_reviewers = len(reviewer_ids)
    coords = {
        "submission": submission_ids.to_numpy(),
        "reviewer": reviewer_ids.to_numpy(),
        "expertise": np.arange(1, n_expertise + 1),
        "threshold": np.arange(n_thresholds),
        "increment": np.arange(1, n_thresholds),
    }
    prior_accuracy = h["accuracy_shape"] / h["accuracy_rate"]
    with pm.Model(coords=coords) as model:
        quality = pm.Normal(
            "quality", mu=h["quality_mean"], sigma=1.0 / np.sqrt(h["quality_precision"]), dims="submission"
        )
        precision = pm.Gamma(
            "expertise_precision", alpha=h["expertise_shape"], beta=h["expertise_rate"], dims="expertise"
        )
        accuracy = pm.Gamma("accuracy", alpha=h["accuracy_shape"], beta=h["accuracy_rate"], dims="reviewer")
        if parametrisation == "centred":
            thresholds = _centred_thresholds(accuracy, theta0, n_reviewers)
        else:
            thresholds = _noncentred_thresholds(accuracy, theta0, n_reviewers, prior_accuracy)
        pm.Potential(
            "score",
            ordered_probit_logp(
                quality, thresholds, precision, submission_code, reviewer_code, expertise_code, score,
                n_levels, as_data=True,
            ),
        )
    return model


def _centred_thresholds(accuracy, theta0: np.ndarray, n_reviewers: int):
    """Thresholds (J, T) from ``threshold_first`` and ``threshold_log_gap`` (``build_model``,
    centred), with the spec's prior restricted to ordered thresholds; inside a model."""
    import pymc as pm
    import pytensor.tensor as pt

    n_thresholds = len(theta0)
    sd = 1.0 / pt.sqrt(accuracy)
    first = pm.Normal("threshold_first", theta0[0], sd, dims="reviewer")
    if n_thresholds == 1:
        return first[:, None]
    spacing = np.diff(theta0)
    log_gap = pm.Flat(
        "threshold_log_gap", dims=("reviewer", "increment"),
        initval=np.full((n_reviewers, n_thresholds - 1), np.log(spacing)),
    )
    rest = first[:, None] + pt.cumsum(pt.exp(log_gap), axis=1)
    pm.Potential(
        "threshold_prior",
        pm.logp(pm.Normal.dist(theta0[1:], sd[:, None]), rest).sum() + log_gap.sum(),
    )
    return pt.concatenate([first[:, None], rest], axis=1)


def _noncentred_thresholds(accuracy, theta0: np.ndarray, n_reviewers: int, prior_accuracy: float):
    """Thresholds (J, T) ``theta0 + z / sqrt(a)`` from ``threshold_offset_first`` and
    ``threshold_log_gap`` (``build_model``, non-centred); inside a model."""
    import pymc as pm
    import pytensor.tensor as pt

    n_thresholds = len(theta0)
    spacing = np.diff(theta0)
    root_accuracy = pt.sqrt(accuracy)[:, None]
    first = pm.Normal("threshold_offset_first", 0.0, 1.0, dims="reviewer")
    if n_thresholds > 1:
        log_gap = pm.Flat(
            "threshold_log_gap", dims=("reviewer", "increment"),
            initval=np.full((n_reviewers, n_thresholds - 1), np.log(spacing * np.sqrt(prior_accuracy))),
        )
        steps = pt.exp(log_gap) - spacing * root_accuracy
        rest = first[:, None] + pt.cumsum(steps, axis=1)
        pm.Potential(
            "threshold_offset_prior",
            pm.logp(pm.Normal.dist(0.0, 1.0), rest).sum() + log_gap.sum(),
        )
        offset = pt.concatenate([first[:, None], rest], axis=1)
    else:
        offset = first[:, None]
    return theta0 + offset / root_accuracy


def thresholds_from_offsets(
    accuracy: np.ndarray, offset_first: np.ndarray, log_gap: np.ndarray, n_levels: int
) -> np.ndarray:
    """Reviewer thresholds ``theta0 + z / sqrt(a)`` from the model's coordinates (any leading
    sample axes): ``accuracy`` (..., J), ``offset_first`` (..., J), ``log_gap``
    (..., J, T-1); ``theta[j, t] - theta[j, t-1] = exp(log_gap[j, t]) / sqrt(a[j])``.
    Returns (..., J, T)."""
    theta0 = nominal_thresholds(n_levels)
    root_accuracy = np.sqrt(accuracy)[..., None]
    first = theta0[0] + offset_first[..., None] / root_accuracy
    gaps = np.exp(log_gap) / root_accuracy
    return np.concatenate([first, first + np.cumsum(gaps, axis=-1)], axis=-1)


def add_threshold_draws(idata, n_levels: int) -> None:
    """Add ``thresholds`` (reviewer x threshold) and ``threshold_shift`` (mean of
    ``theta[j] - theta0``; leniency: negative = lenient) to ``idata.posterior``, computed
    from the draws of accuracy and threshold offsets (non-centred) or of the first threshold
    and log gaps (centred)."""
    posterior = idata.posterior
    n_thresholds = n_levels - 1
    if n_thresholds > 1:
        log_gap = posterior["threshold_log_gap"].to_numpy()
    else:
        log_gap = np.zeros((*posterior["accuracy"].shape, 0))
    if "threshold_first" in posterior:
        first = posterior["threshold_first"].to_numpy()[..., None]
        thresholds = np.concatenate([first, first + np.cumsum(np.exp(log_gap), axis=-1)], axis=-1)
    else:
        accuracy = posterior["accuracy"].to_numpy()
        offset_first = posterior["threshold_offset_first"].to_numpy()
        thresholds = thresholds_from_offsets(accuracy, offset_first, log_gap, n_levels)
    dims = ("chain", "draw", "reviewer", "threshold")
    posterior["thresholds"] = (dims, thresholds)
    posterior["threshold_shift"] = (dims[:3], (thresholds - nominal_thresholds(n_levels)).mean(axis=-1))
    posterior.coords["threshold"] = np.arange(n_thresholds)
