"""A conference's assignment: allowed pairs, load bounds, emergency penalty, forced and
forbidden pairs, group rows (senior reviewers, attribute constraints) around the program,
solved as ONE program in the chosen mode (the usual sum, fair, re-solve, randomized).

A reviewer who serves in several tracks has one load constraint across all of them, where
the reference tool solved one problem per track with the reviewer's quota divided by the
number of tracks. The global program is never worse (every per-track solution is feasible
for it) and needs no split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, reviewer_load_bounds, submission_ids
from revmatch.log import MAX_NAMED
from revmatch.matching.attributes import constraint_groups
from revmatch.matching.eligibility import (
    allowed_pairs,
    capacity_by_track,
    conference_problems,
    eligible_reviewers,
    pair_blockers,
    paper_tracks,
)
from revmatch.matching.lp import AssignmentProgram
from revmatch.matching.problem import Assignment, InfeasibleAssignment, float_scores
from revmatch.matching.season import SeasonInputs, pair_indices, season_mode
from revmatch.matching.side_rows import GroupRows, group_problems
from revmatch.matching.table import assignment_table

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConferenceAssignment:
    """A solved conference: the table, the result, what constrained it, and the mode's report."""

    table: pd.DataFrame
    result: Assignment
    allowed: np.ndarray
    max_load: np.ndarray
    min_load: np.ndarray
    emergency: np.ndarray
    reviews_per_paper: int
    groups: tuple[GroupRows, ...] = ()
    senior: np.ndarray | None = None
    mode: dict = field(default_factory=dict)


def _load_bounds(reviewers, eligible, allowed, max_papers, min_papers, quotas):
    """(max_load, min_load) of every person; minima lowered to what a reviewer can take (warned)."""
    max_load, min_load = reviewer_load_bounds(reviewers, max_papers, min_papers, quotas)
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
    return max_load, min_load


def _forced_problems(forced, coi, submissions, reviewers, by_track, area_chairs, forbidden, demand,
                     max_load) -> list[str]:
    """Forced pairs that contradict a COI, a role, a track, a forbidden pair or a count, named by id."""
    sub_ids, rev_ids = submission_ids(submissions), reviewer_ids(reviewers)
    problems = []
    for (p, r), blockers in zip(forced, pair_blockers(forced, coi, submissions, reviewers, by_track,
                                                      area_chairs, forbidden)):
        if blockers:
            problems.append(f"forced pair ({sub_ids[p]}, {rev_ids[r]}) is blocked: {', '.join(blockers)}")
    per_paper = np.bincount(forced[:, 0], minlength=len(submissions))
    for p in np.flatnonzero(per_paper > demand)[:MAX_NAMED]:
        problems.append(f"submission {sub_ids[p]} has {per_paper[p]} forced reviewers but needs only {demand[p]}")
    per_reviewer = np.bincount(forced[:, 1], minlength=len(reviewers))
    for r in np.flatnonzero(per_reviewer > max_load)[:MAX_NAMED]:
        problems.append(
            f"reviewer {rev_ids[r]} has {per_reviewer[r]} forced papers but a maximum load of {max_load[r]}"
        )
    return problems


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
    mip_time_limit: float | None = None,
    attribute_constraints: tuple[dict, ...] = (),
    objective: str = "sum",
    fair_measure: str = "total",
    fair_by_track: bool = True,
    max_probability: float | None = None,
    random_seed: int = 0,
    change_penalty: float | None = None,
    emergency_only: bool = False,
    season: SeasonInputs | None = None,
) -> ConferenceAssignment:
    """``assign_conference`` with the result, its constraints and the mode's report kept.

    Above ``prune_above_pairs`` allowed pairs the program is solved over each paper's
    ``candidates_per_paper`` best reviewers, priced, with its optimality certificate.
    ``min_senior_per_paper`` and ``attribute_constraints`` (see ``revmatch.matching.attributes``)
    add group rows (a MIP to ``mip_rel_gap`` within ``mip_time_limit`` seconds). ``season``
    holds the chair's forced, forbidden and previous pairs, the emergency pool and the
    reviewer-attribute table; ``objective`` ``fair``, ``max_probability`` and a previous
    assignment choose the mode (``revmatch.matching.season``).
    """
    season = season or SeasonInputs()
    scores = float_scores(scores)
    if scores.shape != (len(submissions), len(reviewers)):
        raise ValueError(f"scores have shape {scores.shape}, expected ({len(submissions)}, {len(reviewers)})")
    coi = np.asarray(coi, dtype=bool)
    forbidden = pair_indices(season.forbidden, submissions, reviewers, "forbidden")
    forbidden_mask = np.zeros(scores.shape, dtype=bool)
    forbidden_mask[forbidden[:, 0], forbidden[:, 1]] = True
    allowed = allowed_pairs(coi, submissions, reviewers, by_track=by_track, area_chairs=area_chairs)
    allowed &= ~forbidden_mask
    eligible = eligible_reviewers(reviewers, area_chairs)
    logger.info(
        "%d of %d people are eligible as %s; %d of %d (paper, person) pairs are allowed (%d forbidden)",
        int(eligible.sum()), len(reviewers), "area chairs" if area_chairs else "reviewers",
        int(allowed.sum()), allowed.size, len(forbidden),
    )
    max_load, min_load = _load_bounds(
        reviewers, eligible, allowed, max_papers_per_reviewer, min_papers_per_reviewer, quotas
    )
    demand = np.full(len(submissions), int(reviews_per_paper), dtype=np.int64)
    forced = pair_indices(season.forced, submissions, reviewers, "forced")
    problems = _forced_problems(forced, coi, submissions, reviewers, by_track, area_chairs,
                                forbidden_mask, demand, max_load)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))

    emergency = np.array([bool(rec.get("emergency")) for rec in reviewers], dtype=bool) & eligible
    if emergency.any():
        logger.info(
            "%d emergency reviewer(s); their scores are lowered by %g in the objective",
            int(emergency.sum()), emergency_penalty,
        )
    cost = scores - scores.dtype.type(emergency_penalty) * emergency[None, :]

    problems = conference_problems(allowed, submissions, reviews_per_paper, max_load, min_load)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    constraints = list(attribute_constraints)
    if min_senior_per_paper > 0:
        if senior is None:
            raise ValueError("min_senior_per_paper > 0 needs the senior flag of every reviewer")
        constraints.insert(0, {"attribute": "senior", "value": "true", "min": int(min_senior_per_paper)})
    groups = constraint_groups(constraints, reviewers, allowed, submissions, reviews_per_paper, senior,
                               season.reviewer_attributes)
    names = [f"{sid} (track {track!r})" for sid, track in zip(submission_ids(submissions), paper_tracks(submissions))]
    problems = group_problems(allowed, groups, demand, forced, names)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    program = AssignmentProgram(cost, allowed, demand, min_load, max_load, forced=forced, groups=groups)
    options = {"prune_above_pairs": prune_above_pairs, "candidates_per_paper": candidates_per_paper,
               "mip_rel_gap": mip_rel_gap, "time_limit": mip_time_limit}
    try:
        result, mode = season_mode(
            program, scores, submissions, reviewers, season, options,
            objective=objective, fair_measure=fair_measure, fair_by_track=fair_by_track,
            max_probability=max_probability, random_seed=random_seed, change_penalty=change_penalty,
            emergency_only=emergency_only,
        )
    except InfeasibleAssignment as exc:
        tracks = _tight_tracks(allowed, submissions, reviews_per_paper, max_load, groups)
        raise InfeasibleAssignment(f"{exc.message}; {tracks}") from exc
    table = assignment_table(result, submissions, reviewers, scores, _reasons(season, submissions, reviewers))
    return ConferenceAssignment(
        table, result, allowed, max_load, min_load, emergency, int(reviews_per_paper), groups, senior, mode
    )


