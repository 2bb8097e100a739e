"""OpenReview's matcher, done exactly: its input files (``revmatch.matching.matcher_inputs``) solved by
this project's assignment program, and its outputs written in its shape.

Outputs (``matcher/encoder.py``: ``decode_assignments``, ``decode_alternates``; ``matcher/core.py``):
``assignments.json`` ``{paper_id: [{"aggregate_score": float, "user": user_id}, ...]}`` for the papers
with reviewers, users in id order; ``alternates.json`` the same shape for every paper, its best
``num_alternates`` users by aggregate score that are neither assigned nor (unlike the matcher's)
in conflict with it. ``summary.json`` adds this project's certificate (``proven_gap``).

Solvers: ``MinMax`` is the exact maximum of the aggregate score within the loads (the matcher chains
two min-cost flows, minimum loads first); ``FairFlow`` and ``FairIR`` are the fair mode (worst
paper's total raised first, then the total, exactly: ``revmatch.matching.fairness``);
``Randomized`` caps every pair's probability at one limit and samples
(``revmatch.matching.season.solve_randomized``). ``PerturbedMaximization`` (a QP) and
``FairSequence`` (envy-free greedy) cannot be honoured. Forced pairs are hard in every solver.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.conference import count_rule, reviewer_ids, submission_ids
from revmatch.io import InputError, PathLike, write_json
from revmatch.matching.fairness import solve_fair
from revmatch.matching.lp import AssignmentProgram
from revmatch.matching.matcher_inputs import (
    SOLVERS,
    MatcherInputs,
    named_ids,
    probability_limit,
    read_json_file,
    read_matcher_inputs,
)
from revmatch.matching.problem import Assignment, InfeasibleAssignment
from revmatch.matching.pruning import proven_gap, solve_program
from revmatch.matching.season import solve_randomized
from revmatch.matching.side_rows import GroupRows, group_problems
from revmatch.matching.table import locate_ids

logger = logging.getLogger(__name__)

#: the matcher's options that name files, besides ``scores`` (the workflow's inputs)
MATCHER_FILE_OPTIONS = ("scores_specification", "constraints", "max_papers", "custom_user_demand",
                        "user_group_file", "attribute_constraints")

COMPARATORS = ("==", ">=", "<=")

UNSUPPORTED = {
    "PerturbedMaximization": "its perturbed objective is a quadratic program; revmatch solves linear ones "
                             "(use Randomized with --probability_limits)",
    "FairSequence": "it is a greedy round-robin for envy-freeness, not an optimum (use FairFlow or FairIR "
                    "for the worst paper first)",
}


@dataclass(frozen=True)
class AttributeConstraint:
    """Per paper, the number of its reviewers among ``members`` compared (``==``, ``>=``, ``<=``)
    with ``bound``."""

    name: str
    comparator: str
    bound: int
    members: tuple[str, ...]


def read_attribute_constraints(path: PathLike) -> tuple[AttributeConstraint, ...]:
    """The attribute constraints of a JSON file ``{name: {comparator, bound, members}}``."""
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise InputError(path, "must be a JSON object {name: {comparator, bound, members}}")
    constraints = []
    for name, entry in data.items():
        missing = [key for key in ("comparator", "bound", "members")
                   if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise InputError(path, f"missing {', '.join(missing)}", column=name)
        if entry["comparator"] not in COMPARATORS:
            raise InputError(path, f"comparator must be one of {', '.join(COMPARATORS)}, "
                             f"not {entry['comparator']!r}", column=f"{name}.comparator")
        bound = count_rule("bound").check_value(entry["bound"], path, column=f"{name}.bound")
        members = entry["members"]
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise InputError(path, "members must be a list of user ids", column=f"{name}.members")
        constraints.append(AttributeConstraint(str(name), entry["comparator"], int(bound), tuple(members)))
    return tuple(constraints)


def _named(ids: Sequence[str], indices: np.ndarray) -> str:
    """The ids at ``indices`` (the first ``MAX_NAMED``, and how many more)."""
    return named_ids([ids[i] for i in indices])


def matcher_allowed(inputs: MatcherInputs, allow_zero_score_assignments: bool) -> np.ndarray:
    """(P, U) the pairs the matcher may use: no conflict, and a non-zero aggregate score unless zeros
    are allowed (or every score is 0); forced pairs always."""
    nonzero = inputs.aggregate != 0
    zero_ok = allow_zero_score_assignments or not nonzero.any()
    return ((inputs.constraint != -1) & (nonzero | zero_ok)) | (inputs.constraint == 1)


def attribute_group_rows(
    constraints: Sequence[AttributeConstraint],
    users: list[str],
    papers: list[str],
    allowed: np.ndarray,
    demand: np.ndarray,
    forced: np.ndarray,
    notes: list[str],
) -> tuple[GroupRows, ...]:
    """The group rows of the attribute constraints. A paper's forced pairs relax a bound only as far as
    they must; a minimum is capped at the paper's allowed members, and members who are not users are
    skipped (both noted)."""
    index = {user: i for i, user in enumerate(users)}
    n_forced = np.bincount(forced[:, 0], minlength=len(demand))
    rows = []
    for constraint in constraints:
        absent = sorted(set(constraint.members) - set(index))
        if absent:
            notes.append(f"attribute constraint {constraint.name}: {len(absent)} member(s) are not among the "
                         f"users (skipped, as the matcher does): {named_ids(absent)}")
        group = np.full(len(users), -1, dtype=np.int64)
        group[[index[m] for m in constraint.members if m in index]] = 0
        member = group >= 0
        forced_members = np.bincount(forced[member[forced[:, 1]], 0], minlength=len(demand))
        most = forced_members + np.maximum(demand - n_forced, 0)
        lower = np.zeros(len(demand), dtype=np.int64)
        upper = np.full(len(demand), np.inf)
        if constraint.comparator in (">=", "=="):
            lower = np.minimum(constraint.bound, most).astype(np.int64)
            available = (allowed & member[None, :]).sum(axis=1)
            short = np.flatnonzero(available < lower)
            if len(short):
                notes.append(f"attribute constraint {constraint.name}: {len(short)} paper(s) have fewer "
                             "allowed members than the bound and get those they have: "
                             f"{_named(papers, short)}")
            lower = np.minimum(lower, available)
        if constraint.comparator in ("<=", "=="):
            upper = np.maximum(constraint.bound, forced_members).astype(np.float64)
        rows.append(GroupRows(name=constraint.name, group=group, labels=(constraint.name,), lower=lower,
                              upper=upper))
    return tuple(rows)


def _count_problems(program: AssignmentProgram, papers: list[str], users: list[str]) -> list[str]:
    """Why the counts cannot work out, naming papers and users by id."""
    problems = []
    forced_per_paper = np.bincount(program.forced[:, 0], minlength=len(papers))
    over = np.flatnonzero(forced_per_paper > program.demand)
    if len(over):
        problems.append(f"{len(over)} paper(s) have more forced users than their demand: "
                        f"{_named(papers, over)}")
    forced_per_user = np.bincount(program.forced[:, 1], minlength=len(users))
    over = np.flatnonzero(forced_per_user > program.upper)
    if len(over):
        problems.append(f"{len(over)} user(s) have more forced papers than their maximum: "
                        f"{_named(users, over)}")
    short = np.flatnonzero(program.allowed.sum(axis=1) < program.demand)
    if len(short):
        problems.append(f"{len(short)} paper(s) have fewer allowed users (no conflict, non-zero score) than "
                        f"their demand: {_named(papers, short)}")
    demand, low, high = int(program.demand.sum()), int(program.lower.sum()), int(program.upper.sum())
    if not low <= demand <= high:
        problems.append(f"review demand ({demand}) must be between the min review supply ({low}) and the "
                        f"max review supply ({high}); try decreasing min papers, increasing max papers or "
                        "finding more reviewers")
    return problems


def matcher_program(
    inputs: MatcherInputs,
    allow_zero_score_assignments: bool = False,
    attribute_constraints: Sequence[AttributeConstraint] = (),
) -> tuple[AssignmentProgram, list[str]]:
    """The assignment program of the matcher's problem (cost = aggregate score over the allowed pairs,
    forced pairs held), and notes on what was adjusted. Raises ``InfeasibleAssignment`` naming ids."""
    notes: list[str] = []
    allowed = matcher_allowed(inputs, allow_zero_score_assignments)
    lower = inputs.minimums.copy()
    if not allow_zero_score_assignments:
        unknown = np.flatnonzero(((inputs.aggregate != 0) & (inputs.constraint == 0)).sum(axis=0) == 0)
        unknown = unknown[lower[unknown] > 0]
        if len(unknown):
            notes.append(f"{len(unknown)} user(s) have no non-zero score on an unconstrained paper; their "
                         f"minimum is 0 (as in the matcher): {_named(inputs.users, unknown)}")
            lower[unknown] = 0
    can_take = np.minimum(allowed.sum(axis=0), inputs.maximums)
    starved = np.flatnonzero(lower > can_take)
    if len(starved):
        notes.append(f"{len(starved)} user(s) have fewer allowed papers than their minimum; their minimum "
                     f"is what they can take: {_named(inputs.users, starved)}")
        lower = np.minimum(lower, can_take)
    forced = np.argwhere(inputs.constraint == 1).astype(np.int64).reshape(-1, 2)
    groups = attribute_group_rows(attribute_constraints, inputs.users, inputs.papers, allowed,
                                  inputs.demands, forced, notes)
    program = AssignmentProgram(inputs.aggregate, allowed, inputs.demands, lower, inputs.maximums.copy(),
                                forced=forced, groups=groups)
    problems = _count_problems(program, inputs.papers, inputs.users)
    problems += group_problems(allowed, groups, inputs.demands, forced, inputs.papers)
    if problems:
        raise InfeasibleAssignment("; ".join(problems))
    return program, notes


def solve_matcher(
    program: AssignmentProgram,
    solver: str = "MinMax",
    limit: float | None = None,
    seed: int = 0,
    mip_rel_gap: float = 1e-4,
    time_limit: float | None = None,
) -> tuple[Assignment, dict]:
    """The assignment of ``program`` by the mode standing for the matcher's ``solver``; the mode's report."""
    check_solver(solver, limit, bool(program.groups))
    options = {"mip_rel_gap": mip_rel_gap, "time_limit": time_limit}
    if solver == "Randomized":
        return solve_randomized(program, program.cost, 1.0 if limit is None else limit, seed, options)
    if solver in ("FairFlow", "FairIR"):
        no_tracks = np.full(len(program.demand), "", dtype=object)
        fair = solve_fair(program, program.cost, no_tracks, "total", by_track=False, **options)
        return fair.solution.assignment(program.cost, program), {"fair": fair.report}
    return solve_program(program, **options).assignment(program.cost, program), {}


def check_solver(solver: str, limit: float | None, has_groups: bool) -> None:
    """Raise ``ValueError`` for a solver, or a combination, that cannot be honoured."""
    if solver not in SOLVERS:
        raise ValueError(f"--solver must be one of {', '.join(SOLVERS)}, not {solver!r}")
    if solver in UNSUPPORTED:
        raise ValueError(f"--solver {solver} cannot be honoured: {UNSUPPORTED[solver]}")
    if limit is not None and solver != "Randomized":
        raise ValueError("--probability_limits needs --solver Randomized")
    if solver == "Randomized" and has_groups:
        raise ValueError("--attribute_constraints cannot be honoured with --solver Randomized: the sample "
                         "keeps only the paper and user counts")


def assignments_json(pairs: np.ndarray, aggregate: np.ndarray, papers: list[str], users: list[str]) -> dict:
    """``{paper_id: [{"aggregate_score", "user"}, ...]}`` of the papers with pairs, in paper, user order."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    result: dict[str, list[dict]] = {}
    for paper, user in pairs:
        score = float(aggregate[paper, user])
        if not np.isfinite(score):
            raise ValueError(f"assigned pair ({papers[paper]}, {users[user]}) has no finite score")
        result.setdefault(papers[paper], []).append({"aggregate_score": score, "user": users[user]})
    return result


