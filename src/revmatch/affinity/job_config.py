"""A job's config: its keys and values (``JOB_SCHEMA``, JSON Schema), the rules across keys
that the schema cannot say (``check_job``), and the list files it names, read.

Modes: ``group_submissions`` (a group vs all submissions of the chosen
``submission_status``, or the ``submissions`` listed), ``paper_subset`` (a group vs the
listed ``submissions``), ``user_subset`` (the listed ``members`` vs all submissions, or the
listed ones) and ``group_group`` (``group`` vs ``alternate_group``, OpenReview's
``alternate_match_group``).

An OpenReview expertise job config (current form: ``entityA`` / ``entityB``; legacy form:
``match_group``, ``paper_invitation``, ...) is translated first (``from_openreview``).
Outputs: the project's (``output: project``) or OpenReview's exact files (``output:
openreview``, what a translated config asks for). Publications: the corpus, or OpenReview
archives (``archives_dir``: ``<member id>.jsonl`` files).
"""

from __future__ import annotations

import os
from typing import Any

import jsonschema
import pandas as pd

from revmatch.affinity.groups import ROLES
from revmatch.affinity.openreview_config import (
    from_openreview,
    is_openreview_config,
    openreview_translation,
)
from revmatch.affinity.openreview_fields import field_error
from revmatch.affinity.publications import read_expertise_selection
from revmatch.affinity.reductions import UNBOUNDED_REDUCERS, parse_reduce
from revmatch.affinity.scorers import model_scale
from revmatch.io import InputError, PathLike

JOB_MODES = ("group_submissions", "group_group", "paper_subset", "user_subset")
SCHEMAS = ("legacy", "current")
SUBMISSION_STATUSES = ("active", "withdrawn", "desk_rejected")
OUTPUTS = ("openreview", "project")
#: OpenReview's files by default: its readers read them; ``project`` keeps 7 decimals and a CSV header
DEFAULT_OUTPUT = "openreview"
DEFAULT_MODEL = "avg"

_IDS = {"type": "array", "items": {"type": ["string", "integer"]}}
_GROUP = {
    "type": ["object", "null"],
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "role": {
            "oneOf": [
                {"enum": list(ROLES)},
                {"type": "array", "minItems": 1, "items": {"enum": list(ROLES)}},
            ],
        },
        "track": {"type": ["string", "null"]},
        "members": _IDS,
        "members_file": {"type": ["string", "null"]},
    },
}
JOB_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["mode"],
    "properties": {
        "mode": {"enum": list(JOB_MODES)},
        "schema": {"enum": list(SCHEMAS), "default": "legacy"},
        "on_unknown_member": {"enum": ["report", "error"], "default": "report"},
        "submission_status": {
            "default": "active",
            "oneOf": [
                {"enum": list(SUBMISSION_STATUSES)},
                {"type": "array", "minItems": 1, "items": {"enum": list(SUBMISSION_STATUSES)}},
            ],
        },
        "reduce": {"type": "string", "default": "max"},
        "normalize": {"type": "boolean", "default": True},
        "model": {"type": "string", "default": DEFAULT_MODEL},
        "group": _GROUP,
        "alternate_group": _GROUP,
        "submissions": {**_IDS, "type": ["array", "null"]},
        "submissions_file": {"type": ["string", "null"]},
        "members": {**_IDS, "type": ["array", "null"]},
        "members_file": {"type": ["string", "null"]},
        "expertise_selection": {"type": ["string", "null"]},
        "max_papers": {"type": ["integer", "null"], "minimum": 1, "default": None},
        "since_year": {"type": ["integer", "null"], "default": None},
        "output": {"enum": list(OUTPUTS), "default": DEFAULT_OUTPUT},
        "sparse_value": {"type": ["integer", "null"], "minimum": 1, "default": None},
        "archives_dir": {"type": ["string", "null"]},
    },
}
"""The keys of a job, their types and values, and the defaults ``check_job`` fills in
(``workflow/schemas/config.schema.yaml`` describes the same keys under ``affinity_jobs``)."""

