"""Reading review exports (START's CSV and the like): columns, score and expertise maps,
validated cells with the CSV line of the first bad one, and the levels check of the model."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike

logger = logging.getLogger(__name__)

DEFAULT_COLUMNS: dict[str, str] = {
    "submission_id": "Submission ID",
    "reviewer_id": "Reviewer Username",
    "score": "Overall Recommendation",
    "expertise": "Reviewer Expertise",
}

REVIEW_COLUMNS = ("submission_id", "reviewer_id", "score", "expertise")

# START's rating scales start at 1; a raw score ``v`` without ``score_map`` is level ``v - 1``.
LOWEST_RAW_SCORE = 1


def _normalise_key(value: Any) -> str:
    """A map key or raw cell as text; integral numbers as integers ("5", 5, 5.0 -> "5")."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _map_column(
    raw: pd.Series, mapping: Mapping | None, offset: int, path: PathLike, header: str, what: str
) -> np.ndarray:
    """Raw cells -> integers through ``mapping`` or as integers minus ``offset``; the first bad
    cell raises ``InputError`` naming its CSV line."""
    keys = raw.map(_normalise_key)
    if mapping is not None:
        lookup = {_normalise_key(k): v for k, v in mapping.items()}
        values = keys.map(lookup)
        bad = values.isna()
        reason = f"{what} {{!r}} is not in the {what} map (known: {sorted(lookup)})"
    else:
        values = pd.to_numeric(keys, errors="coerce")
        bad = values.isna() | (values != values.round())
        reason = f"{what} {{!r}} is not an integer"
    if mapping is not None and not bad.any():
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any() or (numeric != numeric.round()).any():
            raise ValueError(f"the {what} map must map to integers, got {sorted(set(values), key=str)}")
    if bad.any():
        line = bad.index[np.argmax(bad.to_numpy())]
        raise InputError(path, reason.format(raw[line]), row=int(line), column=header)
    return values.astype(np.int64).to_numpy() - offset


def _only_in(values: pd.Series, others: pd.Series) -> list[str]:
    """Distinct non-empty ``values`` that are not among ``others``, in order of appearance."""
    missing = values[(values != "") & ~values.isin(set(others))]
    return list(dict.fromkeys(missing))


