"""Optimal reviewer assignment: one HiGHS linear program over the allowed (paper, reviewer) pairs.

maximise   sum of score[p, r] * x[p, r] over allowed pairs
subject to sum_r x[p, r] = k_p                   for every paper p
           min_r <= sum_p x[p, r] <= max_r       for every reviewer r
           0 <= x[p, r] <= 1

The constraint matrix is the incidence matrix of a bipartite graph, which is totally
unimodular, so a basic optimal solution of the LP is integral: the LP optimum is the
optimum of the 0/1 problem, and the solution is checked to be integral. Forced pairs are
columns held at 1 (still unimodular). With side rows (``revmatch.matching.side_rows``: senior
reviewers, attribute constraints, fairness floors) the same program is solved as a MIP.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import highspy
import numpy as np
import scipy.sparse as sp

from revmatch.matching.problem import Assignment, InfeasibleAssignment, capacity_problems, checked_problem
from revmatch.matching.side_rows import (
    FloorRows,
    GroupRows,
    SideRows,
    check_group_rows,
    group_problems,
    side_rows,
)

logger = logging.getLogger(__name__)

INTEGRALITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class AssignmentProgram:
    """An assignment program, whatever its pair set: the objective ``cost`` (P, R) over the
    ``allowed`` pairs, papers' ``demand``, reviewers' ``lower`` .. ``upper`` loads, ``forced``
    (n, 2) pairs held at 1, every other pair's ``pair_cap`` (1, or a probability), and side rows
    (``groups``, ``floors``). ``ranking`` (P, R), when given, orders each paper's candidates for
    the pruned solve instead of ``cost``; ``include`` (n, 2) pairs always join them (a known
    feasible assignment, so that the pruned MIP has one)."""

    cost: np.ndarray
    allowed: np.ndarray
    demand: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    forced: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    pair_cap: float = 1.0
    groups: tuple[GroupRows, ...] = ()
    floors: FloorRows | None = None
    ranking: np.ndarray | None = None
    include: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def has_side_rows(self) -> bool:
        """Whether the program may need rows beyond papers and reviewers (then it is a MIP)."""
        return self.floors is not None or bool(self.groups)

    def with_changes(self, **changes) -> AssignmentProgram:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def program_problems(program: AssignmentProgram) -> list[str]:
    """Reasons, from counts alone, why the program has no solution (indices, not ids)."""
    return capacity_problems(program.allowed, program.demand, program.upper, program.lower) + group_problems(
        program.allowed, program.groups, program.demand, program.forced
    )


def counts_program(
    scores: np.ndarray,
    allowed: np.ndarray,
    reviews_per_paper: int | np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray | None = None,
    groups: tuple[GroupRows, ...] = (),
) -> AssignmentProgram:
    """The program of ``scores`` over the ``allowed`` pairs with papers' demands and reviewers'
    load bounds, shapes and counts checked (``checked_problem``)."""
    scores, allowed, demand, upper, lower = checked_problem(
        scores, allowed, reviews_per_paper, max_load, min_load
    )
    return AssignmentProgram(scores, allowed, demand, lower, upper, groups=tuple(groups))


def solve_all_pairs(
    program: AssignmentProgram, integer: bool = True, mip_rel_gap: float = 1e-4, time_limit: float | None = None
) -> tuple[np.ndarray, np.ndarray, LpSolution]:
    """(paper_of, reviewer_of, solution) of the program over every allowed pair; ``integer`` makes a
    program with side rows a MIP."""
    paper_of, reviewer_of = np.nonzero(program.allowed)
    if not np.isfinite(program.cost[paper_of, reviewer_of]).all():
        raise ValueError("scores of allowed pairs must be finite")
    lp = solve_lp(program, paper_of, reviewer_of)
    if integer and lp.side.n_rows > 0:
        lp = mip_from_relaxation(lp, mip_rel_gap) if is_integral(lp) else solve_lp(
            program, paper_of, reviewer_of, integer=True, mip_rel_gap=mip_rel_gap, time_limit=time_limit
        )
    return paper_of, reviewer_of, lp


def is_integral(lp: LpSolution) -> bool:
    """Whether every pair's value is 0 or 1 (within ``INTEGRALITY_TOLERANCE``)."""
    return float(np.abs(lp.values - np.round(lp.values)).max(initial=0.0)) <= INTEGRALITY_TOLERANCE


