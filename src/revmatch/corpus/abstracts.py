"""Abstracts of the Datasets API ``abstracts`` dataset: the kept papers' ids, the abstracts
of those ids selected from a shard, and abstracts joined to papers by id."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from revmatch.corpus.records import _text
from revmatch.corpus.shard_reading import (
    _CORPUSID,
    _MAX_REPORTED_BAD_LINES,
    _READ_BYTES,
    _corpus_ids,
    _is_clean_block,
    _iter_blocks,
    _newlines,
    _parse_line,
    check_bad_share,
)
from revmatch.io import InputError, PathLike, atomic_path, save_npy, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)


def select_abstracts(
    shard_path: PathLike, paper_ids: np.ndarray, max_bad_share: float | None = None
) -> tuple[pd.DataFrame, dict]:
    """The abstracts of an ``abstracts`` dataset shard whose ``corpusid`` is in ``paper_ids``.

    Returns a frame (``paper_id`` str, ``abstract`` str) and a summary (``records``,
    ``kept``, ``bad_lines``). Only the lines of wanted ids are parsed; a line without a
    ``corpusid`` or with bad JSON among them is a bad line.
    """
    shard_path = Path(shard_path)
    wanted = np.unique(np.asarray(paper_ids, dtype=np.int64))
    rows: list[tuple[str, str]] = []
    bad: list[int] = []
    records = 0
    lineno = 1
    n_reads = -(-shard_path.stat().st_size // _READ_BYTES)
    for block in progress(_iter_blocks(shard_path), desc=f"abstracts {shard_path.name}", total=n_reads, unit="MiB"):
        newlines = _newlines(block)
        n_lines = len(newlines)
        if _is_clean_block(block, newlines) and len(_CORPUSID.findall(block)) == n_lines:
            records += n_lines
            lines = block.split(b"\n")[:-1] if np.isin(_corpus_ids(_CORPUSID.findall(block)), wanted).any() else []
            numbered = [(lineno + i, raw) for i, raw in enumerate(lines)]
        else:
            numbered = [(lineno + i, raw) for i, raw in enumerate(block.split(b"\n")[:-1]) if raw.strip()]
            records += len(numbered)
        for at, raw in numbered:
            found = _CORPUSID.search(raw)
            if found is None:
                bad.append(at)
                continue
            if not np.isin(int(found.group(1)), wanted):
                continue
            try:
                record = _parse_line(shard_path, at, raw)
            except InputError as exc:
                if len(bad) < _MAX_REPORTED_BAD_LINES:
                    logger.warning("skipped %s", exc)
                bad.append(at)
                continue
            rows.append((str(record.get("corpusid")), _text(record.get("abstract"))))
        lineno += n_lines
    check_bad_share(shard_path, records, bad, max_bad_share)
    frame = pd.DataFrame(rows, columns=["paper_id", "abstract"]).astype("str")
    summary = {"shard": shard_path.name, "records": records, "kept": len(frame), "bad_lines": len(bad),
               "bad_line_numbers": bad[:_MAX_REPORTED_BAD_LINES]}
    logger.info("%s: %d abstracts read, %d of wanted papers, %d bad lines", shard_path.name, records, len(frame), len(bad))
    return frame, summary


def join_abstracts(papers: pd.DataFrame, abstracts: list[pd.DataFrame]) -> pd.DataFrame:
    """Fill empty ``abstract`` values of ``papers`` from abstract frames, by ``paper_id``
    (the first non-empty abstract of an id wins)."""
    if not abstracts:
        return papers
    table = pd.concat(abstracts, ignore_index=True)
    table = table.loc[table["abstract"].str.len() > 0].drop_duplicates("paper_id", keep="first")
    found = papers["paper_id"].map(table.set_index("paper_id")["abstract"])
    out = papers.copy()
    empty = out["abstract"].fillna("").str.len() == 0
    out.loc[empty, "abstract"] = found[empty].fillna("")
    return out


def drop_without_abstract(papers: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Papers with a non-empty abstract, and how many were dropped."""
    has = papers["abstract"].fillna("").str.len() > 0
    return papers.loc[has].reset_index(drop=True), int((~has).sum())


def write_paper_ids_file(shard_parquets: list[PathLike], out_npy: PathLike) -> np.ndarray:
    """The sorted unique (integer) corpus ids of the kept papers of all shard parts, as ``.npy``."""
    ids = [pq.read_table(p, columns=["paper_id"]).column("paper_id").to_numpy(zero_copy_only=False)
           for p in shard_parquets]
    joined = np.concatenate(ids) if ids else np.zeros(0, dtype=object)
    try:
        numeric = np.unique(joined.astype(np.int64))
    except ValueError as exc:
        raise ValueError(f"paper ids must be Datasets API corpus ids (integers) to join abstracts: {exc}") from exc
    save_npy(numeric, out_npy)
    logger.info("%d kept paper ids from %d shard parts", len(numeric), len(shard_parquets))
    return numeric


def select_abstracts_file(
    shard_path: PathLike, ids_npy: PathLike, out_parquet: PathLike, out_summary_json: PathLike,
    max_bad_share: float | None = None,
) -> dict:
    """Abstracts of the kept papers from one ``abstracts`` shard, as Parquet and a JSON summary."""
    frame, summary = select_abstracts(shard_path, np.load(ids_npy), max_bad_share=max_bad_share)
    with atomic_path(out_parquet) as tmp:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    write_json(summary, out_summary_json)
    return summary
