"""Solving an assignment program: over all allowed pairs, or for large conferences over each
paper's best candidates, the left-out pairs priced with the duals, and the certificate of
optimality over all allowed pairs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from revmatch.matching.lp import (
    INTEGRALITY_TOLERANCE,
    AssignmentProgram,
    LpSolution,
    assignment_from_lp,
    counts_program,
    is_integral,
    mip_certificate,
    mip_from_relaxation,
    program_problems,
    solve_all_pairs,
    solve_lp,
)
from revmatch.matching.problem import Assignment, InfeasibleAssignment
from revmatch.matching.side_rows import GroupRows, side_dual_costs

logger = logging.getLogger(__name__)

PRICING_TOLERANCE = 1e-9
MIP_CANDIDATES = 10
MIP_FULL_PAIRS = 200_000
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


def _program_candidates(program: AssignmentProgram, candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """Each paper's best ``candidates`` pairs (by ``ranking``, else ``cost``), its best reviewers of
    every group with a minimum, and the forced pairs."""
    ranking = program.cost if program.ranking is None else program.ranking
    parts = [
        candidate_pairs(ranking, program.allowed, candidates),
        (program.forced[:, 0], program.forced[:, 1]),
        (program.include[:, 0], program.include[:, 1]),
    ]
    for rows in program.groups:
        if (rows.lower > 0).any():
            member = program.allowed & (rows.group >= 0)[None, :]
            parts.append(candidate_pairs(ranking, member, max(candidates // 2, int(rows.lower.max()))))
    papers = np.concatenate([part[0] for part in parts]).astype(np.int64)
    reviewers = np.concatenate([part[1] for part in parts]).astype(np.int64)
    keys = np.unique(papers * program.allowed.shape[1] + reviewers)
    return keys // program.allowed.shape[1], keys % program.allowed.shape[1]


@dataclass(frozen=True)
class _Pricing:
    """Improving pruned pairs (the best per paper), how many pairs were priced, the largest reduced cost."""

    paper_of: np.ndarray
    reviewer_of: np.ndarray
    improving: int
    priced: int
    max_reduced_cost: float | None


def _price_pruned_pairs(
    program: AssignmentProgram,
    in_lp: np.ndarray,
    lp: LpSolution,
    add_per_paper: int,
    tolerance: float = PRICING_TOLERANCE,
) -> _Pricing:
    """Reduced costs ``cost - paper_dual - reviewer_dual - side rows' duals`` of every allowed
    pair not in the LP, block-wise.

    Returns up to ``add_per_paper`` pairs per paper whose reduced cost exceeds ``tolerance``, best first.
    """
    n_papers = len(program.demand)
    paper_dual, reviewer_dual = lp.row_dual[:n_papers], lp.row_dual[n_papers:]
    floor_stage = program.floors is not None and program.floors.floor is None
    papers, reviewers = [], []
    improving, priced, largest = 0, 0, -np.inf
    for block in _paper_blocks(*program.allowed.shape):
        pruned = program.allowed[block] & ~in_lp[block]
        cost = 0.0 if floor_stage else program.cost[block]
        cost = cost - paper_dual[block, None] - reviewer_dual[None, :]
        cost = cost - side_dual_costs(program.groups, program.floors, lp.side, lp.side_dual, block)
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


@dataclass(frozen=True)
class ProgramSolution:
    """A solved program: its pairs, the final solve, the certificate and the seconds in all."""

    paper_of: np.ndarray
    reviewer_of: np.ndarray
    lp: LpSolution
    certificate: dict | None
    seconds: float

    def assignment(self, scores: np.ndarray, program: AssignmentProgram) -> Assignment:
        """The chosen pairs (integral solutions only) with their ``scores``, checked."""
        result = assignment_from_lp(
            self.lp, self.paper_of, self.reviewer_of, scores, program, self.certificate
        )
        return Assignment(
            pairs=result.pairs, scores=result.scores, objective=result.objective, status=result.status,
            solve_seconds=self.seconds, certificate=self.certificate,
        )


def proven_gap(certificate: dict | None) -> float | None:
    """The relative gap to the best assignment over all allowed pairs that a solve proved: 0 for an
    LP (pricing proved, or all pairs solved), the MIP's gap where it is exact over all pairs, else
    its gap to the full LP relaxation's bound; None when nothing bounds it (pricing not proven)."""
    certificate = certificate or {}
    if certificate.get("proven_optimal") is False:
        return None
    mip = certificate.get("mip")
    if not mip:
        return 0.0
    gaps = [mip["gap"]] if (mip.get("completion") or {"exact_over_all_pairs": True})["exact_over_all_pairs"] else []
    if mip.get("gap_to_lp_bound") is not None:
        gaps.append(max(mip["gap_to_lp_bound"], 0.0))
    return min(gaps) if gaps else None


