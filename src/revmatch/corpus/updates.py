"""Datasets API diffs applied to an older corpus: the update files filtered with the ids of
all their records, the ids of the delete files, ``papers`` and ``abstracts`` diffs applied
in order, and the update_corpus rule's file function."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from revmatch.corpus.abstracts import drop_without_abstract, join_abstracts
from revmatch.corpus.filters import filter_shard
from revmatch.corpus.merge import _combine_summaries, merge_shards
from revmatch.corpus.papers_table import read_papers, write_papers
from revmatch.corpus.settings import FilterSpec
from revmatch.corpus.shard_reading import (
    _CORPUSID,
    _MAX_REPORTED_BAD_LINES,
    _READ_BYTES,
    _corpus_ids,
    _is_clean_block,
    _iter_blocks,
    _newlines,
    check_bad_share,
)
from revmatch.io import InputError, PathLike, read_json, save_npy, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)


def read_corpus_ids(shard_path: PathLike, max_bad_share: float | None = None) -> tuple[np.ndarray, dict]:
    """The ``corpusid`` of every line of a shard (a diff's delete file), in file order, and a
    summary (``records``, ``bad_lines``: non-blank lines without a ``corpusid``)."""
    shard_path = Path(shard_path)
    found: list[np.ndarray] = []
    bad: list[int] = []
    records = 0
    lineno = 1
    n_reads = -(-shard_path.stat().st_size // _READ_BYTES)
    for block in progress(_iter_blocks(shard_path), desc=f"ids {shard_path.name}", total=n_reads, unit="MiB"):
        lines = block.split(b"\n")[:-1]
        matches = _CORPUSID.findall(block)
        if len(matches) == len(lines) and _is_clean_block(block, _newlines(block)):
            records += len(lines)
            found.append(_corpus_ids(matches))
        else:
            for at, raw in enumerate(lines, start=lineno):
                if not raw.strip():
                    continue
                records += 1
                match = _CORPUSID.search(raw)
                if match is None:
                    if len(bad) < _MAX_REPORTED_BAD_LINES:
                        logger.warning("skipped %s", InputError(shard_path, "no corpusid", row=at))
                    bad.append(at)
                else:
                    found.append(_corpus_ids([match.group(1)]))
        lineno += len(lines)
    check_bad_share(shard_path, records, bad, max_bad_share)
    ids = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    summary = {"shard": shard_path.name, "records": records, "ids": len(ids), "bad_lines": len(bad),
               "bad_line_numbers": bad[:_MAX_REPORTED_BAD_LINES]}
    logger.info("%s: %d corpus ids, %d bad lines", shard_path.name, len(ids), len(bad))
    return ids, summary


def _id_strings(ids: np.ndarray) -> np.ndarray:
    """Integer corpus ids as the corpus's ``paper_id`` strings."""
    return np.asarray(ids, dtype=np.int64).astype(str).astype(object)


def apply_paper_diff(
    corpus: pd.DataFrame, updates: pd.DataFrame, update_ids: np.ndarray, delete_ids: np.ndarray
) -> tuple[pd.DataFrame, dict]:
    """Apply one Datasets API diff of the ``papers`` dataset to a corpus frame.

    ``updates`` are the update files' records that pass the filter (normalised, without
    abstracts), ``update_ids`` the corpus ids of every update record, kept or not, and
    ``delete_ids`` the ids of the delete files. As Semantic Scholar applies diffs: upsert the
    updates, then delete. A corpus row whose id has an update record is replaced by it
    (abstract included: ``papers`` records have none, see ``update_corpus_file``) or, when the
    update no longer passes the filter, removed. Returns the new frame (sorted by
    ``paper_id``) and counts ``updated``, ``added``, ``removed_by_update``, ``deleted``.
    """
    updates, _ = merge_shards([updates])
    replaced = corpus["paper_id"].isin(_id_strings(update_ids)) | corpus["paper_id"].isin(updates["paper_id"])
    was_present = updates["paper_id"].isin(corpus["paper_id"])
    merged = pd.concat([corpus.loc[~replaced], updates], ignore_index=True)
    deleted = merged["paper_id"].isin(_id_strings(delete_ids))
    merged = merged.loc[~deleted].sort_values("paper_id", kind="stable").reset_index(drop=True)
    merged["year"] = merged["year"].astype("Int64")
    counts = {
        "updated": int(was_present.sum()),
        "added": int((~was_present).sum()),
        "removed_by_update": int(replaced.sum() - was_present.sum()),
        "deleted": int(deleted.sum()),
    }
    return merged, counts


def apply_abstract_diff(
    corpus: pd.DataFrame, abstracts: pd.DataFrame, delete_ids: np.ndarray
) -> tuple[pd.DataFrame, dict]:
    """Apply one diff of the ``abstracts`` dataset: set the abstracts of ``abstracts``
    (``paper_id``, ``abstract``), then empty those of ``delete_ids``. Returns the frame and
    counts ``abstracts_updated``, ``abstracts_deleted`` (corpus rows changed)."""
    table = abstracts.drop_duplicates("paper_id", keep="last").set_index("paper_id")["abstract"]
    out = corpus.copy()
    updated = out["paper_id"].isin(table.index)
    out.loc[updated, "abstract"] = out.loc[updated, "paper_id"].map(table)
    deleted = out["paper_id"].isin(_id_strings(delete_ids))
    out.loc[deleted, "abstract"] = ""
    return out, {"abstracts_updated": int(updated.sum()), "abstracts_deleted": int(deleted.sum())}


def filter_update_file(
    shard_path: PathLike,
    out_parquet: PathLike,
    out_summary_json: PathLike,
    out_ids_npy: PathLike,
    spec_dict: dict | None,
    max_bad_share: float | None = None,
) -> dict:
    """Filter a diff's update file like a shard (``filter_shard_file``) and also write the
    corpus ids of all its records (``.npy``): the corpus rows these records replace."""
    spec = FilterSpec.from_config(spec_dict)
    blocks: list[np.ndarray] = []
    frame, summary = filter_shard(shard_path, spec, max_bad_share=max_bad_share, record_ids=blocks)
    ids = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
    summary["filter"] = dataclasses.asdict(spec)
    summary["ids"] = len(ids)
    write_papers(frame, out_parquet)
    save_npy(ids, out_ids_npy)
    write_json(summary, out_summary_json)
    return summary


def delete_ids_file(
    shard_path: PathLike, out_npy: PathLike, out_summary_json: PathLike, max_bad_share: float | None = None
) -> dict:
    """The corpus ids of a diff's delete file as ``.npy`` and a JSON summary."""
    ids, summary = read_corpus_ids(shard_path, max_bad_share=max_bad_share)
    save_npy(ids, out_npy)
    write_json(summary, out_summary_json)
    return summary


def _by_shard(paths: list[PathLike], suffix: str) -> dict[str, Path]:
    """``{shard: path}`` for files named ``<shard><suffix>``."""
    found = {}
    for path in map(Path, paths):
        if not path.name.endswith(suffix):
            raise ValueError(f"{path}: expected a file name ending in {suffix}")
        found[path.name[: -len(suffix)]] = path
    return found


def _diff_inputs(diff: dict, kind: str, files: dict[str, Path]) -> list[Path]:
    """The files of one diff's ``update`` or ``delete`` shards, in manifest order."""
    missing = [e["shard"] for e in diff[kind] if e["shard"] not in files]
    if missing:
        raise ValueError(f"no input files for the {kind} shards {missing}")
    return [files[e["shard"]] for e in diff[kind]]


def _load_ids(paths: list[Path]) -> np.ndarray:
    return np.concatenate([np.load(p) for p in paths]) if paths else np.zeros(0, dtype=np.int64)


def update_corpus_file(
    manifest_json: PathLike,
    previous_parquet: PathLike,
    update_parquets: list[PathLike],
    update_summaries: list[PathLike],
    update_ids: list[PathLike],
    delete_ids: list[PathLike],
    out_parquet: PathLike,
    out_summary_json: PathLike,
    abstract_parquets: list[PathLike] | None = None,
    abstract_delete_ids: list[PathLike] | None = None,
    require_abstract: bool = True,
) -> dict:
    """Move a corpus to a newer release through the diffs of a manifest (``build_manifest``
    with ``update_from``): start from ``previous_parquet``, apply the ``papers`` diffs in
    order (``apply_paper_diff``), give the papers their abstracts of the older corpus (by
    id: the ``abstracts`` dataset changes only through its own diffs), apply the ``abstracts``
    diffs (``apply_abstract_diff``, when ``abstract_parquets`` is given), then, with
    ``require_abstract``, drop papers without an abstract: a paper new to the corpus gets one
    only from the abstracts diffs, so one whose abstract did not change is dropped (counted
    as ``no_abstract``; a full download has it).

    Inputs are named ``<shard>.parquet`` / ``<shard>.summary.json`` / ``<shard>.ids.npy``
    (update files) and ``<shard>.npy`` (delete files). The summary sums the update files'
    filter summaries (``records``, ``kept``, ``dropped``, ``bad_lines``) and adds
    ``previous_papers``, ``updated``, ``added``, ``removed_by_update``, ``deleted``, the
    abstract counts, ``diffs`` and ``papers`` (rows written).
    """
    manifest = read_json(manifest_json)
    parts = _by_shard(update_parquets, ".parquet")
    ids = _by_shard(update_ids, ".ids.npy")
    deletes = _by_shard(delete_ids, ".npy")
    corpus = read_papers(previous_parquet)
    previous_abstracts = corpus.loc[:, ["paper_id", "abstract"]]
    summary = _combine_summaries([read_json(p) for p in update_summaries])
    summary.pop("shards")
    summary.update(release=manifest.get("release"), update_from=manifest.get("update_from"),
                   previous_papers=len(corpus), updated=0, added=0, removed_by_update=0, deleted=0)
    paper_diffs = manifest.get("diffs", {}).get("papers", [])
    for diff in progress(paper_diffs, desc="papers diffs", unit="diff"):
        updates = [read_papers(p) for p in _diff_inputs(diff, "update", parts)]
        corpus, counts = apply_paper_diff(
            corpus, merge_shards(updates)[0], _load_ids(_diff_inputs(diff, "update", ids)),
            _load_ids(_diff_inputs(diff, "delete", deletes)),
        )
        logger.info("diff %s -> %s: %s", diff.get("from_release"), diff.get("to_release"), counts)
        for key, n in counts.items():
            summary[key] += n
    summary["diffs"] = len(paper_diffs)
    corpus = join_abstracts(corpus, [previous_abstracts])
    if abstract_parquets is not None:
        abstract_parts = _by_shard(abstract_parquets, ".parquet")
        abstract_deletes = _by_shard(abstract_delete_ids or [], ".npy")
        summary.update(abstracts_updated=0, abstracts_deleted=0)
        for diff in manifest.get("diffs", {}).get("abstracts", []):
            frames = [pq.read_table(p).to_pandas() for p in _diff_inputs(diff, "update", abstract_parts)]
            table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
                {"paper_id": pd.Series(dtype="str"), "abstract": pd.Series(dtype="str")}
            )
            corpus, counts = apply_abstract_diff(corpus, table, _load_ids(_diff_inputs(diff, "delete", abstract_deletes)))
            for key, n in counts.items():
                summary[key] += n
    if require_abstract:
        corpus, n_dropped = drop_without_abstract(corpus)
        summary["dropped"]["no_abstract"] += n_dropped
    summary["papers"] = len(corpus)
    write_papers(corpus, out_parquet)
    write_json(summary, out_summary_json)
    logger.info(
        "corpus %s -> %s: %d papers (was %d): %d updated, %d added, %d deleted, %d removed by an update",
        summary["update_from"], summary["release"], len(corpus), summary["previous_papers"], summary["updated"],
        summary["added"], summary["deleted"], summary["removed_by_update"],
    )
    return summary
