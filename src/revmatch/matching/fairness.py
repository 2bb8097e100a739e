"""The fair objective: raise the worst-off paper first, then the sum, exactly.

Two programs after the usual one: (1) maximise the floor of every class of papers (its
track, or the whole conference), where a paper's value is the total (or mean) score of its
reviewers: ``weight[p] * sum_r score[p, r] x[p, r] >= floor[class(p)]``, the sum of the floors
maximised; (2) maximise the usual objective with every paper held at its class's floor.
Both are MIPs (the floor rows break total unimodularity), solved to ``mip_rel_gap`` with their
gaps reported. The usual optimum is solved first too, so that the price of fairness (the
score given up, the worst paper's gain) is measured, not guessed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from revmatch.matching.lp import AssignmentProgram
from revmatch.matching.problem import Assignment
from revmatch.matching.pruning import ProgramSolution, proven_gap, solve_program
from revmatch.matching.side_rows import FloorRows

logger = logging.getLogger(__name__)

FLOOR_TOLERANCE = 1e-7


@dataclass(frozen=True)
class FairSolution:
    """The fair assignment (second program), and the report of the three solves."""

    solution: ProgramSolution
    report: dict


def paper_values(pairs: np.ndarray, scores: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(P,) each paper's total score of its assigned reviewers, times ``weight``."""
    values = np.bincount(pairs[:, 0], weights=scores[pairs[:, 0], pairs[:, 1]], minlength=len(weight))
    return values * weight


def class_minima(values: np.ndarray, klass: np.ndarray, n_classes: int) -> np.ndarray:
    """(K,) the smallest value of each class (inf for an empty class)."""
    minima = np.full(n_classes, np.inf)
    np.minimum.at(minima, klass, values)
    return minima


def solve_fair(
    program: AssignmentProgram,
    scores: np.ndarray,
    tracks: np.ndarray,
    measure: str = "total",
    by_track: bool = True,
    **solve_options,
) -> FairSolution:
    """The fair assignment of ``program``: worst paper first (per track with ``by_track``), then the
    objective, with paper values from ``scores`` (P, R) summed (``measure`` total) or averaged
    (mean) over a paper's reviewers. ``solve_options`` go to ``solve_program``."""
    if measure not in ("total", "mean"):
        raise ValueError(f"fair measure must be 'total' or 'mean', not {measure!r}")
    weight = 1.0 / program.demand if measure == "mean" else np.ones(len(program.demand))
    weight = np.where(np.isfinite(weight), weight, 0.0)
    if by_track:
        labels, klass = np.unique(np.asarray(tracks).astype(str), return_inverse=True)
    else:
        labels, klass = np.array(["all papers"]), np.zeros(len(program.demand), dtype=np.int64)
    n_classes = len(labels)

    usual = solve_program(program, **solve_options)
    usual_assignment = usual.assignment(scores, program)
    usual_values = paper_values(usual_assignment.pairs, scores, weight)

    floors = FloorRows(scores=scores, weight=weight, klass=klass, labels=tuple(labels.tolist()))
    raised = solve_program(program.with_changes(floors=floors, include=usual_assignment.pairs), **solve_options)
    raised_pairs = np.column_stack([raised.paper_of, raised.reviewer_of])[raised.lp.values > 0.5]
    reached = class_minima(paper_values(raised_pairs, scores, weight), klass, n_classes)
    usual_floors = class_minima(usual_values, klass, n_classes)
    if reached.sum() < usual_floors.sum():  # a MIP stopped at its time limit below the usual floors
        logger.warning("the floors MIP ended below the usual assignment's floors; holding those instead")
        reached, raised_pairs = usual_floors, usual_assignment.pairs
    held = reached - FLOOR_TOLERANCE * np.maximum(1.0, np.abs(reached))
    logger.info("fair objective: worst paper per class raised to %s", np.round(reached, 4).tolist())

    held_floors = FloorRows(scores=scores, weight=weight, klass=klass, labels=floors.labels, floor=held)
    fair = solve_program(program.with_changes(floors=held_floors, include=raised_pairs), **solve_options)
    fair_assignment = fair.assignment(scores, program)
    fair_values = paper_values(fair_assignment.pairs, scores, weight)
    report = _fair_report(
        usual_assignment, fair_assignment, usual_values, fair_values, klass, labels, measure, by_track,
        usual, raised, fair,
    )
    return FairSolution(fair, report)


def _bound(solution: ProgramSolution, objective: float) -> float:
    """The best objective any assignment can reach, as the solve proved it: the MIP's dual bound
    where the MIP is exact over all pairs, the full LP relaxation's bound, else the LP optimum."""
    mip = (solution.certificate or {}).get("mip")
    if not mip:
        return float(objective)
    bounds = [mip["dual_bound"]] if (mip.get("completion") or {"exact_over_all_pairs": True})[
        "exact_over_all_pairs"] else []
    if mip.get("lp_relaxation_bound") is not None:
        bounds.append(mip["lp_relaxation_bound"])
    return float(min(bounds)) if bounds else float("inf")


def _fair_report(
    usual: Assignment,
    fair: Assignment,
    usual_values: np.ndarray,
    fair_values: np.ndarray,
    klass: np.ndarray,
    labels: np.ndarray,
    measure: str,
    by_track: bool,
    usual_solution: ProgramSolution,
    raised_solution: ProgramSolution,
    fair_solution: ProgramSolution,
) -> dict:
    """The price of fairness per class and overall, and each solve's certificate."""
    n_classes = len(labels)
    usual_worst = class_minima(usual_values, klass, n_classes)
    fair_worst = class_minima(fair_values, klass, n_classes)
    classes = {
        str(label): {
            "papers": int((klass == k).sum()),
            "worst_paper_usual": float(usual_worst[k]),
            "worst_paper_fair": float(fair_worst[k]),
            "worst_paper_gain": float(fair_worst[k] - usual_worst[k]),
            "total_score_usual": float(usual_values[klass == k].sum()),
            "total_score_fair": float(fair_values[klass == k].sum()),
        }
        for k, label in enumerate(labels)
    }
    return {
        "measure": measure,
        "by_track": by_track,
        "objective_usual": usual.objective,
        "objective_fair": fair.objective,
        "total_score_usual": float(usual.scores.sum()),
        "total_score_fair": float(fair.scores.sum()),
        "total_score_given_up": float(usual.scores.sum() - fair.scores.sum()),
        "objective_given_up_at_most": _bound(usual_solution, usual.objective) - fair.objective,
        "worst_paper_usual": float(usual_values.min(initial=np.inf)),
        "worst_paper_fair": float(fair_values.min(initial=np.inf)),
        "classes": classes,
        "floors_gap": proven_gap(raised_solution.certificate),
        "fair_gap": proven_gap(fair_solution.certificate),
        "certificates": {
            "usual": usual_solution.certificate,
            "floors": raised_solution.certificate,
            "fair": fair_solution.certificate,
        },
        "seconds": {
            "usual": usual_solution.seconds, "floors": raised_solution.seconds, "fair": fair_solution.seconds,
        },
    }
