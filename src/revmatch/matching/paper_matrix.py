"""The paper matrix: submissions x reviewers' corpus papers, scored by the configured
``model.matching_model`` and computed by blocks of submission rows.

Its score is the cosine of the ``avg`` embeddings (``ComputedPaperMatrix``), or the
``revmatch.model.registry`` scores of any other model spec (``RegistryPaperMatrix``:
``tfidf``, ``bm25``, sentence-transformers, ensembles ``a+b``). Both have content-addressed
keys for the block cache (``revmatch.matching.paper_cache``): a row key hashes the column
key, the submission id and its query (embedding or text), and the column key hashes what
the columns are scored with (paper ids and embeddings; or the spec, the corpus indexes'
content and the paper ids).

Zero means "no relation" for every model, as downstream code (missing top-k terms,
reviewers without corpus papers, the reference variant's zero fill) assumes: cosine and
TF-IDF of texts without common content are 0, and so is BM25. Ensembles average calibrated
z-scores (mean 0 over corpus pairs); their matrix is shifted by ``unrelated_score`` (the
ensemble score of a pair whose members all score 0), which puts 0 back at "nothing in
common", leaving every ranking unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from revmatch.log import progress
from revmatch.model import CorpusIndex, Model, paper_scores, unrelated_score


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


def columns_key(paper_ids: Sequence[str], papers: np.ndarray) -> str:
    """Hex key of a column set: its paper ids and their embeddings, in order."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\n".join(map(str, paper_ids)).encode("utf-8"))
    digest.update(np.ascontiguousarray(papers, dtype=np.float32).tobytes())
    return digest.hexdigest()


def row_keys(submission_ids: Sequence[str], queries: np.ndarray, column_key: str) -> np.ndarray:
    """Hex key (P,) of each submission row: id, embedding and the column set it is scored against."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    keys = []
    for sid, row in zip(submission_ids, queries):
        digest = hashlib.blake2b(digest_size=16)
        digest.update(column_key.encode("ascii"))
        digest.update(str(sid).encode("utf-8"))
        digest.update(b"\0")
        digest.update(row.tobytes())
        keys.append(digest.hexdigest())
    return np.asarray(keys, dtype="U32")


def text_row_keys(submission_ids: Sequence[str], texts: Sequence[str], column_key: str) -> np.ndarray:
    """Hex key (P,) of each submission row: id, text and the column set it is scored against."""
    keys = []
    for sid, text in zip(submission_ids, texts, strict=True):
        digest = hashlib.blake2b(digest_size=16)
        digest.update(column_key.encode("ascii"))
        digest.update(str(sid).encode("utf-8"))
        digest.update(b"\0")
        digest.update(str(text).encode("utf-8"))
        keys.append(digest.hexdigest())
    return np.asarray(keys, dtype="U32")


def index_digest(index: CorpusIndex) -> str:
    """Hex digest of a corpus index's content: model name, calibration, vocabulary, weights, vectors."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(index.model).encode("utf-8") + b"\0")
    digest.update(np.array([index.calibration.mean, index.calibration.std], dtype=np.float64).tobytes())
    digest.update("\n".join(map(str, index.vocabulary.tolist())).encode("utf-8") + b"\0")
    digest.update(np.ascontiguousarray(index.weights, dtype=np.float32).tobytes())
    vectors = index.vectors
    if sp.issparse(vectors):
        vectors = sp.csr_matrix(vectors)
        parts = (np.array(vectors.shape, dtype=np.int64), vectors.indptr.astype(np.int64),
                 vectors.indices.astype(np.int64), vectors.data.astype(np.float32))
    else:
        parts = (np.array(vectors.shape, dtype=np.int64), np.ascontiguousarray(vectors, dtype=np.float32))
    for part in parts:
        digest.update(part.tobytes())
    return digest.hexdigest()


