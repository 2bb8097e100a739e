"""The inputs of OpenReview's matcher (``openreview-matcher``), read as its command line reads them.

Formats (``matcher/__main__.py``, ``matcher/encoder.py``, ``matcher/service/openreview_interface.py``):

- ``--scores``: headerless CSV files, rows ``paper_id,user_id,score``; ``--weights`` one a file.
  A missing pair scores the file's ``default`` (0). The aggregate is ``sum(weight * score)``;
  ``normalize`` files add ``sum(weight * score) / sum(weight * (score != 0))`` instead (0 where
  the divisor is 0). ``default``, ``translate_map`` (bid label -> number; the third field is then
  the label) and ``normalize`` come from the service's ``scores_specification``: here a JSON file
  (``--scores_specification``) keyed by a score file's path as given, or its name.
- ``--constraints``: rows ``paper_id,user_id,constraint``; -1 conflict, 1 forced, 0 nothing.
- ``--max_papers``: rows ``user_id,max_papers`` (custom maximum loads; the CLI's file replaces
  ``--max_papers_default``); ``--custom_user_demand``: rows ``paper_id,demand`` (the service's
  ``custom_user_demand`` edges).
- ``--user_group_file``: rows ``group,user_id``; ``--user_group`` keeps that group's users only.
- ``--attribute_constraints``: JSON ``{name: {"comparator": "==" | ">=" | "<=", "bound": n,
  "members": [user ids]}}``, per-paper counts of the members (FairIR's only in the matcher; read
  by ``revmatch.matching.openreview_matcher``, which makes them group rows).

Papers and users are the ids met in the score and constraint files, sorted. A later row for
the same pair replaces an earlier one, as in the matcher. Bad input raises ``InputError`` with
the file, the line and the column; numbers are checked by ``revmatch.conference``'s number rules
(finite; scores, weights and defaults of magnitude at most ``MAX_SCORE``; loads and demands whole
numbers from 0 to ``MAX_COUNT``), so ``inf``, ``nan``, ``1e309`` or a 30-digit load stop here.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.conference import NumberRule, count_rule, score_rule
from revmatch.io import InputError, PathLike
from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)

SPEC_KEYS = ("weight", "default", "translate_map", "normalize")
SOLVERS = ("MinMax", "FairFlow", "FairIR", "Randomized", "PerturbedMaximization", "FairSequence")
CONSTRAINT = NumberRule(
    "constraint", integer=True, minimum=-1, maximum=1, expected="must be -1 (conflict), 0 or 1 (forced)"
)
#: the matcher's files have no header row: a header's name where a number is expected says so
NO_HEADER = " (the matcher's files have no header row)"


@dataclass(frozen=True)
class ScoreSpec:
    """How one score file enters the aggregate: its weight, the score of missing pairs, the
    label -> score map of a bid file, and whether it is normalised."""

    weight: float
    default: float = 0.0
    translate_map: dict[str, float] | None = None
    normalize: bool = False


@dataclass(frozen=True)
class MatcherInputs:
    """The matcher's problem: ids, the aggregate scores (P, U), constraints (P, U) in {-1, 0, 1},
    users' load bounds, papers' demands, and notes for the summary."""

    papers: list[str]
    users: list[str]
    aggregate: np.ndarray
    constraint: np.ndarray
    minimums: np.ndarray
    maximums: np.ndarray
    demands: np.ndarray
    notes: list[str] = field(default_factory=list)


def named_ids(ids: Sequence[str]) -> str:
    """The first ``MAX_NAMED`` ids, and how many more there are."""
    more = f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else ""
    return ", ".join(str(i) for i in list(ids)[:MAX_NAMED]) + more


def csv_rows(path: PathLike, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """(line, stripped fields) of each non-blank row of a headerless CSV whose rows start with ``columns``;
    further fields are ignored (as the matcher does), ids must not be empty."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        for row in reader:
            fields = [value.strip() for value in row]
            if not any(fields):
                continue
            if len(fields) < len(columns):
                raise InputError(path, f"expected {len(columns)} fields ({','.join(columns)}), found "
                                 f"{len(fields)}", row=reader.line_num, column=columns[len(fields)])
            for name, value in zip(columns, fields):
                if name.endswith("_id") and not value:
                    raise InputError(path, "empty id", row=reader.line_num, column=name)
            yield reader.line_num, fields[: len(columns)]