def solve_program(
    program: AssignmentProgram,
    prune_above_pairs: int = 2_000_000,
    candidates_per_paper: int = 50,
    mip_rel_gap: float = 1e-4,
    time_limit: float | None = None,
    integer: bool = True,
) -> ProgramSolution:
    """Solve the program over all allowed pairs, or above ``prune_above_pairs`` pruned and priced
    (``solve_program_pruned``; so is a MIP above ``MIP_FULL_PAIRS`` allowed pairs, whose HiGHS
    setup alone would take minutes). ``integer`` False keeps a program with side rows an LP
    (the fractional relaxation). Raises ``InfeasibleAssignment`` on counts that cannot work out."""
    problems = program_problems(program)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    n_allowed = int(program.allowed.sum())
    large_mip = integer and program.has_side_rows and n_allowed > MIP_FULL_PAIRS
    if n_allowed > prune_above_pairs or large_mip:
        logger.info(
            "%d allowed pairs exceed prune_above_pairs=%d: solving over the top %d per paper, priced",
            n_allowed, prune_above_pairs, candidates_per_paper,
        )
        return solve_program_pruned(
            program, candidates_per_paper, mip_rel_gap=mip_rel_gap, time_limit=time_limit, integer=integer
        )
    started = time.perf_counter()
    paper_of, reviewer_of, lp = solve_all_pairs(program, integer, mip_rel_gap, time_limit)
    certificate = mip_certificate(lp, None) if lp.mip is not None else None
    return ProgramSolution(paper_of, reviewer_of, lp, certificate, time.perf_counter() - started)


