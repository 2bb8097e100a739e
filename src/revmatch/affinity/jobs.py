"""Running an affinity job in the shape of OpenReview's Expertise API.

A job scores entity A (a group of committee members) against entity B (submissions, or
the members of a second group) with an expertise model (``scorers``): a member's
expertise is the set of their corpus papers (``publications``), a member-submission score
reduces the scores of the member's papers against the submission and a member-member score
reduces over pairs of their papers (``reductions``). Scores lie in [0, 1] and carry
``SCORE_DECIMALS`` decimals. Members without corpus papers get no score: they are left out
of ``results`` and listed under ``metadata.no_publications``, as the Expertise API does.
Members and submissions that a job names but the conference does not have are listed under
``no_profile`` and ``no_profile_submission`` (or, with ``on_unknown_member: error``, stop
the job). ``affinity_job_file`` runs a job on files, writing its results and its status.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from revmatch.affinity.groups import group_members, member_id
from revmatch.affinity.job_config import check_job, needs_rejects, read_job_files
from revmatch.affinity.publications import member_publications, selection_pairs
from revmatch.affinity.reductions import PAIRWISE_REDUCERS, member_member_scores, member_scores, parse_reduce
from revmatch.affinity.results import SCORE_DECIMALS, results_document, results_metadata, write_results
from revmatch.affinity.scorers import Scorer, load_embedding_scorer, load_registry_scorer, normalise_scores
from revmatch.affinity.settings import ScorerSettings
from revmatch.affinity.status import write_status
from revmatch.io import InputError, PathLike, read_jsonl
from revmatch.model import parse_spec, read_paper_texts, submission_texts

logger = logging.getLogger(__name__)

# The reason ``softconf`` gives a set-aside submission -> its status here.
_REJECT_REASONS = {"withdrawn": "withdrawn", "desk reject": "desk_rejected"}


def submission_pool(
    submissions: Sequence[dict], rejects: Sequence[dict], statuses: Sequence[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """The submissions of the wanted ``statuses``: (rows into submissions + rejects, their ids,
    the ids of the other submissions).

    ``submissions`` (``id``) are active; ``rejects`` (``startSubmissionId``, ``reason``
    ``withdrawn`` or ``desk reject``, as ``softconf`` writes them) are withdrawn or
    desk-rejected. Rows index the concatenation ``submissions + rejects``.
    """
    status = ["active"] * len(submissions)
    for row, record in enumerate(rejects, start=1):
        reason = str(record.get("reason") or "").strip().lower()
        if reason not in _REJECT_REASONS:
            raise ValueError(f"rejected submission {row}: unknown reason {record.get('reason')!r}")
        status.append(_REJECT_REASONS[reason])
    ids = [str(s.get("id", s.get("startSubmissionId"))) for s in submissions]
    ids += [str(r.get("startSubmissionId", r.get("id"))) for r in rejects]
    wanted = np.isin(np.asarray(status, dtype=object), list(statuses))
    rows = np.flatnonzero(wanted)
    return rows, [ids[i] for i in rows], [ids[i] for i in np.flatnonzero(~wanted)]


def select_submissions(
    pool_ids: Sequence[str], wanted: Sequence[str] | None, other_ids: Sequence[str] = ()
) -> tuple[np.ndarray, list[str]]:
    """Positions in ``pool_ids`` of the wanted ids (all when None, order of ``wanted``,
    repeats dropped) and the wanted ids not in the pool (``no_profile_submission``).

    Ids found among ``other_ids`` (submissions of a status the job does not score) are
    reported as not found too, with a warning.
    """
    if wanted is None:
        return np.arange(len(pool_ids)), []
    index = {sid: i for i, sid in enumerate(pool_ids)}
    wanted = list(dict.fromkeys(str(w) for w in wanted))
    found = np.asarray([index[w] for w in wanted if w in index], dtype=np.int64)
    missing = [w for w in wanted if w not in index]
    other = set(other_ids).intersection(missing)
    if other:
        logger.warning(
            "%d listed submissions have another submission_status than the job's: %s",
            len(other), sorted(other)[:10],
        )
    return found, missing


def _group_for(job: dict, key: str) -> dict:
    """The group of ``key`` (``group`` / ``alternate_group``) with listed members merged in."""
    if key == "group" and job["mode"] == "user_subset" and (job.get("members") or job.get("members_file")):
        return {"members": job.get("members") or []}
    return job[key]


def _job_members(
    reviewers: list[dict], group: dict, job: dict, what: str
) -> tuple[list[dict], list[str], np.ndarray]:
    """Members of a group (records, unknown ids, reviewer rows); Data Errors as ValueError."""
    if "members" not in group and "role" not in group:
        raise ValueError(f"{what} names no members (give 'role', 'members' or 'members_file')")
    index, unknown = group_members(reviewers, {k: v for k, v in group.items() if k != "members_file"})
    if unknown and job["on_unknown_member"] == "error":
        raise ValueError(f"{what}: {len(unknown)} members are not in the conference: {unknown[:10]}")
    if len(index) == 0:
        raise ValueError(f"{what} is empty ({len(unknown)} listed ids unknown: {unknown[:10]})")
    return [reviewers[i] for i in index], unknown, index


def _member_selection(selection: pd.DataFrame | None, rows: np.ndarray) -> pd.DataFrame | None:
    """Selection pairs of the reviewers at ``rows``, renumbered to their position there."""
    if selection is None:
        return None
    position = pd.Series(np.arange(len(rows)), index=rows)
    kept = selection[selection["reviewer"].isin(rows)]
    return kept.assign(member=position[kept["reviewer"]].to_numpy())[["member", "paper", "include"]]


def affinity_scores(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    scorer: Scorer,
    rejects: Sequence[dict] = (),
    selection: pd.DataFrame | None = None,
) -> tuple[np.ndarray, list[str], list[str], dict]:
    """Score one affinity job: (scores A x B in [0, 1], NaN = no score; entity A ids;
    entity B ids; metadata for ``results_document``). See ``run_affinity_job``.

    ``scorer`` (``EmbeddingScorer`` or ``RegistryScorer``) is the job's model: its
    submission side has one row per submission, then one per reject. ``selection`` is the
    output of ``selection_pairs``. Bad input (an empty group, no submission, no member
    with publications) raises ``ValueError``.
    """
    job = check_job(job)
    mode = job["mode"]
    if parse_spec(scorer.name) != parse_spec(job["model"]):
        raise ValueError(f"the job's model is {job['model']!r}, the scores given are {scorer.name!r}'s")
    if scorer.n_papers != len(papers):
        raise ValueError(f"{scorer.n_papers} corpus papers scored by {scorer.name!r} for {len(papers)} papers")
    if scorer.n_submissions != len(submissions) + len(rejects):
        raise ValueError(
            f"{scorer.n_submissions} submissions scored by {scorer.name!r} for "
            f"{len(submissions)} submissions and {len(rejects)} rejects"
        )
    limits = {"max_papers": job["max_papers"], "since_year": job["since_year"]}
    a_members, no_profile, a_rows = _job_members(reviewers, _group_for(job, "group"), job, "group")
    inc_a, no_pubs = member_publications(
        a_members, papers, **limits, selection=_member_selection(selection, a_rows)
    )
    archives = dict(zip(map(member_id, a_members), np.diff(inc_a.indptr).tolist(), strict=True))
    row_ids = [member_id(m) for m in a_members]
    no_profile_submission: list[str] = []
    if mode == "group_group":
        b_members, missing_b, b_rows = _job_members(reviewers, job["alternate_group"], job, "alternate_group")
        inc_b, no_pubs_b = member_publications(
            b_members, papers, **limits, selection=_member_selection(selection, b_rows)
        )
        archives.update(zip(map(member_id, b_members), np.diff(inc_b.indptr).tolist(), strict=True))
        no_profile += [m for m in missing_b if m not in no_profile]
        no_pubs += [m for m in no_pubs_b if m not in no_pubs]
        col_ids = [member_id(m) for m in b_members]
        if inc_b.nnz == 0:
            raise ValueError(f"no member of the alternate group has publications ({len(b_members)} members)")
        if inc_a.nnz:
            raw = member_member_scores(scorer.paper_blocks, inc_a, inc_b, job["reduce"])
        if inc_a.nnz and row_ids == col_ids and parse_reduce(job["reduce"]) in PAIRWISE_REDUCERS:
            # The same value either way round for symmetric scores (cosine), up to rounding:
            # exact symmetry; the symmetric mean of both directions for BM25.
            raw = (raw + raw.T) / 2.0
    else:
        pool_rows, pool_ids, other_ids = submission_pool(submissions, rejects, job["submission_status"])
        picked, no_profile_submission = select_submissions(pool_ids, job.get("submissions"), other_ids)
        if len(picked) == 0:
            raise ValueError(
                f"no submission to score (status {list(job['submission_status'])}, "
                f"{len(no_profile_submission)} listed ids not found: {no_profile_submission[:10]})"
            )
        rows = pool_rows[picked]
        col_ids = [pool_ids[i] for i in picked]
        if inc_a.nnz:
            raw = member_scores(scorer.submission_blocks, rows, inc_a, job["reduce"]).T
    if inc_a.nnz == 0:
        raise ValueError(f"no member of the group has publications in the corpus ({len(a_members)} members)")
    scores = normalise_scores(raw) if job["normalize"] else scorer.to_unit(raw)
    scores = np.round(scores, SCORE_DECIMALS, out=scores)
    logger.info(
        "affinity %s: %d x %d scores, %d without profile, %d without publications, %d submissions not found",
        mode, scores.shape[0], scores.shape[1], len(no_profile), len(no_pubs), len(no_profile_submission),
    )
    metadata = {
        "no_profile": no_profile,
        "no_profile_submission": no_profile_submission,
        "no_publications": no_pubs,
        "submission_count": len(col_ids),
        "archives_count": archives,
    }
    return scores, row_ids, col_ids, metadata


def run_affinity_job(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    scorer: Scorer,
    rejects: Sequence[dict] = (),
    selection: pd.DataFrame | None = None,
) -> dict:
    """Run one affinity job; return the Expertise API results document.

    ``scorer`` scores the job's model: ``EmbeddingScorer(corpus_embeddings,
    submission_embeddings)`` for ``avg``, a ``RegistryScorer`` for any model; its corpus
    side follows ``papers`` rows, its submission side ``submissions`` and then ``rejects``.
    Job keys: ``mode``; ``model`` (a registry spec, the scorer's); ``group`` /
    ``alternate_group`` (``role`` and optional ``track``,
    or ``members``); ``submissions`` and ``members`` (id lists); ``submission_status``
    (``active``, ``withdrawn``, ``desk_rejected`` or a list of them); ``on_unknown_member``
    (``report`` or ``error``); ``reduce``; ``normalize``; ``max_papers``; ``since_year``;
    ``schema`` (``legacy`` or ``current``).
    """
    scores, row_ids, col_ids, metadata = affinity_scores(
        job, reviewers, submissions, papers, scorer, rejects, selection
    )
    return results_document(scores, row_ids, col_ids, job["mode"], metadata, job.get("schema", "legacy"))


def affinity_job_file(
    job: dict,
    reviewers_jsonl: PathLike,
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    out_json: PathLike,
    out_csv: PathLike,
    *,
    corpus_embeddings_npy: PathLike | None = None,
    submission_embeddings_npy: PathLike | None = None,
    reject_embeddings_npy: PathLike | None = None,
    index_npzs: Sequence[PathLike] = (),
    avg_model: PathLike | None = None,
    scorer_settings: ScorerSettings | None = None,
    status_json: PathLike | None = None,
    name: str | None = None,
    rejects_jsonl: PathLike | None = None,
) -> dict:
    """Run one affinity job on files; write the results (JSON and CSV) and ``status.json``.

    The job's ``model``: ``avg`` alone reads the cached embeddings (``corpus_embeddings_npy``,
    ``submission_embeddings_npy`` and, for rejects, ``reject_embeddings_npy``); any other
    spec reads its members' corpus indexes (``index_npzs``, member order) and scores the
    submissions' text fields (and, for ``group_group``, the corpus papers' texts) with the
    registry model (``avg_model``: the trained model file when ``avg`` is a member;
    ``scorer_settings``: the text fields, encoders, ``bm25`` and device). Rejects are needed
    when the job scores withdrawn or desk-rejected submissions. Returns the final status
    record: ``Completed`` (description: counts), or ``Data Error`` with the reason when the
    input is bad (no results are written then). Other failures write ``Error`` and raise.
    """
    status_json = Path(status_json) if status_json else Path(out_json).with_name("status.json")
    name = name or Path(out_json).parent.name
    request = dict(job)
    write_status(status_json, name, "Initialized", "reading the job's inputs", request)
    try:
        job, selection = read_job_files(job)
        reviewers = read_jsonl(reviewers_jsonl)
        submissions = read_jsonl(submissions_jsonl)
        statuses = job["submission_status"]
        rejects = read_jsonl(rejects_jsonl) if needs_rejects(job) and rejects_jsonl else []
        if needs_rejects(job) and not rejects_jsonl:
            raise ValueError(f"submission_status {list(statuses)} needs the rejects file")
        if not os.path.isfile(papers_parquet):
            raise InputError(papers_parquet, "publications (corpus) file not found")
        columns = pq.read_schema(papers_parquet).names
        missing = [c for c in ("paper_id", "year", "authors") if c not in columns]
        if missing:
            raise InputError(papers_parquet, f"missing corpus columns {missing}")
        papers = pd.read_parquet(papers_parquet, columns=["paper_id", "year", "authors"])
        if parse_spec(job["model"]) == ["avg"]:
            if corpus_embeddings_npy is None or submission_embeddings_npy is None:
                raise ValueError("model avg reads the corpus and submission embeddings; none given")
            if rejects and reject_embeddings_npy is None:
                raise ValueError(f"submission_status {list(statuses)} needs the rejects' embeddings")
            files = [submission_embeddings_npy, *([reject_embeddings_npy] if rejects else [])]
            scorer = load_embedding_scorer(
                corpus_embeddings_npy, files, len(papers), [len(submissions), len(rejects)][: len(files)]
            )
        else:
            settings = scorer_settings or ScorerSettings()
            texts = submission_texts(submissions, settings.text_fields, submissions_jsonl)
            texts += submission_texts(rejects, settings.text_fields, rejects_jsonl or "rejects")
            corpus_texts = None
            if job["mode"] == "group_group":
                corpus_texts = read_paper_texts(papers_parquet, settings.text_fields)
            scorer = load_registry_scorer(
                job["model"], index_npzs, len(papers), texts, corpus_texts, avg_model=avg_model,
                settings=settings,
            )
        pairs = selection_pairs(selection, reviewers, papers["paper_id"].astype(str).tolist()) if (
            selection is not None) else None
        write_status(status_json, name, "Running Expertise", "scoring", request)
        scores, row_ids, col_ids, metadata = affinity_scores(
            job, reviewers, submissions, papers, scorer, rejects, pairs
        )
    except (InputError, ValueError, FileNotFoundError, KeyError) as exc:
        reason = str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}"
        logger.error("Data Error: %s", reason)
        return write_status(status_json, name, "Data Error", reason, request)
    except BaseException as exc:
        write_status(status_json, name, "Error", f"{type(exc).__name__}: {exc}", request)
        raise
    try:
        n_entries = write_results(
            scores, row_ids, col_ids, job["mode"], metadata, job["schema"], out_json, out_csv
        )
    except BaseException as exc:
        write_status(status_json, name, "Error", f"{type(exc).__name__}: {exc}", request)
        raise
    meta = results_metadata(metadata, job["schema"])
    description = (
        f"{n_entries} scores: {len(row_ids)} x {len(col_ids)}, {meta['no_publications_count']} members "
        f"without publications, {len(meta['no_profile'])} without profile, "
        f"{len(meta['no_profile_submission'])} submissions not found"
    )
    logger.info("wrote %d results to %s and %s", n_entries, out_json, out_csv)
    return write_status(status_json, name, "Completed", description, request)
