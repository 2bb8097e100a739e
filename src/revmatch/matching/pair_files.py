"""Files a program chair gives a re-solve: forced and forbidden pairs, the previous assignment,
a reviewer list (the emergency pool) and reviewer attributes.

CSV files are read with ``read_csv_export`` (UTF-8 with or without BOM, header names stripped);
their columns are found by name, case-insensitively. Rows in errors are file lines, the header
being line 1 (a quoted cell that spans lines counts as one row).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, submission_ids
from revmatch.conference.start_csv import decode_export, find_column, read_csv_export
from revmatch.io import InputError, PathLike
from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)

SUBMISSION_NAMES = ("submission_id", "Submission ID", "submission")
REVIEWER_NAMES = ("reviewer_id", "Username", "Reviewer Username", "reviewer")
REASON_NAMES = ("reason", "Reason")
PAIR_COLUMNS = ["submission_id", "reviewer_id", "reason", "line"]
PREVIOUS_COLUMNS = ["submission_id", "reviewer_id"]
SUFFIX_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".txt": "start"}


# --------------------------------------------------------------------------- helpers


def _text_lines(path: PathLike) -> list[str]:
    """The lines of a text file (any line ending, BOM dropped); line k is item k - 1."""
    text, _ = decode_export(Path(path).read_bytes(), path)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines  # a final newline ends the last line


def _column(frame: pd.DataFrame, names: tuple[str, ...], path: PathLike, what: str, hint: str = "") -> str:
    """The frame's column answering the first present of ``names``; ``InputError`` when none does."""
    found = find_column(frame, "|".join(names), path)
    if found is None:
        header = ", ".join(repr(str(c)) for c in frame.columns) or "no columns"
        message = f"no {what} column: expected one of {', '.join(map(repr, names))}; the header has {header}"
        raise InputError(path, message + hint, row=1, column=names[0])
    return found


def _ids(frame: pd.DataFrame, column: str, path: PathLike, what: str) -> pd.Series:
    """Stripped cells of ``column`` (index = file rows); an empty cell raises ``InputError``."""
    values = frame[column].astype(str).str.strip()
    empty = values.index[values == ""]
    if len(empty):
        raise InputError(path, f"empty {what} id ({len(empty)} empty cell(s))", row=int(empty[0]), column=column)
    return values


def _check_known(values: pd.Series, known: list[str], path: PathLike, what: str, column: str | None) -> None:
    """``InputError`` at the first value not in ``known``, with the count of such rows."""
    unknown = ~values.isin(known)
    if unknown.any():
        value = values[unknown].iloc[0]
        message = f"unknown {what} id {value!r} ({int(unknown.sum())} row(s) with unknown {what} ids)"
        near = [k for k in known if k.casefold() == value.casefold()]
        message += f"; did you mean {near[0]!r}?" if near else ""
        raise InputError(path, message, row=int(values.index[unknown][0]), column=column)


def _raise_if_repeated(path: PathLike, keys: pd.DataFrame, lines: pd.Series, what: str, column: str | None) -> None:
    """``InputError`` naming the first key given twice and both its lines."""
    twice = keys.duplicated(keep=False).to_numpy()
    if twice.any():
        first = keys[twice].iloc[0]
        at = lines[twice & (keys == first).all(axis=1).to_numpy()]
        label = repr(first.iloc[0]) if len(first) == 1 else f"({', '.join(first)})"
        where = f"twice on line {at.iloc[0]}" if at.iloc[0] == at.iloc[1] else f"on lines {at.iloc[0]} and {at.iloc[1]}"
        message = f"{what} {label} appears {where}"
        raise InputError(path, f"{message} ({int(keys.duplicated().sum())} repeat(s))", row=int(at.iloc[1]),
                         column=column)


def _log_skipped(path: PathLike, blank: int, without_reviewers: list[str] | None = None) -> None:
    if blank:
        logger.info("%s: skipped %d blank line(s)", path, blank)
    if without_reviewers:
        logger.info("%s: %d submission(s) without reviewers: %s", path, len(without_reviewers),
                    ", ".join(without_reviewers[:MAX_NAMED]))


# --------------------------------------------------------------------------- forced / forbidden pairs


