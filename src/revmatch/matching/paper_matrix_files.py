"""The paper-matrix rules: one part of the submissions at a time, its inputs read and checked,
its rows computed through the block cache (``avg`` embeddings or any registry model)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike, read_jsonl, read_lines
from revmatch.matching.paper_cache import cached_matrix_rows, prune_cache, rows_for_budget, write_manifest
from revmatch.matching.paper_matrix import ComputedPaperMatrix, RegistryPaperMatrix, RowScorer
from revmatch.matching.settings import PaperMatrixSettings
from revmatch.model import TEXT_FIELDS, load_indexes, load_registry_model, submission_texts

logger = logging.getLogger(__name__)


def part_rows(n_rows: int, parts: int, part: int, align: int = 1) -> slice:
    """Rows of part ``part`` (0-based) of ``n_rows`` rows cut into ``parts`` near-equal parts.

    Part boundaries fall on multiples of ``align`` (the block size), so the parts compute the
    very blocks a single job would, and their results are bit-identical to it.
    """
    if not 0 <= part < parts:
        raise ValueError(f"part {part} is not in 0..{parts - 1}")
    n_blocks = -(-n_rows // max(int(align), 1))
    bounds = np.minimum(np.linspace(0, n_blocks, parts + 1).round().astype(int) * int(align), n_rows)
    return slice(int(bounds[part]), int(bounds[part + 1]))


def column_rows(corpus_ids: pd.Series, columns_txt: PathLike,
                papers_parquet: PathLike) -> tuple[list[str], np.ndarray]:
    """The paper ids listed in ``columns_txt`` and their corpus rows (int64), checked."""
    paper_ids = read_lines(columns_txt)
    rows = pd.Series(np.arange(len(corpus_ids)), index=corpus_ids.to_numpy()).reindex(paper_ids).to_numpy()
    if np.isnan(rows.astype(float)).any():
        raise ValueError(f"{columns_txt}: paper ids not in {papers_parquet}; re-run the authorship step")
    return paper_ids, rows.astype(np.int64)


def paper_matrix_inputs(
    submission_embeddings_npy: PathLike,
    submissions_jsonl: PathLike,
    corpus_embeddings_npy: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """(submission embeddings, submission ids, column embeddings, column paper ids), checked.

    Embeddings are memory-mapped; the columns are the corpus papers listed in ``columns_txt``.
    """
    submission_ids = [str(rec.get("id")) for rec in read_jsonl(submissions_jsonl)]
    queries = np.load(submission_embeddings_npy, mmap_mode="r")
    if queries.shape[0] != len(submission_ids):
        raise ValueError(
            f"{submission_embeddings_npy}: {queries.shape[0]} embeddings for {len(submission_ids)} "
            f"submissions in {submissions_jsonl}; re-run the embedding step"
        )
    corpus_ids = pd.read_parquet(papers_parquet, columns=["paper_id"])["paper_id"].astype(str)
    corpus = np.load(corpus_embeddings_npy, mmap_mode="r")
    if corpus.shape[0] != len(corpus_ids):
        raise ValueError(
            f"{corpus_embeddings_npy}: {corpus.shape[0]} embeddings for {len(corpus_ids)} corpus papers "
            f"in {papers_parquet}; re-run the embedding step"
        )
    paper_ids, columns = column_rows(corpus_ids, columns_txt, papers_parquet)
    return queries, submission_ids, np.asarray(corpus[columns]), paper_ids


def paper_matrix_file(
    submission_embeddings_npy: PathLike,
    submissions_jsonl: PathLike,
    corpus_embeddings_npy: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    out_manifest: PathLike,
    cache_root: PathLike,
    settings: PaperMatrixSettings,
    part: int = 0,
) -> pd.DataFrame:
    """Cosine paper matrix (``avg``) rows of part ``part`` of ``settings.parts`` of the submissions,
    through the cache.

    Columns are the corpus papers listed in ``columns_txt`` (``reviewer_papers_file``); the
    manifest of the part's rows is written to ``out_manifest``.
    """
    queries, submission_ids, papers, paper_ids = paper_matrix_inputs(
        submission_embeddings_npy, submissions_jsonl, corpus_embeddings_npy, papers_parquet, columns_txt
    )
    align = rows_for_budget(len(paper_ids), settings.memory_budget_mb, settings.block_rows)
    rows = part_rows(len(submission_ids), settings.parts, part, align=align)
    matrix = ComputedPaperMatrix(np.asarray(queries[rows]), papers, paper_ids)
    return cache_part(
        matrix, submission_ids[rows], out_manifest, cache_root, settings.block_rows, settings.memory_budget_mb
    )


def cache_part(
    matrix: RowScorer,
    submission_ids: Sequence[str],
    out_manifest: PathLike,
    cache_root: PathLike,
    block_rows: int,
    memory_budget_mb: float,
) -> pd.DataFrame:
    """Drop other column sets' caches, fill this one's with the part's rows and write its manifest."""
    prune_cache(cache_root, keep=matrix.column_key)
    manifest = cached_matrix_rows(matrix, submission_ids, cache_root, block_rows, memory_budget_mb)
    write_manifest(manifest, out_manifest)
    return manifest


