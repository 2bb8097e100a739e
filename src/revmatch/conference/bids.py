"""A START bids matrix -> the P x R matrix of bid codes (Yes, Maybe, No, COI)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revmatch.conference.numbers import NumberRule
from revmatch.conference.start_csv import (
    _duplicates_error,
    _raise_if_empty,
    _stripped,
    read_csv_export,
    short_rows_report,
)
from revmatch.io import InputError, PathLike

logger = logging.getLogger(__name__)

# START bid codes (1 = Yes, 2 = Maybe, 3 = No, 4 = COI) -> reference codes (4 - START code).
BID_COI, BID_NO, BID_MAYBE, BID_YES = 0, 1, 2, 3
_START_TO_BID = {1: BID_YES, 2: BID_MAYBE, 3: BID_NO, 4: BID_COI}
_BID_NAMES = {BID_COI: "coi", BID_NO: "no", BID_MAYBE: "maybe", BID_YES: "yes"}
_EMPTY_BID = -1  # marks an empty cell until it becomes Maybe
_BID_CELLS = {"": _EMPTY_BID, **{str(start): code for start, code in _START_TO_BID.items()}}
_START_CODES = np.array([_EMPTY_BID, *(_START_TO_BID[start] for start in (1, 2, 3, 4))], dtype=np.int8)
#: A START bid cell, when it is not written as one of the codes (``1.0``, `` 2``).
BID = NumberRule(
    "bid", integer=True, minimum=1, maximum=4,
    expected="expected 1 = Yes, 2 = Maybe, 3 = No, 4 = COI or empty",
)


def _bid_codes(cells: pd.DataFrame, path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """START bid cells -> (reference codes, mask of empty cells); empty -> Maybe.

    Cells are looked up as written; only unusual ones (spaces, ``1.0``) are stripped and
    parsed by ``BID``. A cell that is neither empty nor a START code (``yes``, ``5``,
    ``inf``, ``nan``, ``1e309``) raises ``InputError`` naming its row and column.
    """
    values = cells.to_numpy(dtype=object)
    flat = values.ravel()
    cell_texts = pd.Index(list(_BID_CELLS), dtype=object)
    found = cell_texts.get_indexer(pd.Index(flat, dtype=object, copy=False))
    codes = np.asarray(list(_BID_CELLS.values()), dtype=np.int8)[found]
    unusual = np.flatnonzero(found < 0)
    if unusual.size:
        cleaned = pd.Series(flat[unusual], dtype=object).astype(str).str.strip()
        blank = (cleaned == "").to_numpy()
        numbers, bad = BID.parse(cleaned.to_numpy(dtype=object))
        bad &= ~blank
        if bad.any():
            i, j = divmod(int(unusual[np.argmax(bad)]), values.shape[1])
            raise BID.error(path, values[i, j], int(cells.index[i]), str(cells.columns[j]))
        start = np.where(blank, 0, numbers).astype(np.int64)
        codes[unusual] = np.where(blank, _EMPTY_BID, _START_CODES[start])
    empty = codes == _EMPTY_BID
    codes[empty] = BID_MAYBE
    return codes.reshape(values.shape), empty.reshape(values.shape)


def _reviewer_column_positions(columns: list[str], reviewer_ids: list[str], path: PathLike) -> dict[str, int]:
    """Bids column -> reviewer index, by exact username, else case-insensitively.

    Two columns naming the same reviewer raise ``InputError``; unknown columns are left out.
    """
    exact = {rid: j for j, rid in enumerate(reviewer_ids)}
    folded: dict[str, int] = {}
    for rid, j in exact.items():
        folded.setdefault(rid.casefold(), j)
    positions: dict[str, int] = {}
    claimed: dict[int, str] = {}
    for column in columns:
        j = exact.get(column, folded.get(column.casefold()))
        if j is None:
            continue
        if j in claimed:
            raise InputError(
                path,
                f"columns {claimed[j]!r} and {column!r} both name reviewer {reviewer_ids[j]!r}",
                column=column,
            )
        claimed[j] = column
        positions[column] = j
    return positions


def read_bids(
    path: PathLike,
    submission_ids: list[str],
    reviewer_ids: list[str],
    all_submission_ids: list[str] | None = None,
) -> tuple[np.ndarray, dict]:
    """Read a START bids matrix into an int8 P x R matrix of reference codes.

    The first column holds the submission id (whatever its header), the others reviewer
    usernames; START codes 1 = Yes, 2 = Maybe, 3 = No, 4 = COI become 3, 2, 1, 0; an
    empty cell or a missing row/column means Maybe (2). Rows are placed by submission id;
    rows of set-aside submissions (in ``all_submission_ids`` but not in
    ``submission_ids``), rows of unknown submissions and columns of unknown usernames are
    ignored and counted in the returned report; a file none of whose rows (or columns)
    names a submission (a reviewer) of the conference is another conference's file
    (``InputError``). ``bids_given`` counts the non-empty cells read.
    """
    frame = read_csv_export(path)
    if frame.shape[1] == 0:
        raise InputError(path, "no columns")
    id_column = frame.columns[0]
    row_ids = _stripped(frame, id_column)
    _raise_if_empty(path, row_ids, "submission id", str(id_column))
    error = _duplicates_error(path, row_ids, "submission id", str(id_column))
    if error is not None:
        raise error
    reviewer_columns = [str(c) for c in frame.columns[1:]]
    submission_position = {sid: i for i, sid in enumerate(submission_ids)}
    column_position = _reviewer_column_positions(reviewer_columns, reviewer_ids, path)

    in_kept = row_ids.isin(submission_position)
    set_aside_ids = set(all_submission_ids or []) - set(submission_position)
    set_aside = row_ids.isin(set_aside_ids) & ~in_kept
    unknown_rows = row_ids[~in_kept & ~set_aside]
    unknown_columns = [c for c in reviewer_columns if c not in column_position]
    _raise_if_foreign(path, row_ids, unknown_rows, str(id_column), reviewer_columns, unknown_columns)

    bids = np.full((len(submission_ids), len(reviewer_ids)), BID_MAYBE, dtype=np.int8)
    used = frame.loc[in_kept.to_numpy(), list(column_position)]
    if used.size:
        codes, empty = _bid_codes(used, path)
        rows = row_ids[in_kept].map(submission_position).to_numpy(dtype=np.int64)
        cols = np.fromiter(column_position.values(), dtype=np.int64, count=len(column_position))
        bids[np.ix_(rows, cols)] = codes
        counts = np.bincount(codes[~empty].astype(np.int64), minlength=4)
    else:
        counts = np.zeros(4, dtype=np.int64)
    matched_reviewers = set(column_position.values())
    report = {
        "rows": len(frame),
        "rows_matched": int(in_kept.sum()),
        "rows_set_aside": int(set_aside.sum()),
        "rows_unknown": len(unknown_rows),
        "unknown_submission_ids": unknown_rows.tolist(),
        "submissions_without_row": len(submission_ids) - int(in_kept.sum()),
        "columns": len(reviewer_columns),
        "columns_matched": len(column_position),
        "unknown_usernames": unknown_columns,
        "reviewers_without_column": len(reviewer_ids) - len(matched_reviewers),
        "bids": {_BID_NAMES[code]: int(counts[code]) for code in (BID_YES, BID_MAYBE, BID_NO, BID_COI)},
        "bids_given": int(counts.sum()),
        **short_rows_report(frame),
    }
    logger.info(
        "%s: %d rows (%d matched, %d set aside, %d unknown), %d reviewer columns (%d unknown); "
        "%d submissions and %d reviewers without bids default to Maybe",
        path, report["rows"], report["rows_matched"], report["rows_set_aside"], report["rows_unknown"],
        report["columns"], len(unknown_columns),
        report["submissions_without_row"], report["reviewers_without_column"],
    )
    if unknown_rows.size:
        logger.warning(
            "%s: %d rows name unknown submissions: %s", path, len(unknown_rows), unknown_rows.tolist()[:20]
        )
    if unknown_columns:
        logger.warning(
            "%s: %d columns name unknown usernames: %s", path, len(unknown_columns), unknown_columns[:20]
        )
    return bids, report


def _raise_if_foreign(
    path: PathLike,
    row_ids: pd.Series,
    unknown_rows: pd.Series,
    id_column: str,
    columns: list[str],
    unknown_columns: list[str],
) -> None:
    """``InputError`` when no row names a submission, or no column a reviewer, of the conference."""
    if len(row_ids) and len(unknown_rows) == len(row_ids):
        raise InputError(
            path,
            f"none of its {len(row_ids)} rows names a submission of this conference (first: "
            f"{row_ids.iloc[0]!r}): is it the bids export of another conference?",
            row=int(row_ids.index[0]),
            column=id_column,
        )
    if columns and len(unknown_columns) == len(columns):
        raise InputError(
            path,
            f"none of its {len(columns)} reviewer columns names a reviewer's username (first: "
            f"{columns[0]!r}): is it the bids export of another conference?",
            row=1,
            column=columns[0],
        )