def read_pair_file(path: PathLike, submissions: list[dict], reviewers: list[dict], what: str) -> pd.DataFrame:
    """Read a CSV of (submission, reviewer) pairs, e.g. ``matching.forced`` or ``matching.forbidden``.

    Columns: the first present of ``SUBMISSION_NAMES`` and of ``REVIEWER_NAMES`` and, optionally,
    ``reason``. Every id must name a submission or reviewer of the conference. A pair given again
    keeps its first row (and reason); the repeats are counted and logged. Returns a frame with
    ``PAIR_COLUMNS`` (``reason`` is ``''`` when absent, ``line`` the file row).
    """
    frame = read_csv_export(path)
    sub_col = _column(frame, SUBMISSION_NAMES, path, f"{what} submission")
    rev_col = _column(frame, REVIEWER_NAMES, path, f"{what} reviewer")
    reason_col = find_column(frame, "|".join(REASON_NAMES), path)
    sids, rids = _ids(frame, sub_col, path, "submission"), _ids(frame, rev_col, path, "reviewer")
    _check_known(sids, submission_ids(submissions), path, "submission", sub_col)
    _check_known(rids, reviewer_ids(reviewers), path, "reviewer", rev_col)
    reasons = frame[reason_col].astype(str).str.strip() if reason_col else pd.Series("", index=frame.index)
    pairs = pd.DataFrame(
        {"submission_id": sids.to_numpy(), "reviewer_id": rids.to_numpy(), "reason": reasons.to_numpy(),
         "line": frame.index.to_numpy(np.int64)}
    ).astype({"submission_id": str, "reviewer_id": str, "reason": str})
    repeated = pairs.duplicated(PREVIOUS_COLUMNS).to_numpy()
    if repeated.any():
        first_reason = pairs.groupby(PREVIOUS_COLUMNS, sort=False)["reason"].transform("first")
        other_reason = int((repeated & (pairs["reason"] != first_reason)).sum())
        named = [f"line {r.line} ({r.submission_id}, {r.reviewer_id})" for r in pairs[repeated].itertuples()]
        logger.warning(
            "%s: %d repeated %s pair row(s) ignored, the first row of each pair kept "
            "(%d of them with a different reason): %s",
            path, int(repeated.sum()), what, other_reason, ", ".join(named[:MAX_NAMED]),
        )
        pairs = pairs[~repeated].reset_index(drop=True)
    logger.info("%s: %d %s pairs over %d submissions and %d reviewers", path, len(pairs), what,
                pairs["submission_id"].nunique(), pairs["reviewer_id"].nunique())
    return pairs[PAIR_COLUMNS]


# --------------------------------------------------------------------------- previous assignment


def read_previous_assignment(path: PathLike) -> pd.DataFrame:
    """The assignment a re-solve starts from, as ``PREVIOUS_COLUMNS`` (str) rows in file order.

    Accepts ``assignments.jsonl`` (``submission_id`` else ``id``; ``assignedReviewers`` else
    ``reviewers``, lists of ``{id}``), the assignment table CSV (its ``submission_id`` and
    ``reviewer_id`` columns) or a START upload file (``sid:user1:user2`` lines), told apart by
    suffix, else by content. Ids are not checked against the conference: papers may have been
    withdrawn and reviewers may have left since. A repeated pair or an empty assignment raises
    ``InputError``.
    """
    kind = SUFFIX_KINDS.get(Path(path).suffix.lower()) or _kind_by_content(path)
    read, column = {
        "jsonl": (_jsonl_pairs, "assignedReviewers"), "csv": (_table_pairs, "reviewer_id"), "start": (_start_pairs, None)
    }[kind]
    pairs = read(path)
    _raise_if_repeated(path, pairs[PREVIOUS_COLUMNS], pairs["line"], "pair", column)
    if pairs.empty:
        raise InputError(path, f"no assignment in {Path(path).name} (no submission with a reviewer)")
    logger.info("%s: previous assignment (%s) of %d pairs over %d submissions and %d reviewers", path, kind,
                len(pairs), pairs["submission_id"].nunique(), pairs["reviewer_id"].nunique())
    return pairs[PREVIOUS_COLUMNS].reset_index(drop=True)


def _kind_by_content(path: PathLike) -> str:
    """``jsonl``, ``csv`` or ``start`` from the first non-blank line."""
    first = next((line.strip() for line in _text_lines(path) if line.strip()), "")
    header = {name.strip().casefold() for name in next(csv.reader([first]), [])}
    if first.startswith("{"):
        return "jsonl"
    if set(PREVIOUS_COLUMNS) <= header:
        return "csv"
    if ":" in first:
        return "start"
    raise InputError(path, "not a previous assignment: expected assignments.jsonl, the assignment table CSV "
                     "(submission_id, reviewer_id) or a START upload file (sid:user1:user2 lines)", row=1)


def _pair_frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*PREVIOUS_COLUMNS, "line"])
    return frame.astype({"submission_id": str, "reviewer_id": str, "line": np.int64})


