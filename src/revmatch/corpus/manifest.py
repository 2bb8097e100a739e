"""The manifest of a release: the signed URLs of its shards (or of the diffs from an older
release) under stable shard names, with their sizes when listed, found again by name, listed
anew when a URL expires.

A refresh rewrites the manifest file with the new URLs of every shard of the listing it made
(under a lock beside it, as download jobs run side by side), never with a URL that failed as
expired, and keeps the file's modification time: only signatures changed, so nothing
downstream of the manifest becomes out of date.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import logging
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from revmatch.corpus.s2_api import (
    ApiSettings,
    DownloadError,
    ExpiredUrlError,
    ListedFile,
    dataset_files,
    list_diffs,
    redact_url,
    resolve_release,
)
from revmatch.corpus.settings import S2Settings
from revmatch.io import PathLike, atomic_path, read_json, write_json

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


def manifest_entry(file: ListedFile | str, source: dict, prefix: str = "") -> dict:
    """The manifest row ``{shard, name, url, source}`` of a listed file (``size`` too when listed)."""
    file = ListedFile(file) if isinstance(file, str) else file
    name = shard_name(file.url)
    entry = {"shard": prefix + name, "name": name, "url": file.url, "source": source}
    if file.size is not None:
        entry["size"] = file.size
    return entry


def manifest_entries(files: list[ListedFile | str], source: dict, prefix: str = "") -> list[dict]:
    """Manifest rows for a listing (``manifest_entry``): ``name`` is the file's shard name,
    ``shard`` the job's (``prefix`` + name, unique across a manifest's diffs); duplicate names
    in one listing raise."""
    entries = [manifest_entry(f, source, prefix) for f in files]
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
                dataset_files(release, name, settings), {"kind": "files", "release": release, "dataset": name}
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


def _origin(source: dict) -> tuple:
    """What one listing covers: a release's dataset, or the diffs between two releases."""
    if source["kind"] == "files":
        return ("files", source["release"], source["dataset"])
    return ("diff", source["start"], source["end"], source["dataset"])


def _entry_key(entry: dict) -> tuple:
    """Where an entry sits in its origin's listing: (diff index, list, name), None for files."""
    source, name = entry["source"], entry.get("name", entry["shard"])
    return (None, None, name) if source["kind"] == "files" else (source["index"], source["list"], name)


def list_origin_again(source: dict, settings: ApiSettings) -> dict[tuple, ListedFile]:
    """List a source's origin again: ``_entry_key`` -> the newly signed file."""
    if source["kind"] == "files":
        files = dataset_files(source["release"], source["dataset"], settings)
        return {(None, None, shard_name(f.url)): f for f in files}
    diffs = list_diffs(source["start"], source["end"], source["dataset"], settings)
    return {
        (index, kind, shard_name(f.url)): f
        for index, diff in enumerate(diffs)
        for kind in ("update_files", "delete_files")
        for f in diff[kind]
    }


def fresh_url(entry: dict, settings: ApiSettings) -> str:
    """List the shard's source again and return its newly signed URL."""
    listed = list_origin_again(entry["source"], settings).get(_entry_key(entry))
    if listed is None:
        raise DownloadError(f"shard {entry['shard']!r} is no longer listed by the API")
    return listed.url


def relisted_manifest(manifest: dict, origin: tuple, listed: dict[tuple, ListedFile]) -> tuple[dict, int]:
    """The manifest with the URLs (and listed sizes) of ``origin``'s entries replaced by
    ``listed``; returns it and the number of entries changed (the input is not modified)."""
    manifest = copy.deepcopy(manifest)
    changed = 0
    for _, _, entry in manifest_shards(manifest):
        new = listed.get(_entry_key(entry)) if _origin(entry["source"]) == origin else None
        if new is None or new.url == entry["url"]:
            continue
        entry["url"] = new.url
        if new.size is not None:
            entry["size"] = new.size
        changed += 1
    return manifest, changed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.<name>.lock`` beside ``path`` (other processes wait)."""
    lock = path.with_name(f".{path.name}.lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_keeping_mtime(manifest: dict, path: Path) -> None:
    """Replace the manifest file atomically, keeping its access and modification times."""
    stat = path.stat()
    with atomic_path(path) as tmp:
        write_json(manifest, tmp)
        os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def refresh_manifest_url(
    manifest_json: PathLike, dataset: str, shard: str, settings: ApiSettings, expired: Collection[str]
) -> str:
    """A new signed URL of one shard, none of ``expired``, written back into the manifest.

    Under the manifest's lock: when another job already replaced the shard's URL, that URL is
    returned; otherwise the shard's origin is listed again and every entry of that listing
    gets its new URL in the file (modification time kept). A listing that gives the shard an
    expired URL again raises ``ExpiredUrlError`` and writes nothing.
    """
    path = Path(manifest_json)
    with _locked(path):
        manifest = read_json(path)
        entry = find_entry(manifest, dataset, shard)
        if entry["url"] not in expired:
            logger.info("shard %s: the manifest already holds a new URL", shard)
            return entry["url"]
        listed = list_origin_again(entry["source"], settings)
        new = listed.get(_entry_key(entry))
        if new is None:
            raise DownloadError(f"shard {shard!r} is no longer listed by the API")
        if new.url in expired:
            raise ExpiredUrlError(f"shard {shard!r}: the API listed again the URL that failed as expired")
        updated, changed = relisted_manifest(manifest, _origin(entry["source"]), listed)
        _write_keeping_mtime(updated, path)
        logger.info("%s: %d URLs replaced by a new listing", path.name, changed)
        return new.url


def write_manifest_file(s2: S2Settings, datasets: list[str], out_json: PathLike) -> dict:
    """List a release's shards (or the diffs from ``s2.update_from``) into a JSON manifest."""
    settings = s2.api_settings()
    update_from = s2.update_from.release if s2.update_from is not None else None
    manifest = build_manifest(s2.release, datasets, settings, update_from)
    write_json(manifest, out_json)
    return manifest
