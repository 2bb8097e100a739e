"""Reductions of publication scores to member scores: a member-submission score reduces
the scores of the member's papers against the submission (``max`` by default, any
aggregator of ``revmatch.model``, or a percentile), a member-member score reduces over
pairs of their papers; block-wise, so that an ACL-sized job stays within memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import scipy.sparse as sp

from revmatch.log import progress
from revmatch.matching import normalize_rows
from revmatch.model import AGGREGATORS, MAX_BLOCK_VALUES, aggregate_scores

# Reductions whose value can leave [-1, 1]: (s + 1) / 2 would not map them into [0, 1].
UNBOUNDED_REDUCERS = ("weighted_top3", "weighted_topk", "reference_weighted_top3")
# Reductions for which the member-member score is one over all pairs of papers (symmetric).
PAIRWISE_REDUCERS = ("max", "mean")


def parse_reduce(reduce: str) -> str | float:
    """An aggregator of ``revmatch.model`` (max, mean, weighted_top3, ...) by name, or
    the percentile (0..100) that ``reduce`` names: min, median or ``pNN``."""
    name = str(reduce).strip().lower()
    if name in AGGREGATORS:
        return name
    named = {"min": 0.0, "median": 50.0}
    if name in named:
        return named[name]
    if name.startswith("p"):
        try:
            q = float(name[1:])
        except ValueError:
            q = -1.0
        if 0.0 <= q <= 100.0:
            return q
    raise ValueError(
        f"unknown reduce {reduce!r}: use {', '.join(AGGREGATORS)}, min, median or a percentile such as p75"
    )


def _segment_percentile(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, q: float) -> np.ndarray:
    """Percentile ``q`` (linear interpolation, as ``np.percentile``) of each column segment.

    ``values`` is (S, N); segment k is ``values[:, starts[k]:starts[k] + lengths[k]]``,
    segments are contiguous, in order, and non-empty. Returns (S, K) float64.
    """
    values = values.astype(np.float64)
    if q == 100.0:
        return np.maximum.reduceat(values, starts, axis=1)
    if q == 0.0:
        return np.minimum.reduceat(values, starts, axis=1)
    # Sort within segments in one pass: lift each segment above the previous one.
    segment = np.repeat(np.arange(len(starts)), lengths)
    lift = segment * (float(values.max() - values.min()) + 1.0)
    ordered = np.sort(values + lift, axis=1) - lift
    position = q / 100.0 * (lengths - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, lengths - 1)
    weight = position - below
    return ordered[:, starts + below] * (1.0 - weight) + ordered[:, starts + above] * weight


def group_submission_scores(
    pub_scores: np.ndarray, incidence: sp.spmatrix, reduce: str = "max"
) -> np.ndarray:
    """Reduce publication scores (S x D) to member scores (S x M) over each member's papers.

    ``incidence`` (M x D) marks each member's papers. ``reduce`` is an aggregator of
    ``revmatch.model`` (``max``, ``mean``, ``weighted_top3``, ``topk_mean``, ...; k = 3)
    or ``min``, ``median`` or a percentile ``pNN``. Members without papers get NaN.
    """
    pub_scores = np.asarray(pub_scores)
    incidence = sp.csr_matrix(incidence, dtype=bool)
    if pub_scores.ndim != 2 or pub_scores.shape[1] != incidence.shape[1]:
        raise ValueError(f"scores {pub_scores.shape} do not match incidence {incidence.shape}")
    incidence.sum_duplicates()
    incidence.sort_indices()
    how = parse_reduce(reduce)
    lengths = np.diff(incidence.indptr)
    present = np.flatnonzero(lengths > 0)
    out = np.full((pub_scores.shape[0], incidence.shape[0]), np.nan)
    if present.size == 0 or pub_scores.shape[0] == 0:
        return out
    if isinstance(how, str):
        out[:, present] = aggregate_scores(pub_scores, incidence[present], method=how)
    else:
        gathered = pub_scores[:, incidence.indices]
        out[:, present] = _segment_percentile(gathered, incidence.indptr[present], lengths[present], how)
    return out


def _used_columns(incidence: sp.spmatrix) -> tuple[np.ndarray, sp.csr_matrix]:
    """The columns any row uses, and the incidence restricted to them."""
    incidence = sp.csr_matrix(incidence)
    used = np.unique(incidence.indices)
    return used, sp.csr_matrix(incidence[:, used])


BlockScores = Callable[[np.ndarray, np.ndarray, int], Iterable[tuple[slice, np.ndarray]]]
"""``blocks(rows, columns, block_rows)``: scores of the queries ``rows`` against the corpus
papers ``columns``, as ``(slice into rows, float32 block)`` pairs of at most ``block_rows``
queries (the shape of ``revmatch.model.score_blocks``)."""


def _block_rows(incidence: sp.csr_matrix, block_rows: int) -> int:
    """Rows a block may have so that its scores and gathered values stay near
    ``revmatch.model.MAX_BLOCK_VALUES`` each."""
    return max(1, min(int(block_rows), MAX_BLOCK_VALUES // max(1, incidence.shape[1], incidence.nnz)))


def _reduce_blockwise(
    block_scores: Callable[[int, int], np.ndarray],
    n_rows: int,
    incidence: sp.csr_matrix,
    reduce: str,
    block_rows: int,
    desc: str,
) -> np.ndarray:
    """(n_rows x M) float32: ``group_submission_scores`` of the score rows ``block_scores(lo, hi)``
    (each ``hi - lo`` x D) against ``incidence`` (M x D), a block of rows at a time."""
    rows = _block_rows(incidence, block_rows)
    starts = range(0, n_rows, rows)
    blocks = ((slice(lo, min(lo + rows, n_rows)), block_scores(lo, min(lo + rows, n_rows))) for lo in starts)
    return member_scores_from_blocks(
        progress(blocks, desc=desc, total=len(starts), unit="block"), n_rows, incidence, reduce
    )


def member_scores_from_blocks(
    blocks: Iterable[tuple[slice, np.ndarray]], n_rows: int, incidence: sp.spmatrix, reduce: str = "max"
) -> np.ndarray:
    """Member scores (n_rows x M, float32) from blocks of publication scores.

    ``blocks`` yields ``(rows, scores)`` with ``scores`` (rows x C) against the C corpus
    papers that the columns of ``incidence`` (M x C) stand for, the shape of
    ``revmatch.model.score_blocks(model, index, texts, columns=used)``. Members without papers
    get NaN.
    """
    incidence = sp.csr_matrix(incidence, dtype=bool)
    out = np.full((n_rows, incidence.shape[0]), np.nan, dtype=np.float32)
    for rows, scores in blocks:
        out[rows] = group_submission_scores(scores, incidence, reduce)
    return out


def member_scores(
    blocks: BlockScores,
    queries: np.ndarray,
    incidence: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
    desc: str = "submission scores",
) -> np.ndarray:
    """Query-member scores (len(queries) x M, float32): ``reduce`` of each query's scores
    over each member's papers (``incidence``, M x D over the corpus).

    ``blocks`` scores the queries (submissions, or corpus papers) against the papers some
    member has, and nothing else; blocks shrink as ``_block_rows`` says. Members without
    papers get NaN.
    """
    used, local = _used_columns(incidence)
    queries = np.asarray(queries, dtype=np.int64)
    rows = _block_rows(local, block_rows)
    n_blocks = -(-len(queries) // rows)
    scored = progress(blocks(queries, used, rows), desc=desc, total=n_blocks, unit="block")
    return member_scores_from_blocks(scored, len(queries), local, reduce)


def member_member_scores(
    paper_blocks: BlockScores,
    inc_a: sp.spmatrix,
    inc_b: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Member-member scores (A x B): ``reduce`` over pairs of the two members' papers.

    ``paper_blocks`` scores corpus papers (as queries) against corpus papers. The
    reduction runs over B's papers first (A's papers as queries), then over A's,
    block-wise; for ``max`` and ``mean`` this equals the max (mean) over all pairs.
    Members of either side without papers get NaN.
    """
    used_a, local_a = _used_columns(inc_a)
    inc_b = sp.csr_matrix(inc_b)
    paper_member = member_scores(paper_blocks, used_a, inc_b, reduce, block_rows, "paper-member scores")
    out = np.full((local_a.shape[0], inc_b.shape[0]), np.nan)
    has_papers = np.flatnonzero(np.diff(inc_b.indptr) > 0)
    member_paper = paper_member[:, has_papers].T
    out[:, has_papers] = _reduce_blockwise(
        lambda lo, hi: member_paper[lo:hi],
        len(has_papers), local_a, reduce, block_rows, "member-member scores",
    ).T
    return out