def alternates_json(
    pairs: np.ndarray,
    aggregate: np.ndarray,
    excluded: np.ndarray,
    papers: list[str],
    users: list[str],
    num_alternates: int,
) -> dict:
    """``{paper_id: [...]}`` for every paper: its best ``num_alternates`` users by aggregate score (ties
    in user order) that are neither assigned to it, ``excluded`` (conflicts), nor without a finite score."""
    if num_alternates < 0:
        raise ValueError(f"--num_alternates must not be negative, not {num_alternates}")
    candidate = ~np.asarray(excluded, dtype=bool) & np.isfinite(aggregate)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    candidate[pairs[:, 0], pairs[:, 1]] = False
    result = {}
    for paper, paper_id in enumerate(papers):
        columns = np.flatnonzero(candidate[paper])
        best = columns[np.argsort(-aggregate[paper, columns], kind="stable")][:num_alternates]
        result[paper_id] = [{"aggregate_score": float(aggregate[paper, u]), "user": users[u]} for u in best]
    return result


def write_matcher_json(assignments: dict, alternates: dict, out_dir: PathLike) -> dict[str, str]:
    """Write ``assignments.json`` and ``alternates.json`` into ``out_dir``; their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"assignments": str(out / "assignments.json"), "alternates": str(out / "alternates.json")}
    write_json(assignments, paths["assignments"])
    write_json(alternates, paths["alternates"])
    return paths


def match_files(
    scores: Sequence[PathLike],
    out_dir: PathLike = ".",
    *,
    weights: Sequence[float] | None = None,
    constraints: PathLike | None = None,
    max_papers: PathLike | None = None,
    min_papers_default: int = 0,
    max_papers_default: int | None = None,
    num_reviewers: int = 3,
    num_alternates: int = 3,
    allow_zero_score_assignments: bool = False,
    user_group: str | None = None,
    user_group_file: PathLike | None = None,
    probability_limits: str | float | None = None,
    perturbation: str | float | None = None,
    bad_match_thresholds: Sequence[float] | None = None,
    solver: str = "MinMax",
    attribute_constraints: PathLike | None = None,
    scores_specification: PathLike | None = None,
    custom_user_demand: PathLike | None = None,
    seed: int = 0,
    mip_rel_gap: float = 1e-4,
    time_limit: float | None = None,
) -> dict:
    """Solve the matcher's input files (options named as its CLI's) exactly and write
    ``assignments.json``, ``alternates.json`` and ``summary.json`` into ``out_dir``; returns the
    summary. Raises ``InputError`` on bad files, ``ValueError`` on options that cannot be honoured,
    and ``InfeasibleAssignment`` (after writing a summary with status "No Solution") when no
    assignment exists."""
    limit = probability_limit(probability_limits)
    check_solver(solver, limit, False)
    notes = []
    if perturbation is not None or bad_match_thresholds:
        notes.append("--perturbation and --bad_match_thresholds are PerturbedMaximization's: ignored")
    inputs = read_matcher_inputs(
        scores, weights, constraints, max_papers, min_papers_default, max_papers_default, num_reviewers,
        custom_user_demand, scores_specification, user_group, user_group_file,
    )
    groups = read_attribute_constraints(attribute_constraints) if attribute_constraints is not None else ()
    notes += inputs.notes
    summary_path = Path(out_dir) / "summary.json"
    try:
        program, program_notes = matcher_program(inputs, allow_zero_score_assignments, groups)
        notes += program_notes
        assignment, report = solve_matcher(program, solver, limit, seed, mip_rel_gap, time_limit)
    except InfeasibleAssignment as exc:
        write_json({"status": "No Solution", "solver": solver, "message": exc.message, "notes": notes},
                   summary_path)
        raise
    for note in notes:
        logger.info("%s", note)
    pairs, ids = assignment.pairs, (inputs.papers, inputs.users)
    paths = write_matcher_json(
        assignments_json(pairs, inputs.aggregate, *ids),
        alternates_json(pairs, inputs.aggregate, inputs.constraint == -1, *ids, num_alternates),
        out_dir,
    )
    summary = _summary(inputs, program, assignment, report, solver, notes, paths)
    write_json(summary, summary_path)
    return summary


def _summary(inputs: MatcherInputs, program: AssignmentProgram, assignment: Assignment, report: dict,
             solver: str, notes: list[str], paths: dict[str, str]) -> dict:
    """The run's summary: counts, totals, the certificate and its proven gap, notes."""
    return {
        "status": "Complete",
        "solver": solver,
        "papers": len(inputs.papers),
        "users": len(inputs.users),
        "allowed_pairs": int(program.allowed.sum()),
        "conflicts": int((inputs.constraint == -1).sum()),
        "forced_pairs": len(program.forced),
        "assigned_pairs": len(assignment.pairs),
        "total_aggregate_score": float(assignment.scores.sum()),
        "proven_gap": proven_gap(assignment.certificate),
        "proven_gap_of": "the capped LP (expected score)" if solver == "Randomized" else "the assignment",
        "solve_status": assignment.status,
        "solve_seconds": assignment.solve_seconds,
        "certificate": assignment.certificate,
        "report": report,
        "notes": notes,
        "outputs": paths,
    }


