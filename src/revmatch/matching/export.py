"""The assignment in every shape chairs use: JSON lines, spreadsheets, START upload, readable text.

The layouts follow the reference tool (``assignments.jsonl`` with ``topSimReviewers`` and
``assignedReviewers``, the global and per-track spreadsheets, ``sid:user1:user2`` upload lines
and the text report), so that files and habits carry over.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, submission_ids
from revmatch.io import (
    InputError,
    PathLike,
    atomic_path,
    read_json,
    read_jsonl,
    write_csv,
    write_json,
    write_jsonl,
    write_lines,
    write_text,
)
from revmatch.matching.eligibility import paper_tracks, track_membership
from revmatch.matching.table import locate_ids, read_assignment

logger = logging.getLogger(__name__)

PERSON_KEYS = (
    "ids", "startUsername", "tracks", "areaChair", "ac_tracks", "seniorAreaChair", "sac_tracks", "emergency"
)
COI_TRACK = "COI"
SEPARATOR = "----------------------------------------------"
CONFLICT_GROUPS = {"seniorAreaChairs": "sac_tracks", "areaChairs": "ac_tracks", "reviewers": "tracks"}
CONFLICT_COLUMNS = {
    "SACs with COI": "seniorAreaChairs",
    "ACs with COI": "areaChairs",
    "Reviewers with COI": "reviewers",
}
SCORE_DECIMALS = 6


def top_reviewers(scores: np.ndarray, coi: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per submission, the ``n`` best-scoring reviewers without a COI, best first.

    Returns (indices, valid), both (P, n): ``valid`` is False where a submission has fewer
    than ``n`` reviewers without a COI.
    """
    n_papers, n_reviewers = scores.shape
    n = min(int(n), n_reviewers)
    if n == 0:
        return np.zeros((n_papers, 0), dtype=np.int64), np.zeros((n_papers, 0), dtype=bool)
    masked = np.where(np.asarray(coi, dtype=bool), -np.inf, np.asarray(scores, dtype=np.float64))
    candidates = np.argpartition(-masked, n - 1, axis=1)[:, :n]
    candidate_scores = np.take_along_axis(masked, candidates, axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=1)
    best = np.take_along_axis(candidates, order, axis=1)
    return best, np.isfinite(np.take_along_axis(masked, best, axis=1))


def _person(record: dict, person_id: str, score: float, reason: str = "") -> dict:
    """A reviewer as the reference tool lists it (``names`` included), with ``id`` and ``score``,
    and the chair's ``reason`` for a forced pair when there is one."""
    name = _name(record, person_id)
    person = {"id": person_id, "name": name, "names": [name]}
    person.update({key: record[key] for key in PERSON_KEYS if key in record})
    person["score"] = round(float(score), SCORE_DECIMALS)
    if reason:
        person["reason"] = reason
    return person


def _name(record: dict, person_id: str) -> str:
    if record.get("name"):
        return str(record["name"])
    if record.get("names"):
        return str(record["names"][0])
    return person_id


