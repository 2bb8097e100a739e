"""Reviewer <-> corpus paper index (authorship) and the block-wise submission x paper matrix.

The paper matrix (submissions x reviewers' corpus papers) is the score of the configured
``model.matching_model``: the cosine of the ``avg`` embeddings (``ComputedPaperMatrix``), or
the ``revmatch.registry`` scores of any other model spec (``RegistryPaperMatrix``: ``tfidf``,
``bm25``, sentence-transformers, ensembles ``a+b``). Both are "paper matrices computed by row
blocks" with content-addressed keys, and both go through the same block cache: a block file
``<key>.npy`` with the ``<key>.rows.npy`` index of its row keys, where a row key hashes the
column key, the submission id and its query (embedding or text), and the column key hashes
what the columns are scored with (paper ids and embeddings; or the spec, the corpus
indexes' content and the paper ids). A run looks every submission up by its row key,
computes only the rows it does not find, and writes a manifest (Parquet: submission id, row
key, block file, row) that readers follow, so adding or withdrawing submissions recomputes
only the new rows and a new model or a new reviewer pool (new columns) starts a fresh cache
folder.

Zero means "no relation" for every model, as downstream code (missing top-k terms,
reviewers without corpus papers, the reference variant's zero fill) assumes: cosine and
TF-IDF of texts without common content are 0, and so is BM25. Ensembles average calibrated
z-scores (mean 0 over corpus pairs); their matrix is shifted by ``unrelated_score`` (the
ensemble score of a pair whose members all score 0), which puts 0 back at "nothing in
common", leaving every ranking unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import (
    InputError,
    PathLike,
    atomic_path,
    read_jsonl,
    read_lines,
    save_npy,
    write_lines,
    write_parquet,
)
from revmatch.log import progress
from revmatch.model import (
    CorpusIndex,
    Model,
    load_indexes,
    load_registry_model,
    paper_scores,
    unrelated_score,
)
from revmatch.model import TEXT_FIELDS, submission_texts

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


def rows_for_budget(n_columns: int, memory_budget_mb: float, block_rows: int) -> int:
    """Rows per block so that a block and its temporaries (3 float32 copies) fit the budget."""
    per_row = 3 * 4 * max(int(n_columns), 1)
    return max(1, min(int(block_rows), int(memory_budget_mb * 2**20) // per_row))


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


def _cached_rows(cache_dir: Path) -> pd.DataFrame:
    """Every row of every complete block in ``cache_dir``: (row_key, file, row)."""
    frames = []
    for index in sorted(cache_dir.glob("*.rows.npy")):
        block = index.name[: -len(".rows.npy")] + ".npy"
        if not (cache_dir / block).exists():
            continue
        keys = np.load(index)
        frames.append(pd.DataFrame({"row_key": keys, "file": block, "row": np.arange(len(keys))}))
    if not frames:
        return pd.DataFrame({"row_key": pd.Series(dtype=str), "file": pd.Series(dtype=str),
                             "row": pd.Series(dtype=np.int64)})
    return pd.concat(frames, ignore_index=True).drop_duplicates("row_key")


def _save_block(block: np.ndarray, keys: np.ndarray, cache_dir: Path) -> str:
    """Save one computed block and its row index; returns the block file name."""
    name = hashlib.blake2b("".join(keys).encode("ascii"), digest_size=16).hexdigest()
    save_npy(block, cache_dir / f"{name}.npy")
    save_npy(keys, cache_dir / f"{name}.rows.npy")  # written last: marks the block complete
    return f"{name}.npy"


def prune_cache(cache_root: PathLike, keep: str) -> int:
    """Remove the cache folders of other column sets under ``cache_root``; returns how many."""
    removed = 0
    for folder in Path(cache_root).glob("*"):
        if folder.is_dir() and folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("removed %d stale paper-matrix cache folder(s) under %s", removed, cache_root)
    return removed


class RowScorer(Protocol):
    """A (P, D) paper matrix computed by blocks of submission rows, with content-addressed keys."""

    shape: tuple[int, int]

    @property
    def column_key(self) -> str: ...

    def row_keys(self, submission_ids: Sequence[str]) -> np.ndarray: ...

    def score(self, rows: slice | np.ndarray) -> np.ndarray: ...


def cached_matrix_rows(
    matrix: RowScorer,
    submission_ids: Sequence[str],
    cache_root: PathLike,
    block_rows: int = 2048,
    memory_budget_mb: float = 4096,
) -> pd.DataFrame:
    """Rows of a computed paper ``matrix`` (one per submission id), scored only where the cache misses.

    Returns the manifest (one row per submission, in order): ``submission_id``, ``row_key``,
    ``file`` (block file, relative to the cache folder) and ``row`` (its row there), with the
    cache folder (``cache_root/<matrix.column_key>``) in ``manifest.attrs["cache_dir"]``.
    Computed rows go to new blocks of at most ``block_rows`` rows, fewer when
    ``memory_budget_mb`` would be exceeded.
    """
    n_rows, n_columns = matrix.shape
    if len(submission_ids) != n_rows:
        raise ValueError(f"{len(submission_ids)} submission ids for {n_rows} paper-matrix rows")
    key = matrix.column_key
    cache_dir = Path(cache_root) / key
    cache_dir.mkdir(parents=True, exist_ok=True)
    keys = matrix.row_keys(submission_ids)
    manifest = pd.DataFrame({"submission_id": [str(s) for s in submission_ids], "row_key": keys})
    manifest = manifest.merge(_cached_rows(cache_dir), on="row_key", how="left")
    missing = np.flatnonzero(manifest["file"].isna().to_numpy())
    logger.info(
        "paper matrix %d x %d: %d rows cached, %d to compute (cache %s)",
        n_rows, n_columns, n_rows - len(missing), len(missing), cache_dir,
    )
    if len(missing):
        rows = rows_for_budget(n_columns, memory_budget_mb, block_rows)
        starts = range(0, len(missing), rows)
        files = np.array(manifest["file"].to_numpy(dtype=object), copy=True)
        positions = np.array(manifest["row"].to_numpy(dtype=float), copy=True)
        for start in progress(starts, desc="paper matrix", total=len(starts), unit="block"):
            chosen = missing[start : start + rows]
            block = matrix.score(chosen)
            files[chosen] = _save_block(block, keys[chosen], cache_dir)
            positions[chosen] = np.arange(len(chosen))
            del block
        manifest["file"], manifest["row"] = files, positions
    manifest["row"] = manifest["row"].astype(np.int64)
    manifest.attrs["cache_dir"] = str(cache_dir)
    return manifest


def cached_paper_matrix(
    queries: np.ndarray,
    submission_ids: Sequence[str],
    papers: np.ndarray,
    paper_ids: Sequence[str],
    cache_root: PathLike,
    block_rows: int = 2048,
    memory_budget_mb: float = 4096,
) -> pd.DataFrame:
    """``cached_matrix_rows`` of the cosine of ``queries`` to ``papers`` (the ``avg`` paper matrix)."""
    if len(paper_ids) != papers.shape[0]:
        raise ValueError("one id per embedding row is needed for submissions and papers")
    matrix = ComputedPaperMatrix(queries, papers, paper_ids)
    return cached_matrix_rows(matrix, submission_ids, cache_root, block_rows, memory_budget_mb)


class PaperMatrix:
    """Read-only (P, D) view of a cached paper matrix through its manifest(s), row slices only.

    ``matrix[lo:hi]`` gathers those rows from their block files (memory-mapped); ``shape``
    and ``dtype`` are those of the whole matrix, so ``aggregate_scores`` reads it block-wise.
    """

    def __init__(self, manifest: pd.DataFrame, cache_dir: PathLike, n_columns: int) -> None:
        self.files = manifest["file"].to_numpy(dtype=str)
        self.rows = manifest["row"].to_numpy(dtype=np.int64)
        self.cache_dir = Path(cache_dir)
        self.shape = (len(manifest), int(n_columns))
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def _rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """``rows`` of block file ``name``, read through a mapping that is closed again at once
        (an ACL-scale cache is larger than memory; open mappings would count as resident)."""
        block = np.load(self.cache_dir / name, mmap_mode="r")
        if block.ndim != 2 or block.shape[1] != self.shape[1]:
            raise ValueError(f"{self.cache_dir / name}: shape {block.shape}, expected {self.shape[1]} columns")
        out = np.asarray(block[rows])
        del block
        return out

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError("a PaperMatrix is read by row slices")
        lo, hi, step = rows.indices(self.shape[0])
        wanted = np.arange(lo, hi, step)
        out = np.empty((len(wanted), self.shape[1]), dtype=np.float32)
        files = self.files[wanted]
        for name in np.unique(files):
            at = np.flatnonzero(files == name)
            out[at] = self._rows(str(name), self.rows[wanted[at]])
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        full = self[:]
        return full if dtype is None else full.astype(dtype)


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
    """(P, D) paper matrix of a ``revmatch.registry`` model, computed on demand by row blocks.

    ``index`` is the model's corpus index (a list for an ensemble) restricted to the D
    column papers ``paper_ids``; a block of rows is ``registry.paper_scores`` of the rows'
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


