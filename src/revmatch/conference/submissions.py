"""START ``Submission_Information.csv`` -> kept submissions with their authors matched to
profiles, and the set-aside ones (desk rejects, withdrawals)."""

from __future__ import annotations

import logging
import re

import pandas as pd

from revmatch.conference.start_csv import (
    _duplicates_error,
    _stripped,
    cut_before,
    find_columns,
    read_csv_export,
    short_rows_report,
)
from revmatch.io import InputError, PathLike
from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)

SUBMISSION_COLUMNS = {
    "id": "Submission ID",
    "title": "Title",
    "track": "Track",
    "type": "Submission Type",
    "abstract": "Abstract|Summary",
    "authors": "Authors",
}
SUBMISSION_OPTIONAL_COLUMNS = {
    "emails": "All Author Emails",
    "status": "Acceptance Status",
}

_AUTHOR_USERNAME_COLUMN = re.compile(r"^(\d+)\s*:\s*Username$", re.IGNORECASE)
_AUTHOR_NAME_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def _author_username_columns(frame: pd.DataFrame) -> list[str]:
    numbered = []
    for column in frame.columns:
        match = _AUTHOR_USERNAME_COLUMN.match(str(column))
        if match:
            numbered.append((int(match.group(1)), column))
    return [column for _, column in sorted(numbered)]


def _profile_index(profiles: list[dict] | None) -> tuple[dict[str, dict], dict[str, dict]]:
    by_email: dict[str, dict] = {}
    by_username: dict[str, dict] = {}
    for profile in profiles or []:
        email = profile.get("email", "").strip().casefold()
        if email:
            by_email.setdefault(email, profile)
        username = profile.get("startUsername", "").strip().casefold()
        if username:
            by_username.setdefault(username, profile)
    return by_email, by_username


def _author_record(name: str, email: str, username: str, profile: dict | None) -> dict:
    """An author as ``submissions.jsonl`` holds them: with the matched profile's ids, else bare."""
    if profile is None:
        return {"name": name, "ids": [], "startUsername": username, "email": email, "affiliation": ""}
    return {
        "name": name or profile["name"],
        "ids": list(profile["ids"]),
        "startUsername": profile["startUsername"],
        "email": email or profile["email"],
        "affiliation": profile.get("affiliation", ""),
    }


def _match_author(
    name: str, email: str, username: str, by_email: dict[str, dict], by_username: dict[str, dict]
) -> tuple[dict, bool, bool]:
    """(author record, whether a profile matched, whether the e-mail and the username name two
    different profiles).

    The e-mail's profile comes first, else the username's. When both are found and differ,
    neither is picked silently: the record keeps the e-mail's profile and carries the
    username's as ``otherProfile``, so that every conflict-of-interest source treats the
    author as both people.
    """
    by_mail = by_email.get(email.casefold()) if email else None
    by_name = by_username.get(username.casefold()) if username else None
    profile = by_mail if by_mail is not None else by_name
    record = _author_record(name, email, username, profile)
    conflict = (
        by_mail is not None
        and by_name is not None
        and by_mail["startUsername"].casefold() != by_name["startUsername"].casefold()
    )
    if conflict:
        record["otherProfile"] = _author_record("", "", "", by_name)
    return record, profile is not None, conflict


def _raise_if_status_cut(path: PathLike, frame: pd.DataFrame, column: str) -> None:
    """``InputError`` at the first row that ends before the status column: its status is unknown."""
    cut = cut_before(frame, column)
    if cut.any():
        row = int(frame.index[cut.to_numpy()][0])
        fields = frame.attrs["row_fields"][row]
        raise InputError(
            path,
            f"the row has {fields} of {len(frame.columns)} fields and ends before the status column, so "
            "whether the submission is active, desk rejected or withdrawn is unknown (a cut row is never "
            "taken as active); complete the row (an active submission keeps an empty status, with the "
            "commas up to it)",
            row=row,
            column=column,
        )


def _set_aside_reason(status: str) -> str | None:
    """``desk reject`` or ``withdrawn`` from an ``Acceptance Status``; ``None`` keeps the paper."""
    folded = status.casefold()
    if "reject" in folded:
        return "desk reject"
    if "withdraw" in folded:
        return "withdrawn"
    return None


def _submission_type(value: str, path: PathLike, row: int, column: str) -> str:
    folded = value.casefold()
    if "short" in folded:
        return "short"
    if "long" in folded:
        return "long"
    raise InputError(path, f"submission type {value!r} is neither long nor short", row=row, column=column)


