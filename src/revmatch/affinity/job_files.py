"""Running one affinity job on files (``affinity_job_file``): the job (the project's form or
an OpenReview config, translated), the conference's members and submissions, the members'
publications (the corpus, or OpenReview archives), the model's files; then the results
(JSON and CSV) and ``status.json``, in the project's shape or in OpenReview's."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from revmatch.affinity.archives import Archive, load_archive_scorer, read_archives
from revmatch.affinity.job_config import needs_rejects, read_job_files, resolve_job, writes_openreview_files
from revmatch.affinity.jobs import affinity_scores, reject_ids
from revmatch.affinity.openreview_config import is_openreview_config
from revmatch.affinity.publications import selection_pairs
from revmatch.affinity.results import results_metadata, write_results
from revmatch.affinity.scorers import EmbeddingScorer, Scorer, load_embedding_scorer, load_registry_scorer
from revmatch.affinity.settings import ScorerSettings
from revmatch.affinity.status import OPENREVIEW_DESCRIPTIONS, write_status
from revmatch.io import InputError, PathLike, read_jsonl
from revmatch.model import embed_texts, load_model, parse_spec, read_paper_texts, submission_texts

logger = logging.getLogger(__name__)

# Bad input: the job ends in a Data Error (its reason the description), not an Error.
DATA_ERRORS = (InputError, ValueError, FileNotFoundError, KeyError)


@dataclass(frozen=True)
class ModelFiles:
    """The files a job's model reads (see ``affinity_job_file``)."""

    corpus_embeddings_npy: PathLike | None = None
    submission_embeddings_npy: PathLike | None = None
    reject_embeddings_npy: PathLike | None = None
    index_npzs: Sequence[PathLike] = ()
    avg_model: PathLike | None = None
    settings: ScorerSettings = ScorerSettings()


class StatusFile:
    """A job's ``status.json``, in the project's shape or OpenReview's (``openreview``):
    OpenReview's descriptions, but the reason of a Data Error or an Error."""

    def __init__(self, path: Path, name: str, request: dict, openreview: bool) -> None:
        self.path, self.name, self.request, self.openreview = path, name, request, openreview

    def write(self, state: str, description: str) -> dict:
        """Write ``state`` with ``description`` (the project's; OpenReview's own for its shape)."""
        if self.openreview and state not in ("Data Error", "Error"):
            description = None
        return write_status(self.path, self.name, state, description, self.request, self.openreview)

    def completed(self, description: str, notes: Sequence[str]) -> dict:
        """``Completed``: the project's counts, or OpenReview's description with the notes."""
        if self.openreview:
            description = OPENREVIEW_DESCRIPTIONS["Completed"]
            if notes:
                description += f" ({'; '.join(notes)})"
            return write_status(self.path, self.name, "Completed", description, self.request, True)
        return self.write("Completed", description)


def _corpus_papers(papers_parquet: PathLike | None) -> pd.DataFrame:
    if papers_parquet is None:
        raise ValueError("the job reads the corpus (no archives_dir); no corpus papers file given")
    if not os.path.isfile(papers_parquet):
        raise InputError(papers_parquet, "publications (corpus) file not found")
    missing = [c for c in ("paper_id", "year", "authors") if c not in pq.read_schema(papers_parquet).names]
    if missing:
        raise InputError(papers_parquet, f"missing corpus columns {missing}")
    return pd.read_parquet(papers_parquet, columns=["paper_id", "year", "authors"])


def with_encoded_rejects(scorer: EmbeddingScorer, avg_model: PathLike, reject_texts: list[str]) -> EmbeddingScorer:
    """``scorer`` with the rejects' embeddings appended, encoded with the averaging model (as
    rule ``embed_rejected_submissions`` would; for a conference run that has no such file)."""
    embeddings = embed_texts(load_model(avg_model), reject_texts)
    logger.info("encoded %d set-aside submissions with %s (no cached embeddings)", len(reject_texts), avg_model)
    stacked = np.concatenate([scorer.submission_embeddings, np.asarray(embeddings, dtype=np.float32)])
    return EmbeddingScorer(scorer.corpus_embeddings, stacked)


def _corpus_scorer(
    job: dict, files: ModelFiles, papers: pd.DataFrame, papers_parquet: PathLike, texts: list[str],
    n_submissions: int, n_rejects: int, reject_texts: list[str],
) -> Scorer:
    """The job's model on the corpus: ``avg`` alone from cached embeddings (the rejects'
    encoded with the model when their file is missing), else a registry model on its corpus
    indexes."""
    if parse_spec(job["model"]) == ["avg"]:
        if files.corpus_embeddings_npy is None or files.submission_embeddings_npy is None:
            raise ValueError("model avg reads the corpus and submission embeddings; none given")
        reject_npy = files.reject_embeddings_npy
        encode_rejects = n_rejects > 0 and (reject_npy is None or not os.path.isfile(reject_npy))
        if encode_rejects and (files.avg_model is None or not os.path.isfile(files.avg_model)):
            statuses = list(job["submission_status"])
            raise ValueError(f"submission_status {statuses} needs the rejects' embeddings, or the model "
                             "that makes them")
        parts = [files.submission_embeddings_npy, *([reject_npy] if n_rejects and not encode_rejects else [])]
        scorer = load_embedding_scorer(
            files.corpus_embeddings_npy, parts, len(papers), [n_submissions, n_rejects][: len(parts)]
        )
        if encode_rejects:
            scorer = with_encoded_rejects(scorer, files.avg_model, reject_texts)
        return scorer
    corpus_texts = None
    if job["mode"] == "group_group":
        corpus_texts = read_paper_texts(papers_parquet, files.settings.text_fields)
    return load_registry_scorer(job["model"], files.index_npzs, len(papers), texts, corpus_texts,
                                avg_model=files.avg_model, settings=files.settings)


