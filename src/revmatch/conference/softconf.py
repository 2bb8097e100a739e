"""START (SoftConf) exports -> reviewers, submissions, rejects, bids and quotas.

The exports are read as they come: columns are found by header name (an alias list
``A|B`` means either header), whatever their order. Row numbers in errors are spreadsheet
rows: the header is row 1, the first record row 2 (as a chair sees the file in a
spreadsheet; a quoted field may span several physical lines).

Divergences from the reference tool's ``softconf_extract.py``, on purpose:

- ``manager:committee`` (programme chair) and an empty ``Roles`` do not make a reviewer
  (the reference's ACL-2021 rule counts every role that is not ``Author`` and not AC/SAC);
- withdrawn submissions (``Acceptance Status`` containing ``Withdraw``) are set aside like
  desk rejects (the reference only checks for ``Reject``);
- bids rows are matched to submissions by id, not by position, and bid cells may be
  numbers; ``bids.npy`` holds the bids only: authorship COIs are merged by
  :mod:`revmatch.coi`, not written into the bids matrix;
- an AC's ``ac_tracks`` never contain the ``committee`` prefix, and a role without a
  track gives ``[]`` rather than ``['']``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike, save_npy, write_csv, write_json, write_jsonl

logger = logging.getLogger(__name__)

FIRST_DATA_ROW = 2  # spreadsheet row of the first record (the header is row 1)

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
QUOTA_COLUMNS = {"username": "Username", "quota": "Quota for Review|QuotaForReview|Quota"}

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

# START bid codes (1 = Yes, 2 = Maybe, 3 = No, 4 = COI) -> reference codes (4 - START code).
BID_COI, BID_NO, BID_MAYBE, BID_YES = 0, 1, 2, 3
_START_TO_BID = {1: BID_YES, 2: BID_MAYBE, 3: BID_NO, 4: BID_COI}
_BID_NAMES = {BID_COI: "coi", BID_NO: "no", BID_MAYBE: "maybe", BID_YES: "yes"}
_EMPTY_BID = -1  # marks an empty cell until it becomes Maybe
_BID_CELLS = {"": _EMPTY_BID, **{str(start): code for start, code in _START_TO_BID.items()}}

_AUTHOR_USERNAME_COLUMN = re.compile(r"^(\d+)\s*:\s*Username$", re.IGNORECASE)
_AUTHOR_NAME_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_INVALID_USERNAME = re.compile(r'[\s,;"]')
_S2_ID_SEPARATOR = re.compile(r"[,;\s]+")
_URL = re.compile(r"^(?:https?://|www\.|[\w.-]*semanticscholar\.org/)", re.IGNORECASE)
_ID_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dXx]$")
_NO_ID_WORDS = frozenset({"none", "n/a", "na", "-", "--", "no", "null", "nan", "tbd", "unknown"})
_MANAGER = re.compile(r"\s*\(manager[^)]*\)?", re.IGNORECASE)
_META_REVIEWER = re.compile(r":?\s*Meta Reviewer\s*:?", re.IGNORECASE)


# ---------------------------------------------------------------- CSV reading


def read_csv_export(path: PathLike) -> pd.DataFrame:
    """Read a START CSV export as a frame of ``str`` cells (object columns; empty stays ``''``).

    UTF-8 with or without BOM; other bytes fall back to Latin-1 with a warning. Quoted
    fields may span lines. Rows shorter than the header are padded with ``''``; extra
    fields beyond the header must be empty (else ``InputError``). Blank rows are skipped
    and counted; trailing unnamed columns that are empty throughout are dropped. Header
    names are stripped of whitespace. The index holds spreadsheet row numbers (header = 1);
    ``frame.attrs`` records the encoding and the counts of what was skipped.
    """
    text, encoding = decode_export(Path(path).read_bytes(), path)
    nul = text.find("\x00")
    if nul >= 0:
        row, field = _record_position(text, nul)
        raise InputError(
            path,
            "NUL byte: not a text CSV (save the export as UTF-8 CSV)",
            row=row,
            column=_field_name(text, row, field),
        )
    records = _parse_csv_records(text, path)
    if not records:
        raise InputError(path, "the file is empty (no header row)")
    header = [name.strip() for name in records[0]]
    n_columns = len(header)
    rows, row_numbers, n_blank = [], [], 0
    for row_number, record in enumerate(records[1:], start=FIRST_DATA_ROW):
        if not any(field.strip() for field in record):
            n_blank += 1
            continue
        if len(record) > n_columns:
            if any(field.strip() for field in record[n_columns:]):
                extra = next(k for k in range(n_columns, len(record)) if record[k].strip())
                raise InputError(
                    path,
                    f"{len(record)} fields, but the header has {n_columns} columns",
                    row=row_number,
                    column=f"#{extra + 1}",
                )
            record = record[:n_columns]
        elif len(record) < n_columns:
            record = record + [""] * (n_columns - len(record))
        rows.append(record)
        row_numbers.append(row_number)
    n_keep = _count_columns_to_keep(header, rows)
    n_dropped = n_columns - n_keep
    if n_dropped:
        header = header[:n_keep]
        rows = [row[:n_keep] for row in rows]
    if n_blank:
        logger.info("%s: skipped %d blank rows", path, n_blank)
    if n_dropped:
        logger.info("%s: dropped %d trailing unnamed empty columns", path, n_dropped)
    index = pd.Index(row_numbers, name="row", dtype="int64")
    frame = pd.DataFrame(rows, columns=header, index=index, dtype=object)
    frame.attrs.update(
        {"path": str(path), "encoding": encoding, "blank_rows": n_blank, "dropped_columns": n_dropped}
    )
    return frame


def decode_export(raw: bytes, path: PathLike) -> tuple[str, str]:
    """Bytes of an export -> (text, encoding name).

    UTF-8 with or without BOM; UTF-16 when it starts with a UTF-16 BOM (Excel's "Unicode
    text"); anything else that is not UTF-8 is read as Latin-1, with a warning.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(path, f"starts with a UTF-16 mark but is not UTF-16 (byte {exc.start})") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        logger.warning("%s is not UTF-8 (invalid byte at offset %d); reading it as Latin-1", path, exc.start)
        return raw.decode("latin-1"), "latin-1"


def _parse_csv_records(text: str, path: PathLike) -> list[list[str]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        row, field, what = _csv_error_position(text)
        if row is None:  # the scanner found nothing: fall back on the reader's position
            row, field, what = len(records) + 1, 0, str(exc)
        raise InputError(
            path,
            f"malformed CSV: {what} (a quote opened in this row may have swallowed the rows after it)",
            row=row,
            column=_field_name(text, row, field, records[0] if records else None),
        ) from exc
    return records


def _csv_error_position(text: str) -> tuple[int | None, int, str]:
    """(spreadsheet row, field index, what is wrong) of the first quoting error in ``text``.

    Follows the ``csv`` module's strict dialect: a quote opens a quoted field only at a
    field's start; after the closing quote only a comma or a line end may follow; a
    quoted field must end before the end of the file.
    """
    row, field, i, n = 1, 0, 0, len(text)
    at_start, quote_row, quote_field = True, 0, 0
    while i < n:
        char = text[i]
        if char == '"' and at_start:
            quote_row, quote_field = row, field
            close = i + 1
            while True:
                close = text.find('"', close)
                if close < 0:
                    return quote_row, quote_field, "a quoted field never ends"
                if text.startswith('""', close):
                    close += 2
                    continue
                break
            i = close + 1
            if i < n and text[i] not in ",\r\n":
                return quote_row, quote_field, f"{text[i]!r} after the closing quote of a field"
            at_start = False
            continue
        if char == ",":
            field, at_start = field + 1, True
        elif char in "\r\n":
            if char == "\r" and text.startswith("\n", i + 1):
                i += 1
            row, field, at_start = row + 1, 0, True
        else:
            at_start = False
        i += 1
    return None, 0, ""


def _record_position(text: str, offset: int) -> tuple[int, int]:
    """(spreadsheet row, field index) of character ``offset`` (quoted line breaks stay in their row)."""
    prefix = text[:offset]
    records = list(csv.reader(io.StringIO(prefix, newline="")))
    if not records or prefix.endswith(("\n", "\r")):
        return len(records) + 1, 0
    return len(records), len(records[-1]) - 1


def _field_name(text: str, row: int, field: int, header: list[str] | None = None) -> str:
    """The header name of field ``field`` (0-based), else its position."""
    if header is None and row > 1:
        first = next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r"))), [])
        header = first
    if header is not None and row > 1 and field < len(header) and header[field].strip():
        return header[field].strip()
    return f"#{field + 1}"


def _count_columns_to_keep(header: list[str], rows: list[list[str]]) -> int:
    n_keep = len(header)
    while n_keep > 0 and header[n_keep - 1] == "" and not any(row[n_keep - 1].strip() for row in rows):
        n_keep -= 1
    return n_keep


def find_column(frame: pd.DataFrame, aliases: str, path: PathLike) -> str | None:
    """The column of ``frame`` named by one of ``aliases`` (``A|B``), else ``None``.

    An exact header match wins over a case-insensitive one; two columns answering the
    same name raise ``InputError``.
    """
    names = [name.strip() for name in aliases.split("|")]
    columns = [str(c) for c in frame.columns]
    for match in (lambda c, n: c == n, lambda c, n: c.casefold() == n.casefold()):
        for name in names:
            found = [c for c in columns if match(c, name)]
            if len(found) > 1:
                raise InputError(path, f"{len(found)} columns are named {name!r}", column=name)
            if found:
                return found[0]
    return None


def find_columns(
    frame: pd.DataFrame,
    required: dict[str, str],
    path: PathLike,
    optional: dict[str, str] | None = None,
) -> dict[str, str | None]:
    """Map keys to the frame's column names; every missing required column is named at once."""
    found = {key: find_column(frame, aliases, path) for key, aliases in required.items()}
    missing = [aliases for key, aliases in required.items() if found[key] is None]
    if missing:
        raise InputError(
            path,
            f"missing required column(s) {', '.join(repr(m) for m in missing)}; "
            f"the header has {', '.join(repr(str(c)) for c in frame.columns)}",
            row=1,
            column=missing[0],
        )
    for key, aliases in (optional or {}).items():
        found[key] = find_column(frame, aliases, path)
        if found[key] is None:
            logger.info("%s: no column %r", path, aliases)
    return found


def _stripped(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series("", index=frame.index, dtype=str)
    return frame[column].astype(str).str.strip()


def _raise_if_empty(path: PathLike, values: pd.Series, what: str, column: str) -> None:
    empty = values == ""
    if empty.any():
        raise InputError(path, f"empty {what}", row=int(values.index[empty][0]), column=column)


def _duplicates_error(path: PathLike, values: pd.Series, what: str, column: str) -> InputError | None:
    """An ``InputError`` naming the first repeated value and both its rows, else ``None``."""
    folded = values.str.casefold()
    repeated = folded[folded.duplicated(keep=False)]
    if repeated.empty:
        return None
    rows = repeated.index[repeated == repeated.iloc[0]].tolist()
    first, second = values[rows[0]], values[rows[1]]
    same = repr(first) if first == second else f"{first!r} (as {second!r})"
    return InputError(
        path, f"{what} {same} appears in rows {rows[0]} and {rows[1]}", row=rows[1], column=column
    )


# ---------------------------------------------------------------- profiles


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
    quota_cells = _stripped(frame, cols["quota"])

    reviewers, non_reviewers, multi_track = [], [], []
    stats = {
        "rows": len(frame),
        "programme_chairs": 0,
        "without_s2_id": 0,
        "s2_id_not_understood": [],
        "blank_rows": frame.attrs["blank_rows"],
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
            record["quota"] = _profile_quota(quota_cells[row], path, row, cols["quota"])
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


def _profile_quota(value: str, path: PathLike, row: int, column: str | None) -> int | None:
    """A profile's review quota: empty -> ``None`` (the default maximum), ``None`` -> 0."""
    if column is None or value == "":
        return None
    if value.casefold() == "none":
        return 0
    return _parse_quota(value, path, row, column)


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


# ---------------------------------------------------------------- submissions


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
        "blank_rows": frame.attrs["blank_rows"],
        "encoding": frame.attrs["encoding"],
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
            profile = by_email.get(email.casefold()) if email else None
            if profile is None and username:
                profile = by_username.get(username.casefold())
            if profile is not None:
                stats["authors_matched"] += 1
                authors.append(
                    {
                        "name": name or profile["name"],
                        "ids": list(profile["ids"]),
                        "startUsername": profile["startUsername"],
                        "email": email or profile["email"],
                        "affiliation": profile.get("affiliation", ""),
                    }
                )
            else:
                stats["authors_unmatched"] += 1
                authors.append(
                    {"name": name, "ids": [], "startUsername": username, "email": email, "affiliation": ""}
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
    if stats["authors_unmatched"]:
        logger.warning(
            "%s: %d authors have no profile (no email or username match)", path, stats["authors_unmatched"]
        )
    return kept, rejects, stats


def read_submissions(path: PathLike, profiles: list[dict] | None) -> tuple[list[dict], list[dict]]:
    """Read ``Submission_Information.csv``: kept submissions and set-aside ones.

    A submission whose ``Acceptance Status`` contains ``Reject`` (desk reject) or
    ``Withdraw`` (withdrawn) is set aside; the reference tool only checks for ``Reject``,
    so its withdrawn papers stay in the matching. Authors are matched to ``profiles``
    (all START profiles) by email, then by username.
    """
    kept, rejects, _ = _submission_records(path, profiles)
    return kept, rejects


# ---------------------------------------------------------------- bids and quotas


def _bid_codes(cells: pd.DataFrame, path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """START bid cells -> (reference codes, mask of empty cells); empty -> Maybe.

    Cells are looked up as written; only unusual ones (spaces, ``1.0``) are stripped and
    parsed as numbers. A cell that is neither empty nor a START code raises ``InputError``.
    """
    values = cells.to_numpy(dtype=object)
    flat = pd.Series(values.ravel(), dtype=object)
    cell_texts = pd.Index(list(_BID_CELLS), dtype=object)
    found = cell_texts.get_indexer(pd.Index(flat.to_numpy(), dtype=object, copy=False))
    codes = pd.Series(np.asarray(list(_BID_CELLS.values()), dtype=float)[found], dtype=float)
    unusual = found < 0
    codes[unusual] = np.nan
    if unusual.any():
        cleaned = flat[unusual].astype(str).str.strip()
        numbers = pd.to_numeric(cleaned, errors="coerce")
        parsed = numbers.map(lambda n: _BID_CELLS.get(str(int(n))) if n == n and n == int(n) else None)
        parsed[cleaned == ""] = _BID_CELLS[""]
        bad = parsed.isna().to_numpy()
        if bad.any():
            first = int(np.flatnonzero(unusual)[np.argmax(bad)])
            i, j = divmod(first, values.shape[1])
            raise InputError(
                path,
                f"invalid bid {flat.iloc[first]!r} (expected 1 = Yes, 2 = Maybe, 3 = No, 4 = COI or empty)",
                row=int(cells.index[i]),
                column=str(cells.columns[j]),
            )
        codes[unusual] = parsed.to_numpy()
    codes = codes.to_numpy(dtype=np.int8)
    empty = codes == _EMPTY_BID
    codes[empty] = BID_MAYBE
    return codes.reshape(values.shape), empty.reshape(values.shape)


def _reviewer_column_positions(columns: list[str], reviewer_ids: list[str], path: PathLike) -> dict[str, int]:
    """Bids column -> reviewer index, by exact username, else case-insensitively.

    Two columns naming the same reviewer raise ``InputError``; unknown columns are left out.
    """
    exact = {rid: j for j, rid in enumerate(reviewer_ids)}
    folded: dict[str, int] = {}
    for rid, j in exact.items():
        folded.setdefault(rid.casefold(), j)
    positions: dict[str, int] = {}
    claimed: dict[int, str] = {}
    for column in columns:
        j = exact.get(column, folded.get(column.casefold()))
        if j is None:
            continue
        if j in claimed:
            raise InputError(
                path,
                f"columns {claimed[j]!r} and {column!r} both name reviewer {reviewer_ids[j]!r}",
                column=column,
            )
        claimed[j] = column
        positions[column] = j
    return positions


def read_bids(
    path: PathLike,
    submission_ids: list[str],
    reviewer_ids: list[str],
    all_submission_ids: list[str] | None = None,
) -> tuple[np.ndarray, dict]:
    """Read a START bids matrix into an int8 P x R matrix of reference codes.

    The first column holds the submission id (whatever its header), the others reviewer
    usernames; START codes 1 = Yes, 2 = Maybe, 3 = No, 4 = COI become 3, 2, 1, 0; an
    empty cell or a missing row/column means Maybe (2). Rows are placed by submission id;
    rows of set-aside submissions (in ``all_submission_ids`` but not in
    ``submission_ids``), rows of unknown submissions and columns of unknown usernames are
    ignored and counted in the returned report.
    """
    frame = read_csv_export(path)
    if frame.shape[1] == 0:
        raise InputError(path, "no columns")
    id_column = frame.columns[0]
    row_ids = _stripped(frame, id_column)
    _raise_if_empty(path, row_ids, "submission id", str(id_column))
    error = _duplicates_error(path, row_ids, "submission id", str(id_column))
    if error is not None:
        raise error
    reviewer_columns = [str(c) for c in frame.columns[1:]]
    submission_position = {sid: i for i, sid in enumerate(submission_ids)}
    column_position = _reviewer_column_positions(reviewer_columns, reviewer_ids, path)

    in_kept = row_ids.isin(submission_position)
    set_aside_ids = set(all_submission_ids or []) - set(submission_position)
    set_aside = row_ids.isin(set_aside_ids) & ~in_kept
    unknown_rows = row_ids[~in_kept & ~set_aside]
    unknown_columns = [c for c in reviewer_columns if c not in column_position]

    bids = np.full((len(submission_ids), len(reviewer_ids)), BID_MAYBE, dtype=np.int8)
    used = frame.loc[in_kept.to_numpy(), list(column_position)]
    if used.size:
        codes, empty = _bid_codes(used, path)
        rows = row_ids[in_kept].map(submission_position).to_numpy(dtype=np.int64)
        cols = np.fromiter(column_position.values(), dtype=np.int64, count=len(column_position))
        bids[np.ix_(rows, cols)] = codes
        counts = np.bincount(codes[~empty].astype(np.int64), minlength=4)
    else:
        counts = np.zeros(4, dtype=np.int64)
    matched_reviewers = set(column_position.values())
    report = {
        "rows": len(frame),
        "rows_matched": int(in_kept.sum()),
        "rows_set_aside": int(set_aside.sum()),
        "rows_unknown": len(unknown_rows),
        "unknown_submission_ids": unknown_rows.tolist(),
        "submissions_without_row": len(submission_ids) - int(in_kept.sum()),
        "columns": len(reviewer_columns),
        "columns_matched": len(column_position),
        "unknown_usernames": unknown_columns,
        "reviewers_without_column": len(reviewer_ids) - len(matched_reviewers),
        "bids": {_BID_NAMES[code]: int(counts[code]) for code in (BID_YES, BID_MAYBE, BID_NO, BID_COI)},
    }
    logger.info(
        "%s: %d rows (%d matched, %d set aside, %d unknown), %d reviewer columns (%d unknown); "
        "%d submissions and %d reviewers without bids default to Maybe",
        path, report["rows"], report["rows_matched"], report["rows_set_aside"], report["rows_unknown"],
        report["columns"], len(unknown_columns),
        report["submissions_without_row"], report["reviewers_without_column"],
    )
    if unknown_rows.size:
        logger.warning(
            "%s: %d rows name unknown submissions: %s", path, len(unknown_rows), unknown_rows.tolist()[:20]
        )
    if unknown_columns:
        logger.warning(
            "%s: %d columns name unknown usernames: %s", path, len(unknown_columns), unknown_columns[:20]
        )
    return bids, report


def read_quotas(path: PathLike, reviewer_ids: list[str]) -> tuple[dict[str, int], dict]:
    """Read per-reviewer quotas (``Username``, ``Quota for Review|QuotaForReview|Quota``).

    An empty cell means no quota (the reviewer is absent from the result), ``None`` means
    0; anything else must be a non-negative integer (else ``InputError``). Rows of unknown
    usernames are ignored and counted in the returned report.
    """
    frame = read_csv_export(path)
    cols = find_columns(frame, QUOTA_COLUMNS, path)
    usernames = _stripped(frame, cols["username"])
    _raise_if_empty(path, usernames, "Username", cols["username"])
    error = _duplicates_error(path, usernames, "Username", cols["username"])
    if error is not None:
        raise error
    values = _stripped(frame, cols["quota"])
    known = set(reviewer_ids)
    quotas: dict[str, int] = {}
    stats = {"rows": len(frame), "quotas": 0, "empty": 0, "none": 0, "unknown_usernames": []}
    for row in frame.index:
        username, value = usernames[row], values[row]
        if username not in known:
            stats["unknown_usernames"].append(username)
            continue
        if value == "":
            stats["empty"] += 1
            continue
        if value.casefold() == "none":
            stats["none"] += 1
            quotas[username] = 0
            continue
        quotas[username] = _parse_quota(value, path, row, cols["quota"])
    stats["quotas"] = len(quotas)
    stats["reviewers_without_quota"] = len(known - set(quotas))
    logger.info(
        "%s: %d quotas (%d 'None' = 0), %d empty, %d unknown usernames ignored",
        path, stats["quotas"], stats["none"], stats["empty"], len(stats["unknown_usernames"]),
    )
    return quotas, stats


def with_quotas(reviewers: list[dict], quotas: dict[str, int]) -> int:
    """Set ``quota`` of the reviewers named in ``quotas`` (in place); return how many changed."""
    changed = 0
    for reviewer in reviewers:
        quota = quotas.get(reviewer["id"])
        if quota is not None:
            changed += reviewer.get("quota") not in (None, quota)
            reviewer["quota"] = quota
    if changed:
        logger.info("quotas file replaced %d profile quotas", changed)
    return changed


def _parse_quota(value: str, path: PathLike, row: int, column: str) -> int:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number) or number != int(number) or number < 0:
        raise InputError(path, f"quota {value!r} is not a non-negative integer", row=row, column=column)
    return int(number)


# ---------------------------------------------------------------- file level


def extract_softconf(
    profiles_csv: PathLike,
    submissions_csv: PathLike,
    bids_csv: PathLike | None,
    out_reviewers: PathLike,
    out_submissions: PathLike,
    out_rejects: PathLike,
    out_bids_npy: PathLike,
    out_non_reviewers: PathLike,
    out_multi_track_csv: PathLike,
    out_report_json: PathLike,
    quotas_csv: PathLike | None = None,
) -> dict:
    """START exports -> reviewers, submissions, rejects, bids matrix and an extraction report.

    Everything is read and checked before anything is written, so bad input leaves no
    output behind. Without a bids file every pair is Maybe (2). A quotas file sets the
    reviewers' ``quota`` (over a profile's ``Quota for Review``). Returns the report.
    """
    reviewers, non_reviewers, multi_track, profile_stats = _profile_records(profiles_csv)
    quota_report: dict = {"file": None}
    if quotas_csv is not None:
        quotas, quota_stats = read_quotas(quotas_csv, [r["id"] for r in reviewers])
        quota_report = {"file": str(quotas_csv), **quota_stats, "replaced": with_quotas(reviewers, quotas)}
    submissions, rejects, submission_stats = _submission_records(submissions_csv, reviewers + non_reviewers)
    submission_ids = [s["id"] for s in submissions]
    reviewer_ids = [r["id"] for r in reviewers]
    if bids_csv is None:
        bids = np.full((len(submission_ids), len(reviewer_ids)), BID_MAYBE, dtype=np.int8)
        bid_report: dict = {"file": None}
        logger.info("no bids file: every submission-reviewer pair is Maybe")
    else:
        all_ids = submission_ids + [r["startSubmissionId"] for r in rejects]
        bids, bid_report = read_bids(bids_csv, submission_ids, reviewer_ids, all_ids)
        bid_report = {"file": str(bids_csv), **bid_report}
    report = {
        "profiles": {"file": str(profiles_csv), **profile_stats},
        "submissions": {"file": str(submissions_csv), **submission_stats},
        "bids": bid_report,
        "quotas": quota_report,
        "shape": {"submissions": len(submission_ids), "reviewers": len(reviewer_ids)},
    }
    write_all_or_nothing([
        (out_reviewers, lambda p: write_jsonl(reviewers, p)),
        (out_submissions, lambda p: write_jsonl(submissions, p)),
        (out_rejects, lambda p: write_jsonl(rejects, p)),
        (out_bids_npy, lambda p: save_npy(bids, p)),
        (out_non_reviewers, lambda p: write_jsonl(non_reviewers, p)),
        (out_multi_track_csv, lambda p: write_csv(multi_track, p)),
        (out_report_json, lambda p: write_json(report, p)),
    ])
    return report


def write_all_or_nothing(writers: list[tuple[PathLike, Callable[[PathLike], object]]]) -> None:
    """Call each ``write(path)`` (each atomic); if one fails, remove the files already written."""
    written: list[Path] = []
    try:
        for path, write in writers:
            write(path)
            written.append(Path(path))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
