"""Semantic Scholar records -> normalised corpus papers, with the ACL Anthology id found in
their structured fields.

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

import re
from typing import Any
from urllib.parse import urlsplit

_ACL_HOSTS = ("aclweb.org", "aclanthology.org")
# DOI prefixes of ACL Anthology papers: the suffix is the Anthology id.
_ACL_DOI_PREFIXES = ("10.18653/v1/", "10.3115/v1/")
# Anthology ids: new style ``2022.acl-long.1``, old style ``P19-1001``.
_ACL_ID = re.compile(
    r"(?<![A-Za-z0-9])(\d{4}\.[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.\d+|[A-Za-z]\d{2}-\d{4})(?![0-9])"
)


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
