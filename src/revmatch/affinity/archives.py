"""Members' publications from OpenReview archives, in place of the corpus.

An archives folder holds one ``<member id>.jsonl`` file a member (OpenReview's expertise
dataset layout, ``archives/<user>.jsonl``, as ``expertise.create_dataset`` writes it), one
JSON line a publication: ``id``; ``content`` with ``title``, ``abstract`` and ``authorids``
(current API: each a ``{"value": ...}`` wrapper; legacy: plain values); ``cdate`` (and
``pdate``, the publication date, which wins when present), in milliseconds since the epoch.
A file names its member by the project's member id (``id`` or START username) or e-mail;
files of no member of the conference are not read further. A publication in two files
(co-authors) is one paper of both.

A job with ``archives_dir`` reads its members' papers here (``Archive.authorship``) and
scores them with a registry model indexed on their texts (``load_archive_scorer``: the
job's model, ``avg`` with the trained averaging model) instead of the corpus index.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.affinity.groups import member_id
from revmatch.affinity.scorers import RegistryScorer, registry_model
from revmatch.affinity.settings import ScorerSettings
from revmatch.io import InputError, PathLike
from revmatch.model import paper_text

logger = logging.getLogger(__name__)

ARCHIVE_COLUMNS = ("paper_id", "title", "abstract", "year", "date", "authors")


@dataclass(frozen=True)
class Archive:
    """The publications of an archives folder: ``papers`` (one row a publication:
    ``ARCHIVE_COLUMNS``; ``date`` in ms, ``year`` its UTC year) and ``owners`` (file stem ->
    the rows of its publications)."""

    papers: pd.DataFrame
    owners: dict[str, np.ndarray]
    folder: str

    def texts(self, fields: Sequence[str] = ("title", "abstract")) -> list[str]:
        """Each publication's text (``paper_text`` of the chosen fields), in row order."""
        titles = self.papers["title"] if "title" in fields else [None] * len(self.papers)
        abstracts = self.papers["abstract"] if "abstract" in fields else [None] * len(self.papers)
        return [paper_text(t, a) for t, a in zip(titles, abstracts, strict=True)]

    def member_rows(self, member: dict) -> np.ndarray:
        """The rows of a member's publications: those of the file named by the member's id,
        START username or e-mail (exactly, else case-insensitively); none without a file."""
        folded = {key.casefold(): rows for key, rows in self.owners.items()}
        for key in member_keys(member):
            rows = self.owners.get(key)
            rows = folded.get(key.casefold()) if rows is None else rows
            if rows is not None:
                return rows
        return np.empty(0, dtype=np.int64)

    def authorship(self, members: Sequence[dict]) -> sp.csr_matrix:
        """Member x publication incidence (bool): the publications of each member's file."""
        rows = [self.member_rows(member) for member in members]
        row = np.repeat(np.arange(len(members)), [len(r) for r in rows])
        col = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        shape = (len(members), len(self.papers))
        return sp.csr_matrix((np.ones(len(row), dtype=bool), (row, col)), shape=shape)


def member_keys(member: dict) -> list[str]:
    """The names an archive file of ``member`` may have: its id, START username, e-mail."""
    keys = [member_id(member), str(member.get("startUsername") or ""), str(member.get("email") or "")]
    return [key for key in dict.fromkeys(keys) if key]


def _unwrap(value: Any) -> Any:
    """A content value of the current API (``{"value": x}``) or of the legacy one (``x``)."""
    return value.get("value") if isinstance(value, dict) else value


def _publication(record: Any, path: Path, line: int) -> dict | None:
    """One archive line as a paper row, None for a publication without title and abstract."""
    if not isinstance(record, dict) or not record.get("id"):
        raise InputError(path, "a publication needs an 'id'", row=line)
    content = record.get("content") or {}
    if not isinstance(content, dict):
        raise InputError(path, "'content' must be an object", row=line, column="content")
    title, abstract = _unwrap(content.get("title")), _unwrap(content.get("abstract"))
    for name, value in (("title", title), ("abstract", abstract)):
        if value is not None and not isinstance(value, str):
            raise InputError(path, f"content.{name} must be text", row=line, column=name)
    if not (title or "").strip() and not (abstract or "").strip():
        return None
    date = record.get("pdate") if record.get("pdate") is not None else record.get("cdate")
    if date is not None and (isinstance(date, bool) or not isinstance(date, (int, float))):
        raise InputError(path, f"cdate must be milliseconds since the epoch, got {date!r}", row=line)
    year = None if date is None else datetime.datetime.fromtimestamp(date / 1000, tz=datetime.UTC).year
    authors = _unwrap(content.get("authorids")) or []
    return {"paper_id": str(record["id"]), "title": title, "abstract": abstract, "year": year,
            "date": np.nan if date is None else float(date),
            "authors": [{"id": str(a)} for a in (authors if isinstance(authors, list) else [authors])]}


def _read_file(path: Path, index: dict[str, int], papers: list[dict]) -> tuple[np.ndarray, int]:
    """The rows (into ``papers``, extended) of one archive file, and its publications skipped."""
    rows: dict[int, None] = {}
    skipped = 0
    with open(path, encoding="utf-8-sig") as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"not a JSON line ({exc.msg})", row=line) from exc
            paper = _publication(record, path, line)
            if paper is None:
                skipped += 1
                continue
            if paper["paper_id"] not in index:
                index[paper["paper_id"]] = len(papers)
                papers.append(paper)
            rows.setdefault(index[paper["paper_id"]])
    return np.fromiter(rows, dtype=np.int64, count=len(rows)), skipped


def read_archives(folder: PathLike, members: Sequence[dict] | None = None) -> Archive:
    """The publications of the ``<member id>.jsonl`` files in ``folder``; with ``members``,
    only the files of those members (by id, START username or e-mail) are read."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(folder, "archives folder not found (one <member id>.jsonl file a member)")
    files = sorted(p for p in root.iterdir() if p.suffix == ".jsonl" and p.is_file())
    if not files:
        raise InputError(folder, "no <member id>.jsonl archives in the folder")
    if members is not None:
        wanted = {key.casefold() for member in members for key in member_keys(member)}
        files = [p for p in files if p.stem.casefold() in wanted]
    index: dict[str, int] = {}
    papers: list[dict] = []
    owners: dict[str, np.ndarray] = {}
    skipped = 0
    for path in files:
        owners[path.stem], empty = _read_file(path, index, papers)
        skipped += empty
    frame = pd.DataFrame(papers, columns=list(ARCHIVE_COLUMNS))
    frame["year"] = frame["year"].astype("Int64")
    frame["date"] = frame["date"].astype(np.float64)
    logger.info("archives %s: %d members' files, %d publications (%d without title or abstract skipped)",
                os.fspath(folder), len(owners), len(frame), skipped)
    return Archive(frame, owners, os.fspath(folder))


def load_archive_scorer(
    spec: str,
    archive: Archive,
    submission_texts: Sequence[str],
    avg_model: PathLike | None = None,
    settings: ScorerSettings | None = None,
) -> RegistryScorer:
    """The registry model ``spec`` (``avg`` with the trained model file ``avg_model``) with
    an index built on the archive's texts (``settings.text_fields``): its submission side
    scores ``submission_texts``, its paper side the publications (``group_group``)."""
    settings = settings or ScorerSettings()
    if len(archive.papers) == 0:
        raise ValueError(f"archives {archive.folder}: no publication of the job's members")
    model = registry_model(spec, avg_model, settings)
    texts = archive.texts(settings.text_fields)
    return RegistryScorer(model, model.index(texts), submission_texts, texts)
