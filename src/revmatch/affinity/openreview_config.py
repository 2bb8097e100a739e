"""OpenReview's expertise job configurations, as they are, translated into this project's jobs.

Two forms (openreview-expertise): the current API request (``name``; ``entityA`` /
``entityB``, each ``{"type": "Group" | "Note", ...}``; ``model`` {``name``,
``scoreComputation``, ...}; ``dataset`` {``minimumPubDate``, ``topRecentPubs``}) and the
legacy job config of ``expertise.create_dataset`` / ``expertise.run`` (``match_group``,
``paper_invitation``, ``paper_id``, ``alternate_match_group``, ``model`` a name,
``model_params``, ``dataset``; ``openreview_legacy``). ``from_openreview`` maps each field
onto the project's job (``JOB_SCHEMA``) and raises ``ValueError`` naming the field it
cannot honour. The job asks for OpenReview's output shape (``output: openreview``), keeps
the form's result keys (``schema``: current or legacy) and OpenReview's sparse results
(``sparse_value``, 400 unless the config says). Every id of a config must name the same
venue (``venue_id`` when given). ``docs/affinity.md`` has the field table.
"""

from __future__ import annotations

from typing import Any

from revmatch.affinity.openreview_fields import (
    ALL_STATUSES,
    DEFAULT_SPARSE_VALUE,
    Field,
    LEGACY_MARKERS,
    Translation,
    Venue,
    field_error,
    group_roles,
    id_list,
    invitation_checked,
    known_fields,
    model_name,
    model_options,
    provided_ids,
    publication_limits,
    selection_in_archives,
    venueid_status,
)
from revmatch.affinity.openreview_legacy import translate_legacy

CURRENT_FIELDS = ("name", "entityA", "entityB", "model", "dataset", "machineType", "archives_dir")


def is_openreview_config(config: Any) -> bool:
    """Whether ``config`` is an OpenReview expertise job config (current or legacy form)
    rather than the project's own job (which has a ``mode``)."""
    if not isinstance(config, dict) or "mode" in config:
        return False
    return any(key in config for key in ("entityA", "entityB", *LEGACY_MARKERS))


def from_openreview(config: dict, venue_id: str | None = None) -> dict:
    """The project's affinity job (accepted by ``check_job``) for an OpenReview expertise job
    config, current or legacy form; ``venue_id``, when given, is the venue its ids must name.

    The job names no ``model`` when the config names one of OpenReview's own models (the
    job's default, ``model.matching_model`` in the workflow, scores it). A field that
    cannot be honoured raises ``ValueError`` naming it.
    """
    return openreview_translation(config, venue_id).job


def openreview_translation(
    config: dict, venue_id: str | None = None, archives_dir: str | None = None,
    matching_model: str | None = None,
) -> Translation:
    """``from_openreview`` with the notes for the status description; ``archives_dir``: the
    members' OpenReview archives the job reads (which honours fields OpenReview applies
    when it builds them, such as ``expertise``); ``matching_model``: named in the notes."""
    if not is_openreview_config(config):
        raise ValueError("not an OpenReview expertise job config (entityA / entityB, or match_group, ...)")
    if archives_dir:
        config = {**config, "archives_dir": str(archives_dir)}
    out = Translation({"output": "openreview", "sparse_value": DEFAULT_SPARSE_VALUE})
    venue = Venue(venue_id)
    if "entityA" in config or "entityB" in config:
        _current(config, venue, out)
    else:
        translate_legacy(config, venue, out)
    if out.openreview_model is not None:
        which = f" {matching_model!r}" if matching_model else " (model.matching_model)"
        out.notes.insert(0, f"model {out.openreview_model!r} is OpenReview's; scored with this project's "
                            f"matching model{which}")
    return out


# ---------------------------------------------------------------- the current form


def _current(config: dict, venue: Venue, out: Translation) -> None:
    """A current-form request: entityA a Group; entityB a Note (submissions) or a Group."""
    known_fields(config, CURRENT_FIELDS, "")
    job = out.job
    job["schema"] = "current"
    a, b = _entity(config, "entityA"), _entity(config, "entityB")
    if a["type"] != "Group":
        raise field_error("entityA.type", "only a Group (a committee, or listed members) is scored here; "
                                          "paper-paper scoring is not supported")
    group_a = _group_entity(a, "entityA", venue, config, out)
    if b["type"] == "Group":
        job.update(mode="group_group", group=group_a,
                   alternate_group=_group_entity(b, "entityB", venue, config, out))
    else:
        statuses, ids = _note_entity(b, "entityB", venue, out)
        if "members" in group_a:
            job.update(mode="user_subset", members=group_a["members"])
        else:
            job.update(mode="paper_subset" if ids else "group_submissions", group=group_a)
        job["submission_status"] = statuses
        if ids:
            job["submissions"] = ids
    if config.get("name") is not None and not isinstance(config["name"], str):
        raise field_error("name", f"a string, got {config['name']!r}")
    if config.get("archives_dir") is not None:
        job["archives_dir"] = str(config["archives_dir"])
    _current_model(config.get("model"), out)
    _current_dataset(config.get("dataset"), out)


