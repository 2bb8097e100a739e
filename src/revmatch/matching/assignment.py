"""Optimal reviewer assignment: one HiGHS linear program over the allowed (paper, reviewer) pairs.

maximise   sum of score[p, r] * x[p, r] over allowed pairs
subject to sum_r x[p, r] = k_p                   for every paper p
           min_r <= sum_p x[p, r] <= max_r       for every reviewer r
           0 <= x[p, r] <= 1

The constraint matrix is the incidence matrix of a bipartite graph, which is totally
unimodular, so a basic optimal solution of the LP is integral: the LP optimum is the
optimum of the 0/1 problem, and the solution is checked to be integral.

An optional side constraint, at least ``m`` senior reviewers per paper
(sum over senior r of x[p, r] >= m), breaks total unimodularity: the problem is then solved
as a mixed-integer program by HiGHS, and its gap is reported.

Unlike the reference tool, COI, role and track restrictions are hard (pairs that break them
have no variable), and a conference is solved as ONE program: a reviewer who serves in
several tracks has one load constraint across all of them, where the reference solved one
problem per track with the reviewer's quota divided by the number of tracks. The global
program is never worse (every per-track solution is feasible for it) and needs no split.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.conference import softconf
from revmatch.conference import reviewer_ids, reviewer_load_bounds, submission_ids
from revmatch.io import InputError, PathLike, read_jsonl, write_csv, write_json
from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)

ASSIGNMENT_COLUMNS = ["submission_id", "track", "reviewer_id", "score", "rank"]
INTEGRALITY_TOLERANCE = 1e-6
PRICING_TOLERANCE = 1e-9
BLOCK_ENTRIES = 1 << 24


class InfeasibleAssignment(RuntimeError):
    """No assignment satisfies the constraints; ``message`` says which counts fall short."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Assignment:
    """An optimal assignment: ``pairs`` (n, 2) of (paper index, reviewer index) and their scores.

    ``certificate`` is set by ``solve_assignment_pruned``: how optimality over all allowed pairs
    was shown by pricing the pairs left out of the LP.
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


# --------------------------------------------------------------------------- the LP


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
            f"{len(bad_bounds)} reviewer(s) have a minimum load above their maximum: {_name(bad_bounds)}"
        )
    per_reviewer = allowed.sum(axis=0)
    starved = np.flatnonzero(min_load > per_reviewer)
    if len(starved):
        problems.append(
            f"{len(starved)} reviewer(s) have a minimum load above their number of allowed papers: "
            f"{_name(starved)}"
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


def _name(indices: np.ndarray) -> str:
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


def _checked_problem(
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


def solve_assignment(
    scores: np.ndarray,
    allowed: np.ndarray,
    reviews_per_paper: int | np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray | None = None,
    senior: SeniorConstraint | None = None,
    mip_rel_gap: float = 1e-4,
) -> Assignment:
    """Maximum-score assignment of ``reviews_per_paper`` reviewers to each paper.

    ``scores`` (P, R) are maximised over the ``allowed`` (P, R) pairs only; reviewer loads stay
    within [``min_load``, ``max_load``]. With ``senior`` the problem is a MIP solved to
    ``mip_rel_gap``, and the result's ``certificate`` holds the gap. Raises
    ``InfeasibleAssignment`` when the counts cannot work out (checked before solving) or the
    solver proves infeasibility.
    """
    scores, allowed, demand, upper, lower = _checked_problem(
        scores, allowed, reviews_per_paper, max_load, min_load
    )
    paper_of, reviewer_of = np.nonzero(allowed)
    pair_scores = scores[paper_of, reviewer_of]
    if not np.isfinite(pair_scores).all():
        raise ValueError("scores of allowed pairs must be finite")
    problems = capacity_problems(allowed, demand, upper, lower) + senior_problems(allowed, senior)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))

    integer = senior is not None and bool((senior.need > 0).any())
    lp = _solve_lp(paper_of, reviewer_of, pair_scores, demand, lower, upper, senior, integer, mip_rel_gap)
    certificate = _mip_certificate(lp, None) if integer else None
    return _assignment_from_lp(
        lp, paper_of, reviewer_of, scores, demand, lower, upper, certificate, senior=senior
    )


def senior_problems(allowed: np.ndarray, senior: SeniorConstraint | None) -> list[str]:
    """Papers with fewer allowed senior reviewers than they need (by index)."""
    if senior is None:
        return []
    available = (np.asarray(allowed, dtype=bool) & senior.senior[None, :]).sum(axis=1)
    short = np.flatnonzero(available < senior.need)
    if not len(short):
        return []
    return [f"{len(short)} paper(s) have fewer allowed senior reviewers than required: {_name(short)}"]


def _mip_certificate(lp: _LpSolution, lp_bound: float | None) -> dict:
    """What the MIP proved: HiGHS's own gap, and the gap to the full LP relaxation when known."""
    mip = dict(lp.mip or {})
    mip["objective"] = lp.objective
    mip["lp_relaxation_bound"] = lp_bound
    mip["gap_to_lp_bound"] = (
        None if lp_bound is None else (lp_bound - lp.objective) / max(abs(lp_bound), 1e-12)
    )
    return {"mip": mip}