def assignment_records(
    assignment: pd.DataFrame,
    submissions: list[dict],
    reviewers: list[dict],
    scores: np.ndarray,
    coi: np.ndarray,
    num_similar: int = 6,
) -> list[dict]:
    """One record per submission, in submission order.

    Each record is the submission object plus ``submission_id``, ``track``, ``title``,
    ``reviewers`` ([{id, name, score}], best first), the reference tool's
    ``assignedReviewers`` and ``topSimReviewers`` (the ``num_similar`` best-scoring
    reviewers without a COI, assigned or not, eligible or not), ``conflicts`` (usernames
    of the paper track's senior area chairs, area chairs and reviewers with a COI) and
    ``allTrackSacsConflicted`` (the track has senior area chairs and all have a COI).
    """
    sub_ids = submission_ids(submissions)
    rev_ids = reviewer_ids(reviewers)
    scores = np.asarray(scores)
    coi = np.asarray(coi, dtype=bool)
    expected = (len(submissions), len(reviewers))
    if scores.shape != expected or coi.shape != expected:
        raise ValueError(f"scores {scores.shape} and coi {coi.shape} must both be {expected}")
    paper_pos, reviewer_pos = locate_ids(assignment, submissions, reviewers).T
    order = np.lexsort((-assignment["score"].to_numpy(dtype=np.float64), paper_pos))
    assigned_by_paper = np.split(order, np.searchsorted(paper_pos[order], np.arange(1, len(submissions))))

    similar, similar_valid = top_reviewers(scores, coi, num_similar)
    tracks = paper_tracks(submissions).astype(str).tolist()
    track_names, paper_track = np.unique(tracks, return_inverse=True)
    in_track = {  # (P, R) per group: the person holds that role in the paper's track
        label: track_membership(reviewers, key, track_names.tolist())[:, paper_track].T
        for label, key in CONFLICT_GROUPS.items()
    }
    conflicts = {label: coi & members for label, members in in_track.items()}
    track_sacs = in_track["seniorAreaChairs"].sum(axis=1)
    all_sacs_conflicted = (track_sacs > 0) & (conflicts["seniorAreaChairs"].sum(axis=1) == track_sacs)

    scores_column = assignment["score"].to_numpy(dtype=np.float64)
    reasons = assignment["reason"].astype(str).to_numpy() if "reason" in assignment else np.full(len(assignment), "")
    records = []
    for p, submission in enumerate(submissions):
        rows = assigned_by_paper[p]
        assigned = [
            _person(reviewers[r], rev_ids[r], s, why)
            for r, s, why in zip(reviewer_pos[rows], scores_column[rows], reasons[rows])
        ]
        top = similar[p][similar_valid[p]]
        record = dict(submission)
        record.update(
            {
                "submission_id": sub_ids[p],
                "track": tracks[p],
                "title": str(submission.get("title") or ""),
                "reviewers": [{key: person[key] for key in ("id", "name", "score")} for person in assigned],
                "topSimReviewers": [_person(reviewers[r], rev_ids[r], scores[p, r]) for r in top],
                "assignedReviewers": assigned,
                "conflicts": {
                    label: [rev_ids[r] for r in np.flatnonzero(mask[p])] for label, mask in conflicts.items()
                },
                "allTrackSacsConflicted": bool(all_sacs_conflicted[p]),
            }
        )
        records.append(record)
    return records


# --------------------------------------------------------------------------- writers


def write_assignments_jsonl(records: list[dict], path: PathLike) -> int:
    """One record a line; returns the number of lines."""
    return write_jsonl(records, path)


def _person_columns(records: list[dict], key: str, prefix: str, count: int, labelled: bool) -> pd.DataFrame:
    """``{prefix} x`` and ``{prefix} x score`` for x = 1..count from each record's ``key`` list.

    Person cells are usernames, or "Name (username)" when ``labelled``; missing ones are blank.
    """
    columns: dict[str, list] = {}
    for x in range(1, count + 1):
        people = [rec[key][x - 1] if len(rec[key]) >= x else None for rec in records]
        columns[f"{prefix} {x}"] = [_cell(person, labelled) for person in people]
        columns[f"{prefix} {x} score"] = [round(person["score"], 4) if person else None for person in people]
    return pd.DataFrame(columns, index=range(len(records)))


def _cell(person: dict | None, labelled: bool) -> str:
    if person is None:
        return ""
    return f"{person['name']} ({person['id']})" if labelled else person["id"]


def _track_key(role: str) -> str:
    return "ac_tracks" if role == "AC" else "tracks"