def match_from_args(args: argparse.Namespace) -> dict:
    """``match_files`` with the options of ``matcher_inputs.add_matcher_arguments``."""
    return match_files(
        args.scores, args.out, weights=args.weights, constraints=args.constraints,
        max_papers=args.max_papers,
        min_papers_default=args.min_papers_default, max_papers_default=args.max_papers_default,
        num_reviewers=args.num_reviewers, num_alternates=args.num_alternates,
        allow_zero_score_assignments=args.allow_zero_score_assignments, user_group=args.user_group,
        user_group_file=args.user_group_file, probability_limits=args.probability_limits,
        perturbation=args.perturbation, bad_match_thresholds=args.bad_match_thresholds, solver=args.solver,
        attribute_constraints=args.attribute_constraints, scores_specification=args.scores_specification,
        custom_user_demand=args.custom_user_demand, seed=args.seed, mip_rel_gap=args.mip_rel_gap,
        time_limit=args.time_limit,
    )


def write_matcher_outputs(
    table: pd.DataFrame,
    scores: np.ndarray,
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    num_alternates: int,
    out_dir: PathLike,
    allowed: np.ndarray | None = None,
) -> dict[str, str]:
    """The conference workflow's assignment ``table`` (submission_id, reviewer_id, ...) as the
    matcher's ``assignments.json`` and ``alternates.json`` in ``out_dir``: aggregate scores from
    ``scores`` (P, R); alternates leave out COI pairs (``coi`` (P, R)) and, when given, pairs not
    ``allowed`` (tracks, roles)."""
    scores = np.asarray(scores, dtype=np.float64)
    shape = (len(submissions), len(reviewers))
    for name, matrix in (("scores", scores), ("coi", coi), ("allowed", allowed)):
        if matrix is not None and np.shape(matrix) != shape:
            raise ValueError(f"{name} has shape {np.shape(matrix)}, expected {shape}")
    pairs = locate_ids(table, submissions, reviewers)
    excluded = np.asarray(coi, dtype=bool)
    if allowed is not None:
        excluded = excluded | ~np.asarray(allowed, dtype=bool)
    papers, users = submission_ids(submissions), reviewer_ids(reviewers)
    return write_matcher_json(
        assignments_json(pairs, scores, papers, users),
        alternates_json(pairs, scores, excluded, papers, users, int(num_alternates)),
        out_dir,
    )
