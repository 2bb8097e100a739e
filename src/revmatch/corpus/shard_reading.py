"""Reading Semantic Scholar shards: gunzip (ISA-L or zlib, across concatenated members),
blocks of whole lines, JSON lines, byte-level scans of corpus ids, and the bad-line check."""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

try:  # python-isal (Intel ISA-L): the same gzip streams, inflated several times faster than zlib
    from isal import igzip as _igzip
except ImportError:  # the standard library's zlib serves as well, only slower
    _igzip = None

from revmatch.io import InputError, PathLike

logger = logging.getLogger(__name__)

_MAX_REPORTED_BAD_LINES = 20
_READ_BYTES = 1 << 20  # compressed bytes a progress step (and a zlib read)
_BLOCK_BYTES = 4 << 20  # decompressed bytes read at a time from the isal reader
_GZIP_MAGIC = b"\x1f\x8b"
GUNZIP_BACKEND = "isal" if _igzip is not None else "zlib"
_CORPUSID = re.compile(rb'corpusid"\s*:\s*(\d+)')  # no leading quote: a rare first byte scans faster


def _zlib_decompressed(fh, path: Path) -> Iterator[bytes]:
    """Gunzip an open file with zlib, one compressed MiB a step, across concatenated gzip
    members; a truncated or corrupt stream raises ``InputError`` (CRC and length checked)."""
    inflater = zlib.decompressobj(wbits=31)
    consumed = 0
    try:
        for raw in iter(lambda: fh.read(_READ_BYTES), b""):
            consumed += len(raw)
            data = inflater.decompress(raw)
            while inflater.eof and inflater.unused_data:
                rest = inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
                data += inflater.decompress(rest)
            yield data
    except zlib.error as exc:
        raise InputError(path, f"corrupt gzip data near byte {consumed} ({exc})") from exc
    if not inflater.eof:
        raise InputError(path, f"truncated gzip data: the stream ends at byte {consumed} without its trailer")


def _isal_decompressed(fh, path: Path) -> Iterator[bytes]:
    """Gunzip an open file with ISA-L, ``_BLOCK_BYTES`` decompressed at a time, yielding one
    item per compressed MiB consumed (empty items pad the count); errors as ``_zlib_decompressed``."""
    steps = 0
    try:
        with _igzip.IGzipFile(fileobj=fh, mode="rb") as reader:
            for data in iter(lambda: reader.read(_BLOCK_BYTES), b""):
                yield data
                reached = -(-fh.tell() // _READ_BYTES)
                yield from [b""] * (reached - steps - 1)
                steps = max(reached, steps + 1)
    except EOFError as exc:
        raise InputError(path, f"truncated gzip data: the stream ends at byte {fh.tell()} without its trailer") from exc
    except (_igzip.BadGzipFile, _igzip.isal_zlib.error) as exc:
        raise InputError(path, f"corrupt gzip data near byte {fh.tell()} ({exc})") from exc


def _decompressed(fh, path: Path, backend: str | None = None) -> Iterator[bytes]:
    """Gunzip an open file with ``backend`` (``isal`` or ``zlib``; default ``GUNZIP_BACKEND``)."""
    backend = backend or GUNZIP_BACKEND
    if backend == "isal":
        if _igzip is None:
            raise ValueError("gunzip backend 'isal' needs the python-isal package")
        return _isal_decompressed(fh, path)
    if backend != "zlib":
        raise ValueError(f"unknown gunzip backend {backend!r} (isal or zlib)")
    return _zlib_decompressed(fh, path)


def _iter_blocks(path: PathLike, backend: str | None = None) -> Iterator[bytes]:
    """Yield blocks of whole lines (each ending in a newline), about one per compressed MiB
    read; a block is empty while a long line is still being assembled, or as padding after
    an isal read that consumed more than one compressed MiB."""
    path = Path(path)
    tail = b""
    try:
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == _GZIP_MAGIC
            fh.seek(0)
            reads = _decompressed(fh, path, backend) if gzipped else iter(lambda: fh.read(_READ_BYTES), b"")
            for data in reads:
                cut = data.rfind(b"\n") + 1
                if not cut:
                    tail += data
                    yield b""
                    continue
                view = memoryview(data)
                yield b"".join((tail, view[:cut])) if tail else bytes(view[:cut])
                tail = bytes(view[cut:])
    except OSError as exc:
        raise InputError(path, f"unreadable shard ({exc})") from exc
    if tail:
        yield tail + b"\n"


def _iter_lines(path: PathLike) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line) for the non-blank lines of a shard."""
    lineno = 0
    try:
        for block in _iter_blocks(path):
            for raw in block.split(b"\n")[:-1]:
                lineno += 1
                if raw.strip():
                    yield lineno, raw
    except InputError as exc:
        raise InputError(path, f"unreadable shard after line {lineno} ({exc.message})") from exc


def _parse_line(path: PathLike, lineno: int, raw: bytes) -> dict:
    """One JSON object from one line; anything else raises ``InputError``."""
    try:
        record = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InputError(path, f"invalid JSON ({exc})", row=lineno) from exc
    if not isinstance(record, dict):
        raise InputError(path, f"expected a JSON object, got {type(record).__name__}", row=lineno)
    return record


def iter_records(
    path: PathLike, skip_bad: bool = False, bad_lines: list[int] | None = None
) -> Iterator[tuple[int, dict]]:
    """Yield (line number, record) from a gzipped or plain JSON-lines shard.

    A malformed line raises ``InputError`` naming file and line; with ``skip_bad`` it is
    logged, skipped and its line number appended to ``bad_lines`` (when given).
    Blank lines are not records and are passed over.
    """
    for lineno, raw in _iter_lines(path):
        try:
            yield lineno, _parse_line(path, lineno, raw)
        except InputError as exc:
            if not skip_bad:
                raise
            logger.warning("skipped %s", exc)
            if bad_lines is not None:
                bad_lines.append(lineno)


def _newlines(block: bytes) -> np.ndarray:
    """Offsets of the newline bytes of a block."""
    return np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)


def _is_clean_block(block: bytes, newlines: np.ndarray) -> bool:
    """Whether every line of a block starts with ``{`` and ends with ``}`` (so none is blank,
    cut short or garbled at either end)."""
    if not len(newlines):
        return False
    data = np.frombuffer(block, dtype=np.uint8)
    starts = np.concatenate(([0], newlines[:-1] + 1))
    return bool((data[starts] == 0x7B).all() and (data[newlines - 1] == 0x7D).all())


def _corpus_ids(matches: list[bytes]) -> np.ndarray:
    return np.array(matches, dtype="S20").astype(np.int64) if matches else np.zeros(0, dtype=np.int64)


def check_bad_share(path: PathLike, records: int, bad_lines: list[int], max_bad_share: float | None) -> None:
    """Raise ``InputError`` when more than ``max_bad_share`` of a shard's records are bad."""
    if max_bad_share is None or not records or len(bad_lines) / records <= max_bad_share:
        return
    raise InputError(
        path,
        f"{len(bad_lines)} of {records} lines are malformed ({len(bad_lines) / records:.2%}), more than "
        f"the allowed share {max_bad_share:.2%} (corpus.max_bad_line_share); first bad lines: "
        f"{bad_lines[:_MAX_REPORTED_BAD_LINES]}. The shard is probably corrupt: download it again.",
    )