def _rejects(job: dict, rejects_jsonl: PathLike | None) -> list[dict]:
    """The set-aside submissions the job may score: none unless its statuses take them, nor
    for a paper subset that lists none of them (OpenReview's subset requests take any
    status)."""
    if not needs_rejects(job):
        return []
    if not rejects_jsonl:
        raise ValueError(f"submission_status {list(job['submission_status'])} needs the rejects file")
    rejects = read_jsonl(rejects_jsonl)
    if job["mode"] == "paper_subset" and not set(map(str, job["submissions"])) & set(reject_ids(rejects)):
        return []
    return rejects


def affinity_job_file(
    job: dict,
    reviewers_jsonl: PathLike,
    submissions_jsonl: PathLike,
    papers_parquet: PathLike | None,
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
    archives_dir: PathLike | None = None,
    default_model: str | None = None,
    venue_id: str | None = None,
) -> dict:
    """Run one affinity job on files; write the results (JSON and CSV) and ``status.json``.

    ``job``: the project's form or an OpenReview config (translated by
    ``openreview_translation``: ``venue_id``, when given, is the venue its ids must name;
    what it cannot honour is a Data Error naming the field). Its model defaults to
    ``default_model`` when given (the workflow: ``model.matching_model``), else ``avg``.
    Publications: the corpus (``papers_parquet``), or the OpenReview archives of the job's
    ``archives_dir`` (or ``archives_dir`` here), scored with the registry model indexed on
    their texts (``avg_model`` for ``avg``). On the corpus, ``avg`` alone reads the cached
    embeddings (``corpus_embeddings_npy``, ``submission_embeddings_npy`` and, for rejects,
    ``reject_embeddings_npy``); any other spec reads its members' corpus indexes
    (``index_npzs``, member order) and scores the submissions' text fields (and, for
    ``group_group``, the corpus papers' texts) with the registry model (``scorer_settings``:
    the text fields, encoders, ``bm25`` and device). Rejects are needed when the job scores
    withdrawn or desk-rejected submissions.

    Files in OpenReview's shape (``output: openreview``, the default, and every OpenReview
    config), or the project's (``output: project``; ``results``, ``status``). Returns the final status record:
    ``Completed``, or ``Data Error`` with the reason when the input is bad (no results are
    written then). Other failures write ``Error`` and raise.
    """
    request = dict(job)
    if is_openreview_config(request) and request.get("name"):
        name = str(request["name"])
    status = StatusFile(Path(status_json) if status_json else Path(out_json).with_name("status.json"),
                        name or Path(out_json).parent.name, request,
                        writes_openreview_files(request))
    files = ModelFiles(corpus_embeddings_npy, submission_embeddings_npy, reject_embeddings_npy,
                       tuple(index_npzs), avg_model, scorer_settings or ScorerSettings())
    status.write("Initialized", "reading the job's inputs")
    try:
        job, notes = resolve_job(request, venue_id, archives_dir, default_model)
        job, selection = read_job_files(job)
        if status.openreview:
            status.write("Fetching Data", "reading the job's inputs")
        reviewers, submissions = read_jsonl(reviewers_jsonl), read_jsonl(submissions_jsonl)
        rejects = _rejects(job, rejects_jsonl)
        texts = []
        reject_texts = submission_texts(rejects, files.settings.text_fields, rejects_jsonl or "rejects")
        if job.get("archives_dir") or parse_spec(job["model"]) != ["avg"]:
            texts = submission_texts(submissions, files.settings.text_fields, submissions_jsonl) + reject_texts
        archive: Archive | None = None
        if job.get("archives_dir"):
            archive = read_archives(job["archives_dir"], reviewers)
            papers = archive.papers
            scorer: Scorer = load_archive_scorer(job["model"], archive, texts, files.avg_model,
                                                 files.settings)
        else:
            papers = _corpus_papers(papers_parquet)
            scorer = _corpus_scorer(job, files, papers, papers_parquet, texts, len(submissions), len(rejects),
                                    reject_texts)
        pairs = None
        if selection is not None:
            pairs = selection_pairs(selection, reviewers, papers["paper_id"].astype(str).tolist())
        status.write("Running Expertise", "scoring")
        scores, row_ids, col_ids, metadata = affinity_scores(
            job, reviewers, submissions, papers, scorer, rejects, pairs, archive
        )
    except DATA_ERRORS as exc:
        reason = str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}"
        logger.error("Data Error: %s", reason)
        return status.write("Data Error", reason)
    except BaseException as exc:
        status.write("Error", f"{type(exc).__name__}: {exc}")
        raise
    try:
        n_entries = write_results(scores, row_ids, col_ids, job["mode"], metadata, job["schema"], out_json,
                                  out_csv, output=job["output"])
    except BaseException as exc:
        status.write("Error", f"{type(exc).__name__}: {exc}")
        raise
    meta = results_metadata(metadata, job["schema"])
    description = (
        f"{n_entries} scores: {len(row_ids)} x {len(col_ids)}, {meta['no_publications_count']} members "
        f"without publications, {len(meta['no_profile'])} without profile, "
        f"{len(meta['no_profile_submission'])} submissions not found"
    )
    logger.info("wrote %d results to %s and %s", n_entries, out_json, out_csv)
    return status.completed(description, notes)
