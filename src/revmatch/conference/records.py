"""START records as the matching sees them: submission and reviewer ids, reviewers' load bounds."""

from __future__ import annotations

import logging

import numpy as np

from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)


def submission_ids(submissions: list[dict]) -> list[str]:
    """START submission ids (``id``, else ``startSubmissionId``) as strings."""
    keys = ("id", "startSubmissionId")
    return [_record_id(rec, keys, "submission", i) for i, rec in enumerate(submissions)]


def reviewer_ids(reviewers: list[dict]) -> list[str]:
    """START usernames (``id``, else ``startUsername``) as strings."""
    keys = ("id", "startUsername")
    return [_record_id(rec, keys, "reviewer", i) for i, rec in enumerate(reviewers)]


def _record_id(record: dict, keys: tuple[str, ...], what: str, index: int) -> str:
    for key in keys:
        value = record.get(key)
        if value is not None and str(value) != "":
            return str(value)
    raise ValueError(f"{what} {index} has none of the keys {', '.join(keys)}")


def reviewer_load_bounds(
    reviewers: list[dict],
    max_papers_per_reviewer: int,
    min_papers_per_reviewer: int = 0,
    quotas: dict[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(max_load, min_load) per reviewer.

    A quota replaces the maximum for its reviewer, as in the reference tool, even when it is
    larger (logged as a warning); the minimum is then capped at the quota.
    """
    n_reviewers = len(reviewers)
    max_load = np.full(n_reviewers, int(max_papers_per_reviewer), dtype=np.int64)
    min_load = np.full(n_reviewers, int(min_papers_per_reviewer), dtype=np.int64)
    if quotas:
        ids = reviewer_ids(reviewers)
        position = {rid: j for j, rid in enumerate(ids)}
        unknown = sorted(set(quotas) - set(position))
        if unknown:
            logger.warning(
                "%d quota(s) name no reviewer and are ignored: %s",
                len(unknown),
                ", ".join(unknown[:MAX_NAMED]),
            )
        known = [(position[rid], int(q)) for rid, q in quotas.items() if rid in position]
        if known:
            index, quota = (np.array(column, dtype=np.int64) for column in zip(*known))
            above = quota > max_papers_per_reviewer
            if above.any():
                raised = zip(index[above][:MAX_NAMED], quota[above][:MAX_NAMED])
                logger.warning(
                    "%d quota(s) exceed max_papers_per_reviewer=%d and replace it: %s",
                    int(above.sum()),
                    max_papers_per_reviewer,
                    ", ".join(f"{ids[j]} ({max_load[j]} -> {q})" for j, q in raised),
                )
            max_load[index] = quota
            min_load[index] = np.minimum(min_load[index], quota)
            logger.info("quotas set the maximum load of %d reviewer(s)", len(known))
    return max_load, min_load
