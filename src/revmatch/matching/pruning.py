"""The pruned assignment LP for large conferences: each paper's best candidates, the left-out
pairs priced with the duals, and the certificate of optimality over all allowed pairs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from revmatch.matching.lp import LpSolution, assignment_from_lp, mip_certificate, solve_lp
from revmatch.matching.problem import Assignment, InfeasibleAssignment, capacity_problems, checked_problem
from revmatch.matching.senior import SeniorConstraint, senior_problems

logger = logging.getLogger(__name__)

PRICING_TOLERANCE = 1e-9
BLOCK_ENTRIES = 1 << 24


def _paper_blocks(n_papers: int, n_reviewers: int, block_entries: int = BLOCK_ENTRIES) -> list[slice]:
    """Consecutive paper ranges whose (papers x reviewers) blocks hold about ``block_entries`` entries."""
    rows = max(1, block_entries // max(n_reviewers, 1))
    return [slice(start, min(start + rows, n_papers)) for start in range(0, n_papers, rows)]


def _top_per_row(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the ``k`` largest entries of each row, leaving out entries that are -inf."""
    k = min(int(k), values.shape[1])
    if k <= 0 or values.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    columns = np.argpartition(-values, k - 1, axis=1)[:, :k]
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], columns.shape)
    keep = values[rows, columns] > -np.inf
    return rows[keep].astype(np.int64), columns[keep].astype(np.int64)


def candidate_pairs(
    scores: np.ndarray, allowed: np.ndarray, candidates_per_paper: int
) -> tuple[np.ndarray, np.ndarray]:
    """(paper index, reviewer index) of each paper's top ``candidates_per_paper`` allowed reviewers by score.

    Computed block-wise over papers; raises ``ValueError`` when an allowed pair has no finite score.
    """
    papers, reviewers = [], []
    for block in _paper_blocks(*scores.shape):
        block_allowed = allowed[block]
        block_scores = scores[block]
        if not np.isfinite(block_scores[block_allowed]).all():
            raise ValueError("scores of allowed pairs must be finite")
        rows, columns = _top_per_row(np.where(block_allowed, block_scores, -np.inf), candidates_per_paper)
        papers.append(rows + block.start)
        reviewers.append(columns)
    return np.concatenate(papers), np.concatenate(reviewers)


@dataclass(frozen=True)
class _Pricing:
    """Improving pruned pairs (the best per paper), how many pairs were priced, the largest reduced cost."""

    paper_of: np.ndarray
    reviewer_of: np.ndarray
    improving: int
    priced: int
    max_reduced_cost: float | None


def _price_pruned_pairs(
    scores: np.ndarray,
    allowed: np.ndarray,
    in_lp: np.ndarray,
    paper_dual: np.ndarray,
    reviewer_dual: np.ndarray,
    add_per_paper: int,
    tolerance: float = PRICING_TOLERANCE,
    senior_dual: np.ndarray | None = None,
    senior: np.ndarray | None = None,
) -> _Pricing:
    """Reduced costs ``score - paper_dual - reviewer_dual`` of every allowed pair not in the LP, block-wise.

    With ``senior`` (per reviewer), senior pairs also pay their paper's ``senior_dual``.

    Returns up to ``add_per_paper`` pairs per paper whose reduced cost exceeds ``tolerance``, best first.
    """
    papers, reviewers = [], []
    improving, priced, largest = 0, 0, -np.inf
    for block in _paper_blocks(*scores.shape):
        pruned = allowed[block] & ~in_lp[block]
        cost = scores[block] - paper_dual[block, None] - reviewer_dual[None, :]
        if senior is not None:
            cost = cost - senior_dual[block, None] * senior[None, :]
        reduced = np.where(pruned, cost, -np.inf)
        priced += int(pruned.sum())
        largest = max(largest, float(reduced.max(initial=-np.inf)))
        better = reduced > tolerance
        improving += int(better.sum())
        active = np.flatnonzero(better.any(axis=1))
        if len(active):
            rows, columns = _top_per_row(np.where(better[active], reduced[active], -np.inf), add_per_paper)
            papers.append(active[rows] + block.start)
            reviewers.append(columns)
    empty = np.zeros(0, dtype=np.int64)
    return _Pricing(
        paper_of=np.concatenate(papers) if papers else empty,
        reviewer_of=np.concatenate(reviewers) if reviewers else empty,
        improving=improving,
        priced=priced,
        max_reduced_cost=float(largest) if priced else None,
    )


