"""An Expertise API request (``POST /expertise``) checked and translated into the project's
affinity job: the request's envelope is checked here (``check_envelope``: the fields
OpenReview's ``APIRequest`` takes), its meaning by the translator
(``revmatch.affinity.openreview_config.from_openreview``, which maps the venue's groups and
submission venue ids onto the conference and raises ``ValueError`` naming a field it cannot
honour), and the job it gives by ``revmatch.affinity.check_job``. Every refusal is a
``BadRequest`` whose message names the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from revmatch.io import PathLike

#: (request, venue_id) -> the project's job: a dict, or an object with ``job`` and ``notes``
Translator = Callable[[dict, "str | None"], Any]

_TOP_LEVEL = ("name", "entityA", "entityB", "model", "dataset", "machineType")
_ENTITY_TYPES = ("Group", "Note")


class BadRequest(ValueError):
    """A request the service cannot run (the API's 400); the message names the field."""


@dataclass(frozen=True)
class Translated:
    """A request's ``job`` and the translator's ``notes`` (for the job's description)."""

    job: dict
    notes: list[str] = field(default_factory=list)


def default_translator(default_model: str | None = None, archives_dir: PathLike | None = None) -> Translator:
    """The project's translator of Expertise API requests (``from_openreview``), with its
    notes (``openreview_translation``: naming ``default_model``; ``archives_dir``, the members'
    OpenReview archives the jobs read) where the module has them."""
    from revmatch.affinity import openreview_config

    with_notes = getattr(openreview_config, "openreview_translation", None)
    if with_notes is None:
        return openreview_config.from_openreview
    archives = None if archives_dir is None else str(archives_dir)

    def translator(request: dict, venue_id: str | None) -> Any:
        return with_notes(request, venue_id, archives_dir=archives, matching_model=default_model)

    return translator


def _check_entity(body: dict, key: str) -> None:
    entity = body.get(key)
    if not isinstance(entity, dict):
        raise BadRequest(f"Bad request: {key} must be an object, got {type(entity).__name__}")
    if "type" not in entity:
        raise BadRequest(f"Bad request: required field missing in {key}: type")
    if entity["type"] not in _ENTITY_TYPES:
        raise BadRequest(
            f"Bad request: {key}.type must be one of {list(_ENTITY_TYPES)}, got {entity['type']!r}"
        )


def check_envelope(body: Any) -> dict:
    """The request's top-level fields checked: ``name`` (a non-empty string), ``entityA`` and
    ``entityB`` (objects with a ``type``), optional ``model`` and ``dataset`` objects; no
    other field."""
    if not isinstance(body, dict):
        raise BadRequest("Bad request: the request body must be a JSON object")
    for key in ("name", "entityA", "entityB"):
        if key not in body:
            raise BadRequest(f"Bad request: required field missing in request: {key}")
    unexpected = [key for key in body if key not in _TOP_LEVEL]
    if unexpected:
        raise BadRequest(f"Bad request: unexpected fields in request: {unexpected}")
    if not isinstance(body["name"], str) or not body["name"].strip():
        raise BadRequest("Bad request: name must be a non-empty string")
    _check_entity(body, "entityA")
    _check_entity(body, "entityB")
    for key in ("model", "dataset"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise BadRequest(f"Bad request: {key} must be an object, got {type(body[key]).__name__}")
    return body


def translate(
    body: Any, venue_id: str | None, translator: Translator, default_model: str | None = None
) -> Translated:
    """The project's affinity job for an Expertise API request, checked by ``check_job``, and
    the translator's notes on what maps loosely.

    Results are in the current Expertise API's shape (``schema: current``: ``entityA``,
    ``entityB``, ``score``) unless the translator says otherwise; a job without a ``model``
    (the request names one of OpenReview's models) gets ``default_model`` when one is given.
    """
    from revmatch.affinity import check_job

    request = check_envelope(body)
    try:
        result = translator(request, venue_id)
    except (ValueError, KeyError) as exc:
        raise BadRequest(f"Bad request: {_reason(exc)}") from exc
    job = dict(result) if isinstance(result, dict) else dict(result.job)
    notes = [] if isinstance(result, dict) else [str(note) for note in getattr(result, "notes", ())]
    job.setdefault("schema", "current")
    if default_model and "model" not in job:
        job["model"] = default_model
    try:
        check_job(job)
    except ValueError as exc:
        raise BadRequest(f"Bad request: {exc}") from exc
    return Translated(job, notes)


def _reason(exc: Exception) -> str:
    """The message of a translator's exception (a missing key named as a field)."""
    if isinstance(exc, KeyError):
        return f"required field missing: {exc.args[0] if exc.args else exc}"
    return str(exc)