def write_manifest(manifest: pd.DataFrame, path: PathLike) -> None:
    """Save a paper-matrix manifest (Parquet) with its cache folder relative to the manifest."""
    frame = manifest[["submission_id", "row_key", "file", "row"]].copy()
    cache_dir = Path(manifest.attrs["cache_dir"]).resolve()
    relative = Path(os.path.relpath(cache_dir, Path(path).resolve().parent))
    frame["file"] = [str(relative / name) for name in frame["file"]]
    write_parquet(frame, path)


def read_paper_matrix(manifests: Sequence[PathLike], papers_txt: PathLike) -> PaperMatrix:
    """The paper matrix of one or more manifests (row order = manifests in order), columns from ``papers_txt``."""
    frames = []
    for path in manifests:
        frame = pd.read_parquet(path)
        frame["file"] = [str((Path(path).parent / name).resolve()) for name in frame["file"]]
        frames.append(frame)
    manifest = pd.concat(frames, ignore_index=True)
    return PaperMatrix(manifest, "/", len(read_lines(papers_txt)))


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


def reviewer_papers_file(
    reviewers_jsonl: PathLike,
    papers_parquet: PathLike,
    out_authorship: PathLike,
    out_papers: PathLike,
) -> sp.csr_matrix:
    """Columns of the paper matrix (corpus papers with a reviewer author) and the authorship over them.

    Only corpus papers written by at least one reviewer become columns (the others can never
    count towards a reviewer's score). ``out_papers`` lists their ``paper_id`` one a line, in
    column order; ``out_authorship`` is the (R, columns) authorship matrix.
    """
    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "authors"])
    authorship = reviewer_authorship(read_jsonl(reviewers_jsonl), papers)
    columns = authored_papers(authorship)
    write_lines(papers["paper_id"].to_numpy()[columns].astype(str).tolist(), out_papers)
    save_authorship(authorship[:, columns].tocsr(), out_authorship)
    return authorship


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
    part: int = 0,
    parts: int = 1,
    block_rows: int = 2048,
    memory_budget_mb: float = 4096,
) -> pd.DataFrame:
    """Cosine paper matrix (``avg``) rows of part ``part`` of ``parts`` of the submissions, through the cache.

    Columns are the corpus papers listed in ``columns_txt`` (``reviewer_papers_file``); the
    manifest of the part's rows is written to ``out_manifest``.
    """
    queries, submission_ids, papers, paper_ids = paper_matrix_inputs(
        submission_embeddings_npy, submissions_jsonl, corpus_embeddings_npy, papers_parquet, columns_txt
    )
    rows = part_rows(len(submission_ids), parts, part, align=rows_for_budget(len(paper_ids), memory_budget_mb, block_rows))
    matrix = ComputedPaperMatrix(np.asarray(queries[rows]), papers, paper_ids)
    return _cache_part(matrix, submission_ids[rows], out_manifest, cache_root, block_rows, memory_budget_mb)