def solve_program_pruned(
    program: AssignmentProgram,
    candidates_per_paper: int = 50,
    max_rounds: int = 10,
    mip_rel_gap: float = 1e-4,
    time_limit: float | None = None,
    integer: bool = True,
) -> ProgramSolution:
    """The program over each paper's top ``candidates_per_paper`` allowed reviewers, certified.

    The LP over the candidate pairs is solved, then every left-out allowed pair is priced with the
    row duals. When no reduced cost exceeds ``PRICING_TOLERANCE`` the duals are feasible for the
    full LP, so the pruned optimum is optimal over all allowed pairs; otherwise the improving pairs
    (at most ``candidates_per_paper`` per paper) join the LP and it is solved again, for at most
    ``max_rounds`` solves. When the first pruned LP is infeasible the candidates are doubled until
    it is not (or every allowed pair is in). The ``certificate`` holds ``rounds``,
    ``candidates_per_paper`` (after widening), ``pairs_in_lp``, ``pairs_priced``,
    ``improving_pairs`` and ``max_reduced_cost`` (final pricing), ``proven_optimal``,
    ``tolerance`` and ``lp_seconds``.

    With side rows the pricing certifies the LP relaxation, whose optimum bounds every
    assignment; the 0/1 MIP is then solved over the final pairs, completed with every left-out
    pair that could still improve it (``_complete_mip``), and ``certificate["mip"]`` reports
    HiGHS's gap, the gap to that full-problem bound and the ``completion``.
    """
    if candidates_per_paper < 1 or max_rounds < 1:
        raise ValueError("candidates_per_paper and max_rounds must be at least 1")
    started = time.perf_counter()
    problems = program_problems(program)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    n_reviewers = program.allowed.shape[1]
    candidates = min(max(int(candidates_per_paper), int(program.demand.max(initial=0))), max(n_reviewers, 1))

    lp_seconds = 0.0
    while True:
        paper_of, reviewer_of = _program_candidates(program, candidates)
        if not np.isfinite(program.cost[paper_of, reviewer_of]).all():
            raise ValueError("scores of allowed pairs must be finite")
        try:
            lp = solve_lp(program, paper_of, reviewer_of)
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
    in_lp = np.zeros(program.allowed.shape, dtype=bool)
    in_lp[paper_of, reviewer_of] = True
    rounds = 1
    while True:
        pricing = _price_pruned_pairs(program, in_lp, lp, candidates)
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
        lp = solve_lp(program, paper_of, reviewer_of)
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
    if integer and lp.side.n_rows > 0 and proven and is_integral(lp):
        relaxation = lp
        lp = mip_from_relaxation(lp, mip_rel_gap)
        certificate.update(mip_certificate(lp, relaxation.objective))
        certificate["mip"]["completion"] = {"slack": 0.0, "pairs_added": 0, "exact_over_all_pairs": True}
    elif integer and lp.side.n_rows > 0:
        relaxation = lp
        paper_of, reviewer_of = _mip_pairs(program, relaxation, paper_of, reviewer_of)
        in_lp = np.zeros(program.allowed.shape, dtype=bool)
        in_lp[paper_of, reviewer_of] = True
        paper_of, reviewer_of, lp = _pruned_mip(
            program, paper_of, reviewer_of, MIP_CANDIDATES, in_lp, mip_rel_gap, time_limit
        )
        lp_seconds += lp.seconds
        completion = None
        if proven:
            paper_of, reviewer_of, lp, completion = _complete_mip(
                program, relaxation, lp, in_lp, paper_of, reviewer_of, mip_rel_gap, time_limit
            )
            lp_seconds += completion.pop("seconds")
        certificate["lp_seconds"] = lp_seconds
        certificate.update(mip_certificate(lp, relaxation.objective if proven else None))
        certificate["mip"]["completion"] = completion
        logger.info(
            "assignment MIP over %d pairs: objective %.6g, gap %.3g (HiGHS), %.3g to the full LP bound",
            len(paper_of), lp.objective, lp.mip["gap"], certificate["mip"]["gap_to_lp_bound"] or float("nan"),
        )
    return ProgramSolution(paper_of, reviewer_of, lp, certificate, time.perf_counter() - started)


def _mip_pairs(
    program: AssignmentProgram, relaxation: LpSolution, paper_of: np.ndarray, reviewer_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs the MIP starts from: the relaxation's support, the forced and included pairs and
    each paper's ``MIP_CANDIDATES`` best (the relaxation's other pairs join only through
    ``_complete_mip``, which keeps the MIP small where its relaxation is nearly integral)."""
    n_reviewers = program.allowed.shape[1]
    support = relaxation.values > INTEGRALITY_TOLERANCE
    best = _program_candidates(program, MIP_CANDIDATES)
    keys = np.unique(np.concatenate([
        paper_of[support].astype(np.int64) * n_reviewers + reviewer_of[support],
        best[0] * n_reviewers + best[1],
    ]))
    return keys // n_reviewers, keys % n_reviewers


def _pruned_mip(
    program: AssignmentProgram,
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    candidates: int,
    in_lp: np.ndarray,
    mip_rel_gap: float,
    time_limit: float | None,
) -> tuple[np.ndarray, np.ndarray, LpSolution]:
    """The MIP over the pruned pairs; where their LP relaxation is feasible but no 0/1 solution
    is, each paper's candidates are doubled until one is (or every allowed pair is in)."""
    n_reviewers = program.allowed.shape[1]
    while True:
        try:
            mip = solve_lp(program, paper_of, reviewer_of, integer=True, mip_rel_gap=mip_rel_gap,
                           time_limit=time_limit)
            return paper_of, reviewer_of, mip
        except InfeasibleAssignment:
            if candidates >= n_reviewers:
                raise
            candidates = min(2 * candidates, n_reviewers)
            logger.info("the MIP over the pruned pairs is infeasible; widening to %d candidates per paper",
                        candidates)
            wider = candidate_pairs(program.cost if program.ranking is None else program.ranking,
                                    program.allowed, candidates)
            keys = np.union1d(paper_of.astype(np.int64) * n_reviewers + reviewer_of,
                              wider[0].astype(np.int64) * n_reviewers + wider[1])
            paper_of, reviewer_of = keys // n_reviewers, keys % n_reviewers
            in_lp[paper_of, reviewer_of] = True


