"""A conference's assignment: allowed pairs, load bounds, emergency penalty and senior rows
around the LP, solved as ONE program.

A reviewer who serves in several tracks has one load constraint across all of them, where
the reference tool solved one problem per track with the reviewer's quota divided by the
number of tracks. The global program is never worse (every per-track solution is feasible
for it) and needs no split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, reviewer_load_bounds
from revmatch.log import MAX_NAMED
from revmatch.matching.eligibility import (
    allowed_pairs,
    capacity_by_track,
    conference_problems,
    eligible_reviewers,
    paper_tracks,
)
from revmatch.matching.lp import solve_assignment
from revmatch.matching.problem import Assignment, InfeasibleAssignment, float_scores
from revmatch.matching.pruning import solve_assignment_pruned
from revmatch.matching.senior import SeniorConstraint, senior_constraint
from revmatch.matching.table import assignment_table

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConferenceAssignment:
    """A solved conference: the table, the LP result, and what constrained it."""

    table: pd.DataFrame
    result: Assignment
    allowed: np.ndarray
    max_load: np.ndarray
    min_load: np.ndarray
    emergency: np.ndarray
    reviews_per_paper: int
    senior: SeniorConstraint | None = None


def solve_conference(
    scores: np.ndarray,
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    reviews_per_paper: int,
    max_papers_per_reviewer: int,
    min_papers_per_reviewer: int = 0,
    quotas: dict[str, int] | None = None,
    by_track: bool = True,
    area_chairs: bool = False,
    emergency_penalty: float = 0.5,
    prune_above_pairs: int = 2_000_000,
    candidates_per_paper: int = 50,
    senior: np.ndarray | None = None,
    min_senior_per_paper: int = 0,
    mip_rel_gap: float = 1e-4,
) -> ConferenceAssignment:
    """``assign_conference`` with the LP result and its constraints kept (for summaries).

    With more than ``prune_above_pairs`` allowed pairs the LP is solved by
    ``solve_assignment_pruned`` over each paper's ``candidates_per_paper`` best reviewers, and the
    result carries its optimality certificate. With ``min_senior_per_paper`` > 0, every paper gets
    at least that many reviewers flagged in ``senior`` (R,) bool (fewer where fewer are allowed,
    with a warning naming the papers), solved as a MIP to ``mip_rel_gap``.
    """
    scores = float_scores(scores)
    if scores.shape != (len(submissions), len(reviewers)):
        raise ValueError(f"scores have shape {scores.shape}, expected ({len(submissions)}, {len(reviewers)})")
    allowed = allowed_pairs(coi, submissions, reviewers, by_track=by_track, area_chairs=area_chairs)
    eligible = eligible_reviewers(reviewers, area_chairs)
    logger.info(
        "%d of %d people are eligible as %s; %d of %d (paper, person) pairs are allowed",
        int(eligible.sum()),
        len(reviewers),
        "area chairs" if area_chairs else "reviewers",
        int(allowed.sum()),
        allowed.size,
    )
    max_load, min_load = reviewer_load_bounds(
        reviewers, max_papers_per_reviewer, min_papers_per_reviewer, quotas
    )
    max_load = np.where(eligible, max_load, 0)
    allowed_count = allowed.sum(axis=0)
    capped = np.flatnonzero(eligible & (min_load > np.minimum(allowed_count, max_load)))
    if len(capped):
        ids = reviewer_ids(reviewers)
        logger.warning(
            "%d reviewer(s) have fewer allowed papers than the minimum load; "
            "their minimum is lowered to what they can take: %s",
            len(capped),
            ", ".join(ids[j] for j in capped[:MAX_NAMED]),
        )
    min_load = np.where(eligible, np.minimum(min_load, np.minimum(allowed_count, max_load)), 0)

    emergency = np.array([bool(rec.get("emergency")) for rec in reviewers], dtype=bool) & eligible
    if emergency.any():
        logger.info(
            "%d emergency reviewer(s); their scores are lowered by %g in the LP",
            int(emergency.sum()),
            emergency_penalty,
        )
    objective_scores = scores - scores.dtype.type(emergency_penalty) * emergency[None, :]

    problems = conference_problems(allowed, submissions, reviews_per_paper, max_load, min_load)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    side = senior_constraint(allowed, submissions, senior, min_senior_per_paper, reviews_per_paper)
    try:
        n_allowed = int(allowed.sum())
        if n_allowed > prune_above_pairs:
            logger.info(
                "%d allowed pairs exceed prune_above_pairs=%d: solving over the top %d per paper, priced",
                n_allowed,
                prune_above_pairs,
                candidates_per_paper,
            )
            result = solve_assignment_pruned(
                objective_scores,
                allowed,
                reviews_per_paper,
                max_load,
                min_load,
                candidates_per_paper=candidates_per_paper,
                senior=side,
                mip_rel_gap=mip_rel_gap,
            )
        else:
            result = solve_assignment(
                objective_scores, allowed, reviews_per_paper, max_load, min_load, senior=side,
                mip_rel_gap=mip_rel_gap,
            )
    except InfeasibleAssignment as exc:
        capacity = capacity_by_track(allowed, paper_tracks(submissions), reviews_per_paper, max_load)
        capacity["ratio"] = capacity["available"] / capacity["needed"].where(capacity["needed"] > 0)
        tight = capacity.sort_values("ratio").head(5)
        detail = ", ".join(
            f"{r.track!r} ({r.available} available for {r.needed} needed)" for r in tight.itertuples()
        )
        raise InfeasibleAssignment(
            f"{exc.message}; no track is short on its own, the tightest tracks (reviewers shared between "
            f"tracks count in each) are: {detail}"
        ) from exc
    table = assignment_table(result, submissions, reviewers, scores)
    return ConferenceAssignment(
        table, result, allowed, max_load, min_load, emergency, int(reviews_per_paper), side
    )


def assign_conference(
    scores: np.ndarray,
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    reviews_per_paper: int,
    max_papers_per_reviewer: int,
    **options,
) -> pd.DataFrame:
    """Assign ``reviews_per_paper`` reviewers (or area chairs) to every submission in one LP.

    Pairs are allowed when there is no COI, the person has the right role (see
    ``eligible_reviewers``) and, with ``by_track``, serves in the paper's track. Quotas
    (by reviewer id) replace ``max_papers_per_reviewer``. Emergency reviewers' scores are
    lowered by ``emergency_penalty`` in the objective, so they are used when the others
    cannot cover the papers or fit much better. Returns (submission_id, track, reviewer_id,
    score, rank) sorted by submission (file order) then score, descending; ``score`` is the
    unpenalised one. Raises ``InfeasibleAssignment`` naming the short tracks. ``options`` are
    those of ``solve_conference`` (quotas, tracks, area chairs, pruning, senior reviewers).
    """
    return solve_conference(
        scores, coi, submissions, reviewers, reviews_per_paper, max_papers_per_reviewer, **options
    ).table
