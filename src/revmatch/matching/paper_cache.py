"""The content-addressed block cache of paper matrices, and the manifests that readers follow.

A block file ``<key>.npy`` comes with the ``<key>.rows.npy`` index of its row keys (see
``revmatch.matching.paper_matrix``). A run looks every submission up by its row key,
computes only the rows it does not find, and writes a manifest (Parquet: submission id, row
key, block file, row) that readers follow, so adding or withdrawing submissions recomputes
only the new rows and a new model or a new reviewer pool (new columns) starts a fresh cache
folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.io import PathLike, read_lines, save_npy, write_parquet
from revmatch.log import progress
from revmatch.matching.paper_matrix import ComputedPaperMatrix, RowScorer

logger = logging.getLogger(__name__)


def rows_for_budget(n_columns: int, memory_budget_mb: float, block_rows: int) -> int:
    """Rows per block so that a block and its temporaries (3 float32 copies) fit the budget."""
    per_row = 3 * 4 * max(int(n_columns), 1)
    return max(1, min(int(block_rows), int(memory_budget_mb * 2**20) // per_row))


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