def checked_column(rule: NumberRule, path: PathLike, rows: list[tuple[int, list[str]]], field: int,
                   column: str) -> np.ndarray:
    """``rule``'s values of field ``field`` of ``csv_rows``' rows (vectorised); the first refused cell
    raises ``InputError`` at its line."""
    cells = pd.Series([fields[field] for _, fields in rows], index=[line for line, _ in rows], dtype=object)
    return rule.check(cells, path, column, first_row_hint=NO_HEADER)


def read_score_file(path: PathLike, spec: ScoreSpec) -> pd.DataFrame:
    """(paper_id, user_id, score) of one score file, labels translated by ``spec.translate_map``."""
    value_column = "label" if spec.translate_map is not None else "score"
    rows = list(csv_rows(path, ("paper_id", "user_id", value_column)))
    if spec.translate_map is not None:
        labels = pd.Series([fields[2] for _, fields in rows], index=[line for line, _ in rows], dtype=object)
        scores = labels.map(spec.translate_map)
        unknown = scores.isna().to_numpy()
        if unknown.any():
            first = int(np.argmax(unknown))
            raise InputError(path, f"cannot translate label {labels.iloc[first]!r} to a score; valid labels "
                             f"are: {', '.join(spec.translate_map)}", row=int(labels.index[first]),
                             column=value_column)
        values = scores.to_numpy(dtype=np.float64)
    else:
        values = checked_column(score_rule("score"), path, rows, 2, value_column)
    return pd.DataFrame({"paper_id": [fields[0] for _, fields in rows],
                         "user_id": [fields[1] for _, fields in rows], "score": values},
                        columns=["paper_id", "user_id", "score"])


def read_constraints(path: PathLike) -> pd.DataFrame:
    """(paper_id, user_id, constraint) rows with constraint -1 (conflict), 0 or 1 (forced)."""
    rows = list(csv_rows(path, ("paper_id", "user_id", "constraint")))
    return pd.DataFrame({"paper_id": [fields[0] for _, fields in rows],
                         "user_id": [fields[1] for _, fields in rows],
                         "constraint": checked_column(CONSTRAINT, path, rows, 2, "constraint")},
                        columns=["paper_id", "user_id", "constraint"])


def read_counts(path: PathLike, id_column: str, count_column: str) -> dict[str, int]:
    """{id: count} of a file of rows ``id,count`` (custom loads or demands, each a whole number from 0
    to ``MAX_COUNT``); a later row wins."""
    rows = list(csv_rows(path, (id_column, count_column)))
    counts = checked_column(count_rule(count_column), path, rows, 1, count_column)
    return {fields[0]: int(count) for (_, fields), count in zip(rows, counts)}


