"""ACL Anthology metadata -> normalised corpus papers (``corpus.source: anthology``).

Reads the papers file extracted from the Anthology's XML (``papers.jsonl.gz``, one JSON
object a line; see ``../shared/data/acl-anthology/SOURCE.md``): ``paper_id`` (the Anthology
id), ``title``, ``abstract`` (absent when the Anthology has none), ``year`` (int),
``venues`` (the volume's venue acronyms), ``authors`` [{``id``, ``first``, ``last``,
``name``, ...}], ``withdrawn`` (present for retracted or removed papers), ...

Each paper becomes a row of the corpus contract (DEVELOPERS.md, "Data contracts"):

- ``paper_id`` and ``acl_id``: the Anthology id;
- ``venue``: the volume's venue acronyms joined by ``","`` (e.g. ``"coling,lrec"``);
- ``authors``: ``[{id, name}]`` with the Anthology person id (``""`` when absent).

The ``corpus.filter`` settings mean what they mean for Semantic Scholar records
(``revmatch.corpus.FilterSpec``): every Anthology paper is an ACL paper, so ``acl: true``
keeps every venue and ``venues`` (acronyms, case-insensitive) narrows the corpus only
with ``acl: false``. Withdrawn papers are always dropped. Parquet writer, bad-line share
check and summary shape are those of the Semantic Scholar path (``revmatch.corpus``).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from revmatch.corpus.merge import _combine_summaries, merge_shards
from revmatch.corpus.papers_table import papers_frame, write_papers
from revmatch.corpus.settings import FilterSpec
from revmatch.corpus.shard_reading import _MAX_REPORTED_BAD_LINES, _iter_lines, _parse_line, check_bad_share
from revmatch.io import InputError, PathLike, write_json
from revmatch.log import progress

logger = logging.getLogger(__name__)

# Why a valid record is dropped, in the order the checks run.
ANTHOLOGY_DROP_REASONS = ("withdrawn", "venue", "year", "no_abstract")
VENUE_SEPARATOR = ","


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _required_text(record: dict, key: str) -> str:
    """A non-empty string field; anything else raises ``ValueError``."""
    value = _text(record.get(key))
    if not value:
        raise ValueError(f"missing or empty {key!r}")
    return value


def _required_year(record: dict) -> int:
    """The ``year`` field as int; absent or not a whole number raises ``ValueError``."""
    year = record.get("year")
    if isinstance(year, str) and year.strip().isdigit():
        return int(year)
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError(f"missing or non-integer 'year' ({year!r})")
    return year


def _authors(authors: Any) -> list[dict]:
    """``[{id, name}]`` from Anthology authors (name from ``first``/``last`` when absent)."""
    out = []
    for author in authors if isinstance(authors, list) else []:
        if not isinstance(author, dict):
            continue
        name = _text(author.get("name")) or " ".join(
            part for part in (_text(author.get("first")), _text(author.get("last"))) if part
        )
        out.append({"id": _text(author.get("id")), "name": name})
    return out


def _venues(venues: Any) -> list[str]:
    """The venue acronyms of a record, in order, without blanks and duplicates."""
    found = [_text(v) for v in venues] if isinstance(venues, list) else [_text(venues)]
    return list(dict.fromkeys(v for v in found if v))


def normalise_anthology_record(record: dict) -> dict:
    """An Anthology papers record as a normalised paper.

    Returns the corpus columns (``paper_id``, ``title``, ``abstract`` ('' when absent),
    ``year``, ``venue`` (acronyms joined by ``","``), ``authors`` [{id, name}], ``acl_id``
    (= ``paper_id``)) plus ``withdrawn`` (its value, or None). A record without a
    ``paper_id``, ``title`` or integer ``year`` raises ``ValueError``.
    """
    paper_id = _required_text(record, "paper_id")
    return {
        "paper_id": paper_id,
        "title": _required_text(record, "title"),
        "abstract": _text(record.get("abstract")),
        "year": _required_year(record),
        "venue": VENUE_SEPARATOR.join(_venues(record.get("venues"))),
        "authors": _authors(record.get("authors")),
        "acl_id": paper_id,
        "withdrawn": record.get("withdrawn") or None,
    }


def anthology_filter_reason(paper: dict, spec: FilterSpec) -> str | None:
    """None to keep a normalised Anthology paper, else why it is dropped (one of
    ``ANTHOLOGY_DROP_REASONS``; the first failing check, in that order)."""
    if paper.get("withdrawn"):
        return "withdrawn"
    if not spec.acl and spec.venues:
        wanted = {v.strip().casefold() for v in spec.venues}
        if not wanted & {v.casefold() for v in paper["venue"].split(VENUE_SEPARATOR)}:
            return "venue"
    year = paper["year"]
    if spec.min_year is not None and year < spec.min_year:
        return "year"
    if spec.max_year is not None and year > spec.max_year:
        return "year"
    if spec.require_abstract and not paper["abstract"]:
        return "no_abstract"
    return None


@dataclasses.dataclass
class _Tally:
    """Running counts of one pass over an Anthology papers file."""

    path: Path
    spec: FilterSpec
    records: int = 0
    kept: list[dict] = dataclasses.field(default_factory=list)
    dropped: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(ANTHOLOGY_DROP_REASONS, 0)
    )
    bad: list[InputError] = dataclasses.field(default_factory=list)

    def judge(self, lineno: int, raw: bytes) -> None:
        """Parse, normalise and filter one line, counting the outcome (bad lines kept aside)."""
        self.records += 1
        try:
            record = _parse_line(self.path, lineno, raw)
            try:
                paper = normalise_anthology_record(record)
            except ValueError as exc:
                raise InputError(self.path, f"unusable record ({exc})", row=lineno) from exc
        except InputError as exc:
            if len(self.bad) < _MAX_REPORTED_BAD_LINES:
                logger.warning("skipped %s", exc)
            self.bad.append(exc)
            return
        reason = anthology_filter_reason(paper, self.spec)
        if reason is None:
            self.kept.append(paper)
        else:
            self.dropped[reason] += 1

    def check_bad_share(self, max_bad_share: float | None) -> None:
        """More than ``max_bad_share`` bad lines raises ``InputError`` at the first one."""
        try:
            check_bad_share(self.path, self.records, [e.row for e in self.bad], max_bad_share)
        except InputError as exc:
            first = self.bad[0]
            raise InputError(self.path, f"{first.message}; {exc.message}", row=first.row) from exc


def _warn_unused_venues(spec: FilterSpec) -> None:
    if spec.acl and spec.venues:
        logger.warning(
            "corpus.filter.venues %s narrows nothing with corpus.filter.acl: true (every Anthology paper "
            "is an ACL paper); set acl: false to keep only these venues", spec.venues,
        )


def read_anthology(
    path: PathLike, spec: FilterSpec | dict | None = None, max_bad_share: float | None = 0.0
) -> tuple[pd.DataFrame, dict]:
    """Read an Anthology papers file (``.jsonl.gz`` or plain ``.jsonl``) as a corpus frame.

    ``spec`` is a ``FilterSpec`` or the ``corpus.filter`` mapping. Returns the kept papers
    (``revmatch.corpus`` dtypes, sorted by ``paper_id``, first of duplicate ids kept) and
    the merge summary of the Semantic Scholar path: ``shards`` (1), ``records`` (non-blank
    lines), ``kept``, ``dropped`` by reason (``withdrawn``, ``venue``, ``year``,
    ``no_abstract``; ``not_acl`` is always 0), ``bad_lines`` (malformed JSON, or no
    ``paper_id``/``title``/integer ``year``) with ``bad_line_numbers`` (the first 20),
    ``duplicates`` and ``papers``. Bad lines are skipped and counted; more than
    ``max_bad_share`` of ``records`` (None: any share) raises ``InputError`` naming the
    file and the first bad line.
    """
    path = Path(path)
    spec = spec if isinstance(spec, FilterSpec) else FilterSpec.from_config(spec)
    _warn_unused_venues(spec)
    tally = _Tally(path, spec)
    for lineno, raw in progress(_iter_lines(path), desc=f"read {path.name}", unit="line"):
        tally.judge(lineno, raw)
    tally.check_bad_share(max_bad_share)
    shard_summary = {"records": tally.records, "kept": len(tally.kept), "dropped": tally.dropped,
                     "bad_lines": len(tally.bad)}
    frame, merge_summary = merge_shards([papers_frame(tally.kept)])
    summary = {**_combine_summaries([shard_summary]), **merge_summary,
               "bad_line_numbers": [e.row for e in tally.bad[:_MAX_REPORTED_BAD_LINES]]}
    logger.info(
        "%s: %d records, %d kept, dropped %s, %d bad lines, %d duplicate ids",
        path.name, tally.records, len(frame), tally.dropped, len(tally.bad), summary["duplicates"],
    )
    return frame, summary


def anthology_corpus_file(
    papers_path: PathLike,
    out_parquet: PathLike,
    out_summary_json: PathLike,
    spec_dict: dict | None = None,
    max_bad_share: float | None = 0.0,
) -> dict:
    """Build the corpus (``papers.parquet``) and its ``summary.json`` from an Anthology papers
    file (``read_anthology``); the summary adds ``source``, ``file`` and ``filter``."""
    spec = FilterSpec.from_config(spec_dict)
    frame, summary = read_anthology(papers_path, spec, max_bad_share=max_bad_share)
    summary = {"source": "anthology", "file": Path(papers_path).name, **summary,
               "filter": dataclasses.asdict(spec)}
    write_papers(frame, out_parquet)
    write_json(summary, out_summary_json)
    return summary
