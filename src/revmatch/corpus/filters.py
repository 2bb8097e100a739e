"""Which papers a shard keeps: the ACL/venue/year/abstract checks, the byte-level ACL
prefilter over blocks of lines, and the filter of one shard into a corpus part."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.corpus.papers_table import papers_frame, write_papers
from revmatch.corpus.records import _acl_host, normalise_record
from revmatch.corpus.settings import FilterSpec
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
from revmatch.io import InputError, PathLike, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)

DROP_REASONS = ("not_acl", "venue", "year", "no_abstract")

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
