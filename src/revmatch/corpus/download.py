"""Resumable, verified downloads of signed shard URLs.

Downloads go to ``.<name>.part`` beside the destination and are renamed only once verified:

- the size: the listed one (the manifest's, from the API) when known, and the one the server
  announced (``Content-Length``/``Content-Range``, or a 416 for a partial file found complete);
- the MD5, when the ``ETag`` is a plain MD5 as on single-part S3 objects (a partial file
  found complete is checked against the ``ETag`` of a one-byte request);
- the gzip stream, inflated to its end as the bytes arrive (every member's CRC and length):
  a truncated or corrupt stream is never taken for a complete shard, whatever the headers.

A killed download resumes with an HTTP ``Range`` request. Transient failures (connection
errors, truncated transfers, 429, 5xx) are retried with exponential backoff, resuming; a
file that fails verification is removed and fetched again (at most ``retries`` times); an
expired URL (403/410, or a 400 saying ``ExpiredToken``, ``AccessDenied`` or ``Request has
expired``) is replaced by a fresh listing, written back into the manifest; a rejected API
key (401) stops at once with a clear error.
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

try:  # python-isal (Intel ISA-L): the same inflate, several times faster than zlib
    from isal import isal_zlib as _inflate
except ImportError:
    import zlib as _inflate

from revmatch.corpus.manifest import find_entry, refresh_manifest_url
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
_CHECK_OUT_BYTES = 16 << 20  # inflated bytes held at a time by the gzip check
_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_UNSATISFIED_RANGE = re.compile(r"^bytes \*/(\d+)$")

RefreshUrl = Callable[[frozenset[str]], str]
"""Given the URLs that failed as expired, a newly signed URL of the same file (none of them)."""


class _Rejected(Exception):
    """The bytes on disk failed verification: remove them and fetch the file again."""


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


class GzipCheck:
    """Inflates a gzip stream (concatenated members too) as its bytes arrive, output discarded:
    ``error`` tells corrupt data, ``complete()`` whether the bytes so far end a whole member."""

    def __init__(self) -> None:
        self.fed = 0
        self.error: str | None = None
        self._inflater = _inflate.decompressobj(wbits=31)

    def feed(self, data: bytes) -> None:
        """Inflate the next bytes of the stream (nothing more once an error was found)."""
        if self.error is not None:
            return
        rest = data
        try:
            while rest:
                if self._inflater.eof:  # the next member
                    self._inflater = _inflate.decompressobj(wbits=31)
                self._inflater.decompress(rest, _CHECK_OUT_BYTES)
                rest = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
        except _inflate.error as exc:
            self.error = f"corrupt gzip data near byte {self.fed} ({exc})"
        self.fed += len(data)

    def complete(self) -> bool:
        """Whether the stream fed so far is whole: no error, and its last member ended."""
        if self.error is not None or self.fed == 0:
            return False
        while not self._inflater.eof and self._inflater.decompress(b"", _CHECK_OUT_BYTES):
            pass  # output held back by the bound
        return self._inflater.eof


@dataclasses.dataclass
class _Transfer:
    """State of one download across attempts: bytes on disk, their running MD5 and gzip check,
    bytes fetched and requests made."""

    part: Path
    check_gzip: bool = True
    md5: Any = dataclasses.field(default_factory=hashlib.md5)
    gzip: GzipCheck = dataclasses.field(default_factory=GzipCheck)
    hashed: int = 0
    fetched: int = 0
    requests: int = 0

    def size(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def reset(self) -> None:
        self.part.unlink(missing_ok=True)
        self.md5, self.gzip, self.hashed = hashlib.md5(), GzipCheck(), 0

    def add(self, chunk: bytes) -> None:
        """Account for bytes appended to the partial file."""
        self.md5.update(chunk)
        if self.check_gzip:
            self.gzip.feed(chunk)
        self.hashed += len(chunk)

    def catch_up(self) -> None:
        """Hash and inflate what an earlier process left in the partial file."""
        if self.hashed == self.size():
            return
        self.md5, self.gzip, self.hashed = hashlib.md5(), GzipCheck(), 0
        with open(self.part, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
                self.add(block)


def _stream(response: http.client.HTTPResponse, transfer: _Transfer, mode: str, remaining: int | None, desc: str) -> None:
    """Append the response body to the partial file; stop at the first corrupt gzip byte."""
    total_chunks = None if remaining is None else -(-remaining // CHUNK_BYTES)
    chunks = iter(lambda: response.read(CHUNK_BYTES), b"")
    with open(transfer.part, mode) as fh:
        for chunk in progress(chunks, desc=desc, total=total_chunks, unit="MiB"):
            fh.write(chunk)
            transfer.add(chunk)
            transfer.fetched += len(chunk)
            if transfer.gzip.error is not None:
                raise _Rejected(transfer.gzip.error)


def _fetch(url: str, settings: ApiSettings, transfer: _Transfer, name: str) -> tuple[int | None, str | None]:
    """One request (two for a partial file found complete): append what the server sends
    from the partial file's end. Returns (the size the server announced or None, the MD5 of
    its ``ETag`` or None)."""
    offset = transfer.size()
    transfer.requests += 1
    try:
        response = _open(url, settings, {"Range": f"bytes={offset}-"} if offset else {})
    except urllib.error.HTTPError as exc:  # 416: the partial file is complete or too long
        if unsatisfied_range_total(exc.headers.get("Content-Range")) != offset:
            logger.warning("%s: range %d- not satisfiable; starting over", name, offset)
            transfer.reset()
            return _fetch(url, settings, transfer, name)
        transfer.requests += 1
        return offset, md5_from_etag(probe_etag(url, settings))  # the 416 answer has no ETag
    with response:
        if response.status == 206:
            content_range = parse_content_range(response.headers.get("Content-Range"))
            if content_range is None or content_range[0] != offset:
                raise DownloadError(
                    f"{redact_url(url)}: asked for bytes {offset}-, got Content-Range "
                    f"{response.headers.get('Content-Range')!r}"
                )
            total, mode = content_range[1], "ab"
            transfer.catch_up()
        else:
            if offset:
                logger.warning("%s: server ignored the Range request; starting over", name)
            transfer.reset()
            length = response.headers.get("Content-Length")
            total, mode = (int(length) if length is not None else None), "wb"
        etag_md5 = md5_from_etag(response.headers.get("ETag"))
        remaining = None if total is None else total - transfer.size()
        _stream(response, transfer, mode, remaining, desc=f"download {name}")
    return total, etag_md5


def _check_transfer_done(transfer: _Transfer, name: str, listed: int | None, announced: int | None) -> None:
    """Raise ``_TransientError`` (resume) when the transfer stopped short: of the size the
    server announced, else of the listed size, else (no size known) of a whole gzip stream.
    A server that says the file is complete is believed here; ``_verify`` judges the file."""
    size = transfer.size()
    expected, what = (announced, "announced") if announced is not None else (listed, "listed")
    if expected is not None and size < expected:
        raise _TransientError(f"{name}: truncated transfer ({size} of {expected} bytes {what})")
    if size == 0 and expected is None:
        raise _TransientError(f"{name}: empty response")
    if expected is None and transfer.check_gzip and transfer.gzip.error is None and not transfer.gzip.complete():
        raise _TransientError(f"{name}: the gzip stream stops at byte {size} and no size was announced")


def _verify(transfer: _Transfer, name: str, listed: int | None, announced: int | None, etag_md5: str | None) -> bool:
    """Check the partial file's size, MD5 and gzip stream; raise ``_Rejected`` saying what was
    expected and what was got. Returns whether the MD5 was checked."""
    size = transfer.size()
    for expected, what in ((listed, "listed"), (announced, "announced by the server")):
        if expected is not None and size != expected:
            raise _Rejected(f"size mismatch: expected {expected} bytes ({what}), got {size}")
    transfer.catch_up()
    if etag_md5 is not None and transfer.md5.hexdigest() != etag_md5:
        raise _Rejected(f"MD5 mismatch: expected {etag_md5} (ETag), got {transfer.md5.hexdigest()} ({size} bytes)")
    if transfer.check_gzip:
        if transfer.gzip.error is not None:
            raise _Rejected(transfer.gzip.error)
        if not transfer.gzip.complete():
            raise _Rejected(f"truncated gzip stream: it ends at byte {size} without its trailer")
    return etag_md5 is not None


def _relist(
    error: ExpiredUrlError, refresh_url: RefreshUrl | None, expired: set[str], relisted: int, settings: ApiSettings
) -> tuple[str, int]:
    """A new URL for an expired one and the re-listings made so far; the error once spent."""
    while refresh_url is not None and relisted < settings.retries:
        relisted += 1
        logger.warning("%s; listing the shards again (%d/%d)", error, relisted, settings.retries)
        try:
            url = refresh_url(frozenset(expired))
            if url in expired:
                raise ExpiredUrlError(f"{redact_url(url)}: listed again after it failed as expired")
            return url, relisted
        except ExpiredUrlError as exc:  # the listing gave back an expired URL: wait, list again
            error = exc
            if relisted < settings.retries:
                _pause(relisted, settings, _TransientError(str(exc)))
    raise error


def download_file(
    url: str,
    dest: PathLike,
    settings: ApiSettings,
    refresh_url: RefreshUrl | None = None,
    expected_size: int | None = None,
    check_gzip: bool = True,
) -> dict:
    """Download ``url`` to ``dest``, resuming a partial file left by an earlier attempt.

    Returns ``{"bytes": final size, "downloaded": bytes fetched now, "resumed_from": bytes
    already on disk at the start, "attempts": requests made, "relisted": URL refreshes,
    "rejected": downloads removed after failing verification, "seconds", "md5_checked",
    "size_checked", "gzip_checked"}``. An existing ``dest`` is kept as it is (nothing
    fetched). An expired URL calls ``refresh_url`` with the URLs that failed (at most
    ``settings.retries`` times); transient failures and truncated transfers are retried with
    exponential backoff, each retry resuming with a ``Range`` request; a file that fails
    verification (``expected_size``, the announced size, the ETag's MD5, the gzip stream when
    ``check_gzip``) is removed and fetched again, at most ``settings.retries`` times; a 401
    raises ``AuthError``.
    """
    dest = Path(dest)
    started = time.monotonic()
    if dest.exists():
        logger.info("%s exists: nothing to download", dest)
        return {"bytes": dest.stat().st_size, "downloaded": 0, "resumed_from": dest.stat().st_size,
                "attempts": 0, "relisted": 0, "rejected": 0, "seconds": 0.0, "md5_checked": False,
                "size_checked": False, "gzip_checked": False}
    dest.parent.mkdir(parents=True, exist_ok=True)
    transfer = _Transfer(partial_path(dest), check_gzip)
    resumed_from = transfer.size()
    if resumed_from:
        logger.info("resuming %s from byte %d", dest.name, resumed_from)
    failures = relisted = rejected = 0
    expired: set[str] = set()
    while True:
        offset = transfer.size()
        try:
            announced, etag_md5 = _fetch(url, settings, transfer, dest.name)
            _check_transfer_done(transfer, dest.name, expected_size, announced)
            md5_checked = _verify(transfer, dest.name, expected_size, announced, etag_md5)
            break
        except ExpiredUrlError as exc:
            expired.add(url)
            url, relisted = _relist(exc, refresh_url, expired, relisted, settings)
        except _Rejected as exc:
            transfer.reset()
            rejected += 1
            if rejected > settings.retries:
                raise DownloadError(
                    f"{dest.name}: {exc}; the file was removed (gave up after {settings.retries} retries)"
                ) from None
            _pause(rejected, settings, _TransientError(f"{dest.name}: {exc}; removed, downloading it again"))
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
    os.replace(transfer.part, dest)
    seconds = time.monotonic() - started
    size_checked = expected_size is not None or announced is not None
    logger.info(
        "%s: %d bytes (%d fetched now, resumed from %d) in %.1f s, %.1f MB/s, %d requests, %d re-listings; "
        "verified: %s",
        dest.name, size, transfer.fetched, resumed_from, seconds, transfer.fetched / 1e6 / max(seconds, 1e-9),
        transfer.requests, relisted,
        ", ".join(n for n, ok in (("size", size_checked), ("MD5", md5_checked), ("gzip", check_gzip)) if ok) or "nothing",
    )
    return {"bytes": size, "downloaded": transfer.fetched, "resumed_from": resumed_from, "attempts": transfer.requests,
            "relisted": relisted, "rejected": rejected, "seconds": seconds, "md5_checked": md5_checked,
            "size_checked": size_checked, "gzip_checked": check_gzip}


def download_shard_file(
    manifest_json: PathLike, dataset: str, shard: str, out_path: PathLike, s2: S2Settings
) -> dict:
    """Download one shard listed in the manifest to ``out_path`` (resumable, verified against
    its listed size when the manifest has one; see ``download_file``). An expired URL is
    listed again and the manifest rewritten with the new URLs (``refresh_manifest_url``)."""
    settings = s2.api_settings()
    entry = find_entry(read_json(manifest_json), dataset, shard)
    return download_file(
        entry["url"], out_path, settings,
        refresh_url=lambda expired: refresh_manifest_url(manifest_json, dataset, shard, settings, expired),
        expected_size=entry.get("size"),
    )
