"""What the translation of OpenReview's expertise job configs (``openreview_config``,
``openreview_legacy``) shares: the ids of the conference (committee groups, submission venue
ids and invitations, one venue per config), the model and dataset fields both forms have,
and the errors that name a field.

OpenReview ids name the conference: ``<venue>/Reviewers``, ``<venue>/Area_Chairs`` and
``<venue>/Senior_Area_Chairs`` are its roles; the submission venue ids ``<venue>`` or
``<venue>/Submission`` (active), ``<venue>/Withdrawn_Submission`` and
``<venue>/Desk_Rejected_Submission`` and the invitation ``<venue>/-/Submission`` its
submissions.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

ROLE_GROUPS = {
    "Reviewers": "reviewer", "Area_Chairs": "area_chair", "Senior_Area_Chairs": "senior_area_chair"
}
SUBMISSION_VENUEIDS = {
    "Submission": "active", "Withdrawn_Submission": "withdrawn", "Desk_Rejected_Submission": "desk_rejected"
}
SUBMISSION_INVITATIONS = ("Submission", "Blind_Submission")
#: OpenReview's model names: scored with this project's matching model (the job names no model)
OPENREVIEW_MODELS = ("specter", "specter2", "scincl", "specter2+scincl", "specter+mfr", "mfr")
#: models that both name: bm25 is scored with the project's bm25
SHARED_MODELS = ("bm25",)
#: ``sparseValue`` when a config gives none (OpenReview's service keeps 400 scores a side)
DEFAULT_SPARSE_VALUE = 400
ALL_STATUSES = ["active", "withdrawn", "desk_rejected"]
#: keys that only a legacy OpenReview config has (with entityA / entityB: the current form)
LEGACY_MARKERS = ("match_group", "reviewer_ids", "alternate_match_group", "paper_invitation", "paper_venueid",
                  "paper_id", "provided_submissions", "model_params")
ROLE_ORDER = ("reviewer", "area_chair", "senior_area_chair")


@dataclass
class Translation:
    """A translated config: the project's ``job`` and ``notes`` on what maps loosely (for the
    status description)."""

    job: dict
    notes: list[str] = field(default_factory=list)
    #: the OpenReview model name the job's default model stands for
    openreview_model: str | None = None
    #: the field that set ``normalize`` (``model.normalizeScores``, legacy ``model_params.normalize_scores``)
    normalize_field: str | None = None


@dataclass(frozen=True)
class Field:
    """A config field (its dotted ``name``, for errors) and its ``value`` (None: absent)."""

    name: str
    value: Any = None


def field_error(name: str, reason: str) -> ValueError:
    """The error for a field that cannot be honoured: its message starts with the field."""
    return ValueError(f"OpenReview field {name}: {reason}")


class Venue:
    """The one venue a config's ids must name (``venue_id`` when given, else the first seen)."""

    def __init__(self, venue_id: str | None) -> None:
        self.expected = venue_id
        self.first: tuple[str, str] | None = None

    def claim(self, venue: str, name: str) -> None:
        if not venue:
            raise field_error(name, "names no venue")
        if self.expected is not None and venue != self.expected:
            raise field_error(name, f"venue {venue!r} is not this conference's venue {self.expected!r}")
        if self.first is not None and venue != self.first[0]:
            raise field_error(name, f"venue {venue!r} differs from {self.first[1]}'s {self.first[0]!r}")
        self.first = self.first or (venue, name)


# ---------------------------------------------------------------- ids


def group_roles(groups: Any, name: str, venue: Venue) -> str | list[str]:
    """The role(s) of OpenReview group ids (a string or a list): one role, ``all`` for the
    three, else a list."""
    ids = [groups] if isinstance(groups, str) else groups
    if not isinstance(ids, list) or not ids or not all(isinstance(g, str) for g in ids):
        raise field_error(name, f"a group id or a list of group ids, got {groups!r}")
    roles = []
    for group in ids:
        prefix, _, suffix = group.rpartition("/")
        if suffix not in ROLE_GROUPS:
            known = ", ".join(f"<venue>/{suffix}" for suffix in ROLE_GROUPS)
            raise field_error(name, f"group {group!r} is none of the conference's committees ({known})")
        venue.claim(prefix, name)
        roles.append(ROLE_GROUPS[suffix])
    unique = [role for role in ROLE_ORDER if role in roles]
    if len(unique) == 1:
        return unique[0]
    return "all" if len(unique) == len(ROLE_ORDER) else unique


def venueid_status(venueid: Any, name: str, venue: Venue) -> str:
    """The submission status of a submission venue id."""
    if not isinstance(venueid, str) or not venueid:
        raise field_error(name, f"a venue id, got {venueid!r}")
    prefix, _, last = venueid.rpartition("/")
    if last in SUBMISSION_VENUEIDS:
        venue.claim(prefix, name)
        return SUBMISSION_VENUEIDS[last]
    if last.endswith("_Submission"):
        known = ", ".join(f"<venue>/{suffix}" for suffix in SUBMISSION_VENUEIDS)
        raise field_error(name, f"{venueid!r}: not a venue id of the conference's submissions ({known})")
    venue.claim(venueid, name)
    return "active"


