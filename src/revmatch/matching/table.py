"""The assignment table (submission_id, track, reviewer_id, score, rank, reason): built from a solution,
read back from CSV or Parquet, and located against the conference's ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, submission_ids
from revmatch.io import InputError, PathLike
from revmatch.matching.eligibility import paper_tracks
from revmatch.matching.problem import Assignment

ASSIGNMENT_COLUMNS = ["submission_id", "track", "reviewer_id", "score", "rank", "reason"]


def assignment_table(
    result: Assignment,
    submissions: list[dict],
    reviewers: list[dict],
    scores: np.ndarray,
    reasons: dict[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """The assignment as (submission_id, track, reviewer_id, score, rank, reason) rows, best first
    per submission; ``reason`` is the chair's reason for a forced pair (by (submission id,
    reviewer id)), '' elsewhere."""
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
    reasons = reasons or {}
    table["reason"] = [
        reasons.get(key, "") for key in zip(table["submission_id"].astype(str), table["reviewer_id"].astype(str))
    ]
    return table.astype({"submission_id": str, "track": str, "reviewer_id": str})


def read_assignment(path: PathLike) -> pd.DataFrame:
    """Read an assignment table (CSV or Parquet) with columns ``ASSIGNMENT_COLUMNS`` (``reason``
    may be absent: '')."""
    path = Path(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "reason" not in frame.columns:
        frame["reason"] = ""
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}")
    frame = frame[ASSIGNMENT_COLUMNS].astype({"submission_id": str, "track": str, "reviewer_id": str, "reason": str})
    for column, kind in (("score", float), ("rank", int)):
        converted = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(converted.isna().to_numpy())
        if len(bad):
            value = frame[column].iloc[bad[0]]
            raise InputError(path, f"not a number: {value!r}", row=int(bad[0]) + 2, column=column)
        frame[column] = converted.astype(kind)
    return frame


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