@dataclass(frozen=True)
class _LpSolution:
    """Column values, row duals (papers, reviewers, then senior rows), status and seconds of one solve.

    ``senior_dual`` is the dual of each paper's senior row (0 where it has none); for a MIP the
    duals are zero and ``mip`` holds HiGHS's ``gap``, ``dual_bound`` and ``nodes``.
    """

    values: np.ndarray
    row_dual: np.ndarray
    senior_dual: np.ndarray
    status: str
    seconds: float
    objective: float
    mip: dict | None = None


@dataclass(frozen=True)
class SeniorConstraint:
    """At least ``need[p]`` of paper p's reviewers are senior (``senior[r]``); papers with 0 have no row."""

    senior: np.ndarray
    need: np.ndarray

    def pair_mask(self, paper_of: np.ndarray, reviewer_of: np.ndarray) -> np.ndarray:
        """Pairs that count towards their paper's senior row."""
        return self.senior[reviewer_of] & (self.need[paper_of] > 0)


def _solve_lp(
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    pair_scores: np.ndarray,
    demand: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    senior: SeniorConstraint | None = None,
    integer: bool = False,
    mip_rel_gap: float = 1e-4,
) -> _LpSolution:
    """Solve the assignment LP (or, with ``integer``, the 0/1 MIP) over the given pairs with HiGHS.

    Rows are the papers (``= demand``), the reviewers (``lower`` .. ``upper``) and, with
    ``senior``, one row per paper that needs senior reviewers (``>= need``). Row duals follow
    HiGHS's convention, which for this maximisation is: reduced cost of a pair ``score -
    dual[paper] - dual[n_papers + reviewer] - senior_dual[paper] * senior[reviewer]``,
    non-positive at optimality for pairs at 0.
    """
    n_papers, n_reviewers = len(demand), len(upper)
    n_pairs = len(paper_of)
    in_senior = senior.pair_mask(paper_of, reviewer_of) if senior is not None else np.zeros(n_pairs, bool)
    senior_papers = np.flatnonzero(senior.need > 0) if senior is not None else np.zeros(0, dtype=np.int64)
    senior_row = np.full(n_papers, -1, dtype=np.int64)
    senior_row[senior_papers] = n_papers + n_reviewers + np.arange(len(senior_papers))
    n_rows = n_papers + n_reviewers + len(senior_papers)

    counts = 2 + in_senior.astype(np.int64)
    start = np.concatenate([[0], np.cumsum(counts)])
    index = np.empty(int(start[-1]), dtype=np.int64)
    index[start[:-1]] = paper_of
    index[start[:-1] + 1] = n_papers + reviewer_of
    index[start[:-1][in_senior] + 2] = senior_row[paper_of[in_senior]]

    lp = highspy.HighsLp()
    lp.num_col_ = n_pairs
    lp.num_row_ = n_rows
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = np.asarray(pair_scores, dtype=np.float64)
    lp.col_lower_ = np.zeros(n_pairs)
    lp.col_upper_ = np.ones(n_pairs)
    need = senior.need[senior_papers] if senior is not None else np.zeros(0)
    lp.row_lower_ = np.concatenate([demand, lower, need]).astype(np.float64)
    lp.row_upper_ = np.concatenate([demand, upper, np.full(len(need), highspy.kHighsInf)]).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n_pairs
    lp.a_matrix_.num_row_ = n_rows
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = np.ones(len(index))

    highs = highspy.Highs()
    highs.setOptionValue("log_to_console", False)
    highs.setCallback(_log_highs, None)
    highs.startCallback(highspy.cb.HighsCallbackType.kCallbackLogging)
    what = "assignment MIP" if integer else "assignment LP"
    logger.info(
        "%s: %d papers, %d reviewers, %d pairs, %d senior rows",
        what, n_papers, n_reviewers, n_pairs, len(senior_papers),
    )
    started = time.perf_counter()
    highs.passModel(lp)
    if integer:
        highs.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        highs.changeColsIntegrality(
            n_pairs, np.arange(n_pairs, dtype=np.int32), np.full(n_pairs, highspy.HighsVarType.kInteger)
        )
    highs.run()
    seconds = time.perf_counter() - started
    model_status = highs.getModelStatus()
    status = highs.modelStatusToString(model_status)
    infeasible = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)
    if model_status in infeasible:
        raise InfeasibleAssignment(
            "no assignment meets every constraint together (the solver proved the problem infeasible); "
            "the per-paper and per-reviewer counts each suffice, so the allowed pairs of some papers "
            "compete for the same few reviewers"
            + (" or for the same few senior reviewers" if len(senior_papers) else "")
        )
    if model_status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS stopped without an optimal assignment: {status}")
    solution = highs.getSolution()
    info = highs.getInfo()
    row_dual = np.asarray(solution.row_dual) if not integer else np.zeros(n_rows)
    senior_dual = np.zeros(n_papers)
    senior_dual[senior_papers] = row_dual[n_papers + n_reviewers :]
    mip = None
    if integer:
        mip = {"gap": float(info.mip_gap), "dual_bound": float(info.mip_dual_bound),
               "nodes": int(info.mip_node_count), "rel_gap_option": float(mip_rel_gap)}
    return _LpSolution(
        values=np.asarray(solution.col_value),
        row_dual=row_dual[: n_papers + n_reviewers],
        senior_dual=senior_dual,
        status=status,
        seconds=seconds,
        objective=float(info.objective_function_value),
        mip=mip,
    )


