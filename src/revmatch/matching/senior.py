"""The senior-reviewer side constraint: at least ``m`` senior reviewers per paper
(sum over senior r of x[p, r] >= m), one group of ``revmatch.matching.side_rows``.

It breaks the total unimodularity of the assignment LP, so a problem with senior rows is
solved as a mixed-integer program by HiGHS, and its gap is reported. A reviewer is senior
with at least ``matching.senior_min_papers`` papers in the corpus.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from revmatch.conference import submission_ids
from revmatch.log import MAX_NAMED
from revmatch.matching.side_rows import GroupRows

logger = logging.getLogger(__name__)


def senior_group(senior: np.ndarray, need: np.ndarray) -> GroupRows:
    """The group rows "at least ``need[p]`` of paper p's reviewers are ``senior``" (R,) bool."""
    senior = np.asarray(senior, dtype=bool)
    need = np.asarray(need, dtype=np.int64)
    return GroupRows(
        name="senior", group=np.where(senior, 0, -1).astype(np.int64), labels=("senior",),
        lower=need, upper=np.full(len(need), np.inf),
    )


def senior_constraint(
    allowed: np.ndarray,
    submissions: list[dict],
    senior: np.ndarray | None,
    min_senior_per_paper: int,
    reviews_per_paper: int,
) -> GroupRows | None:
    """The per-paper senior-reviewer rows, or None when ``min_senior_per_paper`` is 0.

    A paper with fewer allowed senior reviewers than required needs only those it has; such
    papers are named in a warning.
    """
    if min_senior_per_paper <= 0:
        return None
    if senior is None:
        raise ValueError("min_senior_per_paper > 0 needs the senior flag of every reviewer")
    senior = np.asarray(senior, dtype=bool)
    if senior.shape != (allowed.shape[1],):
        raise ValueError(f"senior has shape {senior.shape}, expected ({allowed.shape[1]},)")
    wanted = min(int(min_senior_per_paper), int(reviews_per_paper))
    available = (allowed & senior[None, :]).sum(axis=1)
    need = np.minimum(available, wanted).astype(np.int64)
    short = np.flatnonzero(need < wanted)
    logger.info(
        "%d senior reviewer(s); every paper needs %d of them", int(senior.sum()), wanted
    )
    if len(short):
        ids = submission_ids(submissions)
        logger.warning(
            "%d paper(s) have fewer than %d allowed senior reviewers and get those they have: %s",
            len(short), wanted, ", ".join(ids[p] for p in short[:MAX_NAMED]),
        )
    return senior_group(senior, need)


def senior_reviewers(authorship: sp.csr_matrix, min_corpus_papers: int) -> np.ndarray:
    """(R,) bool: reviewers with at least ``min_corpus_papers`` papers in the corpus."""
    return np.diff(sp.csr_matrix(authorship).indptr) >= int(min_corpus_papers)