def _entity(config: dict, key: str) -> dict:
    """Entity ``key`` of the request: an object of type Group or Note."""
    entity = config.get(key)
    if not isinstance(entity, dict):
        raise field_error(key, f"an object with a 'type', got {entity!r}")
    if entity.get("type") not in ("Group", "Note"):
        raise field_error(f"{key}.type", f"Group or Note, got {entity.get('type')!r}")
    return entity


def _group_entity(entity: dict, key: str, venue: Venue, config: dict, out: Translation) -> dict:
    """The project's group of a Group entity: a role (``memberOf``) or listed members
    (``reviewerIds``); its ``expertise`` selection only with archives."""
    known_fields(entity, ("type", "memberOf", "reviewerIds", "expertise"), f"{key}.")
    if "memberOf" in entity and "reviewerIds" in entity:
        raise field_error(f"{key}.reviewerIds", "give memberOf or reviewerIds, not both")
    if entity.get("expertise"):
        selection_in_archives(f"{key}.expertise", config, out)
    if "memberOf" in entity:
        return {"role": group_roles(entity["memberOf"], f"{key}.memberOf", venue)}
    if "reviewerIds" in entity:
        return {"members": id_list(entity["reviewerIds"], f"{key}.reviewerIds")}
    raise field_error(key, "a Group names memberOf or reviewerIds")


def _note_entity(entity: dict, key: str, venue: Venue, out: Translation) -> tuple[list[str], list[str]]:
    """(submission statuses, listed ids) of a Note entity."""
    known_fields(entity, ("type", "invitation", "withVenueid", "id", "submissions", "withContent"), f"{key}.")
    if entity.get("withContent"):
        raise field_error(f"{key}.withContent", "submissions are not filtered by content fields here")
    sources = [k for k in ("invitation", "withVenueid", "id", "submissions") if k in entity]
    if "id" in sources and len(sources) > 1:
        raise field_error(f"{key}.id", "give a single id, or an invitation and/or venue id, not both")
    if "submissions" in sources and len(sources) > 1:
        raise field_error(f"{key}.submissions", "give the submissions alone")
    if not sources:
        raise field_error(key, "a Note names invitation, withVenueid, id or submissions")
    if "id" in entity:
        return list(ALL_STATUSES), id_list([entity["id"]], f"{key}.id")
    if "submissions" in entity:
        return list(ALL_STATUSES), provided_ids(entity["submissions"], f"{key}.submissions", out)
    if "invitation" in entity:
        invitation_checked(entity["invitation"], f"{key}.invitation", venue)
    status = "active"
    if "withVenueid" in entity:
        status = venueid_status(entity["withVenueid"], f"{key}.withVenueid", venue)
    return [status], []


def _current_model(model: Any, out: Translation) -> None:
    """The ``model`` object: name, scoreComputation, percentileSelect, sparseValue, text fields;
    skipSpecter and useCuda (hints for OpenReview's machines) are ignored."""
    if model is None:
        return
    if not isinstance(model, dict):
        raise field_error("model", f"an object, got {model!r}")
    allowed = ("name", "sparseValue", "useTitle", "useAbstract", "scoreComputation", "skipSpecter", "useCuda",
               "percentileSelect", "normalizeScores")
    known_fields(model, allowed, "model.")
    model_name(model.get("name"), "model.name", out)
    reduce = None
    if "scoreComputation" in model:
        how = model["scoreComputation"]
        if how not in ("max", "avg"):
            raise field_error("model.scoreComputation", f"max or avg, got {how!r}")
        reduce = "max" if how == "max" else "mean"
    model_options(
        out, reduce, Field("model.percentileSelect", model.get("percentileSelect")),
        Field("model.sparseValue", model.get("sparseValue")),
        [Field("model.useTitle", model.get("useTitle")),
         Field("model.useAbstract", model.get("useAbstract"))],
        Field("model.normalizeScores", model.get("normalizeScores")),
    )


def _current_dataset(dataset: Any, out: Translation) -> None:
    """The ``dataset`` object: minimumPubDate and topRecentPubs (not weightSpecification)."""
    if dataset is None:
        return
    if not isinstance(dataset, dict):
        raise field_error("dataset", f"an object, got {dataset!r}")
    known_fields(dataset, ("minimumPubDate", "topRecentPubs", "weightSpecification"), "dataset.")
    if dataset.get("weightSpecification"):
        raise field_error("dataset.weightSpecification", "publications are not weighted by venue here")
    publication_limits(Field("dataset.minimumPubDate", dataset.get("minimumPubDate")),
                       Field("dataset.topRecentPubs", dataset.get("topRecentPubs")), out)