def read_reviews(
    path: PathLike,
    columns: dict[str, str],
    score_map: dict | None = None,
    expertise_map: dict | None = None,
    n_levels: int | None = None,
) -> pd.DataFrame:
    """Reviews from a CSV export (e.g. START's): submission_id, reviewer_id, score, expertise.

    ``columns`` maps our names to the file's headers (missing names take ``DEFAULT_COLUMNS``,
    START's headers). ``score_map`` maps raw scores (text such as "5: Strong accept", or
    numbers) to 0-based levels; without it scores are integers shifted so that
    ``LOWEST_RAW_SCORE`` (1 on START) is level 0. ``expertise_map`` maps raw expertise to
    1-based levels; without it expertise is an integer >= 1. With ``n_levels`` a score outside
    ``0 .. n_levels-1`` is an error. Rows with an empty score (review not submitted) are
    skipped, counted (``frame.attrs["n_skipped"]``) and logged; reviewers and submissions
    left with no scored review are listed (``attrs["reviewers_without_reviews"]``,
    ``attrs["submissions_without_reviews"]``) and logged. The index is the CSV line
    number of each review (header = line 1). Bad cells raise ``InputError`` naming file, line
    and column.
    """
    columns = {**DEFAULT_COLUMNS, **(columns or {})}
    unknown = set(columns) - set(REVIEW_COLUMNS)
    if unknown:
        raise ValueError(f"unknown column name(s) {sorted(unknown)}; expected {list(REVIEW_COLUMNS)}")
    try:
        table = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable CSV file ({exc})") from exc
    for name in REVIEW_COLUMNS:
        if columns[name] not in table.columns:
            raise InputError(
                path, f"missing column {columns[name]!r} ({name}); columns are {list(table.columns)}",
                column=columns[name],
            )
    table.index = pd.RangeIndex(2, len(table) + 2, name="line")
    table = table[[columns[name] for name in REVIEW_COLUMNS]].apply(lambda col: col.str.strip())

    empty_score = table[columns["score"]] == ""
    n_skipped = int(empty_score.sum())
    if n_skipped:
        logger.warning("%s: skipped %d review(s) with an empty score (not submitted)", path, n_skipped)
    unreviewed = {
        name: _only_in(table.loc[empty_score, columns[name]], table.loc[~empty_score, columns[name]])
        for name in ("submission_id", "reviewer_id")
    }
    for name, what in (("reviewer_id", "reviewer(s)"), ("submission_id", "submission(s)")):
        if unreviewed[name]:
            logger.warning(
                "%s: %d %s with no scored review, left out of the model: %s", path, len(unreviewed[name]),
                what, ", ".join(unreviewed[name][:20]) + (" ..." if len(unreviewed[name]) > 20 else ""),
            )
    table = table[~empty_score]
    for name in ("submission_id", "reviewer_id"):
        empty = table[columns[name]] == ""
        if empty.any():
            line = int(empty.index[np.argmax(empty)])
            raise InputError(path, f"empty {name}", row=line, column=columns[name])

    offset = 0 if score_map is not None else LOWEST_RAW_SCORE
    score = _map_column(table[columns["score"]], score_map, offset, path, columns["score"], "score")
    outside = (score < 0) | ((score >= n_levels) if n_levels is not None else False)
    if outside.any():
        line = int(table.index[np.argmax(outside)])
        scale = f"0..{n_levels - 1}" if n_levels is not None else ">= 0"
        raw = table.at[line, columns["score"]]
        message = f"score {raw!r} is outside the scale (level {score[np.argmax(outside)]} not in {scale})"
        raise InputError(path, message, row=line, column=columns["score"])
    expertise = _map_column(
        table[columns["expertise"]], expertise_map, 0, path, columns["expertise"], "expertise"
    )
    below = expertise < 1
    if below.any():
        line = int(table.index[np.argmax(below)])
        raise InputError(
            path, f"unknown expertise level {table.at[line, columns['expertise']]!r} (levels start at 1)",
            row=line, column=columns["expertise"],
        )
    reviews = pd.DataFrame(
        {
            "submission_id": table[columns["submission_id"]].astype(str),
            "reviewer_id": table[columns["reviewer_id"]].astype(str),
            "score": score,
            "expertise": expertise,
        },
        index=table.index,
    )
    repeated = reviews.duplicated(["submission_id", "reviewer_id"])
    if repeated.any():
        logger.warning("%s: %d repeated (submission, reviewer) review(s), kept", path, int(repeated.sum()))
    reviews.attrs["n_skipped"] = n_skipped
    reviews.attrs["reviewers_without_reviews"] = unreviewed["reviewer_id"]
    reviews.attrs["submissions_without_reviews"] = unreviewed["submission_id"]
    logger.info(
        "%s: %d reviews of %d submissions by %d reviewers", path, len(reviews),
        reviews["submission_id"].nunique(), reviews["reviewer_id"].nunique(),
    )
    return reviews


def check_levels(
    reviews: pd.DataFrame,
    n_levels: int,
    n_expertise: int,
    path: PathLike | None = None,
    columns: Mapping[str, str] | None = None,
) -> None:
    """Raise on a score outside ``0..n_levels-1`` or an expertise outside ``1..n_expertise``:
    ``InputError`` naming the CSV line (the index of ``read_reviews``) and the file's header
    (``columns``) when ``path`` is given, else ``ValueError``."""
    headers = {**DEFAULT_COLUMNS, **(columns or {})}
    for name, low, high in (("score", 0, n_levels - 1), ("expertise", 1, n_expertise)):
        values = reviews[name].to_numpy()
        bad = (values < low) | (values > high)
        if bad.any():
            first = int(np.argmax(bad))
            message = f"{name} {values[first]} outside {low}..{high}"
            if name == "expertise":
                message = f"unknown expertise level {values[first]} (levels are {low}..{high})"
            if path is not None:
                raise InputError(path, message, row=int(reviews.index[first]), column=headers[name])
            raise ValueError(f"review {first}: {message}")
