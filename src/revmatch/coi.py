"""Conflicts of interest (COIs): bids, authorship and co-authorship, merged with reasons.

Every source gives a bool P x R matrix (rows in ``submissions.jsonl`` order, columns in
``reviewers.jsonl`` order); :func:`merge_cois` takes their union and lists, for every
flagged pair, each source that flagged it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import InputError, PathLike, read_jsonl, save_npy, write_csv, write_text

logger = logging.getLogger(__name__)

BID_COI = 0
REASON_COLUMNS = ["submission_id", "reviewer_id", "reason"]


def coi_from_bids(bids: np.ndarray) -> np.ndarray:
    """Pairs whose bid is COI (reference code 0)."""
    return np.asarray(bids) == BID_COI


def _pairs_to_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    matrix = np.zeros(shape, dtype=bool)
    matrix[rows, cols] = True
    return matrix


def _person_keys(people: Iterable[dict]) -> pd.DataFrame:
    """(position, key) rows: a person's START username, email and Semantic Scholar ids."""
    positions, keys = [], []
    for i, person in enumerate(people):
        username = str(person.get("startUsername") or "").strip().casefold()
        email = str(person.get("email") or "").strip().casefold()
        for key in (f"username:{username}" if username else "", f"email:{email}" if email else ""):
            if key:
                positions.append(i)
                keys.append(key)
        for s2_id in person.get("ids") or []:
            if str(s2_id).strip():
                positions.append(i)
                keys.append(f"s2:{str(s2_id).strip()}")
    return pd.DataFrame({"position": np.asarray(positions, dtype=np.int64), "key": keys})


def coi_from_authorship(submissions: list[dict], reviewers: list[dict]) -> np.ndarray:
    """Pairs where the reviewer is an author of the submission.

    An author is the reviewer when they share the START username or the email (both
    case-insensitive) or a Semantic Scholar author id (submission authors carry the ids
    of the profile they were matched to, so a shared id means the same person under two
    START accounts).
    """
    flat = [(p, author) for p, s in enumerate(submissions) for author in s.get("authors") or []]
    authors = _person_keys(author for _, author in flat)
    owner = np.fromiter((p for p, _ in flat), dtype=np.int64, count=len(flat))
    authors["submission"] = owner[authors["position"].to_numpy(np.int64)]
    reviewer_keys = _person_keys(reviewers).rename(columns={"position": "reviewer"})
    pairs = authors.merge(reviewer_keys, on="key", how="inner")
    return _pairs_to_matrix(
        pairs["submission"].to_numpy(np.int64),
        pairs["reviewer"].to_numpy(np.int64),
        (len(submissions), len(reviewers)),
    )


def _incidence(owner_ids: list[list[str]], vocabulary: dict[str, int]) -> sp.csr_matrix:
    """Sparse owner x author-id incidence for ids in ``vocabulary``."""
    rows, cols = [], []
    for i, ids in enumerate(owner_ids):
        for s2_id in ids:
            j = vocabulary.get(str(s2_id).strip())
            if j is not None:
                rows.append(i)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.int32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(owner_ids), len(vocabulary)))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _paper_author_ids(papers: pd.DataFrame, since_year: int | None) -> pd.DataFrame:
    """(paper, author_id) rows of the papers in the window; counts what is left out."""
    frame = papers
    if since_year is not None:
        years = pd.to_numeric(frame["year"], errors="coerce")
        no_year = int(years.isna().sum())
        if no_year:
            logger.info("co-authorship: %d corpus papers without a year left out", no_year)
        frame = frame[(years >= since_year).fillna(False).to_numpy(dtype=bool)]
    exploded = frame["authors"].reset_index(drop=True).explode()
    ids = exploded.str.get("id")
    keep = ids.notna() & (ids.astype(str).str.strip() != "")
    return pd.DataFrame(
        {"paper": exploded.index[keep].to_numpy(np.int64), "author_id": ids[keep].astype(str).str.strip()}
    )