def _submission_records(path: PathLike, profiles: list[dict] | None) -> tuple[list[dict], list[dict], dict]:
    frame = read_csv_export(path)
    cols = find_columns(frame, SUBMISSION_COLUMNS, path, SUBMISSION_OPTIONAL_COLUMNS)
    ids = _stripped(frame, cols["id"])
    empty = ids == ""
    if empty.any():
        raise InputError(path, "empty Submission ID", row=int(ids.index[empty][0]), column=cols["id"])
    error = _duplicates_error(path, ids, "Submission ID", cols["id"])
    if error is not None:
        raise error
    titles = _stripped(frame, cols["title"])
    tracks = _stripped(frame, cols["track"]).str.replace(":", "-", regex=False)
    types = _stripped(frame, cols["type"])
    abstracts = _stripped(frame, cols["abstract"])
    author_names = _stripped(frame, cols["authors"])
    author_emails = _stripped(frame, cols["emails"])
    statuses = _stripped(frame, cols["status"])
    if cols["status"] is None:
        logger.warning("%s: no 'Acceptance Status' column: every submission is kept (none set aside)", path)
    else:
        _raise_if_status_cut(path, frame, cols["status"])
    username_columns = _author_username_columns(frame)
    usernames = frame[username_columns].apply(lambda s: s.astype(str).str.strip())
    by_email, by_username = _profile_index(profiles)

    kept, rejects = [], []
    stats = {
        "rows": len(frame),
        "kept": 0,
        "desk_rejected": 0,
        "withdrawn": 0,
        "track_missing": 0,
        "authors": 0,
        "authors_matched": 0,
        "authors_unmatched": 0,
        "author_list_mismatch": 0,
        "identity_conflicts": 0,
        "identity_conflict_list": [],
        "status_column": cols["status"],
        "blank_rows": frame.attrs["blank_rows"],
        "encoding": frame.attrs["encoding"],
        **short_rows_report(frame),
    }
    for row in frame.index:
        status = statuses[row]
        reason = _set_aside_reason(status)
        track = tracks[row]
        if reason is not None:
            stats["desk_rejected" if reason == "desk reject" else "withdrawn"] += 1
            rejects.append(
                {
                    "startSubmissionId": ids[row],
                    "track": track,
                    "title": titles[row],
                    "status": status,
                    "reason": reason,
                }
            )
            continue
        if not track:
            logger.warning("%s, row %d: submission %s has no track; using 'n/a'", path, row, ids[row])
            stats["track_missing"] += 1
            track = "n/a"
        names = [n for n in _AUTHOR_NAME_SEPARATOR.split(author_names[row]) if n.strip()]
        emails = [e.strip() for e in author_emails[row].split(";")] if author_emails[row] else []
        row_usernames = usernames.loc[row].tolist()
        while row_usernames and not row_usernames[-1]:
            row_usernames.pop()
        n_authors = max(len(names), len(emails), len(row_usernames))
        # authors without a START account leave their username empty: only names vs emails must agree
        n_listed = max(len(names), len(emails))
        if (names and emails and len(names) != len(emails)) or len(row_usernames) > n_listed:
            stats["author_list_mismatch"] += 1
            logger.warning(
                "%s, row %d: submission %s lists %d author names, %d emails and %d usernames",
                path, row, ids[row], len(names), len(emails), len(row_usernames),
            )
        authors = []
        for k in range(n_authors):
            name = names[k] if k < len(names) else ""
            email = emails[k] if k < len(emails) else ""
            username = row_usernames[k] if k < len(row_usernames) else ""
            author, matched, conflict = _match_author(name, email, username, by_email, by_username)
            authors.append(author)
            stats["authors_matched" if matched else "authors_unmatched"] += 1
            if conflict:
                stats["identity_conflicts"] += 1
                stats["identity_conflict_list"].append(
                    {
                        "submission_id": ids[row],
                        "row": int(row),
                        "author": name,
                        "email": email,
                        "email_profile": author["startUsername"],
                        "username": username,
                        "username_profile": author["otherProfile"]["startUsername"],
                    }
                )
        stats["authors"] += n_authors
        kept.append(
            {
                "id": ids[row],
                "startSubmissionId": ids[row],
                "title": titles[row],
                "track": track,
                "type": _submission_type(types[row], path, row, cols["type"]),
                "paperAbstract": abstracts[row],
                "authors": authors,
            }
        )
    stats["kept"] = len(kept)
    logger.info(
        "%s: %d submissions -> %d kept, %d desk rejected, %d withdrawn; %d without track; "
        "%d of %d authors matched to a profile",
        path, stats["rows"], stats["kept"], stats["desk_rejected"], stats["withdrawn"],
        stats["track_missing"], stats["authors_matched"], stats["authors"],
    )
    conflicts = stats["identity_conflict_list"]
    if conflicts:
        logger.warning(
            "%s: %d authors name one profile by e-mail and another by username; both are treated as the "
            "author (conflicts of interest with each): %s",
            path, len(conflicts), "; ".join(
                f"row {c['row']} (submission {c['submission_id']}): {c['email']} -> {c['email_profile']}, "
                f"username {c['username']} -> {c['username_profile']}" for c in conflicts[:MAX_NAMED]
            ),
        )
    if stats["authors_unmatched"]:
        logger.warning(
            "%s: %d authors have no profile (no email or username match)", path, stats["authors_unmatched"]
        )
    return kept, rejects, stats


def read_submissions(path: PathLike, profiles: list[dict] | None) -> tuple[list[dict], list[dict]]:
    """Read ``Submission_Information.csv``: kept submissions and set-aside ones.

    A submission whose ``Acceptance Status`` contains ``Reject`` (desk reject) or
    ``Withdraw`` (withdrawn) is set aside; the reference tool only checks for ``Reject``,
    so its withdrawn papers stay in the matching. A row that ends before the
    ``Acceptance Status`` column (cut short) is an ``InputError`` naming it: its status is
    unknown, and a withdrawn or rejected paper must never be matched as active (nor its
    authors' missing e-mails and usernames cost conflicts of interest). Without the column
    every submission is kept, with a warning.

    Authors are matched to ``profiles`` (all START profiles) by email, then by username;
    an author whose e-mail and username name two different profiles keeps the e-mail's and
    carries the username's as ``otherProfile`` (both are conflicts of interest), counted
    and logged as an identity conflict.
    """
    kept, rejects, _ = _submission_records(path, profiles)
    return kept, rejects
