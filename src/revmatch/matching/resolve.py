"""Re-solving after changes: keep every still-valid pair of the previous assignment unless
moving it is required.

Lexicographic (``change_penalty`` None): first the largest number of previous pairs that can
be kept is found (one program whose objective counts kept pairs: an LP, as the assignment
program is totally unimodular, or a MIP with side rows); then the score is maximised with a
bonus ``M`` on every previous pair, ``M`` raised until the solution keeps that many pairs.
A solution of ``score + M * kept`` that keeps the most pairs has the best score among all
that do, so the result is exactly "fewest changes first, then score". With a
``change_penalty`` the single objective is ``score - change_penalty * (pairs moved)``.

Emergency mode fills only the missing slots: every still-valid previous pair of a reviewer whose
load still fits is forced, the pairs of reviewers whose maximum load fell below theirs are kept as
far as possible (lexicographically, as above), and new pairs come from the emergency pool when
one is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from revmatch.matching.lp import AssignmentProgram
from revmatch.matching.pruning import ProgramSolution, solve_program

logger = logging.getLogger(__name__)

MAX_BONUS_ROUNDS = 12


@dataclass(frozen=True)
class Resolution:
    """The re-solved program's solution and what the re-solve proved."""

    solution: ProgramSolution
    program: AssignmentProgram
    report: dict


def _kept(solution: ProgramSolution, previous: np.ndarray) -> int:
    """Number of previous pairs the solution keeps."""
    chosen = solution.lp.values > 0.5
    return int(previous[solution.paper_of[chosen], solution.reviewer_of[chosen]].sum())


def solve_resolve(
    program: AssignmentProgram,
    previous: np.ndarray,
    change_penalty: float | None = None,
    emergency_only: bool = False,
    emergency_pool: np.ndarray | None = None,
    **solve_options,
) -> Resolution:
    """Re-solve ``program`` from the ``previous`` (P, R) bool pairs that are still allowed.

    With ``emergency_pool`` new pairs come from the pool only; ``emergency_only`` also holds every
    still-valid previous pair of a reviewer whose new maximum load still admits them (those of
    reviewers over it are kept as far as possible). ``solve_options`` go to ``solve_program``.
    Returns the solution, the program actually solved (with its bonus, pool and forced pairs)
    and the report (``kept``, ``kept_max``, ``bonus``, ``rounds``, ``lexicographic_proven``).
    """
    previous = np.asarray(previous, dtype=bool) & program.allowed
    allowed = program.allowed
    if emergency_pool is not None:
        keep = previous | np.asarray(emergency_pool, dtype=bool)[None, :]
        keep[program.forced[:, 0], program.forced[:, 1]] = True
        allowed = allowed & keep
    n_previous = int(previous.sum())
    base = program.with_changes(allowed=allowed)
    if emergency_only:
        within = previous.sum(axis=0) <= program.upper
        over = int((~within & previous.any(axis=0)).sum())
        if over:
            logger.info("%d reviewer(s) hold more still-valid pairs than their new maximum load; only those move",
                        over)
        held = np.argwhere(previous & within[None, :])
        base = base.with_changes(forced=np.unique(np.vstack([program.forced, held]), axis=0))

    cost = np.asarray(program.cost, dtype=np.float64)
    spread = float(np.ptp(cost[allowed])) if allowed.any() else 0.0
    mode = "emergency" if emergency_only else "minimal_change"
    if change_penalty is not None and not emergency_only:
        solved_program = base.with_changes(cost=cost + float(change_penalty) * previous)
        solution = solve_program(solved_program, **solve_options)
        report = {"mode": "change_penalty", "previous_valid": n_previous, "kept": _kept(solution, previous),
                  "kept_max": None, "bonus": float(change_penalty), "rounds": 1, "lexicographic_proven": None}
        return Resolution(solution, solved_program, report)

    counting = base.with_changes(cost=previous.astype(np.float64), ranking=cost + (spread + 1.0) * previous)
    most = solve_program(counting, **solve_options)
    kept_max = _kept(most, previous)
    logger.info("at most %d of the %d still-valid previous pairs can be kept", kept_max, n_previous)
    bonus = 2.0 * spread + 1.0
    for rounds in range(1, MAX_BONUS_ROUNDS + 1):
        solved_program = base.with_changes(cost=cost + bonus * previous)
        solution = solve_program(solved_program, **solve_options)
        kept = _kept(solution, previous)
        logger.info("bonus %.4g per previous pair: %d kept of at most %d", bonus, kept, kept_max)
        if kept >= kept_max:
            break
        bonus *= 4.0
    report = {
        "mode": mode,
        "previous_valid": n_previous,
        "kept": kept,
        "kept_max": kept_max,
        "kept_max_certificate": most.certificate,
        "bonus": bonus,
        "rounds": rounds,
        "lexicographic_proven": bool(kept >= kept_max and _count_proven(most, kept_max)),
    }
    return Resolution(solution, solved_program, report)


def _count_proven(most: ProgramSolution, kept_max: int) -> bool:
    """Whether no assignment keeps more than ``kept_max`` pairs: the count program's bound
    (its LP optimum, or the MIP's dual bound and, when pruned, the full relaxation's) rounds
    down to ``kept_max``."""
    certificate = most.certificate or {}
    if certificate.get("proven_optimal") is False:
        return False
    mip = most.lp.mip
    if mip is None:
        return True
    bounds = [mip["dual_bound"], (certificate.get("mip") or {}).get("lp_relaxation_bound")]
    return any(b is not None and np.floor(b + 1e-6) <= kept_max for b in bounds)
