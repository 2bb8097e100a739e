"""Reviewers' review quotas: a quotas CSV read by username, and quota cells checked."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revmatch.conference.numbers import count_rule
from revmatch.conference.start_csv import (
    _duplicates_error,
    _raise_if_empty,
    _stripped,
    find_columns,
    read_csv_export,
    short_rows_report,
)
from revmatch.io import PathLike

logger = logging.getLogger(__name__)

QUOTA_COLUMNS = {"username": "Username", "quota": "Quota for Review|QuotaForReview|Quota"}
#: A review quota: papers a reviewer can take (``None`` is 0, an empty cell no quota).
QUOTA = count_rule("quota")


def read_quotas(path: PathLike, reviewer_ids: list[str]) -> tuple[dict[str, int], dict]:
    """Read per-reviewer quotas (``Username``, ``Quota for Review|QuotaForReview|Quota``).

    An empty cell means no quota (the reviewer is absent from the result), ``None`` means
    0; anything else must be a whole number from 0 to ``MAX_COUNT`` (else ``InputError``
    naming the row, also in a row of an unknown username). Rows of unknown usernames are
    ignored and counted in the returned report, as are rows shorter than the header.
    """
    frame = read_csv_export(path)
    cols = find_columns(frame, QUOTA_COLUMNS, path)
    usernames = _stripped(frame, cols["username"])
    _raise_if_empty(path, usernames, "Username", cols["username"])
    error = _duplicates_error(path, usernames, "Username", cols["username"])
    if error is not None:
        raise error
    cells = quota_cells(_stripped(frame, cols["quota"]), path, cols["quota"])
    known = usernames.isin(reviewer_ids)
    given = known & cells.notna()
    quotas = {str(u): int(q) for u, q in zip(usernames[given], cells[given])}
    stats = {
        "rows": len(frame),
        "quotas": 0,
        "empty": int((known & cells.isna()).sum()),
        "none": int((known & (_stripped(frame, cols["quota"]).str.casefold() == "none")).sum()),
        "unknown_usernames": usernames[~known].tolist(),
        **short_rows_report(frame),
    }
    stats["quotas"] = len(quotas)
    stats["reviewers_without_quota"] = len(set(reviewer_ids) - set(quotas))
    logger.info(
        "%s: %d quotas (%d 'None' = 0), %d empty, %d unknown usernames ignored",
        path, stats["quotas"], stats["none"], stats["empty"], len(stats["unknown_usernames"]),
    )
    return quotas, stats


def with_quotas(reviewers: list[dict], quotas: dict[str, int]) -> int:
    """Set ``quota`` of the reviewers named in ``quotas`` (in place); return how many changed."""
    changed = 0
    for reviewer in reviewers:
        quota = quotas.get(reviewer["id"])
        if quota is not None:
            changed += reviewer.get("quota") not in (None, quota)
            reviewer["quota"] = quota
    if changed:
        logger.info("quotas file replaced %d profile quotas", changed)
    return changed


def quota_cells(values: pd.Series, path: PathLike, column: str | None) -> pd.Series:
    """Quota cells (stripped text, index = rows) -> quotas: empty -> missing (``None``: the default
    maximum), ``None`` -> 0, else a count checked by ``QUOTA`` (``InputError`` at the first bad one)."""
    quotas = np.full(len(values), None, dtype=object)
    folded = values.str.casefold().to_numpy(dtype=object)
    numbers = (values != "").to_numpy() & (folded != "none")
    quotas[folded == "none"] = 0
    if numbers.any():
        quotas[numbers] = QUOTA.check(values[numbers], path, column).tolist()
    quotas = pd.Series(quotas, index=values.index, dtype=object)
    return quotas