# Jobs built in Python may hold tuples where YAML gives lists (a checked job's submission_status).
_VALIDATOR = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "array", lambda _checker, instance: isinstance(instance, (list, tuple))
    ),
)(JOB_SCHEMA)
_DEFAULTS = {key: spec["default"] for key, spec in JOB_SCHEMA["properties"].items() if "default" in spec}


def writes_openreview_files(request: Any) -> bool:
    """Whether the job (as configured, before ``check_job``) writes OpenReview's files and
    status record: an OpenReview config, or a job of the project's form whose ``output`` is
    (by default) ``openreview``."""
    if not isinstance(request, dict):
        return False
    return is_openreview_config(request) or request.get("output", DEFAULT_OUTPUT) == "openreview"


def _schema_error(error: jsonschema.ValidationError, job: Any) -> str:
    """What is wrong with ``job``, as one line, for a JSON Schema error of it."""
    path = [str(part) for part in error.absolute_path]
    value = error.instance
    if not path:
        if error.validator == "type":
            return f"an affinity job is a mapping, got {job!r}"
        if error.validator == "additionalProperties":
            return f"unknown affinity job keys: {sorted(set(job) - set(JOB_SCHEMA['properties']))}"
        return f"job mode must be one of {JOB_MODES}, got None"  # required: mode
    key = path[0]
    if key in ("group", "alternate_group") and len(path) == 1:
        if error.validator == "additionalProperties":
            return f"unknown keys in {key}: {sorted(set(value) - set(_GROUP['properties']))}"
        return f"{key} is a mapping with 'role' (and 'track') or 'members', got {value!r}"
    if key in ("group", "alternate_group") and path[1] == "role":
        return f"group role must be one of {ROLES} (or a list of them), got {value!r}"
    if path[-1] in ("submissions", "members") and isinstance(value, str):
        return f"'{path[-1]}' must be a list of ids, not one string"
    messages = {
        "mode": f"job mode must be one of {JOB_MODES}, got {value!r}",
        "schema": f"job schema must be one of {SCHEMAS}, got {value!r}",
        "on_unknown_member": f"on_unknown_member must be report or error, got {value!r}",
        "submission_status": f"submission_status must be some of {SUBMISSION_STATUSES}, got {value!r}",
        "output": f"output must be one of {OUTPUTS}, got {value!r}",
    }
    if len(path) == 1 and key in messages:
        return messages[key]
    if path in (["max_papers"], ["sparse_value"]) and error.validator == "minimum":
        return f"{path[0]} must be at least 1, got {value}"
    return f"affinity job key {'.'.join(path)}: {error.message}"


def _error_order(error: jsonschema.ValidationError) -> tuple[int, int]:
    """Errors of the job as a whole first, then by key in ``JOB_SCHEMA``'s order."""
    path = list(error.absolute_path)
    return (list(JOB_SCHEMA["properties"]).index(path[0]) + 1 if path else 0, len(path))