def _complete_mip(
    program: AssignmentProgram,
    relaxation: LpSolution,
    mip: LpSolution,
    in_lp: np.ndarray,
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    mip_rel_gap: float,
    time_limit: float | None,
) -> tuple[np.ndarray, np.ndarray, LpSolution, dict]:
    """Make the MIP over the pruned pairs exact over all allowed pairs (reduced-cost fixing).

    With the full LP relaxation's optimum ``z`` and its duals, every assignment that uses a left-out
    pair of reduced cost ``rc`` scores at most ``z + rc``. So only left-out pairs with ``rc`` above
    ``mip - z`` can be in an assignment better than the MIP's: they join, and the MIP is solved
    again (once: its objective can only rise, which excludes more). Returns the pairs, the MIP and
    the ``completion`` report (``slack``, ``pairs_added``, ``exact_over_all_pairs``, ``seconds``).
    """
    slack = max(relaxation.objective - mip.objective, 0.0)
    candidates = _price_pruned_pairs(program, in_lp, relaxation, program.allowed.shape[1], -(slack + 1e-9))
    limit = max(4 * len(paper_of), 100_000)
    report = {"slack": slack, "pairs_added": 0, "exact_over_all_pairs": True, "seconds": 0.0}
    if candidates.improving == 0:
        return paper_of, reviewer_of, mip, report
    if candidates.improving > limit:
        logger.warning(
            "%d left-out pairs could still improve the MIP (its gap to the LP bound is %.3g); more than %d, "
            "so the MIP is not proven optimal over all allowed pairs: raise matching.candidates_per_paper",
            candidates.improving, slack, limit,
        )
        return paper_of, reviewer_of, mip, dict(report, exact_over_all_pairs=False)
    paper_of = np.concatenate([paper_of, candidates.paper_of])
    reviewer_of = np.concatenate([reviewer_of, candidates.reviewer_of])
    logger.info("%d left-out pairs could improve the MIP (reduced cost above %.3g): solving again with them",
                candidates.improving, -slack)
    again = solve_lp(program, paper_of, reviewer_of, integer=True, mip_rel_gap=mip_rel_gap, time_limit=time_limit)
    report.update(pairs_added=candidates.improving, seconds=again.seconds)
    return paper_of, reviewer_of, again, report


def solve_assignment_pruned(
    scores: np.ndarray,
    allowed: np.ndarray,
    reviews_per_paper: int | np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray | None = None,
    candidates_per_paper: int = 50,
    max_rounds: int = 10,
    groups: tuple[GroupRows, ...] = (),
    mip_rel_gap: float = 1e-4,
) -> Assignment:
    """``solve_assignment`` over each paper's top ``candidates_per_paper`` allowed reviewers,
    certified (``solve_program_pruned``)."""
    program = counts_program(scores, allowed, reviews_per_paper, max_load, min_load, groups)
    solution = solve_program_pruned(program, candidates_per_paper, max_rounds, mip_rel_gap=mip_rel_gap)
    return solution.assignment(program.cost, program)
