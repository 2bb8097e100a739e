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
restricted to ordered thresholds (see ``build_model``); the likelihood gathers only the two
thresholds that bound each observed score (``ordered_probit_logp``). Scores are 0-based
(``0`` = lowest recommendation); expertise levels are 1-based.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike, atomic_path, write_csv, write_json

logger = logging.getLogger(__name__)

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

DEFAULT_COLUMNS: dict[str, str] = {
    "submission_id": "Submission ID",
    "reviewer_id": "Reviewer Username",
    "score": "Overall Recommendation",
    "expertise": "Reviewer Expertise",
}

REVIEW_COLUMNS = ("submission_id", "reviewer_id", "score", "expertise")

# START's rating scales start at 1; a raw score ``v`` without ``score_map`` is level ``v - 1``.
LOWEST_RAW_SCORE = 1

# Standard deviation of the true quality in ``simulate_reviews``, in rating levels.
SIMULATED_QUALITY_SD = 1.0

# ADVI: Adam steps (the loss settles within a few thousand on conference-sized data), step
# size and gradient-norm bound (PyMC's default adagrad steps reach NaN on the demo reviews).
ADVI_ITERATIONS = 10_000
SAMPLERS = ("auto", "nutpie", "pymc")
# With sampler "auto", below this many reviews PyMC's own NUTS (C backend, compiled in ~3 s)
# runs: there nutpie's numba compilation (~18 s) costs more than its faster sampling saves.
# Measured: 1,800 reviews (KDD'09 size) PyMC 42.7 s vs nutpie 69 s; 9,000 reviews PyMC
# 522 s vs nutpie 304 s (2 chains of 300 + 1000, 2 cores, same load).
NUTPIE_MIN_REVIEWS = 4000
ADVI_LEARNING_RATE = 0.01
ADVI_MAX_GRAD_NORM = 100.0
# ADVI counts as settled when its loss fell by at most ADVI_MAX_LOSS_CHANGE (relative) from
# the second-last to the last ADVI_LOSS_WINDOW of the iterations.
ADVI_LOSS_WINDOW = 0.1
ADVI_MAX_LOSS_CHANGE = 0.005
# ADVI stops early, checked every ADVI_CHECK_EVERY steps from ADVI_MIN_ITERATIONS on, once
# the loss fell by less than ADVI_STOP_LOSS_CHANGE between the last two windows.
ADVI_CHECK_EVERY = 500
ADVI_MIN_ITERATIONS = 2000
ADVI_STOP_LOSS_CHANGE = 0.001

# Posterior variables written to the netCDF file; the sampler's unconstrained coordinates
# (``*_log__``, offsets) and the warm-up draws stay in memory only.
SAVED_VARIABLES = ("quality", "expertise_precision", "accuracy", "threshold_shift", "thresholds")


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


# ------------------------------------------------------------------ simulation


def balanced_pairs(
    n_submissions: int, n_reviewers: int, reviews_per_submission: int, rng: np.random.Generator
) -> np.ndarray:
    """(submission, reviewer) index pairs: ``reviews_per_submission`` distinct reviewers a
    submission, each picked among the least loaded (ties at random), so loads differ by at
    most one."""
    if reviews_per_submission > n_reviewers:
        raise ValueError(f"{reviews_per_submission} reviews per submission need at least as many reviewers")
    loads = np.zeros(n_reviewers, dtype=np.int64)
    chosen = np.empty((n_submissions, reviews_per_submission), dtype=np.int64)
    for s in range(n_submissions):
        key = loads + rng.random(n_reviewers)
        chosen[s] = np.argpartition(key, reviews_per_submission - 1)[:reviews_per_submission]
        loads[chosen[s]] += 1
    submissions = np.repeat(np.arange(n_submissions), reviews_per_submission)
    return np.column_stack([submissions, chosen.ravel()])


