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
the job). A job with ``archives_dir`` reads its members' publications from OpenReview
archives (``archives``) instead of the corpus. A job with OpenReview's output
(``output: openreview``) rounds its scores as OpenReview does (``score_decimals``); a
``sparse_value`` keeps each member's and each submission's best scores (``sparse_scores``).
``job_files.affinity_job_file`` runs a job on files, writing its results and its status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.affinity.archives import Archive
from revmatch.affinity.groups import group_members, member_id
from revmatch.affinity.job_config import check_job
from revmatch.affinity.publications import member_publications
from revmatch.affinity.reductions import (
    PAIRWISE_REDUCERS,
    member_member_scores,
    member_scores,
    parse_reduce,
    sparse_scores,
)
from revmatch.affinity.results import results_document, score_decimals
from revmatch.affinity.scorers import Scorer, normalise_scores
from revmatch.model import parse_spec

logger = logging.getLogger(__name__)

# The reason ``softconf`` gives a set-aside submission -> its status here.
_REJECT_REASONS = {"withdrawn": "withdrawn", "desk reject": "desk_rejected"}


def reject_ids(rejects: Sequence[dict]) -> list[str]:
    """The ids of set-aside submissions (``startSubmissionId``, as ``softconf`` writes them, or ``id``)."""
    return [str(r.get("startSubmissionId", r.get("id"))) for r in rejects]


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
    ids += reject_ids(rejects)
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


def _publications(
    members: list[dict], rows: np.ndarray, job: dict, papers: pd.DataFrame, selection: pd.DataFrame | None,
    archive: Archive | None,
) -> tuple[sp.csr_matrix, list[str]]:
    """A group's publication incidence (members x papers) and its members without any."""
    return member_publications(
        members, papers, max_papers=job["max_papers"], since_year=job["since_year"],
        selection=_member_selection(selection, rows),
        authored=None if archive is None else archive.authorship(members),
    )


def affinity_scores(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    scorer: Scorer,
    rejects: Sequence[dict] = (),
    selection: pd.DataFrame | None = None,
    archive: Archive | None = None,
) -> tuple[np.ndarray, list[str], list[str], dict]:
    """Score one affinity job: (scores A x B in [0, 1], NaN = no score; entity A ids;
    entity B ids; metadata for ``results_document``). See ``run_affinity_job``.

    ``scorer`` (``EmbeddingScorer`` or ``RegistryScorer``) is the job's model: its
    submission side has one row per submission, then one per reject. ``selection`` is the
    output of ``selection_pairs``. ``archive``: the members' publications are its
    (``papers`` is then ``archive.papers``). Bad input (an empty group, no submission, no
    member with publications) raises ``ValueError``.
    """
    job = check_job(job)
    mode = job["mode"]
    if parse_spec(scorer.name) != parse_spec(job["model"]):
        raise ValueError(f"the job's model is {job['model']!r}, the scores given are {scorer.name!r}'s")
    if scorer.n_papers != len(papers):
        raise ValueError(
            f"{scorer.n_papers} corpus papers scored by {scorer.name!r} for {len(papers)} papers"
        )
    if scorer.n_submissions != len(submissions) + len(rejects):
        raise ValueError(
            f"{scorer.n_submissions} submissions scored by {scorer.name!r} for "
            f"{len(submissions)} submissions and {len(rejects)} rejects"
        )
    a_members, no_profile, a_rows = _job_members(reviewers, _group_for(job, "group"), job, "group")
    inc_a, no_pubs = _publications(a_members, a_rows, job, papers, selection, archive)
    archives = dict(zip(map(member_id, a_members), np.diff(inc_a.indptr).tolist(), strict=True))
    row_ids = [member_id(m) for m in a_members]
    metadata = {"no_profile_group": list(no_profile), "no_publications_group": list(no_pubs),
                "publications": int(inc_a.nnz)}
    no_profile_submission: list[str] = []
    if mode == "group_group":
        b_members, missing_b, b_rows = _job_members(reviewers, job["alternate_group"], job, "alternate_group")
        inc_b, no_pubs_b = _publications(b_members, b_rows, job, papers, selection, archive)
        archives.update(zip(map(member_id, b_members), np.diff(inc_b.indptr).tolist(), strict=True))
        metadata.update(no_profile_alternate=list(missing_b), alternate_publications=int(inc_b.nnz))
        no_profile = no_profile + [m for m in missing_b if m not in no_profile]
        no_pubs = no_pubs + [m for m in no_pubs_b if m not in no_pubs]
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
        where = "in its archives" if archive is not None else "in the corpus"
        raise ValueError(f"no member of the group has publications {where} ({len(a_members)} members)")
    scores = normalise_scores(raw) if job["normalize"] else scorer.to_unit(raw)
    scores = np.round(scores, score_decimals(mode, job["output"]), out=scores)
    if job["sparse_value"]:
        scores = sparse_scores(scores, job["sparse_value"])
    logger.info(
        "affinity %s: %d x %d scores, %d without profile, %d without publications, %d submissions not found",
        mode, scores.shape[0], scores.shape[1], len(no_profile), len(no_pubs), len(no_profile_submission),
    )
    metadata.update(no_profile=no_profile, no_profile_submission=no_profile_submission,
                    no_publications=no_pubs, submission_count=len(col_ids), archives_count=archives)
    return scores, row_ids, col_ids, metadata


def run_affinity_job(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    scorer: Scorer,
    rejects: Sequence[dict] = (),
    selection: pd.DataFrame | None = None,
    archive: Archive | None = None,
) -> dict:
    """Run one affinity job; return the Expertise API results document.

    ``scorer`` scores the job's model: ``EmbeddingScorer(corpus_embeddings,
    submission_embeddings)`` for ``avg``, a ``RegistryScorer`` for any model (with
    ``archive``: ``load_archive_scorer``); its corpus side follows ``papers`` rows, its
    submission side ``submissions`` and then ``rejects``. Job keys: ``mode``; ``model`` (a
    registry spec, the scorer's); ``group`` / ``alternate_group`` (``role``, a list of
    roles, and optional ``track``, or ``members``); ``submissions`` and ``members`` (id
    lists); ``submission_status`` (``active``, ``withdrawn``, ``desk_rejected`` or a list of
    them); ``on_unknown_member`` (``report`` or ``error``); ``reduce``; ``normalize``;
    ``max_papers``; ``since_year``; ``schema`` (``legacy`` or ``current``); ``output``
    (``project`` or ``openreview``); ``sparse_value``. An OpenReview config is translated
    (``from_openreview``).
    """
    job = check_job(job)
    scores, row_ids, col_ids, metadata = affinity_scores(
        job, reviewers, submissions, papers, scorer, rejects, selection, archive
    )
    return results_document(scores, row_ids, col_ids, job["mode"], metadata, job["schema"], job["output"])
