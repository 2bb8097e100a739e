"""Corpus parts -> one corpus: frames merged (the first row of a paper id kept), per-shard
summaries summed, abstracts joined, and the merge_corpus rule's file function."""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow.parquet as pq

from revmatch.corpus.abstracts import drop_without_abstract, join_abstracts
from revmatch.corpus.filters import DROP_REASONS
from revmatch.corpus.papers_table import CORPUS_COLUMNS, papers_frame, read_papers, write_papers
from revmatch.io import PathLike, read_json, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)


def merge_shards(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, dict]:
    """Concatenate shard frames, keep the first row of each ``paper_id``, sort by ``paper_id``.

    "First" follows the order of ``frames``. Returns the merged frame and
    ``{"duplicates": rows removed, "papers": rows kept}``.
    """
    frames = [f.loc[:, list(CORPUS_COLUMNS)] for f in frames]
    merged = pd.concat(frames, ignore_index=True) if frames else papers_frame([])
    duplicated = merged["paper_id"].duplicated(keep="first")
    n_duplicates = int(duplicated.sum())
    if n_duplicates:
        logger.info("merge: %d duplicate paper ids removed (first occurrence kept)", n_duplicates)
    merged = merged.loc[~duplicated].sort_values("paper_id", kind="stable").reset_index(drop=True)
    merged["year"] = merged["year"].astype("Int64")
    return merged, {"duplicates": n_duplicates, "papers": len(merged)}


def _combine_summaries(summaries: list[dict]) -> dict:
    """Sum per-shard counts."""
    dropped = dict.fromkeys(DROP_REASONS, 0)
    for s in summaries:
        for reason, n in s.get("dropped", {}).items():
            dropped[reason] = dropped.get(reason, 0) + int(n)
    return {
        "shards": len(summaries),
        "records": sum(int(s.get("records", 0)) for s in summaries),
        "kept": sum(int(s.get("kept", 0)) for s in summaries),
        "dropped": dropped,
        "bad_lines": sum(int(s.get("bad_lines", 0)) for s in summaries),
    }


def merge_shards_file(
    shard_parquets: list[PathLike],
    shard_summaries: list[PathLike],
    out_parquet: PathLike,
    out_summary_json: PathLike,
    abstract_parquets: list[PathLike] | None = None,
    require_abstract: bool = True,
) -> dict:
    """Merge shard parts into the corpus Parquet file and an overall JSON summary.

    The summary sums the shard summaries (``shards``, ``records``, ``kept``, ``dropped``
    by reason, ``bad_lines``) and adds ``duplicates`` and ``papers`` (rows written). With
    ``abstract_parquets`` (Datasets API), empty abstracts are filled from them by paper id
    (``abstracts_joined``), then, with ``require_abstract``, papers still without one are
    dropped and counted as ``no_abstract``.
    """
    if len(shard_parquets) != len(shard_summaries):
        raise ValueError(f"{len(shard_parquets)} shard parts but {len(shard_summaries)} summaries")
    frames = [read_papers(p) for p in progress(shard_parquets, desc="read shard parts", unit="shard")]
    merged, merge_summary = merge_shards(frames)
    summary = _combine_summaries([read_json(p) for p in shard_summaries])
    if abstract_parquets is not None:
        abstracts = [pq.read_table(p).to_pandas() for p in abstract_parquets]
        before = int((merged["abstract"].fillna("").str.len() > 0).sum())
        merged = join_abstracts(merged, abstracts)
        summary["abstracts_joined"] = int((merged["abstract"].fillna("").str.len() > 0).sum()) - before
        if require_abstract:
            merged, n_dropped = drop_without_abstract(merged)
            summary["dropped"]["no_abstract"] += n_dropped
            summary["kept"] -= n_dropped
            merge_summary["papers"] = len(merged)
    summary.update(merge_summary)
    write_papers(merged, out_parquet)
    write_json(summary, out_summary_json)
    logger.info(
        "corpus: %d papers from %d shards (%d duplicates)", len(merged), len(frames), summary["duplicates"]
    )
    return summary