def cosine_blocks(
    queries: np.ndarray, rows: np.ndarray, papers: np.ndarray, columns: np.ndarray, block_rows: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """Cosine similarities (float32) of ``queries[rows]`` to ``papers[columns]``, in blocks of rows."""
    left = normalize_rows(np.asarray(queries[rows]).reshape(len(rows), -1))
    right_t = normalize_rows(np.asarray(papers[columns]).reshape(len(columns), -1)).T.copy()
    for lo in range(0, len(rows), block_rows):
        hi = min(lo + block_rows, len(rows))
        yield slice(lo, hi), left[lo:hi] @ right_t


def submission_member_scores(
    submission_embeddings: np.ndarray,
    pub_embeddings: np.ndarray,
    incidence: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Cosine member-submission scores (S x M), block-wise over submissions.

    ``pub_embeddings`` (D x d) is aligned with the columns of ``incidence`` (M x D); only
    papers some member authored are read. Members without papers get NaN.
    """
    def blocks(rows: np.ndarray, columns: np.ndarray, size: int) -> Iterator[tuple[slice, np.ndarray]]:
        return cosine_blocks(submission_embeddings, rows, pub_embeddings, columns, size)

    return member_scores(blocks, np.arange(len(submission_embeddings)), incidence, reduce, block_rows)


def group_group_scores(
    emb_a_pubs: np.ndarray,
    inc_a: sp.spmatrix,
    emb_b_pubs: np.ndarray,
    inc_b: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Cosine member-member scores (A x B) (``member_member_scores`` of embeddings).

    ``emb_a_pubs`` / ``emb_b_pubs`` are aligned with the columns of ``inc_a`` / ``inc_b``
    (both may be the whole corpus).
    """
    def blocks(rows: np.ndarray, columns: np.ndarray, size: int) -> Iterator[tuple[slice, np.ndarray]]:
        return cosine_blocks(emb_a_pubs, rows, emb_b_pubs, columns, size)

    return member_member_scores(blocks, inc_a, inc_b, reduce, block_rows)


def _top_mask(ranked: np.ndarray, k: int, block_cells: int = 1 << 22) -> np.ndarray:
    """Whether each cell is among the ``k`` largest of its row (all cells of rows of k or fewer)."""
    keep = np.zeros(ranked.shape, dtype=bool)
    if ranked.shape[1] <= k:
        keep[:] = True
        return keep
    step = max(1, block_cells // max(1, ranked.shape[1]))
    for lo in range(0, ranked.shape[0], step):
        block = np.asarray(ranked[lo : lo + step])
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        np.put_along_axis(keep[lo : lo + step], top, True, axis=1)
    return keep


def sparse_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """OpenReview's sparse scores (its ``sparseValue``): the cells among the ``k`` best of
    their row or among the ``k`` best of their column keep their score, the others become
    NaN (left out of the results); NaN stays NaN. Ties at the k-th place are cut arbitrarily."""
    if k < 1:
        raise ValueError(f"the sparse value must be at least 1, got {k}")
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    ranked = np.where(finite, scores, -np.inf)
    keep = _top_mask(ranked, k) | _top_mask(ranked.T, k).T
    return np.where(keep & finite, scores, np.nan)