def mip_from_relaxation(lp: LpSolution, mip_rel_gap: float) -> LpSolution:
    """An integral LP relaxation as the MIP's solution: it is optimal for the MIP (gap 0), so HiGHS's
    MIP (whose setup alone can take minutes on large group rows) is not run."""
    logger.info("the LP relaxation is integral: it solves the MIP (gap 0)")
    mip = {"gap": 0.0, "dual_bound": lp.objective, "nodes": 0, "rel_gap_option": float(mip_rel_gap),
           "time_limit_reached": False, "relaxation_integral": True}
    return replace(lp, mip=mip)


def solve_assignment(
    scores: np.ndarray,
    allowed: np.ndarray,
    reviews_per_paper: int | np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray | None = None,
    groups: tuple[GroupRows, ...] = (),
    mip_rel_gap: float = 1e-4,
) -> Assignment:
    """Maximum-score assignment of ``reviews_per_paper`` reviewers to each paper.

    ``scores`` (P, R) are maximised over the ``allowed`` (P, R) pairs only; reviewer loads stay
    within [``min_load``, ``max_load``]. With ``groups`` (senior reviewers, attribute
    constraints) the problem is a MIP solved to ``mip_rel_gap``, and the result's
    ``certificate`` holds the gap. Raises ``InfeasibleAssignment`` when the counts cannot work
    out (checked before solving) or the solver proves infeasibility.
    """
    program = counts_program(scores, allowed, reviews_per_paper, max_load, min_load, groups)
    problems = program_problems(program)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    paper_of, reviewer_of, lp = solve_all_pairs(program, mip_rel_gap=mip_rel_gap)
    certificate = mip_certificate(lp, None) if lp.mip is not None else None
    return assignment_from_lp(lp, paper_of, reviewer_of, program.cost, program, certificate)


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
    """Pair values, floor variables, row duals (papers then reviewers), side rows and their
    duals, status and seconds of one solve; for a MIP the duals are zero and ``mip`` holds
    HiGHS's ``gap``, ``dual_bound`` and ``nodes``."""

    values: np.ndarray
    floor_values: np.ndarray
    row_dual: np.ndarray
    side: SideRows
    side_dual: np.ndarray
    status: str
    seconds: float
    objective: float
    mip: dict | None = None


def _highs_matrix(program: AssignmentProgram, paper_of: np.ndarray, reviewer_of: np.ndarray, side: SideRows):
    """The constraint matrix (CSC) over the pair columns, then the floor variables."""
    n_papers, n_reviewers, n_pairs = len(program.demand), len(program.upper), len(paper_of)
    pairs = np.arange(n_pairs)
    base = n_papers + n_reviewers
    rows = np.concatenate([paper_of, n_papers + reviewer_of, base + side.row, base + side.floor_row])
    columns = np.concatenate([pairs, pairs, side.pair, n_pairs + side.floor_column])
    values = np.concatenate([np.ones(2 * n_pairs), side.value, -np.ones(len(side.floor_row))])
    shape = (base + side.n_rows, n_pairs + side.floor_columns)
    return sp.csc_matrix((values, (rows, columns)), shape=shape)


