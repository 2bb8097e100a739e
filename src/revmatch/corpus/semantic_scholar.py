"""Semantic Scholar records -> normalised corpus papers: ACL/venue/year filters, shard merge.

Two record shapes are read, one JSON object a line, from gzipped (or plain) shards:

- legacy S2 Open Research Corpus records: ``id``, ``title``, ``paperAbstract``,
  ``authors`` [{``name``, ``ids``}], ``year``, ``venue``, ``journalName``, ``pdfUrls``,
  ``s2Url``, ``doi``, ...;
- Datasets API ``papers`` records: ``corpusid``, ``externalids`` {``ACL``, ``DOI``, ...},
  ``url``, ``title``, ``authors`` [{``authorId``, ``name``}], ``venue``, ``year``, ...,
  with ``abstract`` when joined from the ``abstracts`` dataset.

Both become one normalised paper (see :func:`normalise_record`). The ACL filter looks at
structured fields (``externalids.ACL``, ACL DOIs, aclweb.org/aclanthology.org URLs), not
at the raw line as the reference tool's ``grep aclweb.org`` did, so an abstract that merely
mentions aclweb.org does not make a paper ACL, and papers whose links moved to
aclanthology.org are kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

try:  # python-isal (Intel ISA-L): the same gzip streams, inflated several times faster than zlib
    from isal import igzip as _igzip
except ImportError:  # the standard library's zlib serves as well, only slower
    _igzip = None

from revmatch.io import InputError, PathLike, atomic_path, read_json, save_npy, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)

CORPUS_COLUMNS = ("paper_id", "title", "abstract", "year", "venue", "authors", "acl_id")

PAPERS_SCHEMA = pa.schema(
    [
        ("paper_id", pa.string()),
        ("title", pa.string()),
        ("abstract", pa.string()),
        ("year", pa.int64()),
        ("venue", pa.string()),
        ("authors", pa.list_(pa.struct([("id", pa.string()), ("name", pa.string())]))),
        ("acl_id", pa.string()),
    ]
)

DROP_REASONS = ("not_acl", "venue", "year", "no_abstract")

_ACL_HOSTS = ("aclweb.org", "aclanthology.org")
# DOI prefixes of ACL Anthology papers: the suffix is the Anthology id.
_ACL_DOI_PREFIXES = ("10.18653/v1/", "10.3115/v1/")
# Anthology ids: new style ``2022.acl-long.1``, old style ``P19-1001``.
_ACL_ID = re.compile(
    r"(?<![A-Za-z0-9])(\d{4}\.[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.\d+|[A-Za-z]\d{2}-\d{4})(?![0-9])"
)
# Byte patterns of the prefilter: a line without any cannot hold an ACL id, URL or DOI.
# Hosts and DOIs are searched in the case-folded block (ASCII letters lower-cased), so
# ``ACLWeb.org`` and ``10.18653/V1/`` are found too; the ``ACL`` key with a string value
# (not null) in the block as it is. Matches are a superset (``web.org`` covers aclweb.org).
# One scan each over a block, chosen for speed: ``re`` scans fast for a pattern whose first
# byte is rare, ``bytes.find`` for a long needle.
_FOLDED_MARKERS: tuple[bytes | re.Pattern, ...] = (
    re.compile(rb"web\.org"),  # aclweb.org
    b"aclanthology.org",
    re.compile(rb"/v1/"),  # ACL DOIs: 10.18653/v1/..., 10.3115/v1/...
)
_RAW_MARKERS: tuple[bytes | re.Pattern, ...] = (re.compile(rb'ACL"\s*:\s*"'),)  # externalids.ACL
_MAX_REPORTED_BAD_LINES = 20


# ---------------------------------------------------------------- reading


_READ_BYTES = 1 << 20  # compressed bytes a progress step (and a zlib read)
_BLOCK_BYTES = 4 << 20  # decompressed bytes read at a time from the isal reader
_GZIP_MAGIC = b"\x1f\x8b"
GUNZIP_BACKEND = "isal" if _igzip is not None else "zlib"


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


# ---------------------------------------------------------------- normalising


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _year(value: Any) -> int | None:
    """A year as int; None when absent. A value that is not a whole number raises ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"year is not a number: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"year is not a whole number: {value!r}")
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"year is not a number: {value!r}")