def assignments_frame(records: list[dict], reviews_per_paper: int, role: str = "reviewer") -> pd.DataFrame:
    """The global spreadsheet: ``ID``, assigned persons and scores, ``Track``, ``Assigned within same track``.

    ``Track`` is ``COI`` for papers whose track's senior area chairs all have a COI.
    """
    key = _track_key(role)
    frame = pd.DataFrame({"ID": [rec["submission_id"] for rec in records]})
    assigned = _person_columns(records, "assignedReviewers", f"Assigned {role}", reviews_per_paper, False)
    frame = pd.concat([frame, assigned], axis=1)
    frame["Track"] = [COI_TRACK if rec["allTrackSacsConflicted"] else rec["track"] for rec in records]
    frame["Assigned within same track"] = [
        bool(people) and all(rec["track"] in (p.get(key) or []) for p in people)
        for rec, people in ((rec, rec["assignedReviewers"]) for rec in records)
    ]
    notes = ["; ".join(f"{p['id']}: {p['reason']}" for p in rec["assignedReviewers"] if p.get("reason"))
             for rec in records]
    if any(notes):  # forced pairs' reasons; the reference layout otherwise
        frame["Notes"] = notes
    return frame


def write_assignments_csv(
    records: list[dict], path: PathLike, reviews_per_paper: int, role: str = "reviewer"
) -> None:
    """Write the global spreadsheet (see ``assignments_frame``)."""
    write_csv(assignments_frame(records, reviews_per_paper, role), path)


def track_slug(track: str) -> str:
    """File name stem of a track: word runs joined by ``-`` (the reference tool's rule)."""
    slug = "-".join(part for part in re.split(r"[\W,:]+", track) if part)
    return slug or "no-track"


def track_frame(
    records: list[dict], reviews_per_paper: int, num_similar: int = 6, role: str = "reviewer"
) -> pd.DataFrame:
    """A per-track spreadsheet: assigned and similar persons ("Name (username)", score) and COI lists."""
    frame = pd.DataFrame({"ID": [rec["submission_id"] for rec in records]})
    frame = pd.concat(
        [
            frame,
            _person_columns(records, "assignedReviewers", f"Assigned {role}", reviews_per_paper, True),
            _person_columns(records, "topSimReviewers", f"Similar {role}", num_similar, True),
        ],
        axis=1,
    )
    for column, label in CONFLICT_COLUMNS.items():
        frame[column] = ["; ".join(rec["conflicts"][label]) for rec in records]
    return frame


def start_upload_lines(records: list[dict]) -> list[str]:
    """START upload lines ``sid:user1:user2:user3``."""
    return [":".join([rec["submission_id"], *(p["id"] for p in rec["assignedReviewers"])]) for rec in records]


def write_start_upload(records: list[dict], path: PathLike) -> int:
    """Write the START upload file; returns the number of lines."""
    return write_lines(start_upload_lines(records), path)


def write_track_csvs(
    records: list[dict],
    out_dir: PathLike,
    reviews_per_paper: int,
    num_similar: int = 6,
    role: str = "reviewer",
) -> dict[str, str]:
    """Write ``<slug>.csv`` and ``<slug>.txt`` (START upload) per track into ``out_dir``.

    Papers whose track's senior area chairs all have a COI go to ``COI.csv`` (with an
    ``Original track`` column) instead. The directory is replaced as a whole. Returns
    {track: slug}.
    """
    groups: dict[str, list[dict]] = {}
    for rec in records:
        groups.setdefault(COI_TRACK if rec["allTrackSacsConflicted"] else rec["track"], []).append(rec)
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for track in groups:
        slug = track_slug(track)
        base, n = slug, 1
        while slug.lower() in taken:
            n += 1
            slug = f"{base}-{n}"
        if slug != base:
            logger.warning("tracks %r and another share the file name %r; writing %r", track, base, slug)
        taken.add(slug.lower())
        slugs[track] = slug
    with atomic_dir(out_dir) as tmp:
        for track, group in groups.items():
            frame = track_frame(group, reviews_per_paper, num_similar, role)
            if track == COI_TRACK:
                frame["Original track"] = [rec["track"] for rec in group]
            write_csv(frame, tmp / f"{slugs[track]}.csv")
            write_start_upload(group, tmp / f"{slugs[track]}.txt")
    logger.info("wrote %d per-track spreadsheets to %s", len(groups), out_dir)
    return slugs


