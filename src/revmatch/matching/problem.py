"""The assignment problem's shared pieces: its result, its error, and the checks of its counts
(papers' demands, reviewers' load bounds) made before any solve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revmatch.log import MAX_NAMED


class InfeasibleAssignment(RuntimeError):
    """No assignment satisfies the constraints; ``message`` says which counts fall short."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Assignment:
    """An optimal assignment: ``pairs`` (n, 2) of (paper index, reviewer index) and their scores.

    ``certificate`` is set by ``solve_assignment_pruned``: how optimality over all allowed pairs
    was shown by pricing the pairs left out of the LP; with senior rows its ``mip`` entry holds
    the MIP's gap.
    """

    pairs: np.ndarray
    scores: np.ndarray
    objective: float
    status: str
    solve_seconds: float
    certificate: dict | None = None

    def loads(self, n_reviewers: int) -> np.ndarray:
        """Number of papers assigned to each reviewer, (R,) int."""
        return np.bincount(self.pairs[:, 1], minlength=n_reviewers)


def capacity_problems(
    allowed: np.ndarray,
    demand: np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray,
) -> list[str]:
    """Reasons why no assignment can exist, from counts alone (empty when none is found)."""
    problems = []
    per_paper = allowed.sum(axis=1)
    short = np.flatnonzero(per_paper < demand)
    if len(short):
        named = ", ".join(f"{p} ({per_paper[p]} allowed, {demand[p]} needed)" for p in short[:MAX_NAMED])
        more = f" and {len(short) - MAX_NAMED} more" if len(short) > MAX_NAMED else ""
        problems.append(
            f"{len(short)} paper(s) have fewer allowed reviewers than reviews needed: {named}{more}"
        )
    bad_bounds = np.flatnonzero(min_load > max_load)
    if len(bad_bounds):
        problems.append(
            f"{len(bad_bounds)} reviewer(s) have a minimum load above their maximum: "
            f"{named_indices(bad_bounds)}"
        )
    per_reviewer = allowed.sum(axis=0)
    starved = np.flatnonzero(min_load > per_reviewer)
    if len(starved):
        problems.append(
            f"{len(starved)} reviewer(s) have a minimum load above their number of allowed papers: "
            f"{named_indices(starved)}"
        )
    capacity = int(np.minimum(max_load, per_reviewer).sum())
    needed = int(demand.sum())
    if capacity < needed:
        problems.append(
            f"reviewers can take at most {capacity} reviews but {needed} are needed "
            f"(shortfall {needed - capacity})"
        )
    if int(min_load.sum()) > needed:
        problems.append(f"minimum loads add up to {int(min_load.sum())} reviews but only {needed} are needed")
    return problems


def named_indices(indices: np.ndarray) -> str:
    """The first ``MAX_NAMED`` indices, comma-separated, and how many more there are."""
    more = f" and {len(indices) - MAX_NAMED} more" if len(indices) > MAX_NAMED else ""
    return ", ".join(str(i) for i in indices[:MAX_NAMED]) + more


def _as_counts(value: int | np.ndarray, size: int, what: str) -> np.ndarray:
    counts = np.broadcast_to(np.asarray(value), (size,))
    if not np.issubdtype(counts.dtype, np.integer) and not np.all(np.mod(counts, 1) == 0):
        raise ValueError(f"{what} must be integers")
    counts = counts.astype(np.int64)
    if (counts < 0).any():
        raise ValueError(f"{what} must not be negative")
    return counts


def float_scores(scores: np.ndarray) -> np.ndarray:
    """Scores as a float array: float32 stays float32 (an ACL-scale P x R matrix is then half
    the size), anything else becomes float64."""
    scores = np.asarray(scores)
    return scores if scores.dtype in (np.float32, np.float64) else scores.astype(np.float64)


def checked_problem(
    scores: np.ndarray,
    allowed: np.ndarray,
    reviews_per_paper: int | np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(scores float, allowed bool, demand, max_load, min_load) with shapes and counts checked.

    Float32 scores stay float32 (an ACL-scale P x R matrix is then half the size); pair scores
    go to the solver as float64.
    """
    scores = float_scores(scores)
    allowed = np.asarray(allowed, dtype=bool)
    if scores.ndim != 2 or scores.shape != allowed.shape:
        raise ValueError(f"scores {scores.shape} and allowed {allowed.shape} must be the same 2-d shape")
    n_papers, n_reviewers = scores.shape
    demand = _as_counts(reviews_per_paper, n_papers, "reviews_per_paper")
    upper = _as_counts(max_load, n_reviewers, "max_load")
    lower = _as_counts(0 if min_load is None else min_load, n_reviewers, "min_load")
    return scores, allowed, demand, upper, lower
