"""The chair's season around the assignment program: forced, forbidden and previous pairs,
the emergency pool, reviewer attributes, and the choice of the mode that solves it.

Modes: the usual maximum score; ``fair`` (``revmatch.matching.fairness``); a re-solve from a
previous assignment (``revmatch.matching.resolve``); randomized with every pair's probability
capped at ``max_probability`` (the capped LP, sampled by ``revmatch.matching.randomized`` so
that each pair's marginal probability is its LP value).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, submission_ids
from revmatch.log import MAX_NAMED
from revmatch.matching.eligibility import capacity_by_track, paper_tracks
from revmatch.matching.fairness import solve_fair
from revmatch.matching.lp import AssignmentProgram
from revmatch.matching.problem import Assignment, InfeasibleAssignment
from revmatch.matching.pruning import solve_program
from revmatch.matching.resolve import solve_resolve
from revmatch.matching.settings import check_mode

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeasonInputs:
    """What a chair adds during the season: ``forced`` and ``forbidden`` pairs (submission_id,
    reviewer_id, reason), the ``previous`` assignment (submission_id, reviewer_id), the
    ``emergency_pool`` (R,) bool, and the ``reviewer_attributes`` table (one row per reviewer)."""

    forced: pd.DataFrame | None = None
    forbidden: pd.DataFrame | None = None
    previous: pd.DataFrame | None = None
    emergency_pool: np.ndarray | None = None
    reviewer_attributes: pd.DataFrame | None = None


def pair_indices(
    pairs: pd.DataFrame | None, submissions: list[dict], reviewers: list[dict], what: str | None = None
) -> np.ndarray:
    """(n, 2) int64 (paper index, reviewer index) of the pairs, unique. A pair whose ids are not
    both in the conference raises ``ValueError`` naming it when ``what`` ("forced", ...) is
    given, and is left out otherwise (a previous assignment's withdrawn papers and departed
    reviewers, which the changes report)."""
    if pairs is None or not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    papers = pd.Index(submission_ids(submissions)).get_indexer(pairs["submission_id"].astype(str))
    people = pd.Index(reviewer_ids(reviewers)).get_indexer(pairs["reviewer_id"].astype(str))
    known = (papers >= 0) & (people >= 0)
    if what is not None and not known.all():
        unknown = pairs[~known][["submission_id", "reviewer_id"]].astype(str).itertuples(index=False)
        named = ", ".join(f"({s}, {r})" for s, r in list(unknown)[:MAX_NAMED])
        raise ValueError(f"{int((~known).sum())} {what} pair(s) name an unknown submission or reviewer: {named}")
    return np.unique(np.column_stack([papers[known], people[known]]).astype(np.int64), axis=0).reshape(-1, 2)


def pool_problems(
    program: AssignmentProgram, previous: np.ndarray, pool: np.ndarray, submissions: list[dict]
) -> list[str]:
    """Tracks and papers where the emergency pool cannot fill the slots that the still-valid
    previous pairs leave open (reviewers' spare loads counted in every track they serve)."""
    previous = np.asarray(previous, dtype=bool) & program.allowed
    pool = np.asarray(pool, dtype=bool)
    open_slots = np.maximum(program.demand - previous.sum(axis=1), 0)
    spare = np.where(pool, np.maximum(program.upper - previous.sum(axis=0), 0), 0)
    fill = program.allowed & pool[None, :] & ~previous
    tracks = paper_tracks(submissions).astype(str)
    capacity = capacity_by_track(fill, tracks, 1, spare).set_index("track")["available"]
    needed = pd.Series(open_slots).groupby(tracks).sum()
    problems = [
        f"track {track!r}: {int(n)} open slot(s) but the emergency pool can give at most {int(capacity.get(track, 0))}"
        for track, n in needed.items()
        if n > capacity.get(track, 0)
    ]
    short = np.flatnonzero(fill.sum(axis=1) < open_slots)
    if len(short):
        ids = submission_ids(submissions)
        named = ", ".join(f"{ids[p]} ({open_slots[p]} open, {int(fill[p].sum())} in the pool)"
                          for p in short[:MAX_NAMED])
        problems.append(f"{len(short)} paper(s) have fewer allowed pool reviewers than open slots: {named}")
    return problems


def season_mode(
    program: AssignmentProgram,
    scores: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    season: SeasonInputs,
    options: dict,
    objective: str = "sum",
    fair_measure: str = "total",
    fair_by_track: bool = True,
    max_probability: float | None = None,
    random_seed: int = 0,
    change_penalty: float | None = None,
    emergency_only: bool = False,
) -> tuple[Assignment, dict]:
    """Solve ``program`` in the mode chosen; returns the assignment and the mode's report."""
    check_mode(objective, max_probability, season.previous is not None, bool(program.groups))
    if season.previous is not None:
        previous = np.zeros(program.allowed.shape, dtype=bool)
        pairs = pair_indices(season.previous, submissions, reviewers)
        previous[pairs[:, 0], pairs[:, 1]] = True
        if season.emergency_pool is not None:
            problems = pool_problems(program, previous, season.emergency_pool, submissions)
            if problems:
                raise InfeasibleAssignment("; ".join(problems))
        resolution = solve_resolve(program, previous, change_penalty, emergency_only, season.emergency_pool,
                                   **options)
        report = dict(resolution.report, previous_pairs=int(len(season.previous)))
        # checked against the program solved; its objective without the bonus of kept pairs
        assignment = resolution.solution.assignment(scores, resolution.program)
        objective = float(program.cost[assignment.pairs[:, 0], assignment.pairs[:, 1]].astype(np.float64).sum())
        return replace(assignment, objective=objective), {"resolve": report}
    if emergency_only:
        raise ValueError("matching.emergency_only needs matching.previous_assignment")
    if objective == "fair":
        tracks = np.array([str(s.get("track") or "") for s in submissions], dtype=object)
        fair = solve_fair(program, scores, tracks, fair_measure, fair_by_track, **options)
        return fair.solution.assignment(scores, program), {"fair": fair.report}
    if max_probability is not None:
        return solve_randomized(program, scores, float(max_probability), int(random_seed), options)
    solution = solve_program(program, **options)
    return solution.assignment(scores, program), {}


def solve_randomized(
    program: AssignmentProgram, scores: np.ndarray, max_probability: float, seed: int, options: dict
) -> tuple[Assignment, dict]:
    """The LP with every pair's value capped at ``max_probability``, solved exactly, then one
    assignment sampled from it with ``seed``; the report holds its expected score against the
    deterministic optimum."""
    from revmatch.matching.randomized import sample_assignment

    if not 0 < max_probability <= 1:
        raise ValueError(f"matching.max_probability must be in (0, 1], not {max_probability}")
    usual = solve_program(program, **options)
    usual_assignment = usual.assignment(scores, program)
    capped_program = program.with_changes(pair_cap=max_probability)
    try:
        capped = solve_program(capped_program, integer=False, **options)
    except InfeasibleAssignment as exc:
        raise InfeasibleAssignment(
            f"{exc.message} (with every pair's probability capped at {max_probability}; raise "
            "matching.max_probability or the reviewers' loads)"
        ) from exc
    values = np.clip(capped.lp.values, 0.0, 1.0)
    chosen = sample_assignment(capped.paper_of, capped.reviewer_of, values, seed)
    pairs = np.column_stack([capped.paper_of[chosen], capped.reviewer_of[chosen]]).astype(np.int64)
    loads = np.bincount(pairs[:, 1], minlength=len(program.upper))
    per_paper = np.bincount(pairs[:, 0], minlength=len(program.demand))
    if (per_paper != program.demand).any() or (loads < program.lower).any() or (loads > program.upper).any():
        raise RuntimeError("the sampled assignment breaks a paper or load constraint")
    pair_scores = scores[pairs[:, 0], pairs[:, 1]].astype(np.float64)
    expected_score = float((values * scores[capped.paper_of, capped.reviewer_of]).sum())
    fractional = (values > 1e-9) & (values < 1 - 1e-9)
    report = {
        "max_probability": max_probability,
        "seed": seed,
        "expected_objective": capped.lp.objective,
        "deterministic_objective": usual_assignment.objective,
        "expected_over_deterministic": capped.lp.objective / usual_assignment.objective
        if usual_assignment.objective else None,
        "expected_total_score": expected_score,
        "deterministic_total_score": float(usual_assignment.scores.sum()),
        "sampled_total_score": float(pair_scores.sum()),
        "fractional_pairs": int(fractional.sum()),
        "largest_probability": float(values.max(initial=0.0)),
        "lp_certificate": capped.certificate,
    }
    logger.info(
        "randomized assignment: expected objective %.6g = %.4f of the deterministic optimum %.6g",
        capped.lp.objective, report["expected_over_deterministic"] or float("nan"), usual_assignment.objective,
    )
    result = Assignment(
        pairs=pairs, scores=pair_scores, objective=float(program.cost[pairs[:, 0], pairs[:, 1]].sum()),
        status="sampled from the optimal capped LP", solve_seconds=usual.seconds + capped.seconds,
        certificate=capped.certificate,
    )
    return result, {"randomized": report}
