"""The aggregation rules of the matching stage: reviewer scores (P, R) from the paper matrix
(cached or computed on the fly) with ``revmatch.model.aggregation``'s reducers, per part."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from revmatch.io import PathLike, save_npy
from revmatch.matching.paper_cache import read_paper_matrix, rows_for_budget
from revmatch.matching.paper_matrix import ComputedPaperMatrix
from revmatch.matching.paper_matrix_files import paper_matrix_inputs, part_rows, registry_matrix_part
from revmatch.matching.settings import AggregateSettings, PaperMatrixSettings
from revmatch.model import aggregate_scores, check_method

logger = logging.getLogger(__name__)


def aggregate_scores_file(
    manifests: Sequence[PathLike],
    papers_txt: PathLike,
    authorship_npz: PathLike,
    out_npy: PathLike,
    settings: AggregateSettings,
    block_rows: int = 256,
) -> np.ndarray:
    """Aggregate the cached paper matrix of ``manifests`` over ``authorship_npz``; save float32 (P, R).

    ``manifests`` are the paper-matrix manifests of consecutive submission parts, in order;
    ``papers_txt`` lists the matrix columns.
    """
    method, k = settings.aggregator, settings.top_k
    check_method(method, k)
    paper_scores = read_paper_matrix(list(manifests), papers_txt)
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


def aggregate_uncached_file(
    submission_embeddings_npy: PathLike,
    submissions_jsonl: PathLike,
    corpus_embeddings_npy: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    authorship_npz: PathLike,
    out_npy: PathLike,
    paper_matrix: PaperMatrixSettings,
    settings: AggregateSettings,
    part: int = 0,
) -> np.ndarray:
    """Reviewer scores of part ``part`` of the submissions, computing the paper matrix on the fly.

    The same rows as ``aggregate_scores_file`` over ``paper_matrix_file``'s part, without
    storing the paper matrix (``matching.cache_paper_matrix: false``).
    """
    check_method(settings.aggregator, settings.top_k)
    queries, submission_ids, papers, paper_ids = paper_matrix_inputs(
        submission_embeddings_npy, submissions_jsonl, corpus_embeddings_npy, papers_parquet, columns_txt
    )
    rows_per_block = rows_for_budget(len(paper_ids), paper_matrix.memory_budget_mb, paper_matrix.block_rows)
    rows = part_rows(len(submission_ids), paper_matrix.parts, part, align=rows_per_block)
    matrix = ComputedPaperMatrix(np.asarray(queries[rows]), papers)
    return aggregate_computed_file(
        matrix, authorship_npz, out_npy, settings.aggregator, settings.top_k, rows_per_block
    )


def aggregate_registry_file(
    index_npzs: Sequence[PathLike],
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    authorship_npz: PathLike,
    out_npy: PathLike,
    paper_matrix: PaperMatrixSettings,
    settings: AggregateSettings,
    part: int = 0,
    avg_model: PathLike | None = None,
) -> np.ndarray:
    """``aggregate_uncached_file`` for any model spec of the registry: the part's paper matrix
    (``registry_matrix_part``) computed block by block inside the aggregation."""
    matrix, _, rows_per_block = registry_matrix_part(
        index_npzs, submissions_jsonl, papers_parquet, columns_txt, paper_matrix, part=part, avg_model=avg_model
    )
    return aggregate_computed_file(
        matrix, authorship_npz, out_npy, method=settings.aggregator, k=settings.top_k, block_rows=rows_per_block
    )


def aggregate_computed_file(
    matrix, authorship_npz: PathLike, out_npy: PathLike, method: str = "weighted_top3", k: int = 3,
    block_rows: int = 2048,
) -> np.ndarray:
    """Reviewer scores of a paper matrix computed on the fly (any object read by row slices,
    e.g. ``ComputedPaperMatrix`` or ``RegistryPaperMatrix``), saved to ``out_npy``."""
    check_method(method, k)
    authorship = sp.load_npz(authorship_npz).tocsr()
    logger.info(
        "aggregating %d x %d similarities (computed on the fly) over %d reviewers with %s (k=%d)",
        matrix.shape[0], matrix.shape[1], authorship.shape[0], method, k,
    )
    scores = aggregate_scores(matrix, authorship, method=method, k=k, block_rows=block_rows)
    save_npy(scores, out_npy)
    return scores


def gather_rows_file(parts: Sequence[PathLike], out_npy: PathLike) -> np.ndarray:
    """Stack the row blocks saved in ``parts`` (npy, in order) into one array saved to ``out_npy``."""
    blocks = [np.load(path) for path in parts]
    widths = {block.shape[1:] for block in blocks}
    if len(widths) > 1:
        raise ValueError(f"parts {list(map(str, parts))} differ in shape: {sorted(widths)}")
    stacked = np.concatenate(blocks, axis=0)
    save_npy(stacked, out_npy)
    return stacked