def invitation_checked(invitation: Any, name: str, venue: Venue) -> None:
    """A submission invitation ``<venue>/-/Submission`` (all submissions; API 1:
    ``Blind_Submission``), else ValueError."""
    invitations = [invitation] if isinstance(invitation, str) else invitation
    if not isinstance(invitations, list) or not invitations:
        raise field_error(name, f"an invitation id, got {invitation!r}")
    for one in invitations:
        prefix, sep, last = str(one).partition("/-/")
        if not sep or last not in SUBMISSION_INVITATIONS:
            reason = f"{one!r} is not the conference's submission invitation (<venue>/-/Submission)"
            raise field_error(name, reason)
        venue.claim(prefix, name)


def id_list(value: Any, name: str) -> list[str]:
    """A non-empty list of string ids, else ValueError."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise field_error(name, f"a non-empty list of ids, got {value!r}")
    return list(value)


def provided_ids(value: Any, name: str, out: Translation) -> list[str]:
    """The ids of provided submissions (``[{id, title, abstract}]``): scored with the
    conference's texts of those ids."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) and "id" in v for v in value):
        raise field_error(name, f"a non-empty list of submissions, each with an 'id', got {value!r}")
    out.notes.append(f"{name}: the conference's submissions of these ids are scored, with their own texts")
    return [str(v["id"]) for v in value]


def known_fields(fields: Iterable[str], allowed: Iterable[str], where: str) -> None:
    """ValueError naming the first of ``fields`` (prefixed by ``where``) not ``allowed``."""
    unknown = [key for key in fields if key not in allowed]
    if unknown:
        raise field_error(f"{where}{unknown[0]}", "not an OpenReview expertise field this project knows")


# ---------------------------------------------------------------- model and dataset


def selection_in_archives(name: str, config: dict, out: Translation) -> None:
    """Expertise selections (edges of an invitation) are applied by OpenReview when it builds
    the archives: honoured when the job reads those archives, else ValueError."""
    if not config.get("archives_dir") and not (config.get("dataset") or {}).get("directory"):
        raise field_error(name, "expertise selection edges cannot be read here; give the members' "
                                "OpenReview archives (archives_dir), built with the selection, or the "
                                "project's expertise_selection CSV")
    out.notes.append(f"{name}: applied by the archives (OpenReview excludes the papers when it builds them)")


def model_name(name: Any, where: str, out: Translation) -> None:
    """Map a model name: OpenReview's own -> the job names none (the matching model scores);
    bm25 -> bm25; a spec of this project's built-in models as it is."""
    if name is None:
        return
    from revmatch.model.specs import BUILTIN_MODELS, TUNED_ENCODER, parse_spec

    if name in OPENREVIEW_MODELS:
        out.openreview_model = name
        return
    try:
        members = parse_spec(name) if isinstance(name, str) else None
    except ValueError:
        members = None
    if not members or set(members) - {*BUILTIN_MODELS, TUNED_ENCODER}:
        theirs = ", ".join(OPENREVIEW_MODELS + SHARED_MODELS)
        ours = ", ".join((*BUILTIN_MODELS, TUNED_ENCODER))
        raise field_error(where, f"unknown model {name!r} (OpenReview's: {theirs}; this project's: {ours})")
    out.job["model"] = name


def model_options(
    out: Translation, reduce: str | None, percentile: Field, sparse: Field, texts: Sequence[Field],
    normalize: Field,
) -> None:
    """The model options both forms have: the reduction (``scoreComputation``: max -> max, avg
    -> mean; a ``percentileSelect`` q -> ``pq``), the sparse value, the text fields (only
    true: the configured ``model.text_fields`` are scored) and ``normalizeScores`` ->
    ``normalize`` (false: the model's fixed map into [0, 1], not the job's min-max)."""
    if reduce is not None:
        out.job["reduce"] = reduce
    q = percentile.value
    if q is not None:
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 <= q <= 100:
            raise field_error(percentile.name, f"a percentile in [0, 100], got {q!r}")
        out.job["reduce"] = f"p{q:g}"
    if sparse.value is not None:
        if isinstance(sparse.value, bool) or not isinstance(sparse.value, int) or sparse.value < 1:
            raise field_error(sparse.name, f"a positive integer, got {sparse.value!r}")
        out.job["sparse_value"] = sparse.value
    for text in texts:
        if text.value is not None and text.value is not True:
            raise field_error(text.name, "every job scores the configured text fields (model.text_fields: "
                                         "title and abstract by default); leave it true")
    if normalize.value is not None:
        if not isinstance(normalize.value, bool):
            raise field_error(normalize.name, f"true or false, got {normalize.value!r}")
        out.job["normalize"], out.normalize_field = normalize.value, normalize.name


def publication_limits(minimum: Field, top: Field, out: Translation) -> None:
    """``minimumPubDate`` (ms since the epoch) -> ``since_year`` (its UTC year); ``topRecentPubs``
    (a count) -> ``max_papers``. A falsy value sets no limit, as in OpenReview."""
    if minimum.value:
        ms = minimum.value
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0:
            raise field_error(minimum.name, f"a date in milliseconds since the epoch, got {ms!r}")
        date = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
        out.job["since_year"] = date.year
        if date != datetime.datetime(date.year, 1, 1, tzinfo=datetime.UTC):
            out.notes.append(f"{minimum.name}: publications are filtered by year, from {date.year} on "
                             f"(the date is {date.date().isoformat()})")
    count = top.value
    if count:
        if isinstance(count, str) and count.endswith("%"):
            raise field_error(top.name, f"a share of publications ({count!r}) is not supported; give a count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise field_error(top.name, f"a positive count of publications, got {count!r}")
        out.job["max_papers"] = count