def read_json_file(path: PathLike) -> object:
    """One JSON document; invalid JSON raises ``InputError`` at its line."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg})", row=exc.lineno) from exc


def _spec_number(path: PathLike, key: str, name: str, value: object) -> float:
    return float(score_rule(name).check_value(value, path, column=f"{key}.{name}"))


def read_scores_specification(path: PathLike) -> dict[str, dict]:
    """{score file: {weight, default, translate_map, normalize}}, checked (the service's
    ``scores_specification``)."""
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise InputError(path, f"must be a JSON object {{score file: {{{', '.join(SPEC_KEYS)}}}}}")
    checked = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            raise InputError(path, "must be an object", column=key)
        unknown = sorted(set(entry) - set(SPEC_KEYS))
        if unknown:
            raise InputError(path, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(SPEC_KEYS)}",
                             column=key)
        spec = {name: _spec_number(path, key, name, entry[name])
                for name in ("weight", "default") if name in entry}
        if "translate_map" in entry:
            table = entry["translate_map"]
            if not isinstance(table, dict) or not table:
                raise InputError(path, "must be an object {label: score}", column=f"{key}.translate_map")
            spec["translate_map"] = {str(label): _spec_number(path, key, f"translate_map.{label}", score)
                                     for label, score in table.items()}
        if "normalize" in entry:
            if not isinstance(entry["normalize"], bool):
                raise InputError(path, f"must be true or false, not {entry['normalize']!r}",
                                 column=f"{key}.normalize")
            spec["normalize"] = entry["normalize"]
        checked[str(key)] = spec
    return checked


def score_specs(
    scores: Sequence[PathLike], weights: Sequence[float] | None, specification: PathLike | None
) -> list[ScoreSpec]:
    """Each score file's ``ScoreSpec``: its weight from ``weights`` (in order) or the specification."""
    if not scores:
        raise ValueError("--scores: at least one score file is needed")
    if weights is not None and len(weights) != len(scores):
        raise ValueError(f"--weights: {len(weights)} weight(s) for {len(scores)} score file(s); "
                         "give one a file")
    entries = read_scores_specification(specification) if specification is not None else {}
    specs, used = [], set()
    for index, path in enumerate(scores):
        key = next((k for k in (str(path), Path(path).name) if k in entries), None)
        used.add(key)
        entry = entries.get(key, {}) if key is not None else {}
        weight = float(weights[index]) if weights is not None else entry.get("weight")
        if weight is None:
            raise ValueError(f"--weights: no weight for score file {path} (give --weights or a weight in "
                             "--scores_specification)")
        weight = float(score_rule(f"the weight of {path}").check_value(weight, "--weights"))
        if weights is not None and "weight" in entry and entry["weight"] != weight:
            raise InputError(specification, f"weight {entry['weight']:g} differs from --weights ({weight:g})",
                             column=f"{key}.weight")
        specs.append(ScoreSpec(weight, entry.get("default", 0.0), entry.get("translate_map"),
                               entry.get("normalize", False)))
    stray = sorted(set(entries) - used)
    if stray:
        raise InputError(specification, f"names no file of --scores: {stray[0]!r}", column=stray[0])
    return specs


def probability_limit(value: str | float | None) -> float | None:
    """The one probability limit of ``--probability_limits``; a per-pair file cannot be honoured."""
    if value is None:
        return None
    try:
        limit = float(value)
    except ValueError:
        what = "a file of per-pair limits" if Path(str(value)).is_file() else "neither a number nor a file"
        raise ValueError(f"--probability_limits {value}: {what}; revmatch caps every pair at one "
                         "probability, so only a single number in (0, 1] can be honoured") from None
    if not 0 < limit <= 1:
        raise ValueError(f"--probability_limits must be in (0, 1], not {limit:g}")
    return limit


def _matrix(
    frame: pd.DataFrame, value: str, papers: pd.Index, users: pd.Index, fill: float, dtype
) -> np.ndarray:
    """(P, U) of ``frame[value]`` at its (paper_id, user_id), ``fill`` elsewhere; rows of unknown users
    are left out; a later row for a pair wins."""
    matrix = np.full((len(papers), len(users)), fill, dtype=dtype)
    frame = frame.drop_duplicates(["paper_id", "user_id"], keep="last")
    rows, columns = papers.get_indexer(frame["paper_id"]), users.get_indexer(frame["user_id"])
    known = (rows >= 0) & (columns >= 0)
    matrix[rows[known], columns[known]] = frame[value].to_numpy()[known]
    return matrix


def aggregate_scores(
    typed: Sequence[tuple[ScoreSpec, pd.DataFrame]], papers: pd.Index, users: pd.Index
) -> np.ndarray:
    """(P, U) aggregate score as the matcher's encoder computes it: ``sum(weight * score)`` over the
    plain types, plus over the normalised ones their weighted sum divided by the weights of their
    non-zero scores."""
    plain = np.zeros((len(papers), len(users)))
    numerator, divisor = np.zeros_like(plain), np.zeros_like(plain)
    for spec, edges in typed:
        matrix = _matrix(edges, "score", papers, users, spec.default, np.float64)
        if spec.normalize:
            numerator += spec.weight * matrix
            divisor += spec.weight * (matrix != 0)
        else:
            plain += spec.weight * matrix
    if any(spec.normalize for spec, _ in typed):
        safe = np.where(divisor == 0, 1.0, divisor)
        plain += np.where(divisor == 0, 0.0, numerator / safe)
    return plain


