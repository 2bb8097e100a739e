"""Reviewer scores from paper similarities: aggregate a reviewer's papers per submission.

For submission p and reviewer r with corpus papers S_r, let s1 >= s2 >= ... be the
similarities of r's papers to p. The aggregators are:

- ``weighted_top3`` (default): s1 + s2/2 + s3/3, missing terms 0 (the documented formula);
- ``max``: s1;
- ``mean``: mean over all of r's papers;
- ``topk_mean``: mean of s1..sk (of all of them when r has fewer than k papers);
- ``weighted_topk``: sum of s_i / i for i <= k, missing terms 0;
- ``reference_weighted_top3``: what the reference code computes, to reproduce old runs:
  r's papers plus one zero per corpus paper r did not author are sorted, and the best
  three t1 >= t2 >= t3 are weighted t3 + t2/2 + t1/3 (the third best gets weight 1;
  negative similarities are clamped at 0 by the zero fill).

Reviewers without corpus papers score 0 for every submission (counted and logged).

The computation is one pass over the CSR incidence (reviewers x papers), which lists each
reviewer's papers as a contiguous segment: a compiled kernel (numba, parallel over
submissions) keeps the best ``depth`` similarities of every segment with an insertion into
a short sorted buffer, reading each similarity once and gathering nothing. The pure numpy
path (``segment_top_values``: segments grouped by length, one ``np.partition`` per group)
gives the same values and serves as its reference.
"""

from __future__ import annotations

import logging

import numba
import numpy as np
import scipy.sparse as sp

from revmatch.log import progress

logger = logging.getLogger(__name__)

AGGREGATORS: dict[str, str] = {
    "weighted_top3": "s1 + s2/2 + s3/3 (missing terms 0)",
    "max": "s1, the best similarity",
    "mean": "mean similarity over all of the reviewer's papers",
    "topk_mean": "mean of the k best similarities",
    "weighted_topk": "sum of s_i / i over the k best (missing terms 0)",
    "reference_weighted_top3": "the reference code's t3 + t2/2 + t1/3 with zero-filled non-authored papers",
}

#: Most gathered similarities held at once (float32 values; temporaries take a few times more).
MAX_BLOCK_VALUES = 1 << 26