def solve_lp(
    program: AssignmentProgram,
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    integer: bool = False,
    mip_rel_gap: float = 1e-4,
    time_limit: float | None = None,
) -> LpSolution:
    """Solve the program over the given pairs with HiGHS: the LP, or with ``integer`` (and side
    rows present) the 0/1 MIP to ``mip_rel_gap`` within ``time_limit`` seconds.

    Rows are the papers (``= demand``), the reviewers (``lower`` .. ``upper``) and the side rows.
    Row duals follow HiGHS's convention, which for this maximisation makes the reduced cost of
    a pair ``cost - dual[paper] - dual[n_papers + reviewer] - side_dual_costs(...)``,
    non-positive at optimality for pairs at 0.
    """
    n_papers, n_reviewers = len(program.demand), len(program.upper)
    n_pairs = len(paper_of)
    side = side_rows(program.groups, program.floors, paper_of, reviewer_of, n_papers)
    integer = integer and side.n_rows > 0
    matrix = _highs_matrix(program, paper_of, reviewer_of, side)
    n_columns = matrix.shape[1]
    floor_variables = program.floors is not None and program.floors.floor is None

    lp = highspy.HighsLp()
    lp.num_col_ = n_columns
    lp.num_row_ = matrix.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize
    cost = np.zeros(n_columns)
    if not floor_variables:
        cost[:n_pairs] = program.cost[paper_of, reviewer_of]
    else:
        cost[n_pairs:] = 1.0
    lp.col_cost_ = cost
    col_lower = np.zeros(n_columns)
    col_upper = np.full(n_columns, float(program.pair_cap))
    forced = _is_forced(program, paper_of, reviewer_of)
    col_lower[:n_pairs][forced] = 1.0
    col_upper[:n_pairs][forced] = 1.0
    col_lower[n_pairs:], col_upper[n_pairs:] = -highspy.kHighsInf, highspy.kHighsInf
    lp.col_lower_, lp.col_upper_ = col_lower, col_upper
    lp.row_lower_ = np.concatenate([program.demand, program.lower, side.lower]).astype(np.float64)
    lp.row_upper_ = np.concatenate([program.demand, program.upper, side.upper]).astype(np.float64)
    lp.row_upper_ = np.where(np.isinf(lp.row_upper_), highspy.kHighsInf, lp.row_upper_)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n_columns
    lp.a_matrix_.num_row_ = matrix.shape[0]
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)

    highs = highspy.Highs()
    highs.setOptionValue("log_to_console", False)
    highs.setCallback(_log_highs, None)
    highs.startCallback(highspy.cb.HighsCallbackType.kCallbackLogging)
    what = "assignment MIP" if integer else "assignment LP"
    logger.info(
        "%s: %d papers, %d reviewers, %d pairs (%d forced), %d side rows",
        what, n_papers, n_reviewers, n_pairs, int(forced.sum()), side.n_rows,
    )
    started = time.perf_counter()
    highs.passModel(lp)
    if integer:
        highs.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        if time_limit is not None:
            highs.setOptionValue("time_limit", float(time_limit))
        highs.changeColsIntegrality(
            n_pairs, np.arange(n_pairs, dtype=np.int32), np.full(n_pairs, highspy.HighsVarType.kInteger)
        )
        start = _mip_start(program, paper_of, reviewer_of, side)
        if start is not None:
            highs.setSolution(start)
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
            + (" or for the same few reviewers of a group" if side.n_rows else "")
        )
    info = highs.getInfo()
    timed_out = model_status == highspy.HighsModelStatus.kTimeLimit and integer and info.primal_solution_status == 2
    if model_status != highspy.HighsModelStatus.kOptimal and not timed_out:
        hint = (f" (no assignment found within matching.mip_time_limit = {time_limit:g} s; raise it)"
                if model_status == highspy.HighsModelStatus.kTimeLimit else "")
        raise RuntimeError(f"HiGHS stopped without an optimal assignment: {status}{hint}")
    if timed_out:
        logger.warning("the MIP stopped at its time limit (%.0f s) with gap %.3g", time_limit, info.mip_gap)
    solution = highs.getSolution()
    n_base = n_papers + n_reviewers
    row_dual = np.asarray(solution.row_dual) if not integer else np.zeros(matrix.shape[0])
    col_value = np.asarray(solution.col_value)
    mip = None
    if integer:
        mip = {"gap": float(info.mip_gap), "dual_bound": float(info.mip_dual_bound),
               "nodes": int(info.mip_node_count), "rel_gap_option": float(mip_rel_gap),
               "time_limit_reached": bool(timed_out), "relaxation_integral": False}
    return LpSolution(
        values=col_value[:n_pairs],
        floor_values=col_value[n_pairs:],
        row_dual=row_dual[:n_base],
        side=side,
        side_dual=row_dual[n_base:],
        status=status,
        seconds=seconds,
        objective=float(info.objective_function_value),
        mip=mip,
    )


