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
import gzip
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from revmatch.io import InputError, PathLike, atomic_path, read_json, write_json
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
# Lines without any of these (lower-cased) cannot hold an ACL id, ACL URL or ACL DOI.
_ACL_MARKERS = (b"aclweb.org", b"aclanthology.org", b"10.18653/", b"10.3115/v1/")
_ACL_ID_KEY = re.compile(rb'"acl"\s*:\s*"')  # externalids.ACL with a value (not null)
_MAX_REPORTED_BAD_LINES = 20


# ---------------------------------------------------------------- reading


def _open_shard(path: Path):
    """Open a shard for binary reading, gunzipping when it starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _iter_lines(path: PathLike) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line) for the non-blank lines of a shard."""
    path = Path(path)
    lineno = 0
    try:
        with _open_shard(path) as fh:
            for lineno, raw in enumerate(fh, start=1):  # noqa: B007 (lineno used on error)
                if raw.strip():
                    yield lineno, raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(path, f"unreadable shard after line {lineno} ({exc})") from exc


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


def _has_acl_marker(raw: bytes) -> bool:
    lowered = raw.lower()
    return any(marker in lowered for marker in _ACL_MARKERS) or _ACL_ID_KEY.search(lowered) is not None


def filter_shard(
    shard_path: PathLike, spec: FilterSpec, skip_bad: bool = True, prefilter: bool = True
) -> tuple[pd.DataFrame, dict]:
    """Read, normalise and filter one shard; return the kept papers and a summary.

    The summary counts ``records`` (non-blank lines), ``kept``, ``dropped`` by reason and
    ``bad_lines`` (malformed JSON or unusable records, skipped and logged with their line
    numbers; with ``skip_bad=False`` the first one raises ``InputError``).

    With ``prefilter`` (and an ACL-only spec: ``acl`` on, no ``venues``), lines that cannot
    hold an ACL id, DOI or URL are counted as ``not_acl`` without being parsed (in a full S2
    shard, nearly all of them; 2x faster already on a 3:1 mix); a malformed line among
    them is then counted as ``not_acl``, not as a bad line.
    """
    shard_path = Path(shard_path)
    quick = prefilter and spec.acl and not spec.venues
    dropped = dict.fromkeys(DROP_REASONS, 0)
    kept: list[dict] = []
    bad: list[int] = []
    n_records = 0
    lines = progress(_iter_lines(shard_path), desc=f"filter {shard_path.name}", unit="rec")
    for lineno, raw in lines:
        n_records += 1
        if quick and not _has_acl_marker(raw):
            dropped["not_acl"] += 1
            continue
        try:
            record = _parse_line(shard_path, lineno, raw)
            try:
                paper = normalise_record(record)
            except (ValueError, TypeError, AttributeError) as exc:
                raise InputError(shard_path, f"unusable record ({exc})", row=lineno) from exc
        except InputError as exc:
            if not skip_bad:
                raise
            if len(bad) < _MAX_REPORTED_BAD_LINES:
                logger.warning("skipped %s", exc)
            bad.append(lineno)
            continue
        reason = filter_reason(paper, spec)
        if reason is None:
            kept.append(paper)
        else:
            dropped[reason] += 1
    summary = {
        "shard": shard_path.name,
        "records": n_records,
        "kept": len(kept),
        "dropped": dropped,
        "bad_lines": len(bad),
        "bad_line_numbers": bad[:_MAX_REPORTED_BAD_LINES],
    }
    logger.info(
        "%s: %d records, %d kept, dropped %s, %d bad lines",
        shard_path.name, n_records, len(kept), dropped, len(bad),
    )
    return papers_frame(kept), summary


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
    shard_path: PathLike, out_parquet: PathLike, out_summary_json: PathLike, spec_dict: dict | None
) -> dict:
    """Filter one shard file into a Parquet corpus part and a JSON summary; return the summary."""
    spec = FilterSpec.from_config(spec_dict)
    frame, summary = filter_shard(shard_path, spec)
    summary["filter"] = dataclasses.asdict(spec)
    write_papers(frame, out_parquet)
    write_json(summary, out_summary_json)
    return summary


def merge_shards_file(
    shard_parquets: list[PathLike],
    shard_summaries: list[PathLike],
    out_parquet: PathLike,
    out_summary_json: PathLike,
) -> dict:
    """Merge shard parts into the corpus Parquet file and an overall JSON summary.

    The summary sums the shard summaries (``shards``, ``records``, ``kept``, ``dropped``
    by reason, ``bad_lines``) and adds ``duplicates`` and ``papers`` (rows written).
    """
    if len(shard_parquets) != len(shard_summaries):
        raise ValueError(f"{len(shard_parquets)} shard parts but {len(shard_summaries)} summaries")
    frames = [read_papers(p) for p in progress(shard_parquets, desc="read shard parts", unit="shard")]
    merged, merge_summary = merge_shards(frames)
    summary = _combine_summaries([read_json(p) for p in shard_summaries])
    summary.update(merge_summary)
    write_papers(merged, out_parquet)
    write_json(summary, out_summary_json)
    logger.info(
        "corpus: %d papers from %d shards (%d duplicates)", len(merged), len(frames), summary["duplicates"]
    )
    return summary
