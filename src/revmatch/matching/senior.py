"""Senior reviewers: who is senior (at least ``matching.senior_min_papers`` corpus papers), and
the group rows "at least ``m`` senior reviewers per paper" of ``revmatch.matching.side_rows``.

``min_senior_per_paper`` reaches the program as the attribute constraint
``{attribute: senior, value: true, min: m}`` (``revmatch.matching.attributes``, where a paper
with fewer allowed seniors gets those it has); the rows break total unimodularity, so the
program is a MIP, its gap reported.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from revmatch.matching.side_rows import GroupRows


def senior_group(senior: np.ndarray, need: np.ndarray) -> GroupRows:
    """The group rows "at least ``need[p]`` of paper p's reviewers are ``senior``" (R,) bool."""
    senior = np.asarray(senior, dtype=bool)
    need = np.asarray(need, dtype=np.int64)
    return GroupRows(
        name="senior", group=np.where(senior, 0, -1).astype(np.int64), labels=("senior",),
        lower=need, upper=np.full(len(need), np.inf),
    )


def senior_reviewers(authorship: sp.csr_matrix, min_corpus_papers: int) -> np.ndarray:
    """(R,) bool: reviewers with at least ``min_corpus_papers`` papers in the corpus."""
    return np.diff(sp.csr_matrix(authorship).indptr) >= int(min_corpus_papers)