def sheet_names(tracks: list[str]) -> list[str]:
    """Excel sheet names for ``tracks``: at most 31 characters, no ``[]:*?/\\``, unique."""
    names: list[str] = []
    taken: set[str] = set()
    for track in tracks:
        base = re.sub(r"[\[\]:*?/\\]+", "-", track).strip("'") or "no-track"
        name, n = base[:31], 1
        while name.lower() in taken:
            n += 1
            suffix = f" ({n})"
            name = base[: 31 - len(suffix)] + suffix
        taken.add(name.lower())
        names.append(name)
    return names


def write_assignments_xlsx(
    records: list[dict],
    path: PathLike,
    reviews_per_paper: int,
    num_similar: int = 6,
    role: str = "reviewer",
) -> None:
    """One workbook for chairs: an ``All tracks`` sheet (the global spreadsheet) and one sheet
    per track (assigned and similar persons, COIs), frozen header row."""
    groups: dict[str, list[dict]] = {}
    for rec in records:
        groups.setdefault(rec["track"], []).append(rec)
    tracks = sorted(groups)
    sheets = {"All tracks": assignments_frame(records, reviews_per_paper, role)}
    for track, name in zip(tracks, sheet_names(tracks)):
        if name.lower() == "all tracks":
            name = f"{name} (track)"
        sheets[name] = track_frame(groups[track], reviews_per_paper, num_similar, role)
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False, freeze_panes=(1, 0))
    logger.info("wrote %s with %d track sheets", path, len(tracks))


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path`` as a whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def format_text_report(records: list[dict]) -> str:
    """The reference tool's readable report.

    Per submission: title, abstract, similar corpus papers (when the records carry
    ``similarPapers``), best matched reviewers and assigned reviewers with their scores.
    """
    lines = []
    for rec in records:
        lines += [SEPARATOR, "*** Paper Title", str(rec.get("title") or ""), "*** Paper Abstract"]
        lines.append(str(rec.get("paperAbstract") or rec.get("abstract") or ""))
        if rec.get("similarPapers"):
            lines += ["", "*** Similar Papers"]
            for paper in rec["similarPapers"]:
                lines.append(f"# {paper.get('title', '')} (Score {paper['score']:.4f})")
                lines.append(str(paper.get("paperAbstract") or ""))
        lines += ["", "*** Best Matched Reviewers"]
        lines += [f"# {p['name']} (Score {p['score']:.4f})" for p in rec["topSimReviewers"]]
        lines += ["", "*** Assigned Reviewers"]
        lines += [
            f"# {p['name']} (Score {p['score']:.4f})" + (f" [{p['reason']}]" if p.get("reason") else "")
            for p in rec["assignedReviewers"]
        ]
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------- fingerprints


def file_sha256(path: PathLike) -> str:
    """The SHA-256 of a file's bytes (hex): the fingerprint of an assignment or an export."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(paths: Iterable[PathLike]) -> list[Path]:
    """The files of ``paths``, a folder's files (sorted) in its place."""
    files = []
    for path in map(Path, paths):
        files += sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    return files


def write_exports_manifest(assignment_file: PathLike, exports: Iterable[PathLike], out_json: PathLike) -> dict:
    """Write ``exports.json``: the fingerprint of the assignment the ``exports`` (files or folders)
    were made from and each export file's own, paths relative to the manifest's folder. Exports
    whose manifest names another assignment than the current one are stale (``stale_exports``)."""
    base = Path(out_json).parent
    manifest = {
        "assignment": {"file": os.path.relpath(assignment_file, base), "sha256": file_sha256(assignment_file)},
        "exports": {Path(os.path.relpath(f, base)).as_posix(): file_sha256(f) for f in _files_under(exports)},
    }
    write_json(manifest, out_json)
    return manifest


def stale_exports(manifest_json: PathLike) -> list[str]:
    """What no longer matches ``exports.json``: the assignment when its fingerprint changed or it
    is gone, and every export file missing or changed since; empty when the exports are current."""
    base = Path(manifest_json).parent
    manifest = read_json(manifest_json)
    stale = []
    for name, sha in [(manifest["assignment"]["file"], manifest["assignment"]["sha256"]),
                      *manifest["exports"].items()]:
        path = base / name
        if not path.is_file():
            stale.append(f"{name} (missing)")
        elif file_sha256(path) != sha:
            stale.append(f"{name} (changed)")
    return stale


