"""START ``Profile_Information.csv`` -> reviewer records (reviewers, ACs, SACs), the other
profiles, and the people in several tracks; ``Roles`` strings and Semantic Scholar id cells."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import pandas as pd

from revmatch.conference.quotas import quota_cells
from revmatch.conference.start_csv import (
    _duplicates_error,
    _stripped,
    find_columns,
    read_csv_export,
    short_rows_report,
)
from revmatch.io import InputError, PathLike

logger = logging.getLogger(__name__)

PROFILE_COLUMNS = {
    "username": "Username",
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "s2_id": "Semantic Scholar ID",
    "roles": "Roles",
}
PROFILE_OPTIONAL_COLUMNS = {
    "pc_role": "PCRole",
    "emergency": "emergencyReviewer",
    "affiliation": "Affiliation",
    "quota": "Quota for Review|QuotaForReview",
}

ROLE_KEYS = ("tracks", "areaChair", "ac_tracks", "seniorAreaChair", "sac_tracks")
MULTI_TRACK_COLUMNS = [
    "start_id",
    "email",
    "name",
    "reviewer_tracks",
    "ac_tracks",
    "sac_tracks",
    "softconf_role_string",
]

_INVALID_USERNAME = re.compile(r'[\s,;"]')
_S2_ID_SEPARATOR = re.compile(r"[,;\s]+")
_URL = re.compile(r"^(?:https?://|www\.|[\w.-]*semanticscholar\.org/)", re.IGNORECASE)
_ID_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dXx]$")
_NO_ID_WORDS = frozenset({"none", "n/a", "na", "-", "--", "no", "null", "nan", "tbd", "unknown"})
_MANAGER = re.compile(r"\s*\(manager[^)]*\)?", re.IGNORECASE)
_META_REVIEWER = re.compile(r":?\s*Meta Reviewer\s*:?", re.IGNORECASE)


def parse_roles(roles: str) -> dict:
    """Parse a START ``Roles`` string into reviewer, area chair and senior area chair roles.

    Follows the reference rules: ``committee`` or ``committee:<Track>`` is a reviewer;
    ``...:<Track>:Meta Reviewer`` an area chair of that track; ``<Track> (manager N)`` a
    senior area chair of that track; ``: `` inside track names becomes ``- `` before
    several tracks are split on ``:``; and (ACL 2021 exports list bare track names) any
    role that is not ``Author`` and not AC/SAC counts as a reviewer.

    Deliberate divergence: ``manager:committee`` (programme chair) and an empty role are
    not reviewers (the reference's rule counts both). The result also says
    ``programmeChair``.
    """
    text = (roles or "").strip().replace(": ", "- ")
    folded = text.casefold()
    result = {
        "is_reviewer": False,
        "tracks": [],
        "areaChair": False,
        "ac_tracks": [],
        "seniorAreaChair": False,
        "sac_tracks": [],
        "programmeChair": folded == "manager" or folded.startswith("manager:"),
    }
    if not text or folded == "author" or result["programmeChair"]:
        return result
    body = re.sub(r"^committee\s*(:|$)", "", text, flags=re.IGNORECASE).strip()
    is_ac = re.search(r"Meta Reviewer", body, re.IGNORECASE) is not None
    is_sac = re.search(r"\(manager", body, re.IGNORECASE) is not None
    ac_tracks: list[str] = []
    if is_ac:
        match = re.match(r"(.*?):?\s*Meta Reviewer\s*$", body, re.IGNORECASE)
        if match:
            ac_tracks = [t for t in _split_tracks(match.group(1)) if "(manager" not in t.casefold()]
    sac_tracks = _unique(t.strip() for t in re.findall(r"([^:]+?)\s*\(manager", body, re.IGNORECASE))
    all_tracks = _split_tracks(_MANAGER.sub("", _META_REVIEWER.sub(":", body)))
    taken = set(ac_tracks) | set(sac_tracks)
    result.update(
        {
            "is_reviewer": not is_ac and not is_sac,
            "tracks": [t for t in all_tracks if t not in taken],
            "areaChair": is_ac,
            "ac_tracks": ac_tracks,
            "seniorAreaChair": is_sac,
            "sac_tracks": sac_tracks,
        }
    )
    return result


def _split_tracks(text: str) -> list[str]:
    return _unique(part.strip() for part in text.strip().strip(":").split(":"))


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def parse_s2_ids(value: str) -> tuple[list[str], list[str]]:
    """Semantic Scholar author ids in a profile cell, and the pieces that are not ids.

    Chairs find URLs, bare ids and free text here. A Semantic Scholar URL gives its last
    path segment (``.../author/Jane-Doe/1741101?sort=year`` -> ``1741101``); several ids
    may be separated by ``,``, ``;`` or whitespace. In free text (several words), only
    numeric tokens are ids; a cell of one token is an id when it looks like one (letters,
    digits, ``-``, ``_``, ``.``). Other URLs (Google Scholar, DBLP, ORCID), ORCID iDs,
    Google Scholar user ids and placeholder words (``none``, ``n/a``) are not ids: they
    come back as the second list, so that they can be counted and reported.
    """
    text = (value or "").strip()
    if not text or text.casefold() in _NO_ID_WORDS:
        return [], []
    ids, rejected = [], []
    rest = []
    for token in _S2_ID_SEPARATOR.split(text):
        if not token:
            continue
        if _URL.match(token):
            host_and_path = token.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0].rstrip("/")
            if "semanticscholar.org" in host_and_path.split("/", 1)[0].casefold() and "/" in host_and_path:
                segment = host_and_path.rsplit("/", 1)[-1]
                if _ID_TOKEN.match(segment) and segment.casefold() != "author":
                    ids.append(segment)
                else:
                    rejected.append(token)
            else:
                rejected.append(token)
        else:
            rest.append(token.strip("()[]<>.:'\""))
    rest = [t for t in rest if t]
    for token in rest:
        looks_foreign = _ORCID.match(token) or token.endswith("AAAAJ") or token.casefold() in _NO_ID_WORDS
        if looks_foreign:
            rejected.append(token)
        elif token.isdigit() or (len(rest) == 1 and _ID_TOKEN.match(token)):
            ids.append(token)
        elif len(rest) > 1 and _ID_TOKEN.match(token) and "-" in token:
            ids.append(token)  # a list of slug ids (``jane-doe, john-roe``)
        else:
            rejected.append(token)
    if ids and rejected and all(not _URL.match(r) for r in rejected) and not any(
        _ORCID.match(r) or r.endswith("AAAAJ") for r in rejected
    ):
        rejected = []  # words around an id ("my id is 123") are no loss
    return _unique(ids), rejected


def clean_s2_ids(value: str) -> list[str]:
    """Semantic Scholar author ids from a profile cell (see :func:`parse_s2_ids`)."""
    return parse_s2_ids(value)[0]


def _profile_records(path: PathLike) -> tuple[list[dict], list[dict], pd.DataFrame, dict]:
    frame = read_csv_export(path)
    cols = find_columns(frame, PROFILE_COLUMNS, path, PROFILE_OPTIONAL_COLUMNS)
    usernames = _stripped(frame, cols["username"])
    empty = usernames == ""
    if empty.any():
        raise InputError(path, "empty Username", row=int(usernames.index[empty][0]), column=cols["username"])
    invalid = usernames.str.contains(_INVALID_USERNAME)
    if invalid.any():
        row = int(usernames.index[invalid][0])
        raise InputError(
            path,
            f"Username {usernames[row]!r} contains whitespace, a comma, a semicolon or a quote "
            "(a broken quote in an earlier row can cause this)",
            row=row,
            column=cols["username"],
        )
    error = _duplicates_error(path, usernames, "Username", cols["username"])
    if error is not None:
        raise error
    emails = _stripped(frame, cols["email"])
    names = (_stripped(frame, cols["first_name"]) + " " + _stripped(frame, cols["last_name"])).str.strip()
    s2_ids_cells = _stripped(frame, cols["s2_id"])
    roles = _stripped(frame, cols["roles"])
    emergency = _stripped(frame, cols["emergency"]).str.casefold().str.contains("yes", regex=False) & (
        _stripped(frame, cols["pc_role"]).str.casefold() == "no"
    )
    affiliations = _stripped(frame, cols["affiliation"])
    quotas = quota_cells(_stripped(frame, cols["quota"]), path, cols["quota"])

    reviewers, non_reviewers, multi_track = [], [], []
    stats = {
        "rows": len(frame),
        "programme_chairs": 0,
        "without_s2_id": 0,
        "s2_id_not_understood": [],
        "blank_rows": frame.attrs["blank_rows"],
        **short_rows_report(frame),
    }
    for row in frame.index:
        role_string = roles[row]
        parsed = parse_roles(role_string)
        s2_ids, not_ids = parse_s2_ids(s2_ids_cells[row])
        record = {
            "id": usernames[row],
            "name": names[row],
            "email": emails[row],
            "ids": s2_ids,
            "startUsername": usernames[row],
        }
        stats["programme_chairs"] += parsed["programmeChair"]
        if parsed["is_reviewer"] or parsed["areaChair"] or parsed["seniorAreaChair"]:
            record.update({key: parsed[key] for key in ROLE_KEYS})
            record["emergency"] = bool(emergency[row])
            record["quota"] = quotas[row]
            stats["without_s2_id"] += not record["ids"]
            if not_ids:
                stats["s2_id_not_understood"].append({"username": record["id"], "value": s2_ids_cells[row]})
            if len(parsed["tracks"]) + len(parsed["ac_tracks"]) + len(parsed["sac_tracks"]) > 1:
                multi_track.append(
                    [
                        record["id"],
                        record["email"],
                        record["name"],
                        "; ".join(parsed["tracks"]),
                        "; ".join(parsed["ac_tracks"]),
                        "; ".join(parsed["sac_tracks"]),
                        role_string,
                    ]
                )
            target = reviewers
        else:
            record.update(
                {
                    "areaChair": False,
                    "seniorAreaChair": False,
                    "emergency": bool(emergency[row]),
                    "tracks": role_string,
                }
            )
            target = non_reviewers
        record["affiliation"] = affiliations[row]
        target.append(record)
    report = pd.DataFrame(multi_track, columns=MULTI_TRACK_COLUMNS)
    stats.update(
        {
            "reviewers": sum(not r["areaChair"] and not r["seniorAreaChair"] for r in reviewers),
            "area_chairs": sum(r["areaChair"] for r in reviewers),
            "senior_area_chairs": sum(r["seniorAreaChair"] for r in reviewers),
            "emergency_reviewers": sum(r["emergency"] for r in reviewers),
            "records": len(reviewers),
            "non_reviewers": len(non_reviewers),
            "multi_track": len(report),
            "encoding": frame.attrs["encoding"],
        }
    )
    logger.info(
        "%s: %d profiles -> %d reviewer records (%d reviewers, %d ACs, %d SACs, %d emergency), "
        "%d non-reviewers (%d programme chairs), %d in several tracks, %d without a Semantic Scholar id",
        path,
        stats["rows"],
        stats["records"],
        stats["reviewers"],
        stats["area_chairs"],
        stats["senior_area_chairs"],
        stats["emergency_reviewers"],
        stats["non_reviewers"],
        stats["programme_chairs"],
        stats["multi_track"],
        stats["without_s2_id"],
    )
    not_understood = stats["s2_id_not_understood"]
    if not_understood:
        logger.warning(
            "%s: %d reviewers' Semantic Scholar ID cells hold something that is not an id "
            "(another site's link, an ORCID, a name), ignored: %s",
            path,
            len(not_understood),
            "; ".join(f"{d['username']}: {d['value']!r}" for d in not_understood[:10]),
        )
    return reviewers, non_reviewers, report, stats


def read_profiles(path: PathLike) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """Read ``Profile_Information.csv``: reviewer records, non-reviewer records, multi-track report.

    Reviewer records (reviewers, ACs and SACs; line order = matrix column order) have
    ``id`` (= ``Username``), ``name``, ``email``, ``ids``, ``startUsername``, ``tracks``,
    ``areaChair``, ``ac_tracks``, ``seniorAreaChair``, ``sac_tracks``, ``emergency`` and
    ``affiliation`` (``''`` without the column) and ``quota`` (from the optional
    ``Quota for Review`` column; ``None`` = the default maximum). Non-reviewer records
    keep the reference's
    keys, where ``tracks`` is the raw ``Roles`` string. The report lists people with more
    than one track across roles.
    """
    reviewers, non_reviewers, report, _ = _profile_records(path)
    return reviewers, non_reviewers, report