def _tight_tracks(allowed, submissions, reviews_per_paper, max_load, groups) -> str:
    """The tightest tracks by capacity, and per track the group minima against their capacity."""
    tracks = paper_tracks(submissions)
    capacity = capacity_by_track(allowed, tracks, reviews_per_paper, max_load)
    capacity["ratio"] = capacity["available"] / capacity["needed"].where(capacity["needed"] > 0)
    tight = capacity.sort_values("ratio").head(5)
    detail = ", ".join(
        f"{r.track!r} ({r.available} available for {r.needed} needed)" for r in tight.itertuples()
    )
    text = (f"no track is short on its own, the tightest tracks (reviewers shared between tracks count in "
            f"each) are: {detail}")
    for rows in groups:
        if not (rows.lower > 0).any():
            continue
        member = rows.group >= 0
        group_capacity = capacity_by_track(allowed & member[None, :], tracks, 1, np.where(member, max_load, 0))
        needed = pd.Series(rows.lower).groupby(tracks).sum()
        short = [
            f"{r.track!r} ({int(needed.get(r.track, 0))} needed, {r.available} available)"
            for r in group_capacity.itertuples()
            if r.available < needed.get(r.track, 0) * 1.2
        ]
        if short:
            text += f"; reviewers with {rows.name} per track (tight or short): {', '.join(short[:MAX_NAMED])}"
    return text


def _reasons(season: SeasonInputs, submissions: list[dict], reviewers: list[dict]) -> dict[tuple[str, str], str]:
    """Reasons the chair gave for forced pairs, by (submission id, reviewer id)."""
    if season.forced is None or not len(season.forced):
        return {}
    forced = season.forced
    reasons = forced["reason"].fillna("").astype(str) if "reason" in forced else pd.Series("", index=forced.index)
    return {
        (str(s), str(r)): f"forced: {reason}" if reason.strip() else "forced"
        for s, r, reason in zip(forced["submission_id"], forced["reviewer_id"], reasons)
    }


def assign_conference(
    scores: np.ndarray,
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    reviews_per_paper: int,
    max_papers_per_reviewer: int,
    **options,
) -> pd.DataFrame:
    """Assign ``reviews_per_paper`` reviewers (or area chairs) to every submission in one program.

    Pairs are allowed when there is no COI, the person has the right role (see
    ``eligible_reviewers``) and, with ``by_track``, serves in the paper's track. Quotas
    (by reviewer id) replace ``max_papers_per_reviewer``. Emergency reviewers' scores are
    lowered by ``emergency_penalty`` in the objective, so they are used when the others
    cannot cover the papers or fit much better. Returns (submission_id, track, reviewer_id,
    score, rank, reason) sorted by submission (file order) then score, descending; ``score`` is
    the unpenalised one. Raises ``InfeasibleAssignment`` naming the short tracks. ``options``
    are those of ``solve_conference``.
    """
    return solve_conference(
        scores, coi, submissions, reviewers, reviews_per_paper, max_papers_per_reviewer, **options
    ).table
