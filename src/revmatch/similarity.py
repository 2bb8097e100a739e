"""Reviewer <-> corpus paper index (authorship) and the block-wise submission x paper matrix."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import PathLike, atomic_path, read_jsonl, save_npy, write_lines
from revmatch.log import progress

logger = logging.getLogger(__name__)


def authorship_matrix(
    reviewer_ids: Sequence[Sequence[str]],
    paper_author_ids: Sequence[Sequence[str]],
) -> sp.csr_matrix:
    """Boolean (R, D) matrix: reviewer r authored paper d.

    A reviewer authored a paper when one of the reviewer's Semantic Scholar author ids is
    among the paper's author ids. Ids are compared as stripped strings; empty ids (reviewers
    without a Semantic Scholar profile) match nothing.
    """
    reviewers = _id_table(reviewer_ids, "reviewer")
    papers = _id_table(paper_author_ids, "paper")
    pairs = reviewers.merge(papers, on="author_id", how="inner")[["reviewer", "paper"]].drop_duplicates()
    shape = (len(reviewer_ids), len(paper_author_ids))
    data = np.ones(len(pairs), dtype=bool)
    matrix = sp.coo_matrix((data, (pairs["reviewer"].to_numpy(), pairs["paper"].to_numpy())), shape=shape)
    matrix = matrix.tocsr()
    matrix.sort_indices()
    return matrix


def _id_table(ids_per_owner: Sequence[Sequence[str]], owner: str) -> pd.DataFrame:
    """Long table (owner index, author id) without empty ids."""
    lengths = np.fromiter((len(ids) for ids in ids_per_owner), dtype=np.int64, count=len(ids_per_owner))
    owners = np.repeat(np.arange(len(ids_per_owner), dtype=np.int64), lengths)
    flat = [str(i).strip() if i is not None else "" for ids in ids_per_owner for i in ids]
    table = pd.DataFrame({owner: owners, "author_id": flat})
    return table[table["author_id"] != ""]


def papers_per_reviewer(authorship: sp.csr_matrix) -> np.ndarray:
    """Number of corpus papers of each reviewer, (R,) int."""
    return np.diff(authorship.indptr).astype(np.int64)


def authored_papers(authorship: sp.csr_matrix) -> np.ndarray:
    """Sorted indices of the corpus papers with at least one reviewer among their authors."""
    return np.unique(authorship.indices).astype(np.int64)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); all-zero rows stay zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def paper_matrix(queries: np.ndarray, papers: np.ndarray, block_rows: int = 2048) -> np.ndarray:
    """Cosine similarity (P, D) float32 of query embeddings to paper embeddings.

    Computed in blocks of ``block_rows`` query rows so that temporaries stay at
    ``block_rows x D``; rows of zeros (empty texts) have similarity 0 to everything.
    """
    if queries.ndim != 2 or papers.ndim != 2 or queries.shape[1] != papers.shape[1]:
        raise ValueError(f"embedding shapes do not match: queries {queries.shape}, papers {papers.shape}")
    if block_rows < 1:
        raise ValueError(f"block_rows must be positive, got {block_rows}")
    papers_unit = normalize_rows(papers).T.copy()
    out = np.empty((queries.shape[0], papers.shape[0]), dtype=np.float32)
    starts = range(0, queries.shape[0], block_rows)
    for start in progress(starts, desc="paper matrix", total=len(starts), unit="block"):
        stop = min(start + block_rows, queries.shape[0])
        np.matmul(normalize_rows(queries[start:stop]), papers_unit, out=out[start:stop])
    return out


def reviewer_paper_ids(reviewers: list[dict]) -> list[list[str]]:
    """Semantic Scholar author ids of each reviewer record (key ``ids``)."""
    return [[str(i) for i in (rec.get("ids") or [])] for rec in reviewers]


def corpus_author_ids(papers: pd.DataFrame) -> list[list[str]]:
    """Author ids of each corpus paper (column ``authors``: list of ``{id, name}``)."""
    return [
        [str(author.get("id") or "") for author in (authors if authors is not None else [])]
        for authors in papers["authors"]
    ]


def save_authorship(authorship: sp.csr_matrix, path: PathLike) -> None:
    """Save an authorship matrix as a compressed ``.npz`` atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        sp.save_npz(tmp, sp.csr_matrix(authorship, dtype=bool))


def load_authorship(path: PathLike) -> sp.csr_matrix:
    """Load an authorship matrix saved by ``save_authorship``."""
    matrix = sp.load_npz(path).tocsr().astype(bool)
    matrix.sort_indices()
    return matrix


def reviewer_authorship(reviewers: list[dict], papers: pd.DataFrame) -> sp.csr_matrix:
    """Authorship matrix (R, D) of ``reviewers`` over the corpus ``papers``, with its counts logged.

    Reviewers without any corpus paper are counted and named in the log (they will score 0).
    """
    authorship = authorship_matrix(reviewer_paper_ids(reviewers), corpus_author_ids(papers))
    without = np.flatnonzero(papers_per_reviewer(authorship) == 0)
    logger.info(
        "%d reviewers, %d corpus papers, %d reviewer-paper links; %d papers have a reviewer author",
        authorship.shape[0],
        authorship.shape[1],
        authorship.nnz,
        len(authored_papers(authorship)),
    )
    if len(without):
        ids = [str(rec.get("id") or rec.get("startUsername")) for rec in reviewers]
        names = ", ".join(ids[i] for i in without[:20])
        more = f" and {len(without) - 20} more" if len(without) > 20 else ""
        logger.warning(
            "%d reviewers have no paper in the corpus and will score 0: %s%s", len(without), names, more
        )
    return authorship


def reviewer_papers_file(
    reviewers_jsonl: PathLike, papers_parquet: PathLike, out_npz: PathLike
) -> sp.csr_matrix:
    """Authorship matrix of the reviewers of ``reviewers_jsonl`` over the corpus; saved to ``out_npz``."""
    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "authors"])
    authorship = reviewer_authorship(read_jsonl(reviewers_jsonl), papers)
    save_authorship(authorship, out_npz)
    return authorship


def paper_matrix_file(
    submission_embeddings_npy: PathLike,
    corpus_embeddings_npy: PathLike,
    papers_parquet: PathLike,
    reviewers_jsonl: PathLike,
    out_matrix: PathLike,
    out_papers: PathLike,
    out_authorship: PathLike,
    block_rows: int = 2048,
) -> None:
    """Submissions x reviewers' corpus papers similarity, with its column index and authorship.

    Only corpus papers written by at least one reviewer become columns (the others can
    never count towards a reviewer's score). ``out_papers`` lists their ``paper_id`` one
    a line, in column order; ``out_authorship`` is the (R, columns) authorship matrix.
    """
    reviewers = read_jsonl(reviewers_jsonl)
    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "authors"])
    corpus = np.load(corpus_embeddings_npy, mmap_mode="r")
    if corpus.shape[0] != len(papers):
        raise ValueError(
            f"{corpus_embeddings_npy}: {corpus.shape[0]} embeddings for {len(papers)} corpus papers "
            f"in {papers_parquet}; re-run the embedding step"
        )
    authorship = reviewer_authorship(reviewers, papers)
    columns = authored_papers(authorship)
    queries = np.load(submission_embeddings_npy)
    matrix = paper_matrix(queries, np.asarray(corpus[columns]), block_rows=block_rows)
    save_npy(matrix, out_matrix)
    write_lines(papers["paper_id"].to_numpy()[columns].astype(str).tolist(), out_papers)
    save_authorship(authorship[:, columns].tocsr(), out_authorship)