def _jsonl_pairs(path: PathLike) -> pd.DataFrame:
    """(submission_id, reviewer_id, line) of an ``assignments.jsonl``."""
    rows, empty, blank = [], [], 0
    for line, text in enumerate(_text_lines(path), start=1):
        if not text.strip():
            blank += 1
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"invalid JSON ({exc.msg})", row=line) from exc
        if not isinstance(record, dict):
            raise InputError(path, f"a JSON {type(record).__name__}, not an object", row=line)
        sid = next((str(record[k]).strip() for k in ("submission_id", "id") if str(record.get(k) or "").strip()), "")
        if not sid:
            raise InputError(path, "no submission id (submission_id or id)", row=line, column="submission_id")
        key = "assignedReviewers" if "assignedReviewers" in record else "reviewers"
        people = record.get(key) or []
        if not isinstance(people, list):
            raise InputError(path, f"{key} is not a list", row=line, column=key)
        for k, person in enumerate(people, start=1):
            rid = person.get("id") if isinstance(person, dict) else person
            if not isinstance(rid, str | int) or not str(rid).strip():
                raise InputError(path, f"reviewer {k} of submission {sid!r} has no id", row=line, column=key)
            rows.append((sid, str(rid).strip(), line))
        if not people:
            empty.append(sid)
    _log_skipped(path, blank, empty)
    return _pair_frame(rows)


def _table_pairs(path: PathLike) -> pd.DataFrame:
    """(submission_id, reviewer_id, line) of the assignment table CSV; other columns are ignored."""
    frame = read_csv_export(path)
    hint = " (the assignment table; for the chairs' spreadsheet give assignments.jsonl or the START upload)"
    sids, rids = (
        _ids(frame, _column(frame, (name,), path, what, hint), path, what)
        for name, what in zip(PREVIOUS_COLUMNS, ("submission", "reviewer"))
    )
    return _pair_frame(list(zip(sids, rids, frame.index.astype(int))))


def _start_pairs(path: PathLike) -> pd.DataFrame:
    """(submission_id, reviewer_id, line) of a START upload file.

    A submission id alone on its line is a submission without reviewers (as ``export`` writes
    one); an empty field is an ``InputError``.
    """
    rows, empty, blank = [], [], 0
    for line, text in enumerate(_text_lines(path), start=1):
        if not text.strip():
            blank += 1
            continue
        sid, *rids = (field.strip() for field in text.split(":"))
        if not sid or not all(rids):
            raise InputError(path, f"empty field in {text.strip()!r} (expected sid:user1:user2...)", row=line)
        rows.extend((sid, rid, line) for rid in rids)
        if not rids:
            empty.append(sid)
    _log_skipped(path, blank, empty)
    return _pair_frame(rows)


# --------------------------------------------------------------------------- reviewer files


def read_reviewer_list(path: PathLike, reviewers: list[dict]) -> np.ndarray:
    """(R,) bool: the reviewers listed in ``path``, a CSV with a reviewer column (one of
    ``REVIEWER_NAMES``) or a ``.txt`` with one username a line. An unknown id raises ``InputError``."""
    if Path(path).suffix.lower() == ".txt":
        text = _text_lines(path)
        lines = pd.Series(text, index=range(1, len(text) + 1), dtype=str).str.strip()
        names, column = lines[lines != ""], None
        _log_skipped(path, len(lines) - len(names))
    else:
        frame = read_csv_export(path)
        column = _column(frame, REVIEWER_NAMES, path, "reviewer")
        names = _ids(frame, column, path, "reviewer")
    ids = reviewer_ids(reviewers)
    _check_known(names, ids, path, "reviewer", column)
    repeated = names[names.duplicated()]
    if len(repeated):
        logger.warning("%s: %d reviewer(s) listed again, repeats ignored: %s", path, len(repeated),
                       ", ".join(f"{v} (row {row})" for row, v in repeated.head(MAX_NAMED).items()))
    listed = np.isin(np.array(ids, dtype=object), names.to_numpy(dtype=object))
    logger.info("%s: %d of %d reviewers listed", path, int(listed.sum()), len(ids))
    return listed


def read_reviewer_attributes(path: PathLike, reviewers: list[dict]) -> pd.DataFrame:
    """Reviewer attributes: a frame indexed by the ids of ``reviewers`` (in order), one ``str`` column
    per CSV column but the reviewer column, ``''`` where a reviewer has no row or an empty cell.
    An unknown or repeated reviewer raises ``InputError``."""
    frame = read_csv_export(path)
    column = _column(frame, REVIEWER_NAMES, path, "reviewer")
    names = _ids(frame, column, path, "reviewer")
    ids = reviewer_ids(reviewers)
    _check_known(names, ids, path, "reviewer", column)
    _raise_if_repeated(path, names.to_frame(), pd.Series(names.index), "reviewer", column)
    attributes = [c for c in frame.columns if c != column]
    twice = sorted({c for c in attributes if attributes.count(c) > 1})
    if twice:
        raise InputError(path, f"column name(s) used twice: {', '.join(map(repr, twice))}", row=1, column=twice[0])
    if not attributes:
        logger.warning("%s: no attribute column besides %r", path, column)
    table = frame[attributes].map(lambda cell: str(cell).strip())
    table.index = pd.Index(names.to_numpy(dtype=object), name="reviewer_id")
    table = table.reindex(pd.Index(ids, dtype=object, name="reviewer_id"), fill_value="")
    if len(names) < len(ids):
        logger.info("%s: %d of %d reviewers have no row (attributes '')", path, len(ids) - len(names), len(ids))
    return table
