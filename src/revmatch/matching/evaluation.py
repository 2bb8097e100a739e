"""Evaluation of an assignment against bids: the share of assignments on each bid level.

Bid codes are the reference tool's: 0 = COI, 1 = No, 2 = Maybe (also the default where no
bid was made), 3 = Yes. A higher share of 3 is better; any share of 0 is an error upstream.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike, read_jsonl, write_text
from revmatch.matching.table import locate_ids, read_assignment

logger = logging.getLogger(__name__)

BID_LEVELS: dict[int, str] = {0: "COI", 1: "No", 2: "Maybe", 3: "Yes"}


def bid_counts(pairs: np.ndarray, bids: np.ndarray) -> dict[int, int]:
    """Number of assigned (paper, reviewer) ``pairs`` (n, 2) on each bid level 0..3."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    levels = np.asarray(bids)[pairs[:, 0], pairs[:, 1]].astype(np.int64)
    outside = ~np.isin(levels, list(BID_LEVELS))
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} assigned pair(s) have a bid outside 0..3 (first: {levels[outside][0]})"
        )
    counts = np.bincount(levels, minlength=len(BID_LEVELS))
    return {level: int(counts[level]) for level in BID_LEVELS}


def bid_shares(pairs: np.ndarray, bids: np.ndarray) -> dict[int, float]:
    """Share of the assigned ``pairs`` on each bid level 0..3 (the reference tool's ``ratio_b``).

    The shares sum to 1; with no assignments they are all 0.
    """
    counts = bid_counts(pairs, bids)
    total = sum(counts.values())
    if total == 0:
        logger.warning("no assignments to evaluate")
        return {level: 0.0 for level in counts}
    return {level: count / total for level, count in counts.items()}


def format_evaluation(shares: dict[int, float], counts: dict[int, int], extra: dict) -> str:
    """Readable evaluation: one ``Ratio of b`` line per bid level, then the ``extra`` statistics."""
    lines = ["Share of assignments per bid level (higher share of 3 = Yes is better)"]
    for level, label in BID_LEVELS.items():
        share, count = shares.get(level, 0.0), counts.get(level, 0)
        lines.append(f"Ratio of {level} ({label}): {share:.4f} ({count} assignments)")
    if extra:
        lines.append("")
        width = max(len(str(key)) for key in extra)
        for key, value in extra.items():
            text = f"{value:.4f}" if isinstance(value, float) else str(value)
            lines.append(f"{str(key):<{width}}  {text}")
    return "\n".join(lines) + "\n"


def assignment_statistics(assignment: pd.DataFrame, pairs: np.ndarray, n_papers: int) -> dict:
    """Score and load statistics of an assignment."""
    loads = np.bincount(pairs[:, 1]) if len(pairs) else np.zeros(0, dtype=np.int64)
    used = loads[loads > 0]
    per_paper = np.bincount(pairs[:, 0], minlength=n_papers)
    return {
        "assignments": int(len(pairs)),
        "submissions": int(n_papers),
        "submissions without reviewers": int((per_paper == 0).sum()),
        "mean score": float(assignment["score"].mean()) if len(assignment) else 0.0,
        "min score": float(assignment["score"].min()) if len(assignment) else 0.0,
        "reviewers assigned": int(len(used)),
        "min load": int(used.min()) if len(used) else 0,
        "mean load": float(used.mean()) if len(used) else 0.0,
        "max load": int(used.max()) if len(used) else 0,
    }


def evaluate_file(
    assignment_file: PathLike,
    submissions_jsonl: PathLike,
    reviewers_jsonl: PathLike,
    bids_npy: PathLike,
    out_txt: PathLike,
) -> dict[int, float]:
    """Evaluate an assignment table against a bid matrix; write the readable report."""
    assignment = read_assignment(assignment_file)
    submissions = read_jsonl(submissions_jsonl)
    reviewers = read_jsonl(reviewers_jsonl)
    bids = np.load(bids_npy)
    if bids.shape != (len(submissions), len(reviewers)):
        expected = (len(submissions), len(reviewers))
        raise InputError(bids_npy, f"shape {bids.shape} does not match {expected} (submissions x reviewers)")
    pairs = locate_ids(assignment, submissions, reviewers, path=assignment_file)
    counts = bid_counts(pairs, bids)
    shares = bid_shares(pairs, bids)
    if counts[0]:
        logger.warning("%d assignment(s) fall on a COI bid", counts[0])
    statistics = assignment_statistics(assignment, pairs, len(submissions))
    write_text(format_evaluation(shares, counts, statistics), out_txt)
    logger.info("bid shares: %s", ", ".join(f"{level}: {share:.3f}" for level, share in shares.items()))
    return shares
