"""Conflicts of interest (COIs) merged from every source, with the reasons of each pair.

Every source gives a bool P x R matrix (rows in ``submissions.jsonl`` order, columns in
``reviewers.jsonl`` order); :func:`merge_cois` takes their union and lists, for every
flagged pair, each source that flagged it. The reasons (sources) are:

- ``bid``: the reviewer bid COI (START code 4);
- ``authorship``: the reviewer is an author (same START username, email or Semantic
  Scholar id);
- ``coauthorship``: the reviewer co-wrote a corpus paper with an author, within the
  configured years (by Semantic Scholar author id);
- ``email_domain``: the reviewer's email domain is an author's, public mail providers
  (gmail.com, ...) left out;
- ``affiliation``: the reviewer's normalised affiliation is an author's;
- ``external``: a pair listed in an external COI file (username/submission, or
  username/username: then each person conflicts with the other's submissions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.conference.coi_sources import (
    PUBLIC_EMAIL_DOMAINS,
    coi_from_affiliation,
    coi_from_authorship,
    coi_from_bids,
    coi_from_coauthorship,
    coi_from_email_domain,
    coi_from_pairs,
    normalise_affiliation,
    read_coi_pairs,
)
from revmatch.conference.writing import write_all_or_nothing
from revmatch.io import InputError, PathLike, read_jsonl, save_npy, write_csv, write_lines, write_text

logger = logging.getLogger(__name__)

REASON_COLUMNS = ["submission_id", "reviewer_id", "reason"]


def merge_cois(
    sources: dict[str, np.ndarray],
    submission_ids: list[str],
    reviewer_ids: list[str],
) -> tuple[np.ndarray, pd.DataFrame]:
    """Union of the COI sources, and one (submission_id, reviewer_id, reason) row per pair and source."""
    shape = (len(submission_ids), len(reviewer_ids))
    coi = np.zeros(shape, dtype=bool)
    frames = []
    for reason, matrix in sources.items():
        matrix = np.asarray(matrix, dtype=bool)
        if matrix.shape != shape:
            raise ValueError(f"COI source {reason!r} has shape {matrix.shape}, expected {shape}")
        coi |= matrix
        rows, cols = np.nonzero(matrix)
        frames.append(pd.DataFrame({"p": rows, "r": cols, "reason": reason}))
    if not frames:
        frames.append(pd.DataFrame({"p": np.empty(0, np.int64), "r": np.empty(0, np.int64), "reason": []}))
    reasons = pd.concat(frames, ignore_index=True)
    reasons = reasons.sort_values(["p", "r"], kind="stable")
    subs = np.asarray(submission_ids, dtype=object)
    revs = np.asarray(reviewer_ids, dtype=object)
    frame = pd.DataFrame(
        {
            "submission_id": subs[reasons["p"].to_numpy(np.int64)],
            "reviewer_id": revs[reasons["r"].to_numpy(np.int64)],
            "reason": reasons["reason"].to_numpy(),
        },
        columns=REASON_COLUMNS,
    )
    return coi, frame


def coi_report(
    coi: np.ndarray,
    reasons: pd.DataFrame,
    submission_ids: list[str],
    sources: Sequence[str] | None = None,
) -> str:
    """Readable counts: pairs by reason (every source in ``sources``, also at 0), in total, and touched."""
    n_sub, n_rev = coi.shape
    lines = [f"COI pairs: {int(coi.sum())} of {n_sub * n_rev} submission-reviewer pairs"]
    by_reason = reasons.groupby("reason", sort=False).size()
    shared = reasons.duplicated(["submission_id", "reviewer_id"], keep=False)
    only = reasons.loc[~shared, "reason"].value_counts()
    for reason in list(sources or []) + [r for r in by_reason.index if r not in (sources or [])]:
        count = int(by_reason.get(reason, 0))
        lines.append(f"  {reason}: {count} pairs ({int(only.get(reason, 0))} from this source only)")
    per_submission = coi.sum(axis=1)
    lines.append(f"submissions with a COI: {int((per_submission > 0).sum())} of {n_sub}")
    lines.append(f"reviewers with a COI: {int((coi.sum(axis=0) > 0).sum())} of {n_rev}")
    if n_sub and n_rev:
        worst = int(np.argmax(per_submission))
        lines.append(
            f"most COIs on one submission: {int(per_submission[worst])} ({submission_ids[worst]})"
        )
    return "\n".join(lines) + "\n"


def _authors_without_ids(submissions: list[dict]) -> tuple[int, int]:
    authors = [a for s in submissions for a in s.get("authors") or []]
    return sum(not a.get("ids") for a in authors), len(authors)


def merge_cois_file(
    submissions_jsonl: PathLike,
    reviewers_jsonl: PathLike,
    bids_npy: PathLike,
    papers_parquet_or_None: PathLike | None,
    out_coi_npy: PathLike,
    out_reasons_csv: PathLike,
    out_report_txt: PathLike,
    coauthor_since_year: int | None = None,
    external_csvs: Sequence[PathLike] = (),
    same_email_domain: bool = False,
    same_affiliation: bool = False,
    public_email_domains: Iterable[str] = (),
    out_submission_index: PathLike | None = None,
    out_reviewer_index: PathLike | None = None,
) -> dict:
    """Merge every COI source; write the matrix, its index files, the reasons and a report.

    Sources: bids and authorship always; co-authorship with a corpus (papers from
    ``coauthor_since_year`` on, all years when ``None``); same email domain (public mail
    providers and ``public_email_domains`` left out) and same affiliation when asked;
    each external COI file. The index files list the matrix's submission ids (rows) and
    reviewer ids (columns), one a line. Everything is read and computed before anything
    is written, and a failed write removes what was written. Returns the counts.
    """
    submissions = read_jsonl(submissions_jsonl)
    reviewers = read_jsonl(reviewers_jsonl)
    bids = np.load(bids_npy)
    expected = (len(submissions), len(reviewers))
    if bids.shape != expected:
        raise InputError(
            bids_npy, f"bids matrix has shape {bids.shape}, expected {expected} (submissions x reviewers)"
        )
    sources = {"bid": coi_from_bids(bids), "authorship": coi_from_authorship(submissions, reviewers)}
    notes = []
    if papers_parquet_or_None is not None:
        papers = pd.read_parquet(papers_parquet_or_None, columns=["paper_id", "year", "authors"])
        sources["coauthorship"] = coi_from_coauthorship(submissions, reviewers, papers, coauthor_since_year)
        window = "all years" if coauthor_since_year is None else f"papers from {coauthor_since_year} on"
        without, total = _authors_without_ids(submissions)
        notes.append(f"co-authorship window: {window}")
        notes.append(
            f"co-authorship not checked for {without} of {total} submission authors "
            "(no Semantic Scholar id: no START profile, or none in it)"
        )
    else:
        logger.info("no corpus given: co-authorship COIs not computed")
    if same_email_domain:
        public = PUBLIC_EMAIL_DOMAINS | {str(d).strip().casefold() for d in public_email_domains}
        sources["email_domain"] = coi_from_email_domain(submissions, reviewers, public)
        notes.append(f"same email domain: {len(public)} public mail domains left out")
    if same_affiliation:
        sources["affiliation"] = coi_from_affiliation(submissions, reviewers)
        with_affiliation = sum(bool(normalise_affiliation(r.get("affiliation", ""))) for r in reviewers)
        notes.append(f"same affiliation: {with_affiliation} of {len(reviewers)} reviewers state one")
    external_stats = []
    if external_csvs:
        external = np.zeros(expected, dtype=bool)
        for path in external_csvs:
            pairs, kind = read_coi_pairs(path)
            matrix, stats = coi_from_pairs(pairs, kind, submissions, reviewers)
            external |= matrix
            external_stats.append({"file": str(path), **stats})
            unknown_ids = stats.get("unknown_submissions")
            notes.append(
                f"external {Path(path).name} ({kind} pairs): {stats['pairs']} pairs -> {stats['coi_pairs']} "
                f"COI pairs; {stats['pairs_without_effect']} pairs flag nothing, "
                f"{len(stats['unknown_usernames'])} unknown usernames"
                + (f", {len(unknown_ids)} unknown submission ids" if unknown_ids is not None else "")
            )
            if stats["unknown_usernames"]:
                logger.warning(
                    "%s: %d unknown usernames: %s", path, len(stats["unknown_usernames"]),
                    ", ".join(stats["unknown_usernames"][:20]),
                )
        sources["external"] = external
    submission_ids = [str(s["id"]) for s in submissions]
    reviewer_ids = [str(r["id"]) for r in reviewers]
    coi, reasons = merge_cois(sources, submission_ids, reviewer_ids)
    report = coi_report(coi, reasons, submission_ids, list(sources)) + "".join(f"{n}\n" for n in notes)
    for line in report.splitlines():
        logger.info(line)
    writers = [
        (out_coi_npy, lambda path: save_npy(coi, path)),
        (out_reasons_csv, lambda path: write_csv(reasons, path)),
        (out_report_txt, lambda path: write_text(report, path)),
    ]
    if out_submission_index is not None:
        writers.append((out_submission_index, lambda path: write_lines(submission_ids, path)))
    if out_reviewer_index is not None:
        writers.append((out_reviewer_index, lambda path: write_lines(reviewer_ids, path)))
    write_all_or_nothing(writers)
    counts = reasons.groupby("reason").size()
    return {
        "pairs": int(coi.sum()),
        "by_reason": {reason: int(counts.get(reason, 0)) for reason in sources},
        "external": external_stats,
    }