def _users_of_group(users: list[str], user_group: str | None, user_group_file: PathLike | None,
                    notes: list[str]) -> list[str]:
    """The users in ``user_group`` of ``user_group_file`` (all users without a group)."""
    if user_group is None:
        return users
    if user_group_file is None:
        raise ValueError("--user_group needs --user_group_file")
    groups: dict[str, set[str]] = {}
    for _, (group, user) in csv_rows(user_group_file, ("group", "user_id")):
        groups.setdefault(group, set()).add(user)
    if user_group not in groups:
        raise InputError(user_group_file, f"no group {user_group!r}; groups: {named_ids(sorted(groups))}",
                         column="group")
    kept = [user for user in users if user in groups[user_group]]
    notes.append(f"--user_group {user_group}: {len(kept)} of {len(users)} users kept")
    return kept


def _loads(users: list[str], max_papers: PathLike | None, min_default: int, max_default: int | None,
           notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(minimums, maximums) of the users: the defaults, maxima replaced by the custom file."""
    custom = read_counts(max_papers, "user_id", "max_papers") if max_papers is not None else {}
    unknown = sorted(set(custom) - set(users))
    if unknown:
        notes.append(f"{len(unknown)} user(s) of --max_papers are in no score file (ignored): "
                     f"{named_ids(unknown)}")
    lacking = [user for user in users if user not in custom]
    if max_default is None and lacking:
        raise ValueError(f"--max_papers_default is needed: {len(lacking)} user(s) have no custom maximum "
                         f"in --max_papers: {named_ids(lacking)}")
    min_default = count_rule("minimum").check_value(min_default, "--min_papers_default")
    if max_default is not None:
        max_default = count_rule("maximum").check_value(max_default, "--max_papers_default")
    maximums = np.array([custom.get(user, max_default) for user in users], dtype=np.int64)
    minimums = np.full(len(users), int(min_default), dtype=np.int64)
    lowered = np.flatnonzero(minimums > maximums)
    if len(lowered):
        notes.append(f"{len(lowered)} user(s) have a custom maximum below --min_papers_default; their "
                     f"minimum is their maximum (as the matcher's service does): "
                     f"{named_ids([users[i] for i in lowered])}")
    return np.minimum(minimums, maximums), maximums


def _demands(papers: list[str], num_reviewers: int, custom_user_demand: PathLike | None,
             notes: list[str]) -> np.ndarray:
    """Each paper's demand: ``num_reviewers``, replaced by the custom demand file."""
    num_reviewers = count_rule("demand").check_value(num_reviewers, "--num_reviewers")
    custom = read_counts(custom_user_demand, "paper_id", "demand") if custom_user_demand is not None else {}
    unknown = sorted(set(custom) - set(papers))
    if unknown:
        notes.append(f"{len(unknown)} paper(s) of --custom_user_demand are in no score file (ignored): "
                     f"{named_ids(unknown)}")
    return np.array([custom.get(paper, num_reviewers) for paper in papers], dtype=np.int64)


def read_matcher_inputs(
    scores: Sequence[PathLike],
    weights: Sequence[float] | None = None,
    constraints: PathLike | None = None,
    max_papers: PathLike | None = None,
    min_papers_default: int = 0,
    max_papers_default: int | None = None,
    num_reviewers: int = 3,
    custom_user_demand: PathLike | None = None,
    scores_specification: PathLike | None = None,
    user_group: str | None = None,
    user_group_file: PathLike | None = None,
) -> MatcherInputs:
    """The matcher's problem from its input files (arguments named as the matcher's CLI options)."""
    specs = score_specs(scores, weights, scores_specification)
    typed = [(spec, read_score_file(path, spec)) for spec, path in zip(specs, scores)]
    pairs = read_constraints(constraints) if constraints is not None else pd.DataFrame(
        columns=["paper_id", "user_id", "constraint"])
    frames = [edges for _, edges in typed] + [pairs]
    papers = sorted(set().union(*(frame["paper_id"] for frame in frames)))
    users = sorted(set().union(*(frame["user_id"] for frame in frames)))
    if not papers or not users:
        raise ValueError("--scores: the score files name no paper and user")
    notes: list[str] = []
    users = _users_of_group(users, user_group, user_group_file, notes)
    if not users:
        raise ValueError(f"--user_group {user_group}: none of its users is in the score files")
    paper_index, user_index = pd.Index(papers), pd.Index(users)
    outside = int((~pairs["user_id"].isin(users)).sum())
    if outside:
        notes.append(f"{outside} row(s) of --constraints name users outside --user_group (ignored)")
    constraint = _matrix(pairs, "constraint", paper_index, user_index, 0, np.int8)
    minimums, maximums = _loads(users, max_papers, min_papers_default, max_papers_default, notes)
    demands = _demands(papers, num_reviewers, custom_user_demand, notes)
    logger.info("matcher inputs: %d papers, %d users, %d score file(s), %d conflict(s), %d forced pair(s)",
                len(papers), len(users), len(specs), int((constraint == -1).sum()),
                int((constraint == 1).sum()))
    return MatcherInputs(papers, users, aggregate_scores(typed, paper_index, user_index), constraint,
                         minimums, maximums, demands, notes)


def matcher_option_dests() -> tuple[str, ...]:
    """The dests of ``add_matcher_arguments``' options (for the CLI's list of options not in the config)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_matcher_arguments(parser)
    return tuple(action.dest for action in parser._actions)


def add_matcher_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of OpenReview's ``python -m matcher`` (same names), revmatch's additions after them."""
    add = parser.add_argument
    add("--scores", nargs="+", required=True, help="score files, rows paper_id,user_id,score (no header)")
    add("--weights", nargs="+", type=float, help="one weight a score file, in order")
    add("--constraints", help="rows paper_id,user_id,constraint: -1 conflict, 1 forced, 0 nothing")
    add("--max_papers", help="custom maximum loads, rows user_id,max_papers")
    add("--min_papers_default", type=int, default=0, help="minimum papers a user")
    add("--max_papers_default", type=int, help="maximum papers a user (unless in --max_papers)")
    add("--num_reviewers", type=int, default=3, help="reviewers a paper (unless in --custom_user_demand)")
    add("--num_alternates", type=int, default=3, help="alternates a paper in alternates.json")
    add("--allow_zero_score_assignments", action="store_true", help="allow pairs whose aggregate score is 0")
    add("--user_group", help="keep only this group's users (of --user_group_file)")
    add("--user_group_file", help="rows group,user_id")
    add("--probability_limits", help="Randomized: one number in (0, 1], every pair's largest probability")
    add("--perturbation", help="PerturbedMaximization's (ignored; that solver cannot be honoured)")
    add("--bad_match_thresholds", nargs="+", type=float, help="PerturbedMaximization's (ignored)")
    add("--solver", default="MinMax", choices=SOLVERS,
        help="MinMax: exact optimum; FairFlow, FairIR: worst paper first, then the total; Randomized")
    add("--attribute_constraints", help="JSON {name: {comparator, bound, members}}: per-paper member counts")
    add("--scores_specification",
        help="revmatch: JSON {score file: {weight, default, translate_map, normalize}}")
    add("--custom_user_demand", help="revmatch: custom demands, rows paper_id,demand")
    add("--seed", type=int, default=0, help="revmatch: random seed of the Randomized solver's sample")
    add("--mip_rel_gap", type=float, default=1e-4,
        help="revmatch: relative gap of a MIP (attribute constraints, fair)")
    add("--time_limit", type=float, help="revmatch: seconds a MIP may run")
    add("--out", default=".", help="output folder of assignments.json, alternates.json, summary.json")
