"""Resumable, verified downloads of signed shard URLs.

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
import logging
import os
import re
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

from revmatch.corpus.manifest import find_entry, fresh_url
from revmatch.corpus.s2_api import (
    ApiSettings,
    DownloadError,
    ExpiredUrlError,
    _open,
    _pause,
    _TransientError,
    redact_url,
)
from revmatch.corpus.settings import S2Settings
from revmatch.io import PathLike, read_json
from revmatch.log import progress

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_UNSATISFIED_RANGE = re.compile(r"^bytes \*/(\d+)$")


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


def probe_etag(url: str, settings: ApiSettings) -> str | None:
    """The ``ETag`` of a file, from a one-byte ranged GET (signed URLs allow GET only)."""
    with _open(url, settings, {"Range": "bytes=0-0"}) as response:
        response.read()
        return response.headers.get("ETag")


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


def download_shard_file(
    manifest_json: PathLike, dataset: str, shard: str, out_path: PathLike, s2: S2Settings
) -> dict:
    """Download one shard listed in the manifest to ``out_path`` (resumable; see ``download_file``)."""
    settings = s2.api_settings()
    entry = find_entry(read_json(manifest_json), dataset, shard)
    return download_file(entry["url"], out_path, settings, refresh_url=lambda: fresh_url(entry, settings))