def registry_columns_key(spec: str, index: CorpusIndex | Sequence[CorpusIndex], paper_ids: Sequence[str]) -> str:
    """Hex key of a registry model's column set: the spec, its indexes' content and the paper ids."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(b"registry\0" + spec.encode("utf-8") + b"\0")
    for part in [index] if isinstance(index, CorpusIndex) else index:
        digest.update(index_digest(part).encode("ascii"))
    digest.update("\n".join(map(str, paper_ids)).encode("utf-8"))
    return digest.hexdigest()


class RowScorer(Protocol):
    """A (P, D) paper matrix computed by blocks of submission rows, with content-addressed keys."""

    shape: tuple[int, int]

    @property
    def column_key(self) -> str: ...

    def row_keys(self, submission_ids: Sequence[str]) -> np.ndarray: ...

    def score(self, rows: slice | np.ndarray) -> np.ndarray: ...


class ComputedPaperMatrix:
    """(P, D) cosine paper matrix computed on demand from embeddings, by row blocks, never stored.

    For conferences whose cache would not fit on disk (4 bytes x submissions x papers): each
    ``matrix[lo:hi]`` is one block product, so aggregation reads it like a cached matrix.
    With the columns' ``paper_ids`` it is also a ``RowScorer`` for ``cached_matrix_rows``
    (keys: ``columns_key`` and ``row_keys`` of the embeddings).
    """

    def __init__(self, queries: np.ndarray, papers: np.ndarray, paper_ids: Sequence[str] | None = None) -> None:
        if queries.ndim != 2 or papers.ndim != 2 or queries.shape[1] != papers.shape[1]:
            raise ValueError(f"embedding shapes do not match: queries {queries.shape}, papers {papers.shape}")
        if paper_ids is not None and len(paper_ids) != papers.shape[0]:
            raise ValueError(f"{len(paper_ids)} paper ids for {papers.shape[0]} paper embeddings")
        self.queries = queries
        self.papers = papers
        self.paper_ids = None if paper_ids is None else [str(p) for p in paper_ids]
        self.papers_unit = normalize_rows(papers).T.copy()
        self.shape = (queries.shape[0], papers.shape[0])
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    @property
    def column_key(self) -> str:
        if self.paper_ids is None:
            raise ValueError("the column key needs the columns' paper ids")
        return columns_key(self.paper_ids, self.papers)

    def row_keys(self, submission_ids: Sequence[str]) -> np.ndarray:
        return row_keys(submission_ids, self.queries, self.column_key)

    def score(self, rows: slice | np.ndarray) -> np.ndarray:
        """Cosine (rows, D) float32 of the chosen submission rows."""
        return normalize_rows(self.queries[rows]) @ self.papers_unit

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError("a ComputedPaperMatrix is read by row slices")
        return self.score(rows)


class RegistryPaperMatrix:
    """(P, D) paper matrix of a ``revmatch.model.registry`` model, computed on demand by row blocks.

    ``index`` is the model's corpus index (a list for an ensemble) restricted to the D
    column papers ``paper_ids``; a block of rows is ``paper_scores`` of the rows'
    ``query_texts`` (encoded block by block), minus ``unrelated_score`` (0 but for
    ensembles). Keys: ``registry_columns_key`` (spec, index content, paper ids) and
    ``text_row_keys``. Reads like ``ComputedPaperMatrix`` (row slices) and is a ``RowScorer``.
    """

    def __init__(
        self,
        model: Model,
        index: CorpusIndex | Sequence[CorpusIndex],
        query_texts: Sequence[str],
        paper_ids: Sequence[str],
        spec: str,
    ) -> None:
        n_columns = len(index) if isinstance(index, CorpusIndex) else len(index[0])
        if len(paper_ids) != n_columns:
            raise ValueError(f"{len(paper_ids)} paper ids for a corpus index of {n_columns} papers")
        self.model, self.index, self.spec = model, index, spec
        self.query_texts = [str(text) for text in query_texts]
        self.paper_ids = [str(p) for p in paper_ids]
        self.offset = unrelated_score(model, index)
        self.column_key = registry_columns_key(spec, index, self.paper_ids)
        self.shape = (len(self.query_texts), n_columns)
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def row_keys(self, submission_ids: Sequence[str]) -> np.ndarray:
        return text_row_keys(submission_ids, self.query_texts, self.column_key)

    def score(self, rows: slice | np.ndarray) -> np.ndarray:
        """Scores (rows, D) float32 of the chosen submission rows."""
        texts = [self.query_texts[i] for i in np.arange(self.shape[0])[rows]]
        return paper_scores(self.model, self.index, texts, block_rows=max(len(texts), 1), shift=True)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError("a RegistryPaperMatrix is read by row slices")
        return self.score(rows)
