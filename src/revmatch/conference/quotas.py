"""Reviewers' review quotas: a quotas CSV read by username, and quota cells checked."""

from __future__ import annotations

import logging

import numpy as np

from revmatch.conference.start_csv import (
    _duplicates_error,
    _raise_if_empty,
    _stripped,
    find_columns,
    read_csv_export,
)
from revmatch.io import InputError, PathLike

logger = logging.getLogger(__name__)

QUOTA_COLUMNS = {"username": "Username", "quota": "Quota for Review|QuotaForReview|Quota"}


def read_quotas(path: PathLike, reviewer_ids: list[str]) -> tuple[dict[str, int], dict]:
    """Read per-reviewer quotas (``Username``, ``Quota for Review|QuotaForReview|Quota``).

    An empty cell means no quota (the reviewer is absent from the result), ``None`` means
    0; anything else must be a non-negative integer (else ``InputError``). Rows of unknown
    usernames are ignored and counted in the returned report.
    """
    frame = read_csv_export(path)
    cols = find_columns(frame, QUOTA_COLUMNS, path)
    usernames = _stripped(frame, cols["username"])
    _raise_if_empty(path, usernames, "Username", cols["username"])
    error = _duplicates_error(path, usernames, "Username", cols["username"])
    if error is not None:
        raise error
    values = _stripped(frame, cols["quota"])
    known = set(reviewer_ids)
    quotas: dict[str, int] = {}
    stats = {"rows": len(frame), "quotas": 0, "empty": 0, "none": 0, "unknown_usernames": []}
    for row in frame.index:
        username, value = usernames[row], values[row]
        if username not in known:
            stats["unknown_usernames"].append(username)
            continue
        if value == "":
            stats["empty"] += 1
            continue
        if value.casefold() == "none":
            stats["none"] += 1
            quotas[username] = 0
            continue
        quotas[username] = _parse_quota(value, path, row, cols["quota"])
    stats["quotas"] = len(quotas)
    stats["reviewers_without_quota"] = len(known - set(quotas))
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


def _parse_quota(value: str, path: PathLike, row: int, column: str) -> int:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number) or number != int(number) or number < 0:
        raise InputError(path, f"quota {value!r} is not a non-negative integer", row=row, column=column)
    return int(number)
