"""The manifest of a release: the signed URLs of its shards (or of the diffs from an older
release) under stable shard names, found again by name, listed anew when a URL expires."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from revmatch.corpus.s2_api import (
    ApiSettings,
    DownloadError,
    list_dataset_files,
    list_diffs,
    redact_url,
    resolve_release,
)
from revmatch.corpus.settings import S2Settings
from revmatch.io import PathLike, write_json

logger = logging.getLogger(__name__)

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_SHARD_SUFFIXES = (".jsonl.gz", ".json.gz", ".gz")


def shard_name(url: str) -> str:
    """The stable name of a shard from its (signed) URL: the file name without ``.gz`` suffix,
    with characters outside ``[A-Za-z0-9_.-]`` replaced by ``_``."""
    name = Path(urlsplit(url).path).name
    for suffix in _SHARD_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = _UNSAFE_NAME.sub("_", name).strip(".")
    if not name:
        raise ValueError(f"no file name in shard URL {redact_url(url)}")
    return name


def manifest_entries(urls: list[str], source: dict, prefix: str = "") -> list[dict]:
    """Manifest rows ``{shard, name, url, source}`` for a list of signed URLs: ``name`` is the
    file's shard name, ``shard`` the job's (``prefix`` + name, unique across a manifest's
    diffs); duplicate names in one listing raise."""
    entries = [{"shard": prefix + shard_name(u), "name": shard_name(u), "url": u, "source": source} for u in urls]
    names = [e["shard"] for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DownloadError(f"shard names repeat in one listing: {duplicates}")
    return entries


def diff_shard_prefix(index: int, kind: str) -> str:
    """The prefix that keeps diff file names apart: ``diff003-update-``, ``diff003-delete-``."""
    return f"diff{index:03d}-{kind}-"


def build_manifest(
    release: str, datasets: list[str], settings: ApiSettings, update_from: str | None = None
) -> dict:
    """List the shards of ``datasets`` in ``release`` (``latest`` resolved).

    Without ``update_from``: ``{"release", "datasets": {name: [entry, ...]}}``. With it, the
    diffs from that release, oldest first: ``{"release", "update_from", "diffs": {name:
    [{"from_release", "to_release", "update": [entry, ...], "delete": [entry, ...]}, ...]}}``,
    where the shards of diff ``k`` are named ``diff<k>-update-<name>`` / ``diff<k>-delete-<name>``.
    """
    release = resolve_release(release, settings)
    if update_from is None:
        listed = {
            name: manifest_entries(
                list_dataset_files(release, name, settings), {"kind": "files", "release": release, "dataset": name}
            )
            for name in datasets
        }
        for name, entries in listed.items():
            logger.info("release %s, dataset %s: %d shards", release, name, len(entries))
        return {"release": release, "datasets": listed}
    diffs: dict[str, list[dict]] = {}
    for name in datasets:
        diffs[name] = []
        for index, diff in enumerate(list_diffs(update_from, release, name, settings)):
            source = {"kind": "diff", "start": update_from, "end": release, "dataset": name, "index": index}
            diffs[name].append(
                {
                    "from_release": diff.get("from_release"),
                    "to_release": diff.get("to_release"),
                    "update": manifest_entries(
                        diff["update_files"], {**source, "list": "update_files"}, diff_shard_prefix(index, "update")
                    ),
                    "delete": manifest_entries(
                        diff["delete_files"], {**source, "list": "delete_files"}, diff_shard_prefix(index, "delete")
                    ),
                }
            )
        logger.info("dataset %s: %d diffs from %s to %s", name, len(diffs[name]), update_from, release)
    return {"release": release, "update_from": update_from, "diffs": diffs}


def manifest_shards(manifest: dict) -> Iterator[tuple[str, str, dict]]:
    """(dataset, shard, entry) for every shard of a manifest (files or diffs)."""
    for dataset, entries in manifest.get("datasets", {}).items():
        for entry in entries:
            yield dataset, entry["shard"], entry
    for dataset, diffs in manifest.get("diffs", {}).items():
        for diff in diffs:
            for entry in diff["update"] + diff["delete"]:
                yield dataset, entry["shard"], entry


def find_entry(manifest: dict, dataset: str, shard: str) -> dict:
    """The manifest entry of one shard; KeyError naming it when absent."""
    for found_dataset, found_shard, entry in manifest_shards(manifest):
        if found_dataset == dataset and found_shard == shard:
            return entry
    raise KeyError(f"shard {shard!r} of dataset {dataset!r} is not in the manifest")


def fresh_url(entry: dict, settings: ApiSettings) -> str:
    """List the shard's source again and return its newly signed URL."""
    source = entry["source"]
    if source["kind"] == "files":
        urls = list_dataset_files(source["release"], source["dataset"], settings)
    else:
        diffs = list_diffs(source["start"], source["end"], source["dataset"], settings)
        urls = diffs[source["index"]][source["list"]]
    for url in urls:
        if shard_name(url) == entry.get("name", entry["shard"]):
            return url
    raise DownloadError(f"shard {entry['shard']!r} is no longer listed by the API")


def write_manifest_file(s2: S2Settings, datasets: list[str], out_json: PathLike) -> dict:
    """List a release's shards (or the diffs from ``s2.update_from``) into a JSON manifest."""
    settings = s2.api_settings()
    update_from = s2.update_from.release if s2.update_from is not None else None
    manifest = build_manifest(s2.release, datasets, settings, update_from)
    write_json(manifest, out_json)
    return manifest