def _assignment_from_lp(
    lp: _LpSolution,
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    scores: np.ndarray,
    demand: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    certificate: dict | None = None,
    senior: SeniorConstraint | None = None,
) -> Assignment:
    """The chosen pairs of an integral LP solution, checked against every constraint."""
    deviation = float(np.abs(lp.values - np.round(lp.values)).max(initial=0.0))
    if deviation > INTEGRALITY_TOLERANCE:
        raise RuntimeError(
            f"the LP solution is not integral (largest deviation {deviation:.3g}); refusing to round"
        )
    chosen = lp.values > 0.5
    pairs = np.column_stack([paper_of[chosen], reviewer_of[chosen]]).astype(np.int64)
    _check_solution(pairs, demand, lower, upper, len(upper))
    if senior is not None:
        seniors = np.bincount(pairs[:, 0], weights=senior.senior[pairs[:, 1]], minlength=len(demand))
        if (seniors < senior.need).any():
            raise RuntimeError("the solver's assignment breaks a senior-reviewer constraint")
    chosen_scores = scores[pairs[:, 0], pairs[:, 1]].astype(np.float64)
    objective = float(chosen_scores.sum())
    logger.info("assignment LP solved in %.2f s: %s, objective %.6g", lp.seconds, lp.status, objective)
    return Assignment(
        pairs=pairs,
        scores=chosen_scores,
        objective=objective,
        status=lp.status,
        solve_seconds=lp.seconds,
        certificate=certificate,
    )