def _check_pairs(pairs: np.ndarray, n_submissions: int, n_reviewers: int) -> np.ndarray:
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be an integer array of shape (n, 2), got {pairs.dtype} {pairs.shape}")
    pairs = pairs.astype(np.int64)
    if ((pairs < 0) | (pairs >= [n_submissions, n_reviewers])).any():
        raise ValueError(f"pairs index outside {n_submissions} submissions x {n_reviewers} reviewers")
    if len(np.unique(pairs, axis=0)) != len(pairs):
        raise ValueError("pairs repeat a (submission, reviewer) pair")
    return pairs


def _ids(ids: Sequence[str] | None, n: int, prefix: str, what: str) -> list[str]:
    if ids is None:
        return [f"{prefix}{k}" for k in range(1, n + 1)]
    ids = [str(i) for i in ids]
    if len(ids) != n or len(set(ids)) != n:
        raise ValueError(f"{what}: expected {n} distinct ids, got {len(ids)} ({len(set(ids))} distinct)")
    return ids


def draw_ordered_thresholds(
    n_reviewers: int, theta0: np.ndarray, accuracy_shape: float, accuracy_rate: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Reviewer accuracies ``a[j] ~ Gamma(accuracy_shape, accuracy_rate)`` and thresholds
    ``theta[j] ~ Normal(theta0, precision a[j])`` restricted to increasing thresholds, as in
    the model's prior (``build_model``): a reviewer whose draw is out of order draws both
    again, so the pair follows the model's joint density of accuracy and ordered thresholds.

    Returns ``accuracy`` (J,), ``thresholds`` (J, T) and the number of redrawn reviewers.
    """
    accuracy = np.empty(n_reviewers)
    thresholds = np.empty((n_reviewers, len(theta0)))
    pending = np.arange(n_reviewers)
    redrawn = 0
    while len(pending):
        a = rng.gamma(accuracy_shape, 1.0 / accuracy_rate, size=len(pending))
        theta = theta0 + rng.standard_normal((len(pending), len(theta0))) / np.sqrt(a)[:, None]
        ordered = (np.diff(theta, axis=1) > 0).all(axis=1)
        accuracy[pending[ordered]] = a[ordered]
        thresholds[pending[ordered]] = theta[ordered]
        pending = pending[~ordered]
        redrawn += len(pending)
    return accuracy, thresholds, redrawn


def simulate_reviews(
    n_submissions: int,
    n_reviewers: int,
    reviews_per_submission: int = 3,
    n_levels: int = 5,
    n_expertise: int = 3,
    seed: int = 0,
    expertise_precision: tuple[float, ...] = (1.3, 1.5, 1.6),
    accuracy_shape: float = 10.0,
    accuracy_rate: float = 2.0,
    submission_ids: list[str] | None = None,
    reviewer_ids: list[str] | None = None,
    pairs: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Reviews drawn from the generative model, and the parameters they were drawn from.

    Quality is ``Normal(middle of the scale, sd SIMULATED_QUALITY_SD)``; with the default
    precisions every level is used, most often the middle ones. Accuracies and ordered
    thresholds come from ``draw_ordered_thresholds`` (the model's prior with
    ``Gamma(accuracy_shape, accuracy_rate)`` accuracies). ``pairs`` (n, 2) of
    (submission index, reviewer index) fixes who reviews what; otherwise each submission gets
    ``reviews_per_submission`` distinct reviewers with balanced loads (``balanced_pairs``).
    Expertise levels are drawn uniformly. Returns ``reviews`` (submission_id, reviewer_id,
    score 0..L-1, expertise 1..E) and ``truth``: ``submissions`` (submission_id, quality),
    ``reviewers`` (reviewer_id, accuracy, threshold_shift = mean of theta_j - theta0, and the
    thresholds t0..t{L-2}) and ``expertise`` (expertise, precision).
    """
    if len(expertise_precision) != n_expertise:
        raise ValueError(f"{len(expertise_precision)} expertise precisions for {n_expertise} levels")
    rng = np.random.default_rng(seed)
    theta0 = nominal_thresholds(n_levels)
    submission_ids = _ids(submission_ids, n_submissions, "", "submission_ids")
    reviewer_ids = _ids(reviewer_ids, n_reviewers, "reviewer", "reviewer_ids")
    if pairs is None:
        pairs = balanced_pairs(n_submissions, n_reviewers, reviews_per_submission, rng)
    else:
        pairs = _check_pairs(pairs, n_submissions, n_reviewers)

    precision = np.asarray(expertise_precision, dtype=np.float64)
    quality = (n_levels - 1) / 2 + SIMULATED_QUALITY_SD * rng.standard_normal(n_submissions)
    accuracy, thresholds, redrawn = draw_ordered_thresholds(
        n_reviewers, theta0, accuracy_shape, accuracy_rate, rng
    )
    logger.debug("simulation: redrew %d reviewer(s) with out-of-order thresholds", redrawn)
    expertise = rng.integers(1, n_expertise + 1, size=len(pairs))
    latent = quality[pairs[:, 0]] + rng.standard_normal(len(pairs)) / np.sqrt(precision[expertise - 1])
    score = (thresholds[pairs[:, 1]] < latent[:, None]).sum(axis=1)

    reviews = pd.DataFrame({
        "submission_id": np.asarray(submission_ids, dtype=object)[pairs[:, 0]],
        "reviewer_id": np.asarray(reviewer_ids, dtype=object)[pairs[:, 1]],
        "score": score.astype(np.int64),
        "expertise": expertise.astype(np.int64),
    })
    reviewers = pd.DataFrame({
        "reviewer_id": reviewer_ids,
        "accuracy": accuracy,
        "threshold_shift": (thresholds - theta0).mean(axis=1),
    })
    for t in range(len(theta0)):
        reviewers[f"t{t}"] = thresholds[:, t]
    truth = {
        "submissions": pd.DataFrame({"submission_id": submission_ids, "quality": quality}),
        "reviewers": reviewers,
        "expertise": pd.DataFrame({"expertise": np.arange(1, n_expertise + 1), "precision": precision}),
    }
    return reviews, truth


# ------------------------------------------------------------------ reading


def _normalise_key(value: Any) -> str:
    """A map key or raw cell as text; integral numbers as integers ("5", 5, 5.0 -> "5")."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _map_column(
    raw: pd.Series, mapping: Mapping | None, offset: int, path: PathLike, header: str, what: str
) -> np.ndarray:
    """Raw cells -> integers through ``mapping`` or as integers minus ``offset``; the first bad
    cell raises ``InputError`` naming its CSV line."""
    keys = raw.map(_normalise_key)
    if mapping is not None:
        lookup = {_normalise_key(k): v for k, v in mapping.items()}
        values = keys.map(lookup)
        bad = values.isna()
        reason = f"{what} {{!r}} is not in the {what} map (known: {sorted(lookup)})"
    else:
        values = pd.to_numeric(keys, errors="coerce")
        bad = values.isna() | (values != values.round())
        reason = f"{what} {{!r}} is not an integer"
    if mapping is not None and not bad.any():
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any() or (numeric != numeric.round()).any():
            raise ValueError(f"the {what} map must map to integers, got {sorted(set(values), key=str)}")
    if bad.any():
        line = bad.index[np.argmax(bad.to_numpy())]
        raise InputError(path, reason.format(raw[line]), row=int(line), column=header)
    return values.astype(np.int64).to_numpy() - offset


def _only_in(values: pd.Series, others: pd.Series) -> list[str]:
    """Distinct non-empty ``values`` that are not among ``others``, in order of appearance."""
    missing = values[(values != "") & ~values.isin(set(others))]
    return list(dict.fromkeys(missing))


def read_reviews(
    path: PathLike,
    columns: dict[str, str],
    score_map: dict | None = None,
    expertise_map: dict | None = None,
    n_levels: int | None = None,
) -> pd.DataFrame:
    """Reviews from a CSV export (e.g. START's): submission_id, reviewer_id, score, expertise.

    ``columns`` maps our names to the file's headers (missing names take ``DEFAULT_COLUMNS``,
    START's headers). ``score_map`` maps raw scores (text such as "5: Strong accept", or
    numbers) to 0-based levels; without it scores are integers shifted so that
    ``LOWEST_RAW_SCORE`` (1 on START) is level 0. ``expertise_map`` maps raw expertise to
    1-based levels; without it expertise is an integer >= 1. With ``n_levels`` a score outside
    ``0 .. n_levels-1`` is an error. Rows with an empty score (review not submitted) are
    skipped, counted (``frame.attrs["n_skipped"]``) and logged; reviewers and submissions
    left with no scored review are listed (``attrs["reviewers_without_reviews"]``,
    ``attrs["submissions_without_reviews"]``) and logged. The index is the CSV line
    number of each review (header = line 1). Bad cells raise ``InputError`` naming file, line
    and column.
    """
    columns = {**DEFAULT_COLUMNS, **(columns or {})}
    unknown = set(columns) - set(REVIEW_COLUMNS)
    if unknown:
        raise ValueError(f"unknown column name(s) {sorted(unknown)}; expected {list(REVIEW_COLUMNS)}")
    try:
        table = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable CSV file ({exc})") from exc
    for name in REVIEW_COLUMNS:
        if columns[name] not in table.columns:
            raise InputError(
                path, f"missing column {columns[name]!r} ({name}); columns are {list(table.columns)}",
                column=columns[name],
            )
    table.index = pd.RangeIndex(2, len(table) + 2, name="line")
    table = table[[columns[name] for name in REVIEW_COLUMNS]].apply(lambda col: col.str.strip())

    empty_score = table[columns["score"]] == ""
    n_skipped = int(empty_score.sum())
    if n_skipped:
        logger.warning("%s: skipped %d review(s) with an empty score (not submitted)", path, n_skipped)
    unreviewed = {
        name: _only_in(table.loc[empty_score, columns[name]], table.loc[~empty_score, columns[name]])
        for name in ("submission_id", "reviewer_id")
    }
    for name, what in (("reviewer_id", "reviewer(s)"), ("submission_id", "submission(s)")):
        if unreviewed[name]:
            logger.warning(
                "%s: %d %s with no scored review, left out of the model: %s", path, len(unreviewed[name]),
                what, ", ".join(unreviewed[name][:20]) + (" ..." if len(unreviewed[name]) > 20 else ""),
            )
    table = table[~empty_score]
    for name in ("submission_id", "reviewer_id"):
        empty = table[columns[name]] == ""
        if empty.any():
            line = int(empty.index[np.argmax(empty)])
            raise InputError(path, f"empty {name}", row=line, column=columns[name])

    offset = 0 if score_map is not None else LOWEST_RAW_SCORE
    score = _map_column(table[columns["score"]], score_map, offset, path, columns["score"], "score")
    outside = (score < 0) | ((score >= n_levels) if n_levels is not None else False)
    if outside.any():
        line = int(table.index[np.argmax(outside)])
        scale = f"0..{n_levels - 1}" if n_levels is not None else ">= 0"
        raw = table.at[line, columns["score"]]
        message = f"score {raw!r} is outside the scale (level {score[np.argmax(outside)]} not in {scale})"
        raise InputError(path, message, row=line, column=columns["score"])
    expertise = _map_column(
        table[columns["expertise"]], expertise_map, 0, path, columns["expertise"], "expertise"
    )
    below = expertise < 1
    if below.any():
        line = int(table.index[np.argmax(below)])
        raise InputError(
            path, f"unknown expertise level {table.at[line, columns['expertise']]!r} (levels start at 1)",
            row=line, column=columns["expertise"],
        )
    reviews = pd.DataFrame(
        {
            "submission_id": table[columns["submission_id"]].astype(str),
            "reviewer_id": table[columns["reviewer_id"]].astype(str),
            "score": score,
            "expertise": expertise,
        },
        index=table.index,
    )
    repeated = reviews.duplicated(["submission_id", "reviewer_id"])
    if repeated.any():
        logger.warning("%s: %d repeated (submission, reviewer) review(s), kept", path, int(repeated.sum()))
    reviews.attrs["n_skipped"] = n_skipped
    reviews.attrs["reviewers_without_reviews"] = unreviewed["reviewer_id"]
    reviews.attrs["submissions_without_reviews"] = unreviewed["submission_id"]
    logger.info(
        "%s: %d reviews of %d submissions by %d reviewers", path, len(reviews),
        reviews["submission_id"].nunique(), reviews["reviewer_id"].nunique(),
    )
    return reviews


def check_levels(
    reviews: pd.DataFrame,
    n_levels: int,
    n_expertise: int,
    path: PathLike | None = None,
    columns: Mapping[str, str] | None = None,
) -> None:
    """Raise on a score outside ``0..n_levels-1`` or an expertise outside ``1..n_expertise``:
    ``InputError`` naming the CSV line (the index of ``read_reviews``) and the file's header
    (``columns``) when ``path`` is given, else ``ValueError``."""
    headers = {**DEFAULT_COLUMNS, **(columns or {})}
    for name, low, high in (("score", 0, n_levels - 1), ("expertise", 1, n_expertise)):
        values = reviews[name].to_numpy()
        bad = (values < low) | (values > high)
        if bad.any():
            first = int(np.argmax(bad))
            message = f"{name} {values[first]} outside {low}..{high}"
            if name == "expertise":
                message = f"unknown expertise level {values[first]} (levels are {low}..{high})"
            if path is not None:
                raise InputError(path, message, row=int(reviews.index[first]), column=headers[name])
            raise ValueError(f"review {first}: {message}")


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


def build_model(
    reviews: pd.DataFrame, n_levels: int, n_expertise: int, hyper: Mapping[str, Any] | None = None
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

    The model has no deterministics (they would be evaluated at every draw inside the
    sampler); ``add_threshold_draws`` derives the thresholds and their shift from the draws.
    """
    import pymc as pm
    import pytensor.tensor as pt

    check_levels(reviews, n_levels, n_expertise)
    h = resolve_hyper(hyper, n_levels)
    theta0 = nominal_thresholds(n_levels)
    spacing = np.diff(theta0)
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
        thresholds = theta0 + offset / root_accuracy
        pm.Potential(
            "score",
            ordered_probit_logp(
                quality, thresholds, precision, submission_code, reviewer_code, expertise_code, score,
                n_levels, as_data=True,
            ),
        )
    return model


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
    from the draws of accuracy and threshold offsets."""
    posterior = idata.posterior
    n_thresholds = n_levels - 1
    if n_thresholds > 1:
        log_gap = posterior["threshold_log_gap"].to_numpy()
    else:
        log_gap = np.zeros((*posterior["accuracy"].shape, 0))
    thresholds = thresholds_from_offsets(
        posterior["accuracy"].to_numpy(), posterior["threshold_offset_first"].to_numpy(), log_gap, n_levels
    )
    dims = ("chain", "draw", "reviewer", "threshold")
    posterior["thresholds"] = (dims, thresholds)
    posterior["threshold_shift"] = (dims[:3], (thresholds - nominal_thresholds(n_levels)).mean(axis=-1))
    posterior.coords["threshold"] = np.arange(n_thresholds)


def _review_data(reviews: pd.DataFrame):
    """The reviews as an ``xarray.Dataset`` along ``review`` (the observed data group)."""
    import xarray as xr

    columns = {name: ("review", reviews[name].to_numpy()) for name in ("score", "expertise")}
    for name in ("submission_id", "reviewer_id"):
        columns[name] = ("review", reviews[name].astype(str).to_numpy(dtype=str))
    return xr.Dataset(columns, coords={"review": np.arange(len(reviews))})


def _nutpie_available() -> bool:
    return importlib.util.find_spec("nutpie") is not None


def choose_sampler(sampler: str, n_reviews: int) -> str:
    """The NUTS implementation to run: ``"nutpie"`` or ``"pymc"``.

    ``"auto"`` takes nutpie (when installed) from ``NUTPIE_MIN_REVIEWS`` reviews up, where its
    faster sampling outweighs its compilation, and PyMC's sampler below; ``"nutpie"`` without
    nutpie installed falls back to PyMC's sampler with a warning.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
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
    its numba compilation) or PyMC's own. ``method="advi"`` fits mean-field ADVI with at most ``advi_iterations`` Adam steps
    (fewer once the loss settles, ``stop_when_settled``) and returns ``draws`` draws of the
    approximation as one chain (``tune`` and ``chains`` are not used). The posterior holds
    ``thresholds`` and ``threshold_shift`` too (``add_threshold_draws``); ``posterior.attrs``
    records the method, the sampler and the wall time.
    """
    import pymc as pm

    if method not in ("nuts", "advi"):
        raise ValueError(f"method must be 'nuts' or 'advi', got {method!r}")
    model = build_model(reviews, n_levels, n_expertise, hyper)
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
            approx = pm.fit(
                n=advi_iterations, method="advi", random_seed=seed, progressbar=False,
                obj_optimizer=pm.adam(learning_rate=ADVI_LEARNING_RATE),
                total_grad_norm_constraint=ADVI_MAX_GRAD_NORM, callbacks=[stop_when_settled],
            )
            idata = approx.sample(draws, random_seed=seed, return_inferencedata=True)
            losses = np.asarray(approx.hist, dtype=np.float64)
            idata.posterior.attrs["sampler"] = "advi"
            idata.posterior.attrs["advi_iterations"] = int(len(losses))
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


# ------------------------------------------------------------------ diagnostics


def stop_when_settled(approx, losses: np.ndarray, iteration: int) -> None:
    """``pm.fit`` callback: stop ADVI (``StopIteration``) once its loss has settled."""
    if iteration < ADVI_MIN_ITERATIONS or iteration % ADVI_CHECK_EVERY:
        return
    change = advi_loss_change(losses[:iteration])
    if np.isfinite(change) and abs(change) < ADVI_STOP_LOSS_CHANGE:
        logger.info("ADVI settled after %d steps (loss change %.4f%%)", iteration, 100 * change)
        raise StopIteration


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


# ------------------------------------------------------------------ summaries


def _draws(idata, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as (samples, ...) over chains and draws."""
    values = idata.posterior[name].to_numpy()
    return values.reshape(-1, *values.shape[2:])