def _acl_host(url: str) -> bool:
    """Whether ``url`` points to aclweb.org or aclanthology.org (or a subdomain)."""
    if "://" not in url:
        url = "http://" + url
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return any(host == h or host.endswith("." + h) for h in _ACL_HOSTS)


def _canonical_acl_id(found: str) -> str:
    """Old-style ids have an upper-case letter (DOIs are often lower-cased)."""
    return found[0].upper() + found[1:] if "." not in found else found


def acl_id_from_link(link: str) -> str | None:
    """The Anthology id in an ACL DOI (10.18653/v1/..., 10.3115/v1/..., bare or as a URL) or
    in an aclweb.org/aclanthology.org URL; None when there is none."""
    lowered = link.lower()
    for prefix in _ACL_DOI_PREFIXES:
        at = lowered.find(prefix)
        if at >= 0:
            match = _ACL_ID.match(link, at + len(prefix))
            return _canonical_acl_id(match.group(1)) if match else None
    if not _acl_host(link):
        return None
    match = _ACL_ID.search(urlsplit(link if "://" in link else "http://" + link).path)
    return _canonical_acl_id(match.group(1)) if match else None


def _urls(record: dict) -> list[str]:
    """All link fields of a record, de-duplicated, in a stable order."""
    found: list[str] = []
    pdf_urls = record.get("pdfUrls")
    if isinstance(pdf_urls, list):
        found.extend(u for u in pdf_urls if isinstance(u, str))
    for key in ("url", "s2Url", "s2PdfUrl", "doiUrl"):
        if isinstance(record.get(key), str):
            found.append(record[key])
    return list(dict.fromkeys(u.strip() for u in found if u.strip()))


def _legacy_authors(authors: Any) -> list[dict]:
    out = []
    for author in authors if isinstance(authors, list) else []:
        if not isinstance(author, dict):
            continue
        ids = author.get("ids") or []
        first = ids[0] if isinstance(ids, list) and ids else ""
        out.append({"id": "" if first is None else str(first), "name": _text(author.get("name"))})
    return out


def _datasets_authors(authors: Any) -> list[dict]:
    out = []
    for author in authors if isinstance(authors, list) else []:
        if not isinstance(author, dict):
            continue
        author_id = author.get("authorId", author.get("authorid"))
        out.append({"id": "" if author_id is None else str(author_id), "name": _text(author.get("name"))})
    return out


def normalise_record(record: dict) -> dict:
    """A legacy S2 or Datasets API ``papers`` record as a normalised paper.

    Returns ``{paper_id (str), title, abstract, year (int | None), venue, authors:
    [{id, name}] (id '' when absent), acl_id (str | None), urls: [...]}``. Text fields are
    stripped ('' when absent). ``acl_id`` is ``externalids.ACL`` when present, else the id
    in an ACL DOI (10.18653/v1/..., 10.3115/v1/...) or in an aclweb.org/aclanthology.org
    URL. A record with neither ``corpusid`` nor ``id`` raises ``ValueError``.
    """
    urls = _urls(record)
    if record.get("corpusid") is not None or record.get("corpusId") is not None:
        external = record.get("externalids") or record.get("externalIds") or {}
        paper_id = str(record.get("corpusid", record.get("corpusId")))
        acl_id = external.get("ACL") if isinstance(external, dict) else None
        doi = external.get("DOI") if isinstance(external, dict) else None
        abstract = record.get("abstract")
        venue = _text(record.get("venue"))
        if not venue and isinstance(record.get("journal"), dict):
            venue = _text(record["journal"].get("name"))
        authors = _datasets_authors(record.get("authors"))
    elif record.get("id") is not None:
        paper_id = str(record["id"])
        acl_id = None
        doi = record.get("doi")
        abstract = record.get("paperAbstract", record.get("abstract"))
        venue = _text(record.get("venue")) or _text(record.get("journalName"))
        authors = _legacy_authors(record.get("authors"))
    else:
        raise ValueError("record has neither 'corpusid' (Datasets API) nor 'id' (legacy S2)")
    if not paper_id.strip():
        raise ValueError("empty paper id")
    acl_id = _text(acl_id) or None
    if acl_id is None:
        links = ([doi] if isinstance(doi, str) else []) + urls
        acl_id = next((found for found in map(acl_id_from_link, links) if found), None)
    return {
        "paper_id": paper_id.strip(),
        "title": _text(record.get("title")),
        "abstract": _text(abstract),
        "year": _year(record.get("year")),
        "venue": venue,
        "authors": authors,
        "acl_id": acl_id,
        "urls": urls,
    }


