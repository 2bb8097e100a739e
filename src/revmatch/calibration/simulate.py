"""Reviews simulated from the calibration model, with the parameters they were drawn from:
balanced (submission, reviewer) designs, ordered reviewer thresholds from the model's prior."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from revmatch.calibration.model import nominal_thresholds

logger = logging.getLogger(__name__)

# Standard deviation of the true quality in ``simulate_reviews``, in rating levels.
SIMULATED_QUALITY_SD = 1.0


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
