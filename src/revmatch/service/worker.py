"""The background worker: runs the queued jobs one at a time with the project's affinity code
(``revmatch.affinity.affinity_job_file``) on the conference's files (``ConferenceFiles``),
as ``revmatch affinity run`` does, and records each job's status in the Expertise API's
states: ``Queued`` -> ``Fetching Data`` (reading the conference's files) -> ``Running
Expertise`` (scoring) -> ``Completed``, ``Data Error`` (bad input: the reason) or ``Error``.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

from revmatch.affinity.settings import ScorerSettings
from revmatch.io import PathLike
from revmatch.service.store import COMPLETED, DATA_ERROR, DESCRIPTIONS, ERROR, FETCHING, QUEUED, JobStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConferenceFiles:
    """The files a job reads: a finished conference run (``conference_dir``: reviewers.jsonl,
    submissions.jsonl, rejects.jsonl, matrices/submission_embeddings.npy), the corpus
    ``papers`` parquet and the model folder (``model_dir``: corpus_embeddings.npy,
    similarity.pt, index/<model>.npz), laid out as the workflow writes them; the embedding
    files may be given elsewhere. ``scorer_settings``: how registry models score texts.
    ``archives_dir``: the members' OpenReview archives (``<member id>.jsonl``), read instead
    of the corpus when given."""

    conference_dir: Path
    model_dir: Path
    papers: Path | None
    corpus_embeddings: Path | None = None
    submission_embeddings: Path | None = None
    reject_embeddings: Path | None = None
    scorer_settings: ScorerSettings = field(default_factory=ScorerSettings)
    archives_dir: Path | None = None

    @classmethod
    def of(
        cls,
        conference_dir: PathLike,
        model_dir: PathLike,
        papers: PathLike | None,
        corpus_embeddings: PathLike | None = None,
        submission_embeddings: PathLike | None = None,
        reject_embeddings: PathLike | None = None,
        scorer_settings: ScorerSettings | None = None,
        archives_dir: PathLike | None = None,
    ) -> ConferenceFiles:
        """The files, the embeddings defaulting to the workflow's paths."""
        conf, model = Path(conference_dir), Path(model_dir)
        rejects = conf / "affinity" / "embeddings" / "avg" / "rejects.npy"
        return cls(
            conference_dir=conf,
            model_dir=model,
            papers=None if papers is None else Path(papers),
            corpus_embeddings=Path(corpus_embeddings or model / "corpus_embeddings.npy"),
            submission_embeddings=Path(submission_embeddings or conf / "matrices/submission_embeddings.npy"),
            reject_embeddings=Path(reject_embeddings or rejects),
            scorer_settings=scorer_settings or ScorerSettings(),
            archives_dir=None if archives_dir is None else Path(archives_dir),
        )

    def check(self) -> None:
        """``FileNotFoundError`` unless the conference and the publications (the corpus, or the
        archives) are there."""
        needed = [self.conference_dir / "reviewers.jsonl", self.conference_dir / "submissions.jsonl"]
        for path in needed + ([] if self.archives_dir else [self.papers or Path("<no papers given>")]):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: not found (a finished conference run and its corpus)")
        if self.archives_dir is not None and not self.archives_dir.is_dir():
            raise FileNotFoundError(f"{self.archives_dir}: no such archives folder")


def run_job(files: ConferenceFiles, job: dict, folder: Path, name: str) -> dict:
    """Run one job into ``folder`` (results.json, results.csv, affinity_status.json); the
    affinity code's final status record (``Completed`` or ``Data Error``; other failures raise)."""
    from revmatch.affinity import affinity_job_file, check_job
    from revmatch.model import parse_spec

    try:
        members = parse_spec(check_job(job)["model"])
    except ValueError:  # a bad job: affinity_job_file reports it as a Data Error
        members = []
    conf, reject_npy = files.conference_dir, files.reject_embeddings
    rejects = conf / "rejects.jsonl"
    return affinity_job_file(
        job,
        conf / "reviewers.jsonl",
        conf / "submissions.jsonl",
        files.papers,
        folder / "results.json",
        folder / "results.csv",
        corpus_embeddings_npy=files.corpus_embeddings,
        submission_embeddings_npy=files.submission_embeddings,
        reject_embeddings_npy=reject_npy if reject_npy and reject_npy.is_file() else None,
        index_npzs=[files.model_dir / "index" / f"{member}.npz" for member in members],
        avg_model=files.model_dir / "similarity.pt",
        scorer_settings=files.scorer_settings,
        status_json=folder / "affinity_status.json",
        name=name,
        rejects_jsonl=rejects if rejects.is_file() else None,
        archives_dir=files.archives_dir,
    )


def completed_description(counts: str, notes: list[str]) -> str:
    """The Expertise API's description of a completed job, with the affinity code's counts
    (for the project's output) and the translation's notes."""
    done = DESCRIPTIONS[COMPLETED]
    description = counts if counts.startswith(done) else f"{done}: {counts}"
    return f"{description} ({'; '.join(notes)})" if notes else description


class JobRunner:
    """One worker thread that runs the store's queued jobs in turn (``submit``)."""

    def __init__(self, store: JobStore, files: ConferenceFiles) -> None:
        self.store = store
        self.files = files
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.current: str | None = None

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="revmatch-expertise-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the worker to stop after the job it runs (the jobs still waiting stay
        ``Queued``); wait up to ``timeout`` seconds; whether it has stopped. A job cut short by
        the process ending is queued again at the next start."""
        if self._thread is None:
            return True
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        self._thread = None
        return stopped

    def submit(self, job_id: str) -> None:
        """Queue a job (its status becomes ``Queued``)."""
        self.store.set_status(job_id, QUEUED)
        self._queue.put(job_id)

    def requeue(self, job_ids: list[str]) -> None:
        """Queue jobs already marked ``Queued`` (``JobStore.recover``)."""
        for job_id in job_ids:
            self._queue.put(job_id)

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._stopping.is_set():
            self.current = job_id
            try:
                self.run(job_id)
            except Exception:  # the job's status says Error; the worker goes on
                logger.exception("job %s failed", job_id)
            finally:
                self.current = None

    def run(self, job_id: str) -> dict:
        """Run one job now; its final status record."""
        try:
            job = self.store.job(job_id)
            record = self.store.status(job_id)
        except LookupError:
            logger.info("job %s was deleted before it ran", job_id)
            return {}
        folder = self.store.folder(job_id)
        (folder / "affinity_status.json").unlink(missing_ok=True)
        self.store.set_status(job_id, FETCHING, "Job is reading the conference's data")
        name, notes = record["name"], record.get("notes") or []
        logger.info("job %s (%s): running %s", job_id, name, job)
        try:
            final = run_job(self.files, job, folder, name)
        except Exception as exc:
            self.store.set_status(job_id, ERROR, f"{type(exc).__name__}: {exc}")
            raise
        if final["status"] == COMPLETED:
            description = completed_description(final["description"], notes)
            record = self.store.set_status(job_id, COMPLETED, description)
        else:
            record = self.store.set_status(job_id, DATA_ERROR, final["description"])
        logger.info("job %s: %s: %s", job_id, record["status"], record["description"])
        return record
