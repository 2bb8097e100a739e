"""Optimal reviewer assignment: one HiGHS linear program over the allowed (paper, reviewer) pairs.

maximise   sum of score[p, r] * x[p, r] over allowed pairs
subject to sum_r x[p, r] = k_p                   for every paper p
           min_r <= sum_p x[p, r] <= max_r       for every reviewer r
           0 <= x[p, r] <= 1

The constraint matrix is the incidence matrix of a bipartite graph, which is totally
unimodular, so a basic optimal solution of the LP is integral: the LP optimum is the
optimum of the 0/1 problem, and the solution is checked to be integral. With senior rows
(``revmatch.matching.senior``) the same program is solved as a MIP.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np

from revmatch.matching.problem import Assignment, InfeasibleAssignment, capacity_problems, checked_problem
from revmatch.matching.senior import SeniorConstraint, senior_problems

logger = logging.getLogger(__name__)

INTEGRALITY_TOLERANCE = 1e-6


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
    scores, allowed, demand, upper, lower = checked_problem(
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
    lp = solve_lp(paper_of, reviewer_of, pair_scores, demand, lower, upper, senior, integer, mip_rel_gap)
    certificate = mip_certificate(lp, None) if integer else None
    return assignment_from_lp(
        lp, paper_of, reviewer_of, scores, demand, lower, upper, certificate, senior=senior
    )


def mip_certificate(lp: LpSolution, lp_bound: float | None) -> dict:
    """What the MIP proved: HiGHS's own gap, and the gap to the full LP relaxation when known."""
    mip = dict(lp.mip or {})
    mip["objective"] = lp.objective
    mip["lp_relaxation_bound"] = lp_bound
    mip["gap_to_lp_bound"] = (
        None if lp_bound is None else (lp_bound - lp.objective) / max(abs(lp_bound), 1e-12)
    )
    return {"mip": mip}


@dataclass(frozen=True)
class LpSolution:
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


def solve_lp(
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    pair_scores: np.ndarray,
    demand: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    senior: SeniorConstraint | None = None,
    integer: bool = False,
    mip_rel_gap: float = 1e-4,
) -> LpSolution:
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
    return LpSolution(
        values=np.asarray(solution.col_value),
        row_dual=row_dual[: n_papers + n_reviewers],
        senior_dual=senior_dual,
        status=status,
        seconds=seconds,
        objective=float(info.objective_function_value),
        mip=mip,
    )


def assignment_from_lp(
    lp: LpSolution,
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