def remove_previous_exports(paths: Iterable[PathLike]) -> list[str]:
    """Remove the exports (files or folders) of a previous assignment, before a new one is solved,
    so that a failed solve leaves none describing an assignment that no longer exists; the paths
    removed."""
    removed = []
    for path in map(Path, paths):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(str(path))
    if removed:
        logger.info("removed %d export(s) of the previous assignment: %s", len(removed), ", ".join(removed))
    return removed


# --------------------------------------------------------------------------- files


def export_assignments_file(
    assignment_file: PathLike,
    submissions_jsonl: PathLike,
    reviewers_jsonl: PathLike,
    aggregate_npy: PathLike,
    coi_npy: PathLike,
    out_jsonl: PathLike,
    out_csv: PathLike,
    out_tracks_dir: PathLike,
    out_start_txt: PathLike,
    out_text: PathLike,
    reviews_per_paper: int,
    num_similar: int = 6,
    role: str = "reviewer",
    out_xlsx: PathLike | None = None,
    out_openreview_dir: PathLike | None = None,
    alternates: int = 10,
    by_track: bool = True,
    out_manifest: PathLike | None = None,
) -> list[dict]:
    """Write every export of an assignment table (CSV or Parquet); returns the records.

    ``out_openreview_dir`` gets the assignment in openreview-matcher's shape
    (``assignments.json``, and ``alternates.json`` with each paper's ``alternates`` best
    reviewers who are not assigned to it, have no COI and, with ``by_track``, serve in its track).
    ``out_manifest``, written last, gets the fingerprint of the assignment and of every export
    (``write_exports_manifest``); the exports' own formats are unchanged.
    """
    assignment = read_assignment(assignment_file)
    submissions = read_jsonl(submissions_jsonl)
    reviewers = read_jsonl(reviewers_jsonl)
    scores = np.load(aggregate_npy)
    coi = np.load(coi_npy)
    expected = (len(submissions), len(reviewers))
    for path, array in ((aggregate_npy, scores), (coi_npy, coi)):
        if array.shape != expected:
            raise InputError(path, f"shape {array.shape} does not match {expected} (submissions x reviewers)")
    locate_ids(assignment, submissions, reviewers, path=assignment_file)
    records = assignment_records(assignment, submissions, reviewers, scores, coi, num_similar)
    unassigned = sum(1 for rec in records if len(rec["assignedReviewers"]) < reviews_per_paper)
    if unassigned:
        logger.warning(
            "%d submission(s) have fewer than %d assigned reviewers", unassigned, reviews_per_paper
        )
    coi_track = sum(rec["allTrackSacsConflicted"] for rec in records)
    if coi_track:
        logger.warning(
            "%d submission(s) conflict with every senior area chair of their track (COI track)", coi_track
        )
    write_assignments_jsonl(records, out_jsonl)
    write_assignments_csv(records, out_csv, reviews_per_paper, role)
    write_track_csvs(records, out_tracks_dir, reviews_per_paper, num_similar, role)
    write_start_upload(records, out_start_txt)
    write_text(format_text_report(records), out_text)
    if out_xlsx is not None:
        write_assignments_xlsx(records, out_xlsx, reviews_per_paper, num_similar, role)
    exports = [out_jsonl, out_csv, out_tracks_dir, out_start_txt, out_text, *([out_xlsx] if out_xlsx else [])]
    if out_openreview_dir is not None:
        from revmatch.matching.eligibility import allowed_pairs
        from revmatch.matching.openreview_matcher import write_matcher_outputs

        allowed = allowed_pairs(coi, submissions, reviewers, by_track=by_track, area_chairs=role == "AC")
        exports += write_matcher_outputs(assignment, scores, coi, submissions, reviewers, alternates,
                                         out_openreview_dir, allowed=allowed).values()
    if out_manifest is not None:
        write_exports_manifest(assignment_file, exports, out_manifest)
    logger.info("exported the assignment of %d submissions", len(records))
    return records