def coi_from_coauthorship(
    submissions: list[dict],
    reviewers: list[dict],
    papers: pd.DataFrame,
    since_year: int | None,
) -> np.ndarray:
    """Pairs where the reviewer co-wrote a corpus paper with an author of the submission.

    People are Semantic Scholar author ids (submission authors' and reviewers' ``ids``);
    ``papers`` has ``paper_id``, ``year`` and ``authors`` (list of ``{id, name}``); only
    papers with ``year >= since_year`` count (all when ``None``). Co-authors are two
    different ids on one paper; a reviewer who is the author is :func:`coi_from_authorship`'s.
    """
    shape = (len(submissions), len(reviewers))
    submission_ids = [[i for a in s.get("authors") or [] for i in a.get("ids") or []] for s in submissions]
    reviewer_ids = [list(r.get("ids") or []) for r in reviewers]
    known = dict.fromkeys(str(i).strip() for ids in submission_ids + reviewer_ids for i in ids)
    known.pop("", None)
    vocabulary = {s2_id: k for k, s2_id in enumerate(known)}
    if not vocabulary or papers.empty:
        return np.zeros(shape, dtype=bool)
    links = _paper_author_ids(papers, since_year)
    links = links[links["author_id"].isin(vocabulary)]
    n_papers = int(links["paper"].max()) + 1 if len(links) else 0
    person_paper = sp.csr_matrix(
        (
            np.ones(len(links), dtype=np.int32),
            (links["author_id"].map(vocabulary).to_numpy(np.int64), links["paper"].to_numpy(np.int64)),
        ),
        shape=(len(vocabulary), n_papers),
    )
    person_paper.sum_duplicates()
    person_paper.data[:] = 1
    coauthors = (person_paper @ person_paper.T).tocsr()
    coauthors = (coauthors - sp.diags(coauthors.diagonal(), dtype=coauthors.dtype)).tocsr()
    coauthors.eliminate_zeros()
    submission_people = _incidence(submission_ids, vocabulary)
    reviewer_people = _incidence(reviewer_ids, vocabulary)
    shared = (submission_people @ coauthors @ reviewer_people.T).tocoo()
    logger.info(
        "co-authorship: %d corpus papers link %d of %d known author ids; %d pairs flagged",
        links["paper"].nunique(), int((person_paper.getnnz(axis=1) > 0).sum()), len(vocabulary), shared.nnz,
    )
    return _pairs_to_matrix(shared.row.astype(np.int64), shared.col.astype(np.int64), shape)


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


def coi_report(coi: np.ndarray, reasons: pd.DataFrame, submission_ids: list[str]) -> str:
    """Readable counts: pairs by reason, pairs in total, submissions and reviewers touched."""
    n_sub, n_rev = coi.shape
    lines = [f"COI pairs: {int(coi.sum())} of {n_sub * n_rev} submission-reviewer pairs"]
    by_reason = reasons.groupby("reason", sort=False).size()
    shared = reasons.duplicated(["submission_id", "reviewer_id"], keep=False)
    only = reasons.loc[~shared, "reason"].value_counts()
    for reason, count in by_reason.items():
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


def merge_cois_file(
    submissions_jsonl: PathLike,
    reviewers_jsonl: PathLike,
    bids_npy: PathLike,
    papers_parquet_or_None: PathLike | None,
    out_coi_npy: PathLike,
    out_reasons_csv: PathLike,
    out_report_txt: PathLike,
    coauthor_since_year: int | None = None,
) -> None:
    """Merge COIs from bids, authorship and (with a corpus) co-authorship; write matrix, reasons, report."""
    submissions = read_jsonl(submissions_jsonl)
    reviewers = read_jsonl(reviewers_jsonl)
    bids = np.load(bids_npy)
    expected = (len(submissions), len(reviewers))
    if bids.shape != expected:
        raise InputError(
            bids_npy, f"bids matrix has shape {bids.shape}, expected {expected} (submissions x reviewers)"
        )
    sources = {"bid": coi_from_bids(bids), "authorship": coi_from_authorship(submissions, reviewers)}
    if papers_parquet_or_None is not None:
        papers = pd.read_parquet(papers_parquet_or_None, columns=["paper_id", "year", "authors"])
        sources["coauthorship"] = coi_from_coauthorship(submissions, reviewers, papers, coauthor_since_year)
    else:
        logger.info("no corpus given: co-authorship COIs not computed")
    submission_ids = [str(s["id"]) for s in submissions]
    reviewer_ids = [str(r["id"]) for r in reviewers]
    coi, reasons = merge_cois(sources, submission_ids, reviewer_ids)
    report = coi_report(coi, reasons, submission_ids)
    if papers_parquet_or_None is not None:
        window = "all years" if coauthor_since_year is None else f"papers from {coauthor_since_year} on"
        report += f"co-authorship window: {window}\n"
    for line in report.splitlines():
        logger.info(line)
    save_npy(coi, out_coi_npy)
    write_csv(reasons, out_reasons_csv)
    write_text(report, out_report_txt)
