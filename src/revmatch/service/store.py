"""The service's jobs on disk: one folder per job under ``state_dir`` with the request as
received (``request.json``), the project's job it was translated to (``job.json``), the
status in the Expertise API's shape (``status.json``) and, once run, the results
(``results.json``, ``results.csv``) and the affinity code's own status
(``affinity_status.json``). Every file is written atomically, so a restart finds each job
whole; jobs that were waiting or running are queued again (``JobStore.recover``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from revmatch.io import PathLike, read_json, write_json

logger = logging.getLogger(__name__)

# The Expertise API's job states and their descriptions (openreview-expertise,
# expertise/service: JobStatus, JobDescription and its README).
INITIALIZED, QUEUED, FETCHING = "Initialized", "Queued", "Fetching Data"
QUEUED_EXPERTISE, RUNNING = "Queued for Expertise", "Running Expertise"
COMPLETED, DATA_ERROR, ERROR = "Completed", "Data Error", "Error"
DESCRIPTIONS = {
    INITIALIZED: "Server received config and allocated space",
    QUEUED: "Job is waiting to start fetching OpenReview data",
    FETCHING: "Job is currently fetching data from OpenReview",
    QUEUED_EXPERTISE: "Job has assembled the data and is waiting in queue for the expertise model",
    RUNNING: "Job is running the selected expertise model to compute scores",
    COMPLETED: "Job is complete and the computed scores are ready",
    DATA_ERROR: "Job completed but no scores were computed because of an issue with the data",
    ERROR: "Job has encountered an error and has failed to complete",
}
STATES = tuple(DESCRIPTIONS)
FINAL = (COMPLETED, DATA_ERROR, ERROR)
UNFINISHED = tuple(state for state in STATES if state not in FINAL)

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
API_CSV_HEADER = "entityA,entityB,score\n"
_A_KEYS = ("entityA", "user", "match_member")  # entity A's key in each schema


class JobNotFound(LookupError):
    """No job of that id (the API's 404)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job not found: {job_id}")
        self.job_id = job_id


def now_ms() -> int:
    """Milliseconds since the epoch, as the API's ``cdate`` and ``mdate``."""
    return int(time.time() * 1000)


def new_job_id() -> str:
    """A fresh job id (16 hex digits)."""
    return secrets.token_hex(8)


class JobStore:
    """The job folders under ``root``; safe to use from the API's threads and the worker."""

    def __init__(self, root: PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._hold: IO[str] | None = None

    def hold(self) -> None:
        """Take the state folder for this service: a second service on the same folder would
        run its jobs twice, so it is refused (``RuntimeError``)."""
        handle = open(self.root / ".lock", "w")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise RuntimeError(f"{self.root} is in use by another revmatch service") from exc
        self._hold = handle

    def release(self) -> None:
        """Let the state folder go (``hold``)."""
        if self._hold is not None:
            self._hold.close()
            self._hold = None

    def folder(self, job_id: str) -> Path:
        """The folder of an existing job; ``JobNotFound`` for a bad or unknown id."""
        if not _JOB_ID.fullmatch(job_id or ""):
            raise JobNotFound(job_id)
        path = self.root / job_id
        if not (path / "status.json").is_file():
            raise JobNotFound(job_id)
        return path

    def create(
        self, name: str, request: dict, job: dict, tauthor: str | None = None, notes: list[str] | None = None
    ) -> dict:
        """A new job (``Initialized``): its request and translated job written (``notes``: on
        what the translation maps loosely, kept for the final description); its status."""
        with self._lock:
            job_id = new_job_id()
            while (self.root / job_id).exists():
                job_id = new_job_id()
            path = self.root / job_id
            path.mkdir(parents=True)
            write_json(request, path / "request.json")
            write_json(job, path / "job.json")
            created = now_ms()
            record = {
                "name": name, "tauthor": tauthor, "jobId": job_id, "status": INITIALIZED,
                "description": DESCRIPTIONS[INITIALIZED], "cdate": created, "mdate": created,
                "request": request, "notes": list(notes or []),
            }
            write_json(record, path / "status.json")
        return record

    def status(self, job_id: str) -> dict:
        """The job's status record (``Running Expertise`` once the affinity code scores)."""
        with self._lock:
            path = self.folder(job_id)
            record = read_json(path / "status.json")
            if record["status"] == FETCHING:
                record = _with_affinity_progress(record, path / "affinity_status.json")
        return record

    def set_status(self, job_id: str, state: str, description: str | None = None) -> dict:
        """Move a job to ``state`` (``description``: the state's own unless given)."""
        if state not in STATES:
            raise ValueError(f"status must be one of {STATES}, got {state!r}")
        with self._lock:
            path = self.folder(job_id)
            record = read_json(path / "status.json")
            record.update(status=state, description=description or DESCRIPTIONS[state], mdate=now_ms())
            write_json(record, path / "status.json")
        return record

    def job(self, job_id: str) -> dict:
        """The project's job dict the request was translated to."""
        return read_json(self.folder(job_id) / "job.json")

    def job_ids(self) -> list[str]:
        """Ids of all whole jobs, oldest first (by ``cdate``)."""
        records = []
        for path in self.root.iterdir():
            if path.is_dir() and _JOB_ID.fullmatch(path.name) and (path / "status.json").is_file():
                try:
                    records.append((read_json(path / "status.json").get("cdate", 0), path.name))
                except (OSError, ValueError):
                    logger.warning("job %s: unreadable status.json, skipped", path.name)
        return [job_id for _, job_id in sorted(records)]

    def statuses(self) -> Iterator[dict]:
        """The status record of every job, oldest first."""
        for job_id in self.job_ids():
            try:
                yield self.status(job_id)
            except JobNotFound:  # deleted meanwhile
                continue

    def recover(self) -> list[str]:
        """Queue again the jobs that a stopped service left waiting or running; their ids, oldest first."""
        queued = []
        for job_id in self.job_ids():
            record = read_json(self.root / job_id / "status.json")
            if record["status"] in UNFINISHED:
                (self.root / job_id / "affinity_status.json").unlink(missing_ok=True)
                self.set_status(job_id, QUEUED, "Job is waiting to run (queued again after a restart)")
                queued.append(job_id)
        if queued:
            logger.info("queued again after a restart: %s", queued)
        return queued

    def delete(self, job_id: str) -> None:
        """Remove a job's folder."""
        with self._lock:
            shutil.rmtree(self.folder(job_id))

    def results_path(self, job_id: str, fmt: str = "json") -> Path:
        """The results file of a job (``json`` or ``csv``)."""
        return self.folder(job_id) / f"results.{fmt}"

    def api_csv(self, job_id: str) -> Iterator[str]:
        """A finished job's results as the Expertise API's CSV (``format=csv``), streamed."""
        from revmatch.affinity import check_job, results_columns

        job = check_job(self.job(job_id))
        columns = results_columns(job["mode"], job["schema"], job["output"])
        return api_csv(self.results_path(job_id, "csv"), columns)

    def metadata(self, job_id: str) -> dict:
        """The ``metadata`` block of a finished job's results, cached in ``metadata.json``."""
        path = self.folder(job_id)
        cached = path / "metadata.json"
        if not cached.is_file():
            write_json(read_leading_metadata(path / "results.json"), cached)
        return read_json(cached)


def _with_affinity_progress(record: dict, affinity_status: Path) -> dict:
    """``record`` moved on to ``Running Expertise`` when the affinity code says it scores."""
    try:
        progress = read_json(affinity_status)
    except (OSError, ValueError):
        return record
    if progress.get("status") == RUNNING:
        return {**record, "status": RUNNING, "description": DESCRIPTIONS[RUNNING],
                "mdate": max(record["mdate"], int(progress.get("mdate") or 0))}
    return record


def read_leading_metadata(results_json: PathLike, chunk: int = 1 << 20) -> dict:
    """The ``metadata`` block of a results document: read from the start of the file when it
    comes first (as ``write_results`` writes it), without parsing the (large) results."""
    decoder = json.JSONDecoder()
    text = ""
    with open(results_json, encoding="utf-8") as fh:
        while piece := fh.read(chunk):
            text += piece
            head = re.match(r'\s*\{\s*"metadata"\s*:\s*', text)
            if head is None:
                break
            try:
                return decoder.raw_decode(text, head.end())[0]
            except json.JSONDecodeError:
                continue
    return read_json(results_json)["metadata"]


def public_record(record: Mapping) -> dict:
    """A status record as the API returns it."""
    keys = ("name", "tauthor", "jobId", "status", "description", "cdate", "mdate", "request")
    return {key: record.get(key) for key in keys}


def api_csv(results_csv: PathLike, columns: list[str], chunk_rows: int = 1 << 20) -> Iterator[str]:
    """The Expertise API's CSV of a job's ``results.csv`` (the project's, with a header of
    ``columns``; or OpenReview's score file, without): the header ``entityA,entityB,score``,
    then one row an entry in the file's order, a block of ``chunk_rows`` rows at a time."""
    import pandas as pd

    a_key = next(column for column in columns if column in _A_KEYS)
    b_key = next(column for column in columns if column not in (a_key, "score"))
    with open(results_csv, encoding="utf-8") as fh:
        has_header = fh.readline().rstrip("\r\n") == ",".join(columns)
    yield API_CSV_HEADER
    try:
        chunks = pd.read_csv(results_csv, header=None, names=columns, skiprows=int(has_header), dtype=str,
                             keep_default_na=False, chunksize=chunk_rows)
        for chunk in chunks:
            yield chunk[[a_key, b_key, "score"]].to_csv(index=False, header=False, lineterminator="\n")
    except pd.errors.EmptyDataError:  # no entries
        return
