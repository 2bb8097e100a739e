"""Readers of expertise-job outputs written to the contract of OpenReview's own readers, to read
the files this project writes for OpenReview-form jobs as OpenReview's code would.

Read from openreview-expertise (4110008) and openreview-py (the installed client):

- the service's score files (``expertise/service/expertise.py``, local
  ``get_expertise_results``; ``expertise/service/utils.py``, cloud ``stream_score_file``):
  ``csv.reader`` over the file, no header, empty rows skipped; two groups (or two papers):
  ``{"entityA": row[0], "entityB": row[1], "score": float(row[2])}``; a group against
  submissions: ``{"entityB": row[0], "entityA": row[1], "score": float(row[2])}``, rows whose
  submission is ``dummy`` left out (local service);
- ``openreview.venue.matching.Matching`` (``setup(compute_affinity_scores=<file>)``):
  ``_build_scores_from_file`` reads the file with ``csv.reader`` into
  ``_build_note_scores`` (rows ``[paper note id, profile id, score]``, weight
  ``max(round(float(score), 4), 0)``), or, for two groups, ``_build_profile_scores`` (head
  ``row[0]``, tail ``row[1]``, the same weight); ``_build_scores_from_stream`` splits the
  decoded, stripped bytes by ``\\n`` and each line by ``,``;
- the client's ``get_expertise_results`` (``format='json'``): the response's JSON object,
  ``results`` entries with ``entityA``, ``entityB``, ``score``; ``metadata`` as
  ``get_expertise_metadata`` gives it (the venue reads ``no_profile`` and
  ``no_publications`` with ``.get``; the service sizes a job's machine with
  ``metadata.get('submission_count', 0) + metadata.get('archives_count', 0)``);
- the client's ``get_expertise_status`` and its wait loop in ``get_expertise_results(...,
  wait_for_complete=True)``: ``status`` a string; ``'Completed' == status`` fetches the
  results, ``'Error' in status`` raises with the ``description``; otherwise it waits.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path


def read_score_file(path: Path, pairwise: bool) -> list[dict]:
    """The service's reading of a score file (``pairwise``: two groups or two papers)."""
    entries = []
    with open(path) as fh:
        for row in csv.reader(fh):
            if not row:
                continue
            if pairwise:
                entries.append({"entityA": row[0], "entityB": row[1], "score": float(row[2])})
            elif row[0] != "dummy":
                entries.append({"entityB": row[0], "entityA": row[1], "score": float(row[2])})
    return entries


def venue_note_scores(path: Path) -> list[tuple[str, str, float]]:
    """The affinity edges (head: paper note id, tail: profile id, weight) that
    ``Matching._build_scores_from_file`` makes of a score file."""
    with open(path) as fh:
        scores = list(csv.reader(fh))
    edges = []
    for line in scores:
        if line:
            edges.append((line[0], line[1], float(str(max(round(float(line[2]), 4), 0)))))
    return edges


def venue_profile_scores(path: Path) -> list[tuple[str, str, float]]:
    """The edges (head, tail, weight) of ``Matching._build_profile_scores`` of a score file (two groups)."""
    with open(path) as fh:
        return [(row[0], row[1], float(str(max(round(float(row[2]), 4), 0)))) for row in csv.reader(fh)]


def venue_stream_rows(data: bytes) -> list[list[str]]:
    """The rows ``Matching._build_scores_from_stream`` makes of the bytes of a score file."""
    return [line.split(",") for line in data.decode().strip().split("\n")]


def results_response(path: Path) -> dict:
    """The body of ``get_expertise_results`` (JSON) as the client hands it over, checked as
    its users read it: entries of string ids and float scores."""
    body = json.loads(Path(path).read_text())
    for entry in body["results"]:
        assert isinstance(entry["entityA"], str) and isinstance(entry["entityB"], str), entry
        assert isinstance(entry["score"], float), entry
    return body


def machine_size(metadata: dict) -> int:
    """The note count by which OpenReview's service sizes a job's machine."""
    return metadata.get("submission_count", 0) + metadata.get("archives_count", 0)


def venue_matching_status(metadata: dict) -> dict:
    """What ``Matching._compute_scores`` keeps of a job's metadata."""
    return {"no_profiles": metadata.get("no_profile", []),
            "no_publications": metadata.get("no_publications", [])}


def wait_step(status_response: dict) -> str:
    """What the client's wait loop does with a status: ``results``, ``raise`` (with the
    description) or ``wait``."""
    status = status_response.get("status")
    status_text = status if isinstance(status, str) else ""
    if status_text == "Completed":
        return "results"
    if "Error" in status_text:
        return "raise: There was an error computing scores, description: " + status_response["description"]
    return "wait"