# --------------------------------------------------------------------------- pruned LP with pricing


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
    scores, allowed, demand, upper, lower = _checked_problem(
        scores, allowed, reviews_per_paper, max_load, min_load
    )
    problems = capacity_problems(allowed, demand, upper, lower) + senior_problems(allowed, senior)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    n_papers, n_reviewers = scores.shape
    candidates = min(max(int(candidates_per_paper), int(demand.max(initial=0))), max(n_reviewers, 1))

    def relaxation_over(paper_of: np.ndarray, reviewer_of: np.ndarray) -> _LpSolution:
        return _solve_lp(paper_of, reviewer_of, scores[paper_of, reviewer_of], demand, lower, upper, senior)

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
        lp = _solve_lp(
            paper_of, reviewer_of, scores[paper_of, reviewer_of], demand, lower, upper, senior,
            integer=True, mip_rel_gap=mip_rel_gap,
        )
        lp_seconds += lp.seconds
        certificate.update(_mip_certificate(lp, relaxation if proven else None))
        logger.info(
            "assignment MIP over %d pairs: objective %.6g, gap %.3g (HiGHS), %.3g to the full LP bound",
            len(paper_of), lp.objective, lp.mip["gap"], certificate["mip"]["gap_to_lp_bound"] or float("nan"),
        )
    result = _assignment_from_lp(
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


def _log_highs(callback_type, message, data_out, data_in, user_data) -> None:
    text = message.rstrip()
    if text:
        logger.info("HiGHS: %s", text)


def _check_solution(
    pairs: np.ndarray, demand: np.ndarray, lower: np.ndarray, upper: np.ndarray, n_reviewers: int
) -> None:
    per_paper = np.bincount(pairs[:, 0], minlength=len(demand))
    loads = np.bincount(pairs[:, 1], minlength=n_reviewers)
    if (per_paper != demand).any() or (loads < lower).any() or (loads > upper).any():
        raise RuntimeError("the solver's assignment breaks a paper or load constraint")


# --------------------------------------------------------------------------- a conference


def track_membership(people: list[dict], key: str, tracks: list[str]) -> np.ndarray:
    """(R, T) bool: person r lists ``tracks[t]`` under ``key`` (``tracks``, ``ac_tracks``, ``sac_tracks``)."""
    column = {track: j for j, track in enumerate(tracks)}
    rows, cols = [], []
    for r, rec in enumerate(people):
        for track in rec.get(key) or []:
            j = column.get(str(track).strip())
            if j is not None:
                rows.append(r)
                cols.append(j)
    membership = np.zeros((len(people), len(tracks)), dtype=bool)
    membership[rows, cols] = True
    return membership


def eligible_reviewers(reviewers: list[dict], area_chairs: bool = False) -> np.ndarray:
    """Who may be assigned, (R,) bool.

    Reviewer mode: people who are neither area chair nor senior area chair (every other
    record of ``reviewers.jsonl`` has a reviewing role; the extraction keeps no one else).
    Area-chair mode: area chairs only.
    """
    if area_chairs:
        return np.array([bool(rec.get("areaChair")) for rec in reviewers], dtype=bool)
    return np.array(
        [not rec.get("areaChair") and not rec.get("seniorAreaChair") for rec in reviewers], dtype=bool
    )


def paper_tracks(submissions: list[dict]) -> np.ndarray:
    """Track of each submission, (P,) str (``''`` where none is given)."""
    return np.array([str(rec.get("track") or "").strip() for rec in submissions], dtype=object)


def track_eligibility(
    submissions: list[dict], reviewers: list[dict], area_chairs: bool = False
) -> np.ndarray:
    """(P, R) bool: the paper's track is among the reviewer's tracks (``ac_tracks`` for area chairs)."""
    tracks = paper_tracks(submissions)
    missing = np.flatnonzero(tracks == "")
    if len(missing):
        raise ValueError(
            f"{len(missing)} submission(s) have no track, so they cannot be assigned by track: "
            + ", ".join(submission_ids([submissions[i] for i in missing[:MAX_NAMED]]))
        )
    names, paper_track = np.unique(tracks.astype(str), return_inverse=True)
    membership = track_membership(reviewers, "ac_tracks" if area_chairs else "tracks", names.tolist())
    return membership[:, paper_track].T


def allowed_pairs(
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    by_track: bool = True,
    area_chairs: bool = False,
) -> np.ndarray:
    """(P, R) bool: no conflict of interest, an eligible role, and (``by_track``) the paper's track."""
    coi = np.asarray(coi, dtype=bool)
    if coi.shape != (len(submissions), len(reviewers)):
        raise ValueError(f"coi has shape {coi.shape}, expected ({len(submissions)}, {len(reviewers)})")
    allowed = ~coi & eligible_reviewers(reviewers, area_chairs)[None, :]
    if by_track:
        allowed &= track_eligibility(submissions, reviewers, area_chairs)
    return allowed


def capacity_by_track(
    allowed: np.ndarray,
    tracks: np.ndarray,
    reviews_per_paper: int,
    max_load: np.ndarray,
) -> pd.DataFrame:
    """Per track: papers, reviews needed, reviewers with an allowed paper there, and reviews they can give.

    ``available`` counts each reviewer's full capacity in every track they serve (capped by
    their allowed papers in the track), so it is an upper bound when reviewers are shared.
    """
    names, paper_track = np.unique(np.asarray(tracks).astype(str), return_inverse=True)
    onehot = sp.csr_matrix(
        (np.ones(len(paper_track), dtype=np.int64), (np.arange(len(paper_track)), paper_track)),
        shape=(len(paper_track), len(names)),
    )
    allowed_per_track = np.asarray((sp.csr_matrix(allowed, dtype=np.int64).T @ onehot).todense())  # (R, T)
    available = np.minimum(allowed_per_track, np.asarray(max_load)[:, None]).sum(axis=0)
    papers = np.bincount(paper_track, minlength=len(names))
    frame = pd.DataFrame(
        {
            "track": pd.Series(names.tolist(), dtype=object),
            "papers": papers,
            "needed": papers * int(reviews_per_paper),
            "reviewers": (allowed_per_track > 0).sum(axis=0),
            "available": available,
        }
    )
    frame["shortfall"] = (frame["needed"] - frame["available"]).clip(lower=0)
    return frame


def conference_problems(
    allowed: np.ndarray,
    submissions: list[dict],
    reviews_per_paper: int,
    max_load: np.ndarray,
    min_load: np.ndarray,
) -> list[str]:
    """Why a conference cannot be assigned, named by track and submission id."""
    tracks = paper_tracks(submissions)
    ids = np.array(submission_ids(submissions), dtype=object)
    problems = []
    capacity = capacity_by_track(allowed, tracks, reviews_per_paper, max_load)
    for row in capacity[capacity["shortfall"] > 0].itertuples():
        problems.append(
            f"track {row.track!r}: {row.needed} reviews needed for {row.papers} papers but its "
            f"{row.reviewers} reviewers can give at most {row.available} (shortfall {row.shortfall})"
        )
    per_paper = allowed.sum(axis=1)
    short = np.flatnonzero(per_paper < reviews_per_paper)
    for track in np.unique(tracks[short].astype(str)).tolist():
        in_track = short[tracks[short] == track]
        named = ", ".join(f"{ids[p]} ({per_paper[p]} allowed)" for p in in_track[:MAX_NAMED])
        more = f" and {len(in_track) - MAX_NAMED} more" if len(in_track) > MAX_NAMED else ""
        problems.append(
            f"track {track!r}: {len(in_track)} paper(s) have fewer than {reviews_per_paper} allowed "
            f"reviewers (after conflicts of interest): {named}{more}"
        )
    if int(min_load.sum()) > int(reviews_per_paper) * len(submissions):
        problems.append(
            f"minimum loads add up to {int(min_load.sum())} reviews but only "
            f"{int(reviews_per_paper) * len(submissions)} are needed"
        )
    return problems


def senior_constraint(
    allowed: np.ndarray,
    submissions: list[dict],
    senior: np.ndarray | None,
    min_senior_per_paper: int,
    reviews_per_paper: int,
) -> SeniorConstraint | None:
    """The per-paper senior-reviewer rows, or None when ``min_senior_per_paper`` is 0.

    A paper with fewer allowed senior reviewers than required needs only those it has; such
    papers are named in a warning.
    """
    if min_senior_per_paper <= 0:
        return None
    if senior is None:
        raise ValueError("min_senior_per_paper > 0 needs the senior flag of every reviewer")
    senior = np.asarray(senior, dtype=bool)
    if senior.shape != (allowed.shape[1],):
        raise ValueError(f"senior has shape {senior.shape}, expected ({allowed.shape[1]},)")
    wanted = min(int(min_senior_per_paper), int(reviews_per_paper))
    available = (allowed & senior[None, :]).sum(axis=1)
    need = np.minimum(available, wanted).astype(np.int64)
    short = np.flatnonzero(need < wanted)
    logger.info(
        "%d senior reviewer(s); every paper needs %d of them", int(senior.sum()), wanted
    )
    if len(short):
        ids = submission_ids(submissions)
        logger.warning(
            "%d paper(s) have fewer than %d allowed senior reviewers and get those they have: %s",
            len(short), wanted, ", ".join(ids[p] for p in short[:MAX_NAMED]),
        )
    return SeniorConstraint(senior=senior, need=need)


def senior_reviewers(authorship: sp.csr_matrix, min_corpus_papers: int) -> np.ndarray:
    """(R,) bool: reviewers with at least ``min_corpus_papers`` papers in the corpus."""
    return np.diff(sp.csr_matrix(authorship).indptr) >= int(min_corpus_papers)


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


def assignment_table(
    result: Assignment, submissions: list[dict], reviewers: list[dict], scores: np.ndarray
) -> pd.DataFrame:
    """The assignment as (submission_id, track, reviewer_id, score, rank) rows, best first per submission."""
    paper, reviewer = result.pairs[:, 0], result.pairs[:, 1]
    pair_scores = np.asarray(scores)[paper, reviewer].astype(np.float64)
    order = np.lexsort((reviewer, -pair_scores, paper))
    paper, reviewer, pair_scores = paper[order], reviewer[order], pair_scores[order]
    table = pd.DataFrame(
        {
            "submission_id": np.array(submission_ids(submissions), dtype=object)[paper],
            "track": paper_tracks(submissions)[paper],
            "reviewer_id": np.array(reviewer_ids(reviewers), dtype=object)[reviewer],
            "score": pair_scores,
        }
    )
    table["rank"] = table.groupby(paper, sort=False).cumcount() + 1
    return table.astype({"submission_id": str, "track": str, "reviewer_id": str})


def assignment_summary(solved: ConferenceAssignment, submissions: list[dict], reviewers: list[dict]) -> dict:
    """Objective, status, solve time, load statistics and per-track counts of a solved conference."""
    result = solved.result
    n_reviewers = len(reviewers)
    loads = result.loads(n_reviewers)
    eligible = solved.allowed.any(axis=0)
    eligible_loads = loads[eligible] if eligible.any() else np.zeros(1, dtype=np.int64)
    table = solved.table
    capacity = capacity_by_track(
        solved.allowed, paper_tracks(submissions), solved.reviews_per_paper, solved.max_load
    )
    per_track = table.groupby("track").agg(
        assignments=("reviewer_id", "size"), reviewers_used=("reviewer_id", "nunique")
    )
    tracks = {}
    for row in capacity.itertuples():
        used = per_track.loc[row.track] if row.track in per_track.index else None
        tracks[row.track] = {
            "papers": int(row.papers),
            "assignments": int(used["assignments"]) if used is not None else 0,
            "reviewers_used": int(used["reviewers_used"]) if used is not None else 0,
            "reviewers_allowed": int(row.reviewers),
            "reviews_available": int(row.available),
        }
    return {
        "status": result.status,
        "objective": result.objective,
        "total_score": float(table["score"].sum()),
        "mean_score": float(table["score"].mean()) if len(table) else 0.0,
        "solve_seconds": result.solve_seconds,
        "papers": len(submissions),
        "assignments": int(len(table)),
        "reviewers_eligible": int(eligible.sum()),
        "reviewers_assigned": int((loads > 0).sum()),
        "emergency_assignments": int(solved.emergency[result.pairs[:, 1]].sum()),
        "senior_assignments": (
            None if solved.senior is None else int(solved.senior.senior[result.pairs[:, 1]].sum())
        ),
        "loads": {
            "min": int(eligible_loads.min()),
            "mean": float(eligible_loads.mean()),
            "max": int(eligible_loads.max()),
        },
        "tracks": tracks,
    }


def locate_ids(
    assignment: pd.DataFrame,
    submissions: list[dict],
    reviewers: list[dict],
    path: PathLike | None = None,
) -> np.ndarray:
    """(n, 2) (paper index, reviewer index) of the rows of an assignment table.

    An id that names no submission or reviewer raises ``InputError`` located in ``path``
    (file line, header = line 1) when given, else ``ValueError`` with the table row.
    """
    positions = []
    known = {"submission_id": submission_ids(submissions), "reviewer_id": reviewer_ids(reviewers)}
    for column, ids in known.items():
        values = assignment[column].astype(str)
        found = pd.Index(ids).get_indexer(values)
        bad = np.flatnonzero(found < 0)
        if len(bad):
            what = column.split("_")[0]
            message = f"unknown {what} id {values.iloc[bad[0]]!r} ({len(bad)} row(s) with unknown {what} ids)"
            if path is not None:
                raise InputError(path, message, row=int(bad[0]) + 2, column=column)
            raise ValueError(f"assignment row {int(bad[0])}: {message}")
        positions.append(found)
    return np.column_stack(positions).astype(np.int64)


# --------------------------------------------------------------------------- files


def read_assignment(path: PathLike) -> pd.DataFrame:
    """Read an assignment table (CSV or Parquet) with columns ``ASSIGNMENT_COLUMNS``."""
    path = Path(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}")
    frame = frame[ASSIGNMENT_COLUMNS].astype({"submission_id": str, "track": str, "reviewer_id": str})
    for column, kind in (("score", float), ("rank", int)):
        converted = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(converted.isna().to_numpy())
        if len(bad):
            value = frame[column].iloc[bad[0]]
            raise InputError(path, f"not a number: {value!r}", row=int(bad[0]) + 2, column=column)
        frame[column] = converted.astype(kind)
    return frame


def read_quotas(path: PathLike, reviewers: list[dict]) -> dict[str, int]:
    """Quotas by reviewer id from a START quota CSV (see ``revmatch.softconf.read_quotas``)."""
    quotas, _ = softconf.read_quotas(path, reviewer_ids(reviewers))
    return quotas


def solve_assignment_file(
    aggregate_npy: PathLike,
    coi_npy: PathLike,
    submissions_jsonl: PathLike,
    reviewers_jsonl: PathLike,
    quotas_csv: PathLike | None,
    out_csv: PathLike,
    out_summary_json: PathLike,
    reviews_per_paper: int,
    max_papers_per_reviewer: int,
    min_papers_per_reviewer: int = 0,
    by_track: bool = True,
    area_chairs: bool = False,
    emergency_penalty: float = 0.5,
    prune_above_pairs: int = 2_000_000,
    candidates_per_paper: int = 50,
    authorship_npz: PathLike | None = None,
    min_senior_per_paper: int = 0,
    senior_min_papers: int = 5,
    mip_rel_gap: float = 1e-4,
    viability_json: PathLike | None = None,
) -> pd.DataFrame:
    """Solve the conference in the given files; write ``assignment.csv`` and a summary JSON.

    With ``viability_json`` (the viability check's result) a track that cannot be staffed stops
    the solve before it starts, with the track and its shortfall named.

    The summary's ``certificate`` is the pruned solve's optimality certificate (null when the
    full LP was solved: no more than ``prune_above_pairs`` allowed pairs), with a ``mip`` entry
    (gap) when senior reviewers are required: ``min_senior_per_paper`` reviewers per paper with
    at least ``senior_min_papers`` papers in the corpus (from ``authorship_npz``).
    """
    if viability_json is not None:
        from revmatch.conference import raise_if_infeasible

        raise_if_infeasible(viability_json, area_chairs=area_chairs)
    scores = np.load(aggregate_npy)
    coi = np.load(coi_npy)
    submissions = read_jsonl(submissions_jsonl)
    reviewers = read_jsonl(reviewers_jsonl)
    expected = (len(submissions), len(reviewers))
    for path, array in ((aggregate_npy, scores), (coi_npy, coi)):
        if array.shape != expected:
            raise InputError(path, f"shape {array.shape} does not match {expected} (submissions x reviewers)")
    quotas = read_quotas(quotas_csv, reviewers) if quotas_csv else None
    senior = None
    if min_senior_per_paper > 0:
        if authorship_npz is None:
            raise ValueError("min_senior_per_paper > 0 needs the reviewers' authorship matrix")
        authorship = sp.load_npz(authorship_npz)
        if authorship.shape[0] != len(reviewers):
            raise InputError(authorship_npz, f"{authorship.shape[0]} rows for {len(reviewers)} reviewers")
        senior = senior_reviewers(authorship, senior_min_papers)
    solved = solve_conference(
        scores,
        coi.astype(bool),
        submissions,
        reviewers,
        reviews_per_paper=reviews_per_paper,
        max_papers_per_reviewer=max_papers_per_reviewer,
        min_papers_per_reviewer=min_papers_per_reviewer,
        quotas=quotas,
        by_track=by_track,
        area_chairs=area_chairs,
        emergency_penalty=emergency_penalty,
        prune_above_pairs=prune_above_pairs,
        candidates_per_paper=candidates_per_paper,
        senior=senior,
        min_senior_per_paper=min_senior_per_paper,
        mip_rel_gap=mip_rel_gap,
    )
    summary = assignment_summary(solved, submissions, reviewers)
    summary["settings"] = {
        "reviews_per_paper": reviews_per_paper,
        "max_papers_per_reviewer": max_papers_per_reviewer,
        "min_papers_per_reviewer": min_papers_per_reviewer,
        "by_track": by_track,
        "area_chairs": area_chairs,
        "emergency_penalty": emergency_penalty,
        "quotas": len(quotas) if quotas else 0,
        "prune_above_pairs": prune_above_pairs,
        "candidates_per_paper": candidates_per_paper,
        "min_senior_per_paper": min_senior_per_paper,
        "senior_min_papers": senior_min_papers,
        "mip_rel_gap": mip_rel_gap,
    }
    summary["certificate"] = solved.result.certificate
    write_csv(solved.table, out_csv)
    write_json(summary, out_summary_json)
    return solved.table
