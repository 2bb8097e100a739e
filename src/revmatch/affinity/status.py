"""A job's status in the Expertise API's shape (``STATES``).

The file-level job writes ``status.json``: ``Initialized`` when it starts, ``Running
Expertise`` while scoring, then ``Completed``, ``Data Error`` (bad input: the reason is the
``description``; no results are written) or ``Error`` (anything else). ``Queued`` is what
``job_status`` reports for a configured job that has not started yet.
"""

from __future__ import annotations

import os
import time

from revmatch.io import PathLike, read_json, write_json

STATES = ("Initialized", "Queued", "Running Expertise", "Completed", "Data Error", "Error")


def status_record(
    name: str, state: str, description: str, request: dict, created_ms: int | None = None
) -> dict:
    """A job status in the Expertise API's shape: name, status, description, cdate, mdate, request."""
    if state not in STATES:
        raise ValueError(f"status must be one of {STATES}, got {state!r}")
    now = int(time.time() * 1000)
    return {
        "name": name, "status": state, "description": description,
        "cdate": now if created_ms is None else int(created_ms), "mdate": now, "request": request,
    }


def write_status(path: PathLike, name: str, state: str, description: str, request: dict) -> dict:
    """Write (atomically) and return the status of job ``name``; ``cdate`` kept from the file."""
    created = None
    if os.path.isfile(path):
        try:
            previous = read_json(path)
            if previous.get("status") not in ("Completed", "Data Error", "Error"):
                created = previous.get("cdate")
        except (ValueError, OSError, AttributeError):
            created = None
    record = status_record(name, state, description, request, created)
    write_json(record, path)
    return record


def job_status(status_json: PathLike, name: str, request: dict | None = None) -> dict:
    """The status of job ``name``: its ``status.json``, else ``Queued`` when the job is
    configured (``request``: its config entry) but has not started; else FileNotFoundError."""
    if os.path.isfile(status_json):
        return read_json(status_json)
    if request is None:
        raise FileNotFoundError(f"no affinity job {name!r}: no {status_json} and not in the config")
    return status_record(name, "Queued", "configured; waits for the workflow to run it", request)