def solve_assignment_pruned(
    scores: np.ndarray,
    allowed: np.ndarray,
    reviews_per_paper: int | np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray | None = None,
    candidates_per_paper: int = 50,
    max_rounds: int = 10,
    senior: SeniorConstraint | None = None,
    mip_rel_gap: float = 1e-4,
) -> Assignment:
    """``solve_assignment`` over each paper's top ``candidates_per_paper`` allowed reviewers, certified.

    The LP over the candidate pairs is solved, then every left-out allowed pair is priced with the
    row duals (reduced cost ``score - u_paper - v_reviewer``). When none exceeds ``PRICING_TOLERANCE``
    the duals are feasible for the full LP, so the pruned optimum is optimal over all allowed pairs;
    otherwise the improving pairs (at most ``candidates_per_paper`` per paper) join the LP and it is
    solved again, for at most ``max_rounds`` solves. When the first pruned LP is infeasible the
    candidates are doubled until it is not (or every allowed pair is in). The result's
    ``certificate`` holds ``rounds``, ``candidates_per_paper`` (after widening), ``pairs_in_lp``,
    ``pairs_priced``, ``improving_pairs`` and ``max_reduced_cost`` (final pricing),
    ``proven_optimal``, ``tolerance`` and ``lp_seconds``.

    With ``senior`` the pricing certifies the LP relaxation (its duals include the senior rows),
    whose optimum bounds every assignment; the 0/1 MIP is then solved over the final pairs and
    ``certificate["mip"]`` reports HiGHS's gap and the gap to that full-problem bound.
    """
    if candidates_per_paper < 1 or max_rounds < 1:
        raise ValueError("candidates_per_paper and max_rounds must be at least 1")
    started = time.perf_counter()
    scores, allowed, demand, upper, lower = checked_problem(
        scores, allowed, reviews_per_paper, max_load, min_load
    )
    problems = capacity_problems(allowed, demand, upper, lower) + senior_problems(allowed, senior)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    n_papers, n_reviewers = scores.shape
    candidates = min(max(int(candidates_per_paper), int(demand.max(initial=0))), max(n_reviewers, 1))

    def relaxation_over(paper_of: np.ndarray, reviewer_of: np.ndarray) -> LpSolution:
        return solve_lp(paper_of, reviewer_of, scores[paper_of, reviewer_of], demand, lower, upper, senior)

    lp_seconds = 0.0
    while True:
        paper_of, reviewer_of = candidate_pairs(scores, allowed, candidates)
        if senior is not None and (senior.need > 0).any():  # each paper's best seniors join too
            extra = candidate_pairs(scores, allowed & senior.senior[None, :], max(candidates // 2, 1))
            pairs = np.unique(np.column_stack([np.concatenate([paper_of, extra[0]]),
                                               np.concatenate([reviewer_of, extra[1]])]), axis=0)
            paper_of, reviewer_of = pairs[:, 0], pairs[:, 1]
        try:
            lp = relaxation_over(paper_of, reviewer_of)
            lp_seconds += lp.seconds
            break
        except InfeasibleAssignment:
            if candidates >= n_reviewers:
                raise
            logger.info(
                "the LP over the top %d reviewers per paper is infeasible; widening to %d",
                candidates,
                min(2 * candidates, n_reviewers),
            )
            candidates = min(2 * candidates, n_reviewers)
    in_lp = np.zeros(scores.shape, dtype=bool)
    in_lp[paper_of, reviewer_of] = True
    rounds = 1
    while True:
        pricing = _price_pruned_pairs(
            scores, allowed, in_lp, lp.row_dual[:n_papers], lp.row_dual[n_papers:], candidates,
            senior_dual=lp.senior_dual, senior=None if senior is None else senior.senior,
        )
        logger.info(
            "pricing round %d: %d pairs in the LP, %d pruned pairs priced, %d with positive reduced cost "
            "(largest %s)",
            rounds,
            len(paper_of),
            pricing.priced,
            pricing.improving,
            "n/a" if pricing.max_reduced_cost is None else f"{pricing.max_reduced_cost:.3g}",
        )
        if pricing.improving == 0 or rounds >= max_rounds:
            break
        paper_of = np.concatenate([paper_of, pricing.paper_of])
        reviewer_of = np.concatenate([reviewer_of, pricing.reviewer_of])
        in_lp[pricing.paper_of, pricing.reviewer_of] = True
        lp = relaxation_over(paper_of, reviewer_of)
        lp_seconds += lp.seconds
        rounds += 1
    proven = pricing.improving == 0
    if not proven:
        logger.warning(
            "after %d rounds %d pruned pairs still have positive reduced cost (largest %.3g); "
            "the assignment is feasible but not proven optimal over all allowed pairs",
            rounds,
            pricing.improving,
            pricing.max_reduced_cost,
        )
    certificate = {
        "rounds": rounds,
        "candidates_per_paper": int(candidates),
        "pairs_in_lp": int(len(paper_of)),
        "pairs_priced": pricing.priced,
        "improving_pairs": pricing.improving,
        "max_reduced_cost": pricing.max_reduced_cost,
        "proven_optimal": bool(proven),
        "tolerance": PRICING_TOLERANCE,
        "lp_seconds": lp_seconds,
    }
    if senior is not None and (senior.need > 0).any():
        relaxation = lp.objective
        lp = solve_lp(
            paper_of, reviewer_of, scores[paper_of, reviewer_of], demand, lower, upper, senior,
            integer=True, mip_rel_gap=mip_rel_gap,
        )
        lp_seconds += lp.seconds
        certificate.update(mip_certificate(lp, relaxation if proven else None))
        logger.info(
            "assignment MIP over %d pairs: objective %.6g, gap %.3g (HiGHS), %.3g to the full LP bound",
            len(paper_of), lp.objective, lp.mip["gap"], certificate["mip"]["gap_to_lp_bound"] or float("nan"),
        )
    result = assignment_from_lp(
        lp, paper_of, reviewer_of, scores, demand, lower, upper, certificate, senior=senior
    )
    return Assignment(
        pairs=result.pairs,
        scores=result.scores,
        objective=result.objective,
        status=result.status,
        solve_seconds=time.perf_counter() - started,
        certificate=certificate,
    )