def _mip_start(
    program: AssignmentProgram, paper_of: np.ndarray, reviewer_of: np.ndarray, side: SideRows
) -> highspy.HighsSolution | None:
    """The program's ``include`` pairs as the MIP's starting solution (when they are all among the
    pairs), the floor variables at their classes' smallest paper values."""
    if not len(program.include):
        return None
    n_reviewers = len(program.upper)
    keys = paper_of.astype(np.int64) * n_reviewers + reviewer_of
    chosen = np.isin(keys, program.include[:, 0].astype(np.int64) * n_reviewers + program.include[:, 1])
    if int(chosen.sum()) != len(program.include):
        return None
    values = chosen.astype(np.float64)
    if side.floor_columns:
        floors = program.floors
        paper_value = np.bincount(
            paper_of[chosen], weights=floors.scores[paper_of[chosen], reviewer_of[chosen]].astype(np.float64),
            minlength=len(program.demand),
        ) * floors.weight
        lowest = np.full(side.floor_columns, np.inf)
        np.minimum.at(lowest, floors.klass, paper_value)
        values = np.concatenate([values, np.where(np.isfinite(lowest), lowest, 0.0)])
    start = highspy.HighsSolution()
    start.col_value = values.tolist()
    start.value_valid = True
    return start


def _is_forced(program: AssignmentProgram, paper_of: np.ndarray, reviewer_of: np.ndarray) -> np.ndarray:
    """(n,) bool: the pair is one of the program's forced pairs."""
    if not len(program.forced):
        return np.zeros(len(paper_of), dtype=bool)
    n_reviewers = len(program.upper)
    forced_keys = program.forced[:, 0].astype(np.int64) * n_reviewers + program.forced[:, 1]
    return np.isin(paper_of.astype(np.int64) * n_reviewers + reviewer_of, forced_keys)


def assignment_from_lp(
    lp: LpSolution,
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    scores: np.ndarray,
    program: AssignmentProgram,
    certificate: dict | None = None,
) -> Assignment:
    """The chosen pairs of an integral LP solution, checked against every constraint, with their
    ``scores`` and the program's objective (its ``cost`` summed over them)."""
    deviation = float(np.abs(lp.values - np.round(lp.values)).max(initial=0.0))
    if deviation > INTEGRALITY_TOLERANCE:
        raise RuntimeError(
            f"the LP solution is not integral (largest deviation {deviation:.3g}); refusing to round"
        )
    chosen = lp.values > 0.5
    pairs = np.column_stack([paper_of[chosen], reviewer_of[chosen]]).astype(np.int64)
    _check_solution(pairs, program.demand, program.lower, program.upper, len(program.upper))
    check_group_rows(pairs, program.groups)
    if len(program.forced) and not _is_forced(program, pairs[:, 0], pairs[:, 1]).sum() == len(program.forced):
        raise RuntimeError("the solver's assignment leaves out a forced pair")
    chosen_scores = scores[pairs[:, 0], pairs[:, 1]].astype(np.float64)
    objective = float(np.asarray(program.cost)[pairs[:, 0], pairs[:, 1]].astype(np.float64).sum())
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