def read_submission_texts(
    submissions_jsonl: PathLike, fields: Sequence[str] = TEXT_FIELDS
) -> tuple[list[str], list[str]]:
    """(ids, texts) of the submissions, texts as the ``avg`` embedding step builds them
    (``revmatch.model.submission_texts``); a submission without text scores 0 with tfidf/bm25."""
    records = read_jsonl(submissions_jsonl)
    return [str(record.get("id")) for record in records], submission_texts(records, fields, submissions_jsonl)


def registry_matrix_part(
    index_npzs: Sequence[PathLike],
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    settings: PaperMatrixSettings,
    part: int = 0,
    avg_model: PathLike | None = None,
) -> tuple[RegistryPaperMatrix, list[str], int]:
    """(paper matrix, submission ids, rows per block) of part ``part`` of ``settings.parts`` for the
    model ``settings.spec``.

    The model's corpus indexes (``index_npzs``, one per member, in spec order) are restricted
    to the corpus papers listed in ``columns_txt``; ``avg_model`` is the trained model file
    (needed when ``avg`` is a member, to embed the submissions).
    """
    spec = settings.spec
    model = load_registry_model(
        spec, avg_model=avg_model, sentence_transformers=settings.sentence_transformers, encoder=settings.encoder
    )
    indexes = load_indexes(model, list(index_npzs))
    corpus_ids = pd.read_parquet(papers_parquet, columns=["paper_id"])["paper_id"].astype(str)
    members = indexes if isinstance(indexes, list) else [indexes]
    if len(members[0]) != len(corpus_ids):
        raise InputError(index_npzs[0], f"corpus index of {len(members[0])} papers for {len(corpus_ids)} "
                                        f"papers in {papers_parquet}; re-run the index step")
    paper_ids, columns = column_rows(corpus_ids, columns_txt, papers_parquet)
    restricted = [dataclasses.replace(member, vectors=member.vectors[columns]) for member in members]
    submission_ids, texts = read_submission_texts(submissions_jsonl, settings.text_fields)
    rows_per_block = rows_for_budget(len(paper_ids), settings.memory_budget_mb, settings.block_rows)
    rows = part_rows(len(submission_ids), settings.parts, part, align=rows_per_block)
    index = restricted if isinstance(indexes, list) else restricted[0]
    matrix = RegistryPaperMatrix(model, index, texts[rows], paper_ids, spec)
    logger.info("paper matrix of %s: submissions %d..%d of %d against %d papers (score offset %g)",
                spec, rows.start, rows.stop, len(submission_ids), len(paper_ids), matrix.offset)
    return matrix, submission_ids[rows], rows_per_block


def registry_paper_matrix_file(
    index_npzs: Sequence[PathLike],
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    out_manifest: PathLike,
    cache_root: PathLike,
    settings: PaperMatrixSettings,
    part: int = 0,
    avg_model: PathLike | None = None,
) -> pd.DataFrame:
    """``paper_matrix_file`` for any model spec of the registry: the part's rows through the cache."""
    matrix, submission_ids, _ = registry_matrix_part(
        index_npzs, submissions_jsonl, papers_parquet, columns_txt, settings, part=part, avg_model=avg_model
    )
    return cache_part(
        matrix, submission_ids, out_manifest, cache_root, settings.block_rows, settings.memory_budget_mb
    )
