"""A job's status in the Expertise API's shape (``STATES``).

The file-level job writes ``status.json``: ``Initialized`` when it starts, ``Running
Expertise`` while scoring, then ``Completed``, ``Data Error`` (bad input: the reason is the
``description``; no results are written) or ``Error`` (anything else). ``Queued`` is what
``job_status`` reports for a configured job that has not started yet.

A job with OpenReview's outputs (an OpenReview config, or ``output: openreview``, the
default) writes
the record of OpenReview's service (``name``, ``tauthor``, ``jobId``, ``status``,
``description``, ``cdate``, ``mdate``, ``request``), passes ``Fetching Data`` while it reads
its inputs, and describes each state as the service does (``OPENREVIEW_DESCRIPTIONS``; a
Data Error or an Error: the reason, as there).
"""

from __future__ import annotations

import os
import secrets
import time

from revmatch.io import PathLike, read_json, write_json

STATES = ("Initialized", "Queued", "Fetching Data", "Running Expertise", "Completed", "Data Error", "Error")
FINAL_STATES = ("Completed", "Data Error", "Error")
#: the descriptions of OpenReview's expertise service (``JobDescription``), state by state
OPENREVIEW_DESCRIPTIONS = {
    "Initialized": "Server received config and allocated space",
    "Queued": "Job is waiting to start fetching OpenReview data",
    "Fetching Data": "Job is currently fetching data from OpenReview",
    "Running Expertise": "Job is running the selected expertise model to compute scores",
    "Completed": "Job is complete and the computed scores are ready",
    "Data Error": "Job completed but no scores were computed because of an issue with the data",
    "Error": "Job has encountered an error and has failed to complete",
}
# OpenReview's job ids: 10 characters of this alphabet, the first a letter.
_JOB_ID_ALPHABET = "123456789abcdefghijkmnopqrstuvwxyz"


def new_job_id() -> str:
    """A fresh job id in the form of OpenReview's (``generate_job_id``): 10 characters, the
    first a letter."""
    letters = [c for c in _JOB_ID_ALPHABET if c.isalpha()]
    return secrets.choice(letters) + "".join(secrets.choice(_JOB_ID_ALPHABET) for _ in range(9))


def status_record(
    name: str, state: str, description: str, request: dict, created_ms: int | None = None,
    job_id: str | None = None,
) -> dict:
    """A job status in the Expertise API's shape: name, status, description, cdate, mdate,
    request; with a ``job_id``, the record of OpenReview's service (name, tauthor, jobId,
    status, description, cdate, mdate, request; ``tauthor``: None, no user here)."""
    if state not in STATES:
        raise ValueError(f"status must be one of {STATES}, got {state!r}")
    now = int(time.time() * 1000)
    created = now if created_ms is None else int(created_ms)
    if job_id is not None:
        return {"name": name, "tauthor": None, "jobId": job_id, "status": state, "description": description,
                "cdate": created, "mdate": now, "request": request}
    return {"name": name, "status": state, "description": description, "cdate": created, "mdate": now,
            "request": request}


def _running(path: PathLike) -> dict:
    """The status at ``path`` when it is of a run not yet finished (its cdate and jobId go on), else {}."""
    if not os.path.isfile(path):
        return {}
    try:
        previous = read_json(path)
        return previous if previous.get("status") not in FINAL_STATES else {}
    except (ValueError, OSError, AttributeError):
        return {}


def write_status(
    path: PathLike, name: str, state: str, description: str | None, request: dict, openreview: bool = False
) -> dict:
    """Write (atomically) and return the status of job ``name``; ``cdate`` (and ``jobId``) kept
    from the file while the run goes on. ``openreview``: OpenReview's record, ``description``
    None giving the service's description of ``state``."""
    previous = _running(path)
    job_id = None
    if openreview:
        job_id = previous.get("jobId") or new_job_id()
        description = OPENREVIEW_DESCRIPTIONS[state] if description is None else description
    if description is None:
        raise ValueError("a status of the project's shape needs a description")
    record = status_record(name, state, description, request, previous.get("cdate"), job_id)
    write_json(record, path)
    return record


def job_status(status_json: PathLike, name: str, request: dict | None = None) -> dict:
    """The status of job ``name``: its ``status.json``, else ``Queued`` when the job is
    configured (``request``: its config entry) but has not started; else FileNotFoundError."""
    if os.path.isfile(status_json):
        return read_json(status_json)
    if request is None:
        raise FileNotFoundError(f"no affinity job {name!r}: no {status_json} and not in the config")
    from revmatch.affinity.job_config import writes_openreview_files

    if writes_openreview_files(request):
        return status_record(str(request.get("name") or name), "Queued", OPENREVIEW_DESCRIPTIONS["Queued"],
                             request, job_id=new_job_id())
    return status_record(name, "Queued", "configured; waits for the workflow to run it", request)