# ---------------------------------------------------------------- filtering


@dataclasses.dataclass
class FilterSpec:
    """Which papers a corpus keeps.

    ``acl`` keeps papers with an ACL Anthology id or an aclweb.org/aclanthology.org URL;
    ``venues`` keeps papers whose venue equals one of these names (case-insensitive),
    OR-ed with ``acl``. With ``acl`` off and no ``venues``, every venue is kept. The year
    bounds are inclusive; a paper without a year fails any bound.
    """

    acl: bool = True
    venues: list[str] = dataclasses.field(default_factory=list)
    min_year: int | None = None
    max_year: int | None = None
    require_abstract: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.venues, str):
            raise ValueError("venues must be a list of venue names, not one string")
        self.venues = [str(v) for v in self.venues]
        if self.min_year is not None and self.max_year is not None and self.min_year > self.max_year:
            raise ValueError(f"min_year {self.min_year} is after max_year {self.max_year}")

    @classmethod
    def from_config(cls, config: dict | None) -> FilterSpec:
        """Build from the ``corpus.filter`` config mapping; unknown keys raise ``ValueError``."""
        config = dict(config or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown corpus filter keys: {unknown} (known: {sorted(known)})")
        return cls(**config)


def is_acl_paper(paper: dict) -> bool:
    """Whether a normalised paper has an ACL id or an aclweb.org/aclanthology.org URL."""
    return bool(paper.get("acl_id")) or any(_acl_host(u) for u in paper.get("urls") or ())


def filter_reason(paper: dict, spec: FilterSpec) -> str | None:
    """None to keep a normalised paper, else why it is dropped (one of ``DROP_REASONS``).

    Checks run in the order source (``not_acl``, or ``venue`` when ``acl`` is off),
    ``year``, ``no_abstract``; the first failing check names the reason.
    """
    if spec.acl or spec.venues:
        venue_ok = bool(spec.venues) and paper.get("venue", "").casefold() in {
            v.strip().casefold() for v in spec.venues
        }
        if not (venue_ok or (spec.acl and is_acl_paper(paper))):
            return "not_acl" if spec.acl else "venue"
    year = paper.get("year")
    if spec.min_year is not None and (year is None or year < spec.min_year):
        return "year"
    if spec.max_year is not None and (year is None or year > spec.max_year):
        return "year"
    if spec.require_abstract and not paper.get("abstract"):
        return "no_abstract"
    return None


def papers_frame(papers: list[dict]) -> pd.DataFrame:
    """Normalised papers as a corpus frame (``CORPUS_COLUMNS``, ``year`` as Int64)."""
    frame = pd.DataFrame(
        {
            "paper_id": pd.Series([p["paper_id"] for p in papers], dtype="str"),
            "title": pd.Series([p["title"] for p in papers], dtype="str"),
            "abstract": pd.Series([p["abstract"] for p in papers], dtype="str"),
            "year": pd.array([p["year"] for p in papers], dtype="Int64"),
            "venue": pd.Series([p["venue"] for p in papers], dtype="str"),
            "authors": pd.Series([p["authors"] for p in papers], dtype=object),
            "acl_id": pd.Series([p["acl_id"] for p in papers], dtype="str"),
        }
    )
    return frame.loc[:, list(CORPUS_COLUMNS)]


def _fold_case(data: bytes) -> bytearray:
    """A copy of ``data`` with ASCII letters lower-cased by setting bit 0x20 of every byte
    (one vectorised pass, cheaper than ``bytes.lower``). Other bytes change too, but only
    control characters map onto ``.``, ``/`` or a digit, so searches stay a superset."""
    folded = bytearray(data)
    np.bitwise_or(np.frombuffer(folded, dtype=np.uint8), 0x20, out=np.frombuffer(folded, dtype=np.uint8))
    return folded


def _marker_offsets(data: bytes | bytearray, marker: bytes | re.Pattern) -> list[int]:
    """Start offsets of every occurrence of ``marker`` (a literal or a pattern) in ``data``."""
    if isinstance(marker, re.Pattern):
        return [match.start() for match in marker.finditer(data)]
    found = []
    at = data.find(marker)
    while at >= 0:
        found.append(at)
        at = data.find(marker, at + 1)
    return found


def _has_acl_marker(raw: bytes) -> bool:
    """Whether a line may hold an ACL id, URL or DOI (see ``_FOLDED_MARKERS``)."""
    folded = _fold_case(raw)
    return any(_marker_offsets(folded, m) for m in _FOLDED_MARKERS) or any(
        _marker_offsets(raw, m) for m in _RAW_MARKERS
    )


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


def _marker_lines(block: bytes, newlines: np.ndarray) -> np.ndarray:
    """Sorted indices of the lines of a block that may hold an ACL marker (byte-level scans
    of the whole block, no per-line Python)."""
    folded = _fold_case(block)
    hits = [at for marker in _FOLDED_MARKERS for at in _marker_offsets(folded, marker)]
    hits += [at for marker in _RAW_MARKERS for at in _marker_offsets(block, marker)]
    return np.unique(np.searchsorted(newlines, np.asarray(hits, dtype=np.int64)))


def _looks_like_object(stripped: bytes) -> bool:
    return stripped[:1] == b"{" and stripped[-1:] == b"}"


@dataclasses.dataclass
class _ShardTally:
    """Running counts of one shard's filter pass."""

    path: Path
    spec: FilterSpec
    skip_bad: bool
    records: int = 0
    kept: list[dict] = dataclasses.field(default_factory=list)
    dropped: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    bad: list[int] = dataclasses.field(default_factory=list)

    def judge(self, lineno: int, raw: bytes) -> None:
        """Parse, normalise and filter one line, counting the outcome."""
        try:
            record = _parse_line(self.path, lineno, raw)
            try:
                paper = normalise_record(record)
            except (ValueError, TypeError, AttributeError) as exc:
                raise InputError(self.path, f"unusable record ({exc})", row=lineno) from exc
        except InputError as exc:
            if not self.skip_bad:
                raise
            if len(self.bad) < _MAX_REPORTED_BAD_LINES:
                logger.warning("skipped %s", exc)
            self.bad.append(lineno)
            return
        reason = filter_reason(paper, self.spec)
        if reason is None:
            self.kept.append(paper)
        else:
            self.dropped[reason] += 1


def _tally_block_quickly(tally: _ShardTally, block: bytes, first_lineno: int, newlines: np.ndarray) -> None:
    """ACL-only filter of a clean block: parse only the lines that may hold an ACL marker."""
    tally.records += len(newlines)
    candidates = _marker_lines(block, newlines)
    tally.dropped["not_acl"] += len(newlines) - len(candidates)
    starts = np.concatenate(([0], newlines[:-1] + 1))
    for line in candidates.tolist():
        tally.judge(first_lineno + line, block[starts[line] : newlines[line]])


def _tally_block_by_line(tally: _ShardTally, block: bytes, first_lineno: int, quick: bool) -> None:
    """Line by line: blank lines pass, other lines are parsed unless ``quick`` and the line is
    object-shaped without an ACL marker."""
    for lineno, raw in enumerate(block.split(b"\n")[:-1], start=first_lineno):
        stripped = raw.strip()
        if not stripped:
            continue
        tally.records += 1
        if quick and _looks_like_object(stripped) and not _has_acl_marker(stripped):
            tally.dropped["not_acl"] += 1
        else:
            tally.judge(lineno, raw)


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


def filter_shard(
    shard_path: PathLike,
    spec: FilterSpec,
    skip_bad: bool = True,
    prefilter: bool = True,
    max_bad_share: float | None = None,
    record_ids: list[np.ndarray] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Read, normalise and filter one shard; return the kept papers and a summary.

    The summary counts ``records`` (non-blank lines), ``kept``, ``dropped`` by reason and
    ``bad_lines`` (malformed JSON or unusable records, skipped and logged with their line
    numbers; with ``skip_bad=False`` the first one raises ``InputError``). More than
    ``max_bad_share`` bad lines (a share of ``records``) raises ``InputError``.

    With ``prefilter`` (and an ACL-only spec: ``acl`` on, no ``venues``), lines that cannot
    hold an ACL id, DOI or URL are counted as ``not_acl`` without being parsed: byte-level
    searches over blocks of decompressed lines find the few lines to parse. A line that
    does not start with ``{`` and end with ``}`` is always parsed, so truncated and garbled
    lines count as bad lines; a line damaged only inside, with no ACL marker, counts as
    ``not_acl``.

    With ``record_ids`` (a list), the Datasets API corpus ids of all lines, kept or not, are
    appended to it, one int64 array a block (for diffs: which records an update replaces).
    """
    shard_path = Path(shard_path)
    quick = prefilter and spec.acl and not spec.venues
    tally = _ShardTally(shard_path, spec, skip_bad)
    n_reads = -(-shard_path.stat().st_size // _READ_BYTES)
    lineno = 1
    for block in progress(_iter_blocks(shard_path), desc=f"filter {shard_path.name}", total=n_reads, unit="MiB"):
        newlines = _newlines(block)
        if record_ids is not None:
            record_ids.append(_corpus_ids(_CORPUSID.findall(block)))
        if quick and _is_clean_block(block, newlines):
            _tally_block_quickly(tally, block, lineno, newlines)
        else:
            _tally_block_by_line(tally, block, lineno, quick)
        lineno += len(newlines)
    check_bad_share(shard_path, tally.records, tally.bad, max_bad_share)
    summary = {
        "shard": shard_path.name,
        "records": tally.records,
        "kept": len(tally.kept),
        "dropped": tally.dropped,
        "bad_lines": len(tally.bad),
        "bad_line_numbers": tally.bad[:_MAX_REPORTED_BAD_LINES],
    }
    logger.info(
        "%s: %d records, %d kept, dropped %s, %d bad lines",
        shard_path.name, tally.records, len(tally.kept), tally.dropped, len(tally.bad),
    )
    return papers_frame(tally.kept), summary


# ---------------------------------------------------------------- abstracts (Datasets API)


_CORPUSID = re.compile(rb'corpusid"\s*:\s*(\d+)')  # no leading quote: a rare first byte scans faster


def _corpus_ids(matches: list[bytes]) -> np.ndarray:
    return np.array(matches, dtype="S20").astype(np.int64) if matches else np.zeros(0, dtype=np.int64)


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


# ---------------------------------------------------------------- merging


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


# ---------------------------------------------------------------- files


def write_papers(frame: pd.DataFrame, path: PathLike) -> None:
    """Write a corpus frame as Parquet atomically, with the fixed ``PAPERS_SCHEMA``."""
    columns = frame.loc[:, list(CORPUS_COLUMNS)]
    table = pa.Table.from_pandas(columns, schema=PAPERS_SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_papers(path: PathLike) -> pd.DataFrame:
    """Read a corpus Parquet file; missing columns raise ``InputError``."""
    table = pq.read_table(path)
    missing = [c for c in CORPUS_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(path, f"missing corpus columns {missing}")
    frame = table.to_pandas()
    frame["year"] = frame["year"].astype("Int64")
    return frame


def filter_shard_file(
    shard_path: PathLike,
    out_parquet: PathLike,
    out_summary_json: PathLike,
    spec_dict: dict | None,
    max_bad_share: float | None = None,
) -> dict:
    """Filter one shard file into a Parquet corpus part and a JSON summary; return the summary.

    More than ``max_bad_share`` malformed lines raises ``InputError`` (nothing is written).
    """
    spec = FilterSpec.from_config(spec_dict)
    frame, summary = filter_shard(shard_path, spec, max_bad_share=max_bad_share)
    summary["filter"] = dataclasses.asdict(spec)
    write_papers(frame, out_parquet)
    write_json(summary, out_summary_json)
    return summary


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
