"""Semantic Scholar Datasets API: releases, signed shard URLs, diffs, resumable downloads.

The API (``https://api.semanticscholar.org/datasets/v1``) lists release ids, the datasets of
a release and, per dataset, pre-signed expiring URLs of gzipped JSON-lines shards; the
diffs endpoint lists the update and delete files that move a dataset from one release to a
later one. The API key is sent in the ``x-api-key`` header to API endpoints only (never to
the signed shard URLs, which carry their own signature), comes from an environment
variable, and never appears in logs, reprs or files: logged URLs lose their query string.

Downloads go to ``.<name>.part`` beside the destination and are renamed when complete and
verified (size from ``Content-Length``/``Content-Range``, MD5 when the ``ETag`` is a plain
MD5 as on single-part S3 objects; a partial file found complete, answered with 416, is
checked against the ``ETag`` of a one-byte request), so a killed download resumes with an
HTTP ``Range`` request. Transient failures (connection errors, truncated transfers, 429, 5xx) are retried
with exponential backoff; an expired URL (403/410) is replaced by a fresh listing; a
rejected API key (401) stops at once with a clear error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from revmatch.io import PathLike, read_json, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.semanticscholar.org/datasets/v1"
API_KEY_HEADER = "x-api-key"
CHUNK_BYTES = 1 << 20
_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_UNSATISFIED_RANGE = re.compile(r"^bytes \*/(\d+)$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_SHARD_SUFFIXES = (".jsonl.gz", ".json.gz", ".gz")
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class AuthError(RuntimeError):
    """The API rejected the key (or none was given); retrying cannot help."""


class DownloadError(RuntimeError):
    """A request or download failed for good (retries spent, or a verification failed)."""


class ExpiredUrlError(DownloadError):
    """A signed shard URL was refused (403/410): it has expired and must be listed again."""


class _TransientError(Exception):
    """A failure worth retrying after a pause (``retry_after`` seconds when the server says)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    """Where the API is, the key (hidden from repr) and the retry policy."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = dataclasses.field(default=None, repr=False)
    retries: int = 5
    backoff_s: float = 2.0
    max_backoff_s: float = 120.0
    timeout_s: float = 60.0

    @classmethod
    def from_config(cls, s2_config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Build from the ``corpus.s2`` config; the key is read from ``environ[api_key_env]``."""
        environ = os.environ if environ is None else environ
        key_env = s2_config.get("api_key_env") or ""
        return cls(
            base_url=str(s2_config.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
            api_key=environ.get(key_env) or None if key_env else None,
            retries=int(s2_config.get("retries", 5)),
            backoff_s=float(s2_config.get("backoff_s", 2.0)),
            max_backoff_s=float(s2_config.get("max_backoff_s", 120.0)),
            timeout_s=float(s2_config.get("timeout_s", 60.0)),
        )


# ---------------------------------------------------------------- small pure helpers


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``base_s * 2**(attempt-1)``, capped."""
    return min(max_s, base_s * 2.0 ** max(0, attempt - 1))


def redact_url(url: str) -> str:
    """A URL without its query string and fragment (signed URLs carry credentials there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


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


def partial_path(dest: PathLike) -> Path:
    """Where the bytes of an unfinished download of ``dest`` are kept between attempts."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.part")


def parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """``bytes START-END/TOTAL`` -> (START, TOTAL or None); None when absent or malformed."""
    match = _CONTENT_RANGE.match((value or "").strip())
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def unsatisfied_range_total(value: str | None) -> int | None:
    """The full size in a 416 answer's ``Content-Range: bytes */TOTAL``; None when absent."""
    match = _UNSATISFIED_RANGE.match((value or "").strip())
    return int(match.group(1)) if match else None


def md5_from_etag(etag: str | None) -> str | None:
    """The MD5 hex digest an ETag stands for (plain single-part S3 ETags), else None."""
    match = _MD5_ETAG.match((etag or "").strip())
    return match.group(1).lower() if match else None


# ---------------------------------------------------------------- HTTP


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _open(
    url: str, settings: ApiSettings, headers: Mapping[str, str] | None = None, send_key: bool = False
) -> http.client.HTTPResponse:
    """One request; classify failures as auth, expired, transient or final."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    if send_key and settings.api_key:
        request.add_header(API_KEY_HEADER, settings.api_key)
    where = redact_url(url)
    try:
        return urllib.request.urlopen(request, timeout=settings.timeout_s)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        if status == 401 or (send_key and status == 403):
            hint = "no API key was given" if not settings.api_key else "the API key was rejected"
            raise AuthError(
                f"{where}: HTTP {status}: {hint}; set the environment variable named by "
                "corpus.s2.api_key_env to a valid Semantic Scholar API key"
            ) from None
        if status in (403, 410):
            raise ExpiredUrlError(f"{where}: HTTP {status} (signed URL expired or revoked)") from None
        if status in _TRANSIENT_STATUS:
            raise _TransientError(f"{where}: HTTP {status}", _retry_after(exc.headers)) from None
        if status == 416:
            raise  # handled by the download loop
        raise DownloadError(f"{where}: HTTP {status}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _TransientError(f"{where}: {type(exc).__name__}: {reason}") from None


def _pause(attempt: int, settings: ApiSettings, error: _TransientError) -> None:
    delay = error.retry_after if error.retry_after is not None else backoff_delay(
        attempt, settings.backoff_s, settings.max_backoff_s
    )
    logger.warning("%s; retry %d/%d in %.1f s", error, attempt, settings.retries, delay)
    time.sleep(delay)


def probe_etag(url: str, settings: ApiSettings) -> str | None:
    """The ``ETag`` of a file, from a one-byte ranged GET (signed URLs allow GET only)."""
    with _open(url, settings, {"Range": "bytes=0-0"}) as response:
        response.read()
        return response.headers.get("ETag")


def get_json(url: str, settings: ApiSettings) -> Any:
    """GET an API endpoint (with the key) as JSON, retrying transient failures."""
    for attempt in range(1, settings.retries + 2):
        try:
            with _open(url, settings, {"Accept": "application/json"}, send_key=True) as response:
                return json.loads(response.read())
        except _TransientError as exc:
            if attempt > settings.retries:
                raise DownloadError(f"{exc} (gave up after {settings.retries} retries)") from None
            _pause(attempt, settings, exc)
        except json.JSONDecodeError as exc:
            raise DownloadError(f"{redact_url(url)}: response is not JSON ({exc})") from None
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- API endpoints


def list_releases(settings: ApiSettings) -> list[str]:
    """Release ids (dates), oldest first."""
    releases = get_json(f"{settings.base_url}/release/", settings)
    if not isinstance(releases, list) or not all(isinstance(r, str) for r in releases):
        raise DownloadError(f"{settings.base_url}/release/: expected a list of release ids")
    return sorted(releases)


def resolve_release(release: str, settings: ApiSettings) -> str:
    """A release id; ``latest`` becomes the newest listed release."""
    if release != "latest":
        return release
    releases = list_releases(settings)
    if not releases:
        raise DownloadError(f"{settings.base_url}/release/: no releases listed")
    return releases[-1]


def list_dataset_files(release: str, dataset: str, settings: ApiSettings) -> list[str]:
    """The signed shard URLs of one dataset of a release."""
    url = f"{settings.base_url}/release/{quote(release)}/dataset/{quote(dataset)}"
    body = get_json(url, settings)
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise DownloadError(f"{redact_url(url)}: expected an object with a 'files' list of URLs")
    return files


def list_diffs(start_release: str, end_release: str, dataset: str, settings: ApiSettings) -> list[dict]:
    """The diffs from ``start_release`` to ``end_release``, oldest first, each with
    ``from_release``, ``to_release``, ``update_files`` and ``delete_files`` (signed URLs)."""
    url = f"{settings.base_url}/diffs/{quote(start_release)}/to/{quote(end_release)}/{quote(dataset)}"
    body = get_json(url, settings)
    diffs = body.get("diffs") if isinstance(body, dict) else None
    if not isinstance(diffs, list):
        raise DownloadError(f"{redact_url(url)}: expected an object with a 'diffs' list")
    for diff in diffs:
        if not isinstance(diff, dict) or not all(
            isinstance(diff.get(k), list) for k in ("update_files", "delete_files")
        ):
            raise DownloadError(f"{redact_url(url)}: a diff lacks 'update_files'/'delete_files' lists")
    return diffs


# ---------------------------------------------------------------- manifest


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


# ---------------------------------------------------------------- download


@dataclasses.dataclass
class _Transfer:
    """State of one download across attempts: bytes on disk and their running MD5."""

    part: Path
    md5: Any = dataclasses.field(default_factory=hashlib.md5)
    hashed: int = 0

    def size(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def reset(self) -> None:
        self.part.unlink(missing_ok=True)
        self.md5, self.hashed = hashlib.md5(), 0

    def catch_up_hash(self) -> None:
        """Hash what an earlier process left in the partial file."""
        size = self.size()
        if self.hashed == size:
            return
        self.md5, self.hashed = hashlib.md5(), 0
        with open(self.part, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
                self.md5.update(block)
                self.hashed += len(block)


def _stream(response: http.client.HTTPResponse, transfer: _Transfer, mode: str, remaining: int | None, desc: str) -> int:
    """Append the response body to the partial file; return bytes written."""
    written = 0
    total_chunks = None if remaining is None else -(-remaining // CHUNK_BYTES)
    chunks = iter(lambda: response.read(CHUNK_BYTES), b"")
    with open(transfer.part, mode) as fh:
        for chunk in progress(chunks, desc=desc, total=total_chunks, unit="MiB"):
            fh.write(chunk)
            transfer.md5.update(chunk)
            transfer.hashed += len(chunk)
            written += len(chunk)
    return written


def download_file(
    url: str,
    dest: PathLike,
    settings: ApiSettings,
    refresh_url: Callable[[], str] | None = None,
) -> dict:
    """Download ``url`` to ``dest``, resuming a partial file left by an earlier attempt.

    Returns ``{"bytes": final size, "downloaded": bytes fetched now, "resumed_from": bytes
    already on disk at the start, "attempts": requests made, "relisted": URL refreshes,
    "seconds", "md5_checked"}``. An existing ``dest`` is kept as it is (nothing fetched).
    A 403/410 calls ``refresh_url`` for a new signed URL (at most ``settings.retries``
    times); transient failures and truncated transfers are retried with exponential
    backoff, each retry resuming with a ``Range`` request; a 401 raises ``AuthError``.
    """
    dest = Path(dest)
    started = time.monotonic()
    if dest.exists():
        logger.info("%s exists: nothing to download", dest)
        return {"bytes": dest.stat().st_size, "downloaded": 0, "resumed_from": dest.stat().st_size,
                "attempts": 0, "relisted": 0, "seconds": 0.0, "md5_checked": False}
    dest.parent.mkdir(parents=True, exist_ok=True)
    transfer = _Transfer(partial_path(dest))
    resumed_from = transfer.size()
    if resumed_from:
        logger.info("resuming %s from byte %d", dest.name, resumed_from)
    failures = requests = relisted = downloaded = 0
    total: int | None = None
    etag_md5: str | None = None
    while True:
        offset = transfer.size()
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        requests += 1
        try:
            try:
                response = _open(url, settings, headers)
            except urllib.error.HTTPError as exc:  # 416: the partial file is complete or too long
                if unsatisfied_range_total(exc.headers.get("Content-Range")) != offset:
                    logger.warning("%s: range %d- not satisfiable; starting over", dest.name, offset)
                    transfer.reset()
                    continue
                total = offset
                requests += 1
                etag_md5 = md5_from_etag(probe_etag(url, settings))  # the 416 answer has no ETag
                break
            with response:
                if response.status == 206:
                    content_range = parse_content_range(response.headers.get("Content-Range"))
                    if content_range is None or content_range[0] != offset:
                        raise DownloadError(
                            f"{redact_url(url)}: asked for bytes {offset}-, got Content-Range "
                            f"{response.headers.get('Content-Range')!r}"
                        )
                    total, mode = content_range[1], "ab"
                    transfer.catch_up_hash()
                else:
                    if offset:
                        logger.warning("%s: server ignored the Range request; starting over", dest.name)
                    transfer.reset()
                    length = response.headers.get("Content-Length")
                    total, mode = (int(length) if length is not None else None), "wb"
                etag_md5 = md5_from_etag(response.headers.get("ETag"))
                start = transfer.size()
                remaining = None if total is None else total - start
                try:
                    got = _stream(response, transfer, mode, remaining, desc=f"download {dest.name}")
                finally:
                    downloaded += transfer.size() - start
            if total is not None and transfer.size() < total:
                raise _TransientError(f"{dest.name}: truncated transfer ({transfer.size()} of {total} bytes)")
            if total is None and got == 0 and transfer.size() == 0:
                raise _TransientError(f"{dest.name}: empty response")
            break
        except ExpiredUrlError as exc:
            if refresh_url is None or relisted >= settings.retries:
                raise
            relisted += 1
            logger.warning("%s; listing the shards again (%d/%d)", exc, relisted, settings.retries)
            url = refresh_url()
        except (_TransientError, http.client.HTTPException, OSError) as exc:
            error = exc if isinstance(exc, _TransientError) else _TransientError(
                f"{dest.name}: {type(exc).__name__}: {exc}"
            )
            # a retry that made progress does not count against the limit
            failures = 0 if transfer.size() > offset else failures + 1
            if failures > settings.retries:
                raise DownloadError(
                    f"{error} (gave up after {settings.retries} retries; {transfer.size()} bytes kept "
                    f"in {transfer.part} for the next run)"
                ) from None
            _pause(max(failures, 1), settings, error)
    size = transfer.size()
    if total is not None and size != total:
        transfer.reset()
        raise DownloadError(f"{dest.name}: {size} bytes on disk, the server announced {total}")
    md5_checked = False
    if etag_md5 is not None:
        transfer.catch_up_hash()
        if transfer.md5.hexdigest() != etag_md5:
            transfer.reset()
            raise DownloadError(f"{dest.name}: MD5 {transfer.md5.hexdigest()} differs from ETag {etag_md5}")
        md5_checked = True
    os.replace(transfer.part, dest)
    seconds = time.monotonic() - started
    logger.info(
        "%s: %d bytes (%d fetched now, resumed from %d) in %.1f s, %.1f MB/s, %d requests, %d re-listings%s",
        dest.name, size, downloaded, resumed_from, seconds, downloaded / 1e6 / max(seconds, 1e-9),
        requests, relisted, ", MD5 verified" if md5_checked else "",
    )
    return {"bytes": size, "downloaded": downloaded, "resumed_from": resumed_from, "attempts": requests,
            "relisted": relisted, "seconds": seconds, "md5_checked": md5_checked}


# ---------------------------------------------------------------- files


def write_manifest_file(s2_config: Mapping[str, Any], datasets: list[str], out_json: PathLike) -> dict:
    """List a release's shards (or the diffs from ``s2_config['update_from']``) into a JSON manifest."""
    settings = ApiSettings.from_config(s2_config)
    update = s2_config.get("update_from") or {}
    manifest = build_manifest(str(s2_config.get("release", "latest")), datasets, settings, update.get("release"))
    write_json(manifest, out_json)
    return manifest


def download_shard_file(
    manifest_json: PathLike, dataset: str, shard: str, out_path: PathLike, s2_config: Mapping[str, Any]
) -> dict:
    """Download one shard listed in the manifest to ``out_path`` (resumable; see ``download_file``)."""
    settings = ApiSettings.from_config(s2_config)
    entry = find_entry(read_json(manifest_json), dataset, shard)
    return download_file(entry["url"], out_path, settings, refresh_url=lambda: fresh_url(entry, settings))