def _rank_descending(values: np.ndarray) -> np.ndarray:
    """1 = highest; ties share the best rank."""
    return pd.Series(values).rank(ascending=False, method="min").to_numpy(dtype=np.int64)


def summarise_calibration(idata, reviews: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Posterior summaries per submission, reviewer and expertise level.

    ``submissions`` (sorted by calibrated rank, 1 = best): quality mean, sd, 5% and 95%
    quantiles, raw mean score, number of reviews, calibrated and raw ranks and
    ``rank_change = rank_raw - rank_calibrated`` (positive = moved up). ``reviewers``:
    accuracy and threshold shift (leniency: negative = lenient) means and sds, raw mean score,
    number of reviews. ``expertise``: precision mean and sd, number of reviews, for every level.
    """
    posterior = idata.posterior
    submission_ids = posterior["submission"].to_numpy().astype(str)
    reviewer_ids = posterior["reviewer"].to_numpy().astype(str)
    levels = posterior["expertise"].to_numpy().astype(np.int64)
    reviews = reviews.assign(
        submission_id=reviews["submission_id"].astype(str), reviewer_id=reviews["reviewer_id"].astype(str)
    )

    quality = _draws(idata, "quality")
    by_submission = reviews.groupby("submission_id")["score"].agg(["mean", "size"]).reindex(submission_ids)
    submissions = pd.DataFrame({
        "submission_id": submission_ids,
        "quality_mean": quality.mean(axis=0),
        "quality_sd": quality.std(axis=0, ddof=1) if len(quality) > 1 else np.zeros(quality.shape[1]),
        "quality_q05": np.quantile(quality, 0.05, axis=0),
        "quality_q95": np.quantile(quality, 0.95, axis=0),
        "raw_mean": by_submission["mean"].to_numpy(),
        "n_reviews": by_submission["size"].to_numpy(dtype=np.int64),
    })
    submissions["rank_calibrated"] = _rank_descending(submissions["quality_mean"].to_numpy())
    submissions["rank_raw"] = _rank_descending(submissions["raw_mean"].to_numpy())
    submissions["rank_change"] = submissions["rank_raw"] - submissions["rank_calibrated"]
    submissions = submissions.sort_values("rank_calibrated", kind="stable").reset_index(drop=True)

    accuracy = _draws(idata, "accuracy")
    shift = _draws(idata, "threshold_shift")
    by_reviewer = reviews.groupby("reviewer_id")["score"].agg(["mean", "size"]).reindex(reviewer_ids)
    reviewers = pd.DataFrame({
        "reviewer_id": reviewer_ids,
        "accuracy_mean": accuracy.mean(axis=0),
        "accuracy_sd": accuracy.std(axis=0),
        "threshold_shift_mean": shift.mean(axis=0),
        "threshold_shift_sd": shift.std(axis=0),
        "raw_mean": by_reviewer["mean"].to_numpy(),
        "n_reviews": by_reviewer["size"].to_numpy(dtype=np.int64),
    })

    precision = _draws(idata, "expertise_precision")
    counts = reviews["expertise"].value_counts().reindex(levels, fill_value=0)
    expertise = pd.DataFrame({
        "expertise": levels,
        "precision_mean": precision.mean(axis=0),
        "precision_sd": precision.std(axis=0),
        "n_reviews": counts.to_numpy(dtype=np.int64),
    })
    return submissions, reviewers, expertise


# ------------------------------------------------------------------ plots


def _save_figure(fig, path: PathLike) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_calibration(
    submissions_df: pd.DataFrame,
    reviewers_df: pd.DataFrame,
    expertise_df: pd.DataFrame,
    out_png_quality: PathLike,
    out_png_leniency: PathLike,
    out_png_expertise: PathLike,
) -> None:
    """Three PNGs: calibrated quality (mean, 90% interval) and raw mean score by calibrated
    rank; reviewer leniency against accuracy; precision per expertise level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subs = submissions_df.sort_values("rank_calibrated")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    rank = subs["rank_calibrated"].to_numpy()
    mean = subs["quality_mean"].to_numpy()
    ax.vlines(rank, subs["quality_q05"], subs["quality_q95"], color="tab:blue", alpha=0.35, lw=1)
    ax.plot(rank, mean, "o", ms=3, color="tab:blue", label="calibrated quality (mean, 90% interval)")
    ax.plot(rank, subs["raw_mean"], "x", ms=4, color="tab:orange", label="raw mean score")
    ax.set_xlabel("calibrated rank (1 = best)")
    ax.set_ylabel("score level (0 = lowest)")
    ax.set_title(f"Calibrated quality of {len(subs)} submissions")
    ax.legend(loc="upper right", fontsize=8)
    _save_figure(fig, out_png_quality)

    fig, ax = plt.subplots(figsize=(6.5, 5))
    size = 12 * np.sqrt(reviewers_df["n_reviews"].to_numpy(dtype=np.float64))
    ax.scatter(reviewers_df["threshold_shift_mean"], reviewers_df["accuracy_mean"], s=size, alpha=0.5)
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("threshold shift (negative = lenient, positive = strict)")
    ax.set_ylabel("accuracy (posterior mean)")
    ax.set_title(f"Leniency of {len(reviewers_df)} reviewers (size = number of reviews)")
    _save_figure(fig, out_png_leniency)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    labels = [f"{level}\n({count} reviews)" for level, count in zip(
        expertise_df["expertise"], expertise_df["n_reviews"], strict=True)]
    mean, sd = expertise_df["precision_mean"], expertise_df["precision_sd"]
    ax.bar(labels, mean, yerr=sd, capsize=4, color="tab:green")
    ax.set_xlabel("expertise level")
    ax.set_ylabel("precision of a review (mean, sd)")
    ax.set_title("Review precision by expertise")
    _save_figure(fig, out_png_expertise)


# ------------------------------------------------------------------ files


def _portable(idata):
    """``idata`` with the ``SAVED_VARIABLES`` of the posterior, its sample stats and data."""
    posterior = idata.posterior[[name for name in SAVED_VARIABLES if name in idata.posterior]]
    groups = {"posterior": posterior}
    for group in ("sample_stats", "observed_data"):
        if group in idata.groups():
            groups[group] = idata[group]
    return type(idata)(**groups)


def calibrate_reviews_file(
    reviews_csv: PathLike,
    out_submissions_csv: PathLike,
    out_reviewers_csv: PathLike,
    out_expertise_csv: PathLike,
    out_idata_nc: PathLike,
    out_diagnostics_json: PathLike,
    columns: dict[str, str] | None = None,
    n_levels: int = 5,
    n_expertise: int = 3,
    score_map: dict | None = None,
    expertise_map: dict | None = None,
    method: str = "nuts",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    hyper: dict | None = None,
    fail_on_bad_convergence: bool = True,
    cores: int = 1,
    advi_iterations: int = ADVI_ITERATIONS,
    max_rhat: float = 1.05,
    min_ess: float = 100,
    sampler: str = "auto",
) -> dict:
    """Read a review export, fit the model, write the three summaries (CSV), the posterior
    (netCDF) and the diagnostics (JSON), all atomically; return the diagnostics.

    Convergence problems (``check_convergence`` with ``max_rhat`` and ``min_ess``) are
    logged and listed in the diagnostics; with ``fail_on_bad_convergence`` (the default)
    they raise ``RuntimeError`` before anything is written. Reviewers and submissions with no
    scored review are listed in the diagnostics.
    """
    reviews = read_reviews(reviews_csv, columns or {}, score_map, expertise_map, n_levels)
    check_levels(reviews, n_levels, n_expertise, path=reviews_csv, columns=columns)
    if reviews.empty:
        raise InputError(reviews_csv, "no reviews with a score")
    idata = fit_calibration(
        reviews, n_levels, n_expertise, method=method, draws=draws, tune=tune, chains=chains,
        seed=seed, hyper=hyper, cores=cores, advi_iterations=advi_iterations, sampler=sampler,
    )
    diagnostics = calibration_diagnostics(idata)
    problems = check_convergence(diagnostics, max_rhat=max_rhat, min_ess=min_ess)
    for problem in problems:
        logger.warning("convergence: %s", problem)
    if problems and fail_on_bad_convergence:
        remedy = "more tune/draws" if method == "nuts" else "more advi_iterations, or method nuts"
        raise RuntimeError(
            f"calibration did not converge ({'; '.join(problems)}); diagnostics: {diagnostics}. "
            f"Try {remedy}, or set fail_on_bad_convergence to false to write the results anyway"
        )
    submissions, reviewers, expertise = summarise_calibration(idata, reviews)
    diagnostics.update({
        "problems": problems,
        "reviews": int(len(reviews)),
        "skipped_empty_scores": int(reviews.attrs.get("n_skipped", 0)),
        "reviewers_without_reviews": list(reviews.attrs.get("reviewers_without_reviews", [])),
        "submissions_without_reviews": list(reviews.attrs.get("submissions_without_reviews", [])),
        "submissions": int(len(submissions)),
        "reviewers": int(len(reviewers)),
        "n_levels": int(n_levels),
        "n_expertise": int(n_expertise),
        "tune": int(tune),
        "seed": int(seed),
        "hyper": resolve_hyper(hyper, n_levels),
    })
    write_csv(submissions, out_submissions_csv)
    write_csv(reviewers, out_reviewers_csv)
    write_csv(expertise, out_expertise_csv)
    with atomic_path(out_idata_nc, suffix=".nc") as tmp:
        _portable(idata).to_netcdf(str(tmp))
    write_json(diagnostics, out_diagnostics_json)
    return diagnostics


def plot_calibration_files(
    submissions_csv: PathLike,
    reviewers_csv: PathLike,
    expertise_csv: PathLike,
    out_png_quality: PathLike,
    out_png_leniency: PathLike,
    out_png_expertise: PathLike,
) -> None:
    """``plot_calibration`` of the summaries written by ``calibrate_reviews_file``."""
    plot_calibration(
        pd.read_csv(submissions_csv, dtype={"submission_id": str}),
        pd.read_csv(reviewers_csv, dtype={"reviewer_id": str}),
        pd.read_csv(expertise_csv),
        out_png_quality,
        out_png_leniency,
        out_png_expertise,
    )
