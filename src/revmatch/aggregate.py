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

The computation is vectorised over reviewers: the CSR incidence (reviewers x papers)
lists each reviewer's papers as a contiguous segment, a block of submissions gathers its
similarities to those papers into a (block, nnz) array, and reviewers grouped by their
number of papers give padded arrays whose best values one ``np.partition`` finds for
every reviewer of the group at once.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from revmatch.io import PathLike, save_npy
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

    indices = authorship.indices
    starts = authorship.indptr[with_papers]
    depth = depth_of(method, k)
    rows_per_block = max(1, min(int(block_rows), MAX_BLOCK_VALUES // len(indices)))
    block_starts = range(0, n_submissions, rows_per_block)
    for lo in progress(block_starts, desc=f"aggregate ({method})", total=len(block_starts), unit="block"):
        hi = min(lo + rows_per_block, n_submissions)
        values = np.asarray(paper_scores[lo:hi])[:, indices]
        if not np.isfinite(values).all():
            bad = lo + int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            raise ValueError(f"paper_scores row {bad} holds a non-finite similarity")
        if depth is None:
            scores = np.add.reduceat(values.astype(np.float64), starts, axis=1) / counts[with_papers]
        else:
            top = segment_top_values(values, starts, depth)
            scores = combine_top_values(top, method, counts[with_papers], n_papers)
        out[lo:hi, with_papers] = scores
    return out


def aggregate_scores_file(
    matrix_npy: PathLike,
    authorship_npz: PathLike,
    out_npy: PathLike,
    method: str = "weighted_top3",
    k: int = 3,
    block_rows: int = 256,
) -> np.ndarray:
    """Aggregate the paper matrix ``matrix_npy`` over ``authorship_npz``; save float32 (P, R)."""
    check_method(method, k)
    paper_scores = np.load(matrix_npy, mmap_mode="r")
    authorship = sp.load_npz(authorship_npz).tocsr()
    logger.info(
        "aggregating %d x %d similarities over %d reviewers (%d reviewer-paper links) with %s (k=%d)",
        paper_scores.shape[0],
        paper_scores.shape[1],
        authorship.shape[0],
        authorship.nnz,
        method,
        k,
    )
    scores = aggregate_scores(paper_scores, authorship, method=method, k=k, block_rows=block_rows)
    save_npy(scores, out_npy)
    return scores