def check_method(method: str, k: int = 3) -> None:
    """Raise ``ValueError`` for an unknown aggregator or a bad ``k``."""
    if method not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {method!r}; choose one of {', '.join(AGGREGATORS)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def depth_of(method: str, k: int = 3) -> int | None:
    """Number of best similarities a method needs per reviewer (None: all of them)."""
    return {
        "weighted_top3": 3,
        "max": 1,
        "mean": None,
        "topk_mean": int(k),
        "weighted_topk": int(k),
        "reference_weighted_top3": 3,
    }[method]


def segment_top_values(values: np.ndarray, starts: np.ndarray, depth: int) -> np.ndarray:
    """Best ``depth`` values of every segment of every row, in descending order.

    ``values`` is (b, nnz), cut into contiguous non-empty segments beginning at ``starts``.
    Returns (b, n_segments, depth) float64 with ``-inf`` where a segment has fewer than
    ``depth`` values. Segments are grouped by length (powers of two) and each group is
    gathered into a padded (b, segments, width) array, so the best values come from one
    ``np.partition`` and a short sort per group, with at most twice the values gathered.
    """
    n_rows, nnz = values.shape
    if depth == 1:  # one segment reduction is cheaper than gathering
        return np.maximum.reduceat(values, starts, axis=1).astype(np.float64)[:, :, None]
    lengths = np.diff(np.append(starts, nnz))
    top = np.full((n_rows, len(starts), depth), -np.inf, dtype=np.float64)
    padded = np.empty((n_rows, nnz + 1), dtype=values.dtype)
    padded[:, :nnz] = values
    padded[:, nnz] = -np.inf  # the padding column
    group = np.ceil(np.log2(lengths)).astype(np.int64)
    for g in np.unique(group):
        segs = np.flatnonzero(group == g)
        width = int(lengths[segs].max())
        offsets = np.arange(width)
        index = np.where(offsets < lengths[segs, None], starts[segs, None] + offsets, nnz)
        gathered = padded[:, index]  # (b, len(segs), width)
        kept = min(depth, width)
        if width > kept:
            gathered = np.partition(gathered, width - kept, axis=2)[:, :, width - kept :]
        top[:, segs, :kept] = -np.sort(-gathered, axis=2)
    return top


@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_top_values(rows: np.ndarray, indptr: np.ndarray, indices: np.ndarray, top: np.ndarray) -> None:
    """Fill ``top`` (b, n, depth), pre-set to -inf, with each segment's best values, descending.

    Segment ``s`` of row ``i`` is ``rows[i, indices[indptr[s]:indptr[s + 1]]]``.
    """
    depth = top.shape[2]
    for i in numba.prange(rows.shape[0]):
        row = rows[i]
        best = top[i]
        for s in range(indptr.shape[0] - 1):
            buffer = best[s]
            for j in range(indptr[s], indptr[s + 1]):
                value = np.float64(row[indices[j]])
                if value > buffer[depth - 1]:
                    t = depth - 1
                    while t > 0 and buffer[t - 1] < value:
                        buffer[t] = buffer[t - 1]
                        t -= 1
                    buffer[t] = value


@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_top3(rows: np.ndarray, indptr: np.ndarray, indices: np.ndarray, top: np.ndarray) -> None:
    """``_csr_top_values`` for depth <= 3, the best values held in registers."""
    depth = top.shape[2]
    for i in numba.prange(rows.shape[0]):
        row = rows[i]
        for s in range(indptr.shape[0] - 1):
            first = second = third = -np.inf
            for j in range(indptr[s], indptr[s + 1]):
                value = np.float64(row[indices[j]])
                if value > third:
                    if value > second:
                        third = second
                        if value > first:
                            second = first
                            first = value
                        else:
                            second = value
                    else:
                        third = value
            top[i, s, 0] = first
            if depth > 1:
                top[i, s, 1] = second
            if depth > 2:
                top[i, s, 2] = third


@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_sums(rows: np.ndarray, indptr: np.ndarray, indices: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (b, n) with each segment's sum in float64, in index order."""
    for i in numba.prange(rows.shape[0]):
        row = rows[i]
        for s in range(indptr.shape[0] - 1):
            total = 0.0
            for j in range(indptr[s], indptr[s + 1]):
                total += np.float64(row[indices[j]])
            out[i, s] = total


def csr_top_values(rows: np.ndarray, indptr: np.ndarray, indices: np.ndarray, depth: int) -> np.ndarray:
    """Best ``depth`` values (b, n, depth) float64, descending, of the n CSR segments of every row.

    The compiled equivalent of ``segment_top_values(rows[:, indices], indptr[:-1], depth)``;
    ``-inf`` where a segment has fewer than ``depth`` values.
    """
    top = np.full((rows.shape[0], len(indptr) - 1, depth), -np.inf, dtype=np.float64)
    kernel = _csr_top3 if depth <= 3 else _csr_top_values
    kernel(np.ascontiguousarray(rows), indptr.astype(np.int64), indices.astype(np.int64), top)
    return top


def csr_means(rows: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Mean (b, n) float64 of the n non-empty CSR segments of every row."""
    sums = np.empty((rows.shape[0], len(indptr) - 1), dtype=np.float64)
    _csr_sums(np.ascontiguousarray(rows), indptr.astype(np.int64), indices.astype(np.int64), sums)
    return sums / np.diff(indptr)


def combine_top_values(top: np.ndarray, method: str, counts: np.ndarray, n_papers: int) -> np.ndarray:
    """Reviewer scores (b, n) from the best values ``top`` (b, n, depth), per method.

    ``counts`` is the number of corpus papers of each of the n reviewers and ``n_papers``
    the number of corpus papers (for the reference variant's zero fill).
    """
    present = np.isfinite(top)
    if method == "max":
        return top[:, :, 0]
    if method in ("weighted_top3", "weighted_topk"):
        weights = 1.0 / np.arange(1, top.shape[2] + 1)
        return _sum_ranks(np.where(present, top, 0.0) * weights)
    if method == "topk_mean":
        used = np.minimum(counts, top.shape[2])
        return _sum_ranks(np.where(present, top, 0.0)) / used
    if method == "reference_weighted_top3":
        depth = top.shape[2]
        zeros = np.arange(depth) < np.minimum(n_papers - counts, depth)[:, None]  # (n, depth)
        filler = np.broadcast_to(np.where(zeros, 0.0, -np.inf), top.shape)
        merged = -np.sort(-np.concatenate([top, filler], axis=2), axis=2)[:, :, :depth]
        weights = 1.0 / np.arange(depth, 0, -1)  # best gets 1/depth, depth-th best gets 1
        return _sum_ranks(np.where(np.isfinite(merged), merged, 0.0) * weights)
    raise ValueError(f"{method!r} is not a top-value aggregator")


def _sum_ranks(terms: np.ndarray) -> np.ndarray:
    """Sum over the last axis, best rank first (a fixed order, as a hand-written loop would)."""
    total = np.zeros(terms.shape[:2], dtype=np.float64)
    for rank in range(terms.shape[2]):
        total += terms[:, :, rank]
    return total


def aggregate_scores(
    paper_scores: np.ndarray,
    authorship: sp.csr_matrix,
    method: str = "weighted_top3",
    k: int = 3,
    block_rows: int = 256,
) -> np.ndarray:
    """Reviewer scores (P, R) float32 from submission x paper similarities (P, D).

    ``authorship`` is the (R, D) reviewer x paper incidence. Submissions are processed in
    blocks of at most ``block_rows`` rows (fewer when the incidence is large, so that a block
    gathers at most ``MAX_BLOCK_VALUES`` similarities). Reviewers without papers score 0.
    """
    check_method(method, k)
    if paper_scores.ndim != 2:
        raise ValueError(f"paper_scores must be 2-d, got shape {paper_scores.shape}")
    authorship = sp.csr_matrix(authorship, dtype=bool)
    authorship.sum_duplicates()
    authorship.sort_indices()
    n_submissions, n_papers = paper_scores.shape
    n_reviewers = authorship.shape[0]
    if authorship.shape[1] != n_papers:
        raise ValueError(
            f"authorship has {authorship.shape[1]} paper columns but paper_scores has {n_papers}"
        )
    counts = np.diff(authorship.indptr)
    with_papers = np.flatnonzero(counts > 0)
    if len(with_papers) < n_reviewers:
        logger.warning(
            "%d of %d reviewers have no corpus paper and score 0", n_reviewers - len(with_papers), n_reviewers
        )
    out = np.zeros((n_submissions, n_reviewers), dtype=np.float32)
    if len(with_papers) == 0 or n_submissions == 0:
        return out

    segments = authorship[with_papers]
    indptr, indices = segments.indptr.astype(np.int64), segments.indices.astype(np.int64)
    depth = depth_of(method, k)
    per_row = len(with_papers) * (depth or 1)  # float64 results held per submission
    rows_per_block = max(1, min(int(block_rows), MAX_BLOCK_VALUES // max(per_row, n_papers)))
    block_starts = range(0, n_submissions, rows_per_block)
    for lo in progress(block_starts, desc=f"aggregate ({method})", total=len(block_starts), unit="block"):
        hi = min(lo + rows_per_block, n_submissions)
        rows = np.asarray(paper_scores[lo:hi], dtype=np.float32)
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            bad = lo + int(np.flatnonzero(~finite)[0])
            raise ValueError(f"paper_scores row {bad} holds a non-finite similarity")
        if depth is None:
            scores = csr_means(rows, indptr, indices)
        else:
            top = csr_top_values(rows, indptr, indices, depth)
            scores = combine_top_values(top, method, counts[with_papers], n_papers)
        out[lo:hi, with_papers] = scores
    return out