def _cache_part(
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
    (``revmatch.text.submission_texts``); a submission without text scores 0 with tfidf/bm25."""
    records = read_jsonl(submissions_jsonl)
    return [str(record.get("id")) for record in records], submission_texts(records, fields, submissions_jsonl)


def registry_matrix_part(
    spec: str,
    index_npzs: Sequence[PathLike],
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    fields: Sequence[str] = TEXT_FIELDS,
    avg_model: PathLike | None = None,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    part: int = 0,
    parts: int = 1,
    block_rows: int = 2048,
    memory_budget_mb: float = 4096,
    encoder: Mapping | None = None,
) -> tuple[RegistryPaperMatrix, list[str], int]:
    """(paper matrix, submission ids, rows per block) of part ``part`` of ``parts`` for model ``spec``.

    The model's corpus indexes (``index_npzs``, one per member, in spec order) are restricted
    to the corpus papers listed in ``columns_txt``; ``avg_model`` is the trained model file
    (needed when ``avg`` is a member, to embed the submissions).
    """
    model = load_registry_model(spec, avg_model=avg_model, sentence_transformers=sentence_transformers,
                                encoder=encoder)
    indexes = load_indexes(model, list(index_npzs))
    corpus_ids = pd.read_parquet(papers_parquet, columns=["paper_id"])["paper_id"].astype(str)
    members = indexes if isinstance(indexes, list) else [indexes]
    if len(members[0]) != len(corpus_ids):
        raise InputError(index_npzs[0], f"corpus index of {len(members[0])} papers for {len(corpus_ids)} "
                                        f"papers in {papers_parquet}; re-run the index step")
    paper_ids, columns = column_rows(corpus_ids, columns_txt, papers_parquet)
    restricted = [dataclasses.replace(member, vectors=member.vectors[columns]) for member in members]
    submission_ids, texts = read_submission_texts(submissions_jsonl, fields)
    rows_per_block = rows_for_budget(len(paper_ids), memory_budget_mb, block_rows)
    rows = part_rows(len(submission_ids), parts, part, align=rows_per_block)
    index = restricted if isinstance(indexes, list) else restricted[0]
    matrix = RegistryPaperMatrix(model, index, texts[rows], paper_ids, spec)
    logger.info("paper matrix of %s: submissions %d..%d of %d against %d papers (score offset %g)",
                spec, rows.start, rows.stop, len(submission_ids), len(paper_ids), matrix.offset)
    return matrix, submission_ids[rows], rows_per_block


def registry_paper_matrix_file(
    spec: str,
    index_npzs: Sequence[PathLike],
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    columns_txt: PathLike,
    out_manifest: PathLike,
    cache_root: PathLike,
    fields: Sequence[str] = TEXT_FIELDS,
    avg_model: PathLike | None = None,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    part: int = 0,
    parts: int = 1,
    block_rows: int = 2048,
    memory_budget_mb: float = 4096,
    encoder: Mapping | None = None,
) -> pd.DataFrame:
    """``paper_matrix_file`` for any model spec of the registry: the part's rows through the cache."""
    matrix, submission_ids, _ = registry_matrix_part(
        spec, index_npzs, submissions_jsonl, papers_parquet, columns_txt, fields=fields, avg_model=avg_model,
        sentence_transformers=sentence_transformers, part=part, parts=parts, block_rows=block_rows,
        memory_budget_mb=memory_budget_mb, encoder=encoder,
    )
    return _cache_part(matrix, submission_ids, out_manifest, cache_root, block_rows, memory_budget_mb)
