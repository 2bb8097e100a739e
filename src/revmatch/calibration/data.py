"""Reading review exports (START's CSV and the like): columns, score and expertise maps,
validated cells with the CSV line of the first bad one, missing expertise and repeated
reviews handled by a named rule and counted, and the levels check of the model."""

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
# Columns read only when named: ``timestamp`` orders repeated reviews for ``last``/``first``.
OPTIONAL_COLUMNS = ("timestamp",)

# START's rating scales start at 1; a raw score ``v`` without ``score_map`` is level ``v - 1``.
LOWEST_RAW_SCORE = 1

# What happens to reviews of one submission by one reviewer that differ in score or expertise
# (identical repeats are always kept once): an error, or the last or first of them (by the
# timestamp column when named, else by line).
DUPLICATE_RULES = ("error", "last", "first")
# What happens to a scored review without expertise: an error, level 1 (``lowest``), the lower
# median level of the reviews that have one (``median``), or the review left out (``drop``).
MISSING_EXPERTISE_RULES = ("error", "lowest", "median", "drop")


def check_rule(name: str, value: str, rules: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``rules``."""
    if value not in rules:
        raise ValueError(f"{name} must be one of {rules}, got {value!r}")


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


def _read_table(path: PathLike, headers: dict[str, str]) -> pd.DataFrame:
    """The named columns (``headers``: our name -> the file's header) as stripped text, indexed
    by CSV line (header = line 1); a missing column raises ``InputError``."""
    try:
        table = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable CSV file ({exc})") from exc
    for name, header in headers.items():
        if header not in table.columns:
            raise InputError(
                path, f"missing column {header!r} ({name}); columns are {list(table.columns)}", column=header
            )
    table.index = pd.RangeIndex(2, len(table) + 2, name="line")
    table = table[list(headers.values())].apply(lambda col: col.str.strip())
    return table.set_axis(list(headers), axis=1)


def _expertise_levels(
    raw: pd.Series, expertise_map: Mapping | None, rule: str, path: PathLike, header: str
) -> tuple[pd.Series, dict[str, Any]]:
    """Expertise levels (1-based) of ``raw`` cells; empty cells (not a key of
    ``expertise_map``) follow ``rule``: ``InputError`` "missing expertise", level 1, the lower
    median of the others, or left out (NaN). Returns the levels and what was done."""
    missing = raw == ""
    if expertise_map is not None and "" in {_normalise_key(k) for k in expertise_map}:
        missing[:] = False
    report: dict[str, Any] = {"rule": rule, "missing": int(missing.sum()), "filled": 0, "dropped": 0,
                              "fill_level": None}
    if missing.any() and rule == "error":
        line = int(missing.index[np.argmax(missing.to_numpy())])
        raise InputError(
            path, f"missing expertise ({report['missing']} review(s) have none; "
            "calibration.missing_expertise lowest, median or drop accepts them)", row=line, column=header,
        )
    levels = pd.Series(np.nan, index=raw.index)
    if (~missing).any():
        levels[~missing] = _map_column(raw[~missing], expertise_map, 0, path, header, "expertise")
    below = levels < 1
    if below.any():
        line = int(levels.index[np.argmax(below.to_numpy())])
        raise InputError(
            path, f"unknown expertise level {raw[line]!r} (levels start at 1)", row=line, column=header
        )
    if missing.any() and rule in ("lowest", "median"):
        present = np.sort(levels[~missing].to_numpy())
        if rule == "median" and not len(present):
            raise InputError(path, "missing expertise in every review: no median to fill in", column=header)
        fill = 1 if rule == "lowest" else int(present[(len(present) - 1) // 2])
        levels[missing] = fill
        report.update(filled=report["missing"], fill_level=fill)
    elif missing.any():
        report["dropped"] = report["missing"]
    if report["missing"]:
        logger.warning("%s: %d review(s) without expertise: %s", path, report["missing"],
                       f"filled with level {report['fill_level']}" if report["filled"] else "left out")
    return levels, report


def _timestamps(raw: pd.Series, path: PathLike, header: str) -> pd.Series:
    """``raw`` dates and times as UTC timestamps; a cell that is none raises ``InputError``."""
    stamps = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = stamps.isna()
    if bad.any():
        line = int(bad.index[np.argmax(bad.to_numpy())])
        what = "missing timestamp" if raw[line] == "" else f"timestamp {raw[line]!r} is not a date and time"
        raise InputError(path, f"{what} (needed to order repeated reviews)", row=line, column=header)
    return stamps


def conflicting_repeats(reviews: pd.DataFrame) -> pd.Series:
    """Rows of (submission, reviewer) pairs reviewed more than once with a different score or
    expertise (identical repeats after the first left out)."""
    keys = ["submission_id", "reviewer_id"]
    distinct = ~reviews.duplicated([*keys, "score", "expertise"])
    return distinct & reviews[distinct].duplicated(keys, keep=False).reindex(reviews.index, fill_value=False)


def resolve_duplicates(
    reviews: pd.DataFrame,
    rule: str = "error",
    order: pd.Series | None = None,
    path: PathLike | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``reviews`` with one review per (submission, reviewer), and the counts.

    Identical repeats (same score and expertise) are kept once. Repeats that differ follow
    ``rule`` (``DUPLICATE_RULES``): ``"error"`` raises ``InputError`` (``ValueError`` without
    ``path``) naming the second line and the differing column; ``"last"``/``"first"`` keep the
    last/first review by ``order`` (timestamps of at least the ``conflicting_repeats`` rows;
    ties and no ``order``: by position). Counts: pairs reviewed more than once, identical rows
    removed, conflicting pairs, rows removed in all.
    """
    check_rule("calibration.duplicate_reviews", rule, DUPLICATE_RULES)
    headers = {**DEFAULT_COLUMNS, **(headers or {})}
    keys = ["submission_id", "reviewer_id"]
    repeated = reviews.duplicated(keys, keep=False)
    identical = reviews.duplicated([*keys, "score", "expertise"])
    conflicting = conflicting_repeats(reviews)[~identical]
    kept = reviews[~identical]
    report = {"rule": rule, "pairs": int(reviews[repeated].drop_duplicates(keys).shape[0]),
              "identical_removed": int(identical.sum()),
              "conflicting_pairs": int(kept[conflicting].drop_duplicates(keys).shape[0]), "removed": 0}
    if conflicting.any() and rule == "error":
        second = kept[kept.duplicated(keys)].iloc[0]
        first = kept[(kept["submission_id"] == second["submission_id"])
                     & (kept["reviewer_id"] == second["reviewer_id"])].iloc[0]
        column = "score" if first["score"] != second["score"] else "expertise"
        message = (
            f"submission {second['submission_id']!r} reviewed again by {second['reviewer_id']!r} with a "
            f"different {column} ({report['conflicting_pairs']} such pair(s)); calibration.duplicate_reviews "
            "last or first keeps one"
        )
        if path is None:
            raise ValueError(message)
        raise InputError(path, message, row=int(second.name), column=headers[column])
    if conflicting.any():
        clash = kept[conflicting]
        position = pd.Series(np.arange(len(clash)), index=clash.index)
        when = order.reindex(clash.index) if order is not None else position
        ranked = clash.assign(_order=when, _position=position)
        ranked = ranked.sort_values(["_order", "_position"], kind="stable")
        chosen = ranked.drop_duplicates(keys, keep="last" if rule == "last" else "first").index
        kept = kept[~conflicting | kept.index.isin(chosen)]
    report["removed"] = int(len(reviews) - len(kept))
    if report["pairs"]:
        logger.warning(
            "%s: %d (submission, reviewer) pair(s) reviewed more than once: %d identical repeat(s) kept "
            "once, %d pair(s) with different reviews (%s)", path or "reviews", report["pairs"],
            report["identical_removed"], report["conflicting_pairs"], rule,
        )
    return kept, report


def read_reviews(
    path: PathLike,
    columns: dict[str, str],
    score_map: dict | None = None,
    expertise_map: dict | None = None,
    n_levels: int | None = None,
    duplicate_reviews: str = "error",
    missing_expertise: str = "error",
) -> pd.DataFrame:
    """Reviews from a CSV export (e.g. START's): submission_id, reviewer_id, score, expertise.

    ``columns`` maps our names to the file's headers (missing names take ``DEFAULT_COLUMNS``,
    START's headers; ``timestamp``, optional, orders repeated reviews). ``score_map`` maps raw
    scores (text such as "5: Strong accept", or numbers) to 0-based levels; without it scores
    are integers shifted so that ``LOWEST_RAW_SCORE`` (1 on START) is level 0.
    ``expertise_map`` maps raw expertise to 1-based levels; without it expertise is an integer
    >= 1. With ``n_levels`` a score outside ``0 .. n_levels-1`` is an error. Rows with an
    empty score (review not submitted) are skipped, counted (``frame.attrs["n_skipped"]``) and
    logged. An empty expertise follows ``missing_expertise`` (``MISSING_EXPERTISE_RULES``),
    repeated reviews of a submission by a reviewer ``duplicate_reviews``
    (``resolve_duplicates``); what was done is counted in ``attrs["missing_expertise"]`` and
    ``attrs["duplicate_reviews"]``. Reviewers and submissions left with no review are listed
    (``attrs["reviewers_without_reviews"]``, ``attrs["submissions_without_reviews"]``) and
    logged. The index is the CSV line number of each review (header = line 1). Bad cells raise
    ``InputError`` naming file, line and column.
    """
    check_rule("calibration.missing_expertise", missing_expertise, MISSING_EXPERTISE_RULES)
    check_rule("calibration.duplicate_reviews", duplicate_reviews, DUPLICATE_RULES)
    columns = {**DEFAULT_COLUMNS, **(columns or {})}
    unknown = set(columns) - set(REVIEW_COLUMNS) - set(OPTIONAL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown column name(s) {sorted(unknown)}; expected {list(REVIEW_COLUMNS)}")
    headers = {name: header for name, header in columns.items() if header is not None}
    table = _read_table(path, headers)
    all_ids = table[["submission_id", "reviewer_id"]]

    empty_score = table["score"] == ""
    n_skipped = int(empty_score.sum())
    if n_skipped:
        logger.warning("%s: skipped %d review(s) with an empty score (not submitted)", path, n_skipped)
    table = table[~empty_score]
    for name in ("submission_id", "reviewer_id"):
        empty = table[name] == ""
        if empty.any():
            line = int(empty.index[np.argmax(empty)])
            raise InputError(path, f"empty {name}", row=line, column=headers[name])

    offset = 0 if score_map is not None else LOWEST_RAW_SCORE
    score = _map_column(table["score"], score_map, offset, path, headers["score"], "score")
    outside = (score < 0) | ((score >= n_levels) if n_levels is not None else False)
    if outside.any():
        line = int(table.index[np.argmax(outside)])
        scale = f"0..{n_levels - 1}" if n_levels is not None else ">= 0"
        raw = table.at[line, "score"]
        message = f"score {raw!r} is outside the scale (level {score[np.argmax(outside)]} not in {scale})"
        raise InputError(path, message, row=line, column=headers["score"])
    expertise, missing_report = _expertise_levels(
        table["expertise"], expertise_map, missing_expertise, path, headers["expertise"]
    )
    reviews = pd.DataFrame(
        {"submission_id": table["submission_id"].astype(str), "reviewer_id": table["reviewer_id"].astype(str),
         "score": score, "expertise": expertise},
        index=table.index,
    )
    reviews = reviews[reviews["expertise"].notna()].astype({"expertise": np.int64})
    order, clash = None, conflicting_repeats(reviews)
    if "timestamp" in headers and duplicate_reviews != "error" and clash.any():
        order = _timestamps(table.loc[clash[clash].index, "timestamp"], path, headers["timestamp"])
    reviews, duplicate_report = resolve_duplicates(reviews, duplicate_reviews, order, path, headers)
    reviews.attrs.update(
        n_skipped=n_skipped, missing_expertise=missing_report, duplicate_reviews=duplicate_report,
        reviewers_without_reviews=_only_in(all_ids["reviewer_id"], reviews["reviewer_id"]),
        submissions_without_reviews=_only_in(all_ids["submission_id"], reviews["submission_id"]),
    )
    for name, what in (("reviewer_id", "reviewer(s)"), ("submission_id", "submission(s)")):
        left_out = reviews.attrs[f"{name.split('_')[0]}s_without_reviews"]
        if left_out:
            logger.warning(
                "%s: %d %s with no scored review, left out of the model: %s", path, len(left_out), what,
                ", ".join(left_out[:20]) + (" ..." if len(left_out) > 20 else ""),
            )
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