def check_job(job: dict) -> dict:
    """The job with defaults filled in; bad keys or values raise ``ValueError``.

    An OpenReview expertise job config is translated first (``from_openreview``; what it
    cannot honour raises ``ValueError`` naming the field).

    Keys, types and values are checked against ``JOB_SCHEMA``; then the rules across keys:
    ``reduce`` names a reduction, ``normalize: false`` needs a model with a fixed [0, 1]
    scale (not bm25, alone or in an ensemble) and a reduction that stays within it, and each mode has
    the groups and lists it needs. File keys (``members_file``, ``submissions_file``,
    ``expertise_selection``) must have been read already (``read_job_files``) for the job to
    be scored.
    """
    if is_openreview_config(job):
        job = from_openreview(job)
    errors = list(_VALIDATOR.iter_errors(job))
    if errors:
        raise ValueError(_schema_error(min(errors, key=_error_order), job))
    checked = {**_DEFAULTS, **job}
    mode = checked["mode"]
    statuses = checked["submission_status"]
    statuses = (statuses,) if isinstance(statuses, str) else statuses
    checked["submission_status"] = tuple(dict.fromkeys(statuses))
    how = parse_reduce(checked["reduce"])
    if not checked["normalize"] and how in UNBOUNDED_REDUCERS:
        raise ValueError(f"reduce {how!r} sums similarities beyond [-1, 1]; use it with normalize: true")
    scale = model_scale(checked["model"])  # a malformed spec raises here
    if not checked["normalize"] and scale == "relative":
        raise ValueError(
            f"model {checked['model']!r} has no fixed [0, 1] scale (bm25 gives unbounded sums); use it with "
            "normalize: true"
        )
    has_members = bool(checked.get("members") or checked.get("members_file"))
    if mode in ("group_submissions", "paper_subset", "group_group") and not checked.get("group"):
        raise ValueError(f"mode {mode} needs a 'group'")
    if mode == "group_group" and not checked.get("alternate_group"):
        raise ValueError("mode group_group needs an 'alternate_group'")
    if mode == "paper_subset" and not (checked.get("submissions") or checked.get("submissions_file")):
        raise ValueError("mode paper_subset needs 'submissions' (a list of ids) or a 'submissions_file'")
    if mode == "user_subset" and not (has_members or (checked.get("group") or {}).get("members")):
        raise ValueError("mode user_subset needs 'members' (a list of ids) or a 'members_file'")
    return checked


def resolve_job(
    request: dict, venue_id: str | None = None, archives_dir: PathLike | None = None,
    default_model: str | None = None,
) -> tuple[dict, list[str]]:
    """The project's job of a request as given (an OpenReview config translated by
    ``openreview_translation``; ``archives_dir`` and ``default_model`` filled in when given)
    and the translation's notes; not checked yet (``check_job``)."""
    notes: list[str] = []
    job = dict(request)
    normalize_field = None
    if is_openreview_config(request):
        archives = None if archives_dir is None else str(archives_dir)
        translation = openreview_translation(request, venue_id, archives, default_model)
        job, notes, normalize_field = translation.job, translation.notes, translation.normalize_field
    elif archives_dir:
        job["archives_dir"] = str(archives_dir)
    if default_model and "model" not in job:
        job["model"] = default_model
    if normalize_field and job["normalize"] is False:
        model = str(job.get("model", DEFAULT_MODEL))
        if model_scale(model) == "relative":
            raise field_error(normalize_field, f"false needs a model with a fixed scale; {model!r} has bm25 "
                                               "(unbounded sums)")
    return job, notes


def needs_rejects(job: dict) -> bool:
    """Whether a checked job scores set-aside (withdrawn, desk-rejected) submissions, which
    come from the rejects file."""
    return job["mode"] != "group_group" and any(status != "active" for status in job["submission_status"])


def read_id_list(path: PathLike) -> list[str]:
    """Ids one a line; blank lines and lines starting with ``#`` are skipped."""
    if not os.path.isfile(path):
        raise InputError(path, "id list file not found")
    with open(path, encoding="utf-8-sig") as fh:
        lines = [line.strip() for line in fh]
    ids = [line for line in lines if line and not line.startswith("#")]
    if not ids:
        raise InputError(path, "lists no ids")
    return ids


def read_job_files(job: dict) -> tuple[dict, pd.DataFrame | None]:
    """The job with ``members_file`` / ``submissions_file`` read into id lists, and its
    expertise selection table (or None)."""
    job = check_job(job)
    resolved = dict(job)
    for key in ("group", "alternate_group"):
        group = job.get(key)
        if group and group.get("members_file"):
            listed = read_id_list(group["members_file"])
            resolved[key] = {"members": [*group.get("members", []), *listed]}
    if job.get("members_file"):
        resolved["members"] = [*(job.get("members") or []), *read_id_list(job["members_file"])]
    if job.get("submissions_file"):
        resolved["submissions"] = [*(job.get("submissions") or []), *read_id_list(job["submissions_file"])]
    selection = None
    if job.get("expertise_selection"):
        selection = read_expertise_selection(job["expertise_selection"])
    return resolved, selection
