"""Where conflicts of interest (COIs) come from: bids, authorship, corpus co-authorship, the
same email domain or affiliation, and external COI files. Each source gives a bool P x R
matrix (rows in ``submissions.jsonl`` order, columns in ``reviewers.jsonl`` order)."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.conference.bids import BID_COI
from revmatch.conference.start_csv import find_column, read_csv_export
from revmatch.io import InputError, PathLike

logger = logging.getLogger(__name__)

# Mail providers anyone can use: sharing one says nothing about a conflict.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "yahoo.co.in",
        "yahoo.fr", "yahoo.de", "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "live.com",
        "outlook.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "protonmail.com",
        "proton.me", "pm.me", "gmx.de", "gmx.net", "gmx.com", "web.de", "mail.com", "mail.ru",
        "yandex.ru", "yandex.com", "qq.com", "163.com", "126.com", "sina.com", "sohu.com",
        "foxmail.com", "naver.com", "daum.net", "hanmail.net", "zoho.com", "fastmail.com",
        "tutanota.com", "rediffmail.com", "libero.it", "orange.fr", "free.fr", "laposte.net",
        "t-online.de", "seznam.cz", "wp.pl", "o2.pl", "163.net", "aliyun.com", "hey.com",
    }
)
# Second-level labels under which organisations register (``cam.ac.uk``, ``u-tokyo.ac.jp``).
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "org", "net", "ne", "or", "go", "gob", "res"})
# Words that say nothing about which organisation an affiliation is.
_AFFILIATION_STOPWORDS = frozenset(
    {"the", "of", "at", "and", "for", "in", "de", "del", "della", "der", "des", "du", "la", "le", "di",
     "inc", "ltd", "llc", "gmbh", "corp", "corporation", "co", "company", "plc", "sa", "ag"}
)
# Parts of an affiliation that name a unit inside an organisation, not the organisation.
_UNIT = re.compile(
    r"^(?:dept|department|school|faculty|lab|laboratory|labs|group|division|chair|centre|center"
    r"|program|programme|unit)\b"
)
_NO_AFFILIATION = frozenset(
    {"", "none", "n a", "na", "independent", "independent researcher", "unaffiliated", "self"}
)


def coi_from_bids(bids: np.ndarray) -> np.ndarray:
    """Pairs whose bid is COI (reference code 0)."""
    return np.asarray(bids) == BID_COI


def _pairs_to_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    matrix = np.zeros(shape, dtype=bool)
    matrix[rows, cols] = True
    return matrix


def author_people(submissions: list[dict]) -> list[tuple[int, dict]]:
    """(submission position, person) of every author, and of the other profile an author row
    named (``otherProfile``: its e-mail and username named two people): every COI source
    takes both as the author."""
    return [
        (p, person)
        for p, submission in enumerate(submissions)
        for author in submission.get("authors") or []
        for person in (author, author.get("otherProfile"))
        if person
    ]


def _person_keys(people: Iterable[dict]) -> pd.DataFrame:
    """(position, key) rows: a person's START username, email and Semantic Scholar ids."""
    positions, keys = [], []
    for i, person in enumerate(people):
        username = str(person.get("startUsername") or "").strip().casefold()
        email = str(person.get("email") or "").strip().casefold()
        for key in (f"username:{username}" if username else "", f"email:{email}" if email else ""):
            if key:
                positions.append(i)
                keys.append(key)
        for s2_id in person.get("ids") or []:
            if str(s2_id).strip():
                positions.append(i)
                keys.append(f"s2:{str(s2_id).strip()}")
    return pd.DataFrame({"position": np.asarray(positions, dtype=np.int64), "key": keys})


def coi_from_authorship(submissions: list[dict], reviewers: list[dict]) -> np.ndarray:
    """Pairs where the reviewer is an author of the submission.

    An author is the reviewer when they share the START username or the email (both
    case-insensitive) or a Semantic Scholar author id (submission authors carry the ids
    of the profile they were matched to, so a shared id means the same person under two
    START accounts). An author row whose e-mail and username named two profiles is both
    people (:func:`author_people`).
    """
    flat = author_people(submissions)
    authors = _person_keys(author for _, author in flat)
    owner = np.fromiter((p for p, _ in flat), dtype=np.int64, count=len(flat))
    authors["submission"] = owner[authors["position"].to_numpy(np.int64)]
    reviewer_keys = _person_keys(reviewers).rename(columns={"position": "reviewer"})
    pairs = authors.merge(reviewer_keys, on="key", how="inner")
    return _pairs_to_matrix(
        pairs["submission"].to_numpy(np.int64),
        pairs["reviewer"].to_numpy(np.int64),
        (len(submissions), len(reviewers)),
    )


def _incidence(owner_ids: list[list[str]], vocabulary: dict[str, int]) -> sp.csr_matrix:
    """Sparse owner x author-id incidence for ids in ``vocabulary``."""
    rows, cols = [], []
    for i, ids in enumerate(owner_ids):
        for s2_id in ids:
            j = vocabulary.get(str(s2_id).strip())
            if j is not None:
                rows.append(i)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.int32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(owner_ids), len(vocabulary)))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _paper_author_ids(papers: pd.DataFrame, since_year: int | None) -> pd.DataFrame:
    """(paper, author_id) rows of the papers in the window; counts what is left out."""
    frame = papers
    if since_year is not None:
        years = pd.to_numeric(frame["year"], errors="coerce")
        no_year = int(years.isna().sum())
        if no_year:
            logger.info("co-authorship: %d corpus papers without a year left out", no_year)
        frame = frame[(years >= since_year).fillna(False).to_numpy(dtype=bool)]
    exploded = frame["authors"].reset_index(drop=True).explode()
    ids = exploded.str.get("id")
    keep = ids.notna() & (ids.astype(str).str.strip() != "")
    return pd.DataFrame(
        {"paper": exploded.index[keep].to_numpy(np.int64), "author_id": ids[keep].astype(str).str.strip()}
    )


def coi_from_coauthorship(
    submissions: list[dict],
    reviewers: list[dict],
    papers: pd.DataFrame,
    since_year: int | None,
) -> np.ndarray:
    """Pairs where the reviewer co-wrote a corpus paper with an author of the submission.

    People are Semantic Scholar author ids (submission authors' and reviewers' ``ids``);
    ``papers`` has ``paper_id``, ``year`` and ``authors`` (list of ``{id, name}``); only
    papers with ``year >= since_year`` count (all when ``None``). Co-authors are two
    different ids on one paper; a reviewer who is the author is :func:`coi_from_authorship`'s.
    """
    shape = (len(submissions), len(reviewers))
    submission_ids: list[list[str]] = [[] for _ in submissions]
    for p, author in author_people(submissions):
        submission_ids[p].extend(author.get("ids") or [])
    reviewer_ids = [list(r.get("ids") or []) for r in reviewers]
    known = dict.fromkeys(str(i).strip() for ids in submission_ids + reviewer_ids for i in ids)
    known.pop("", None)
    vocabulary = {s2_id: k for k, s2_id in enumerate(known)}
    if not vocabulary or papers.empty:
        return np.zeros(shape, dtype=bool)
    links = _paper_author_ids(papers, since_year)
    links = links[links["author_id"].isin(vocabulary)]
    n_papers = int(links["paper"].max()) + 1 if len(links) else 0
    person_paper = sp.csr_matrix(
        (
            np.ones(len(links), dtype=np.int32),
            (links["author_id"].map(vocabulary).to_numpy(np.int64), links["paper"].to_numpy(np.int64)),
        ),
        shape=(len(vocabulary), n_papers),
    )
    person_paper.sum_duplicates()
    person_paper.data[:] = 1
    coauthors = (person_paper @ person_paper.T).tocsr()
    coauthors = (coauthors - sp.diags(coauthors.diagonal(), dtype=coauthors.dtype)).tocsr()
    coauthors.eliminate_zeros()
    submission_people = _incidence(submission_ids, vocabulary)
    reviewer_people = _incidence(reviewer_ids, vocabulary)
    shared = (submission_people @ coauthors @ reviewer_people.T).tocoo()
    logger.info(
        "co-authorship: %d corpus papers link %d of %d known author ids; %d pairs flagged",
        links["paper"].nunique(), int((person_paper.getnnz(axis=1) > 0).sum()), len(vocabulary), shared.nnz,
    )
    return _pairs_to_matrix(shared.row.astype(np.int64), shared.col.astype(np.int64), shape)


# ---------------------------------------------------------------- same organisation


def email_domain(email: str) -> str:
    """The organisation's domain of an email address (``''`` when there is none).

    ``jane@cs.cmu.edu`` -> ``cmu.edu``: the last two labels, or three under a second-level
    label of a country code (``nlp.cam.ac.uk`` -> ``cam.ac.uk``).
    """
    _, at, domain = str(email or "").strip().casefold().rpartition("@")
    labels = [label for label in domain.strip(".").split(".") if label] if at else []
    if len(labels) < 2:
        return ""
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def normalise_affiliation(text: str) -> str:
    """A comparable key for an affiliation (``''`` for none).

    Accents, case, punctuation, ``&`` and filler words (``of``, ``the``, ``Inc.``) go; of
    the comma-separated parts, the first that names an organisation rather than a unit
    (department, school, lab, ...) is kept, its words sorted, so that "Dept. of CS,
    University of Edinburgh" and "Edinburgh University" give the same key.
    """
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().casefold()
    folded = folded.replace("&", " and ")
    parts = []
    for part in re.split(r"[,;()/|]|\s-\s", folded):
        words = [w for w in re.sub(r"[^a-z0-9]+", " ", part).split() if w not in _AFFILIATION_STOPWORDS]
        if words:
            parts.append(words)
    organisations = [words for words in parts if not _UNIT.match(" ".join(words))] or parts
    if not organisations:
        return ""
    key = " ".join(sorted(organisations[0]))
    return "" if key in _NO_AFFILIATION else key


def _author_values(submissions: list[dict], field: str, normalise) -> pd.DataFrame:
    """(submission, key) rows: the normalised ``field`` of every author, empty ones left out."""
    rows = [(p, normalise(a.get(field, ""))) for p, a in author_people(submissions)]
    frame = pd.DataFrame(rows, columns=["submission", "key"]).astype({"submission": np.int64, "key": object})
    return frame[frame["key"] != ""].drop_duplicates()


def _reviewer_values(reviewers: list[dict], field: str, normalise) -> pd.DataFrame:
    keys = pd.Series([normalise(r.get(field, "")) for r in reviewers], dtype=object)
    frame = pd.DataFrame({"reviewer": np.arange(len(reviewers), dtype=np.int64), "key": keys})
    return frame[frame["key"] != ""]


def _shared_key_matrix(authors: pd.DataFrame, people: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    pairs = authors.merge(people, on="key", how="inner")
    return _pairs_to_matrix(
        pairs["submission"].to_numpy(np.int64), pairs["reviewer"].to_numpy(np.int64), shape
    )


def coi_from_email_domain(
    submissions: list[dict],
    reviewers: list[dict],
    public_domains: Iterable[str] = PUBLIC_EMAIL_DOMAINS,
) -> np.ndarray:
    """Pairs where the reviewer's email domain (:func:`email_domain`) is an author's.

    Domains in ``public_domains`` (mail providers) never make a conflict.
    """
    public = {str(d).strip().casefold() for d in public_domains}

    def organisation(email: str) -> str:
        domain, full = email_domain(email), str(email or "").strip().casefold().rpartition("@")[2]
        return "" if domain in public or full in public else domain

    authors = _author_values(submissions, "email", organisation)
    people = _reviewer_values(reviewers, "email", organisation)
    return _shared_key_matrix(authors, people, (len(submissions), len(reviewers)))


def coi_from_affiliation(submissions: list[dict], reviewers: list[dict]) -> np.ndarray:
    """Pairs where the reviewer's normalised affiliation (:func:`normalise_affiliation`) is an author's.

    Authors carry the affiliation of the START profile they were matched to; authors
    without a profile have none and never match.
    """
    authors = _author_values(submissions, "affiliation", normalise_affiliation)
    people = _reviewer_values(reviewers, "affiliation", normalise_affiliation)
    return _shared_key_matrix(authors, people, (len(submissions), len(reviewers)))


# ---------------------------------------------------------------- external COI files

EXTERNAL_REVIEWER = "Username|Reviewer Username|Reviewer|Username 1"
EXTERNAL_SUBMISSION = "Submission ID|Submission|Paper ID"
EXTERNAL_OTHER = "Other Username|Username 2|Conflict Username|Conflicted Username|Conflict"


def read_coi_pairs(path: PathLike) -> tuple[pd.DataFrame, str]:
    """Read an external COI file: ``(pairs, kind)``.

    ``kind`` is ``submission`` for a file of (``Username``, ``Submission ID``) pairs and
    ``person`` for (``Username``, ``Other Username``) pairs (headers may also be
    ``Username 1``/``Username 2``, ``Reviewer``, ``Paper ID``). ``pairs`` has the columns
    ``person``, ``other`` and the spreadsheet ``row``; an empty cell raises ``InputError``.
    A value with ``@`` is an email, else a START username.
    """
    frame = read_csv_export(path)
    person = find_column(frame, EXTERNAL_REVIEWER, path)
    submission = find_column(frame, EXTERNAL_SUBMISSION, path)
    other = find_column(frame, EXTERNAL_OTHER, path) if submission is None else None
    if person is None or (submission is None and other is None):
        missing = [n for n, c in ((EXTERNAL_REVIEWER, person), (f"{EXTERNAL_SUBMISSION} or {EXTERNAL_OTHER}",
                   submission or other)) if c is None]
        raise InputError(
            path,
            f"an external COI file needs a username column and a submission or second username column; "
            f"missing {', '.join(repr(m) for m in missing)}",
            row=1,
            column=missing[0].split("|")[0],
        )
    second = submission or other
    pairs = pd.DataFrame(
        {
            "person": frame[person].astype(str).str.strip(),
            "other": frame[second].astype(str).str.strip(),
            "row": frame.index.to_numpy(np.int64),
        }
    )
    for column, name in (("person", person), ("other", second)):
        empty = pairs[column] == ""
        if empty.any():
            row = int(pairs["row"][empty].iloc[0])
            raise InputError(path, "empty cell in a COI pair", row=row, column=name)
    return pairs.reset_index(drop=True), "submission" if submission is not None else "person"


def _value_keys(values: pd.Series) -> pd.Series:
    folded = values.astype(str).str.strip().str.casefold()
    is_email = folded.str.contains("@", regex=False)
    kind = pd.Series(np.where(is_email, "email:", "username:"), index=values.index)
    return (kind + folded).reset_index(drop=True)


def coi_from_pairs(
    pairs: pd.DataFrame,
    kind: str,
    submissions: list[dict],
    reviewers: list[dict],
) -> tuple[np.ndarray, dict]:
    """COI matrix from external pairs (see :func:`read_coi_pairs`) and counts of what matched.

    ``submission`` pairs flag (reviewer, submission); ``person`` pairs flag, both ways,
    the first person as reviewer of every submission the second wrote. People are matched
    to reviewers and authors by START username or email (case-insensitive). Values that
    name nobody known, unknown submission ids (e.g. set-aside ones) and pairs that flag
    nothing are counted in the returned report.
    """
    reviewer_keys = _person_keys(reviewers).rename(columns={"position": "reviewer"})
    person_keys = _value_keys(pairs["person"])
    pair_index = np.arange(len(pairs), dtype=np.int64)
    if kind == "submission":
        ids = [str(s["id"]) for s in submissions]
        position = pd.Series(np.arange(len(submissions), dtype=np.int64), index=ids)
        wanted = pd.DataFrame(
            {"key": person_keys, "submission": pairs["other"].map(position).to_numpy(), "pair": pair_index}
        )
        hits = wanted.merge(reviewer_keys, on="key").dropna(subset=["submission"])
        stats = {
            "unknown_usernames": sorted(set(pairs["person"][~person_keys.isin(reviewer_keys["key"]).values])),
            "unknown_submissions": sorted(set(pairs["other"][wanted["submission"].isna().to_numpy()])),
        }
    elif kind == "person":
        flat = author_people(submissions)
        author_keys = _person_keys(a for _, a in flat)
        owner = np.fromiter((p for p, _ in flat), dtype=np.int64, count=len(flat))
        authors = pd.DataFrame(
            {"author": author_keys["key"], "submission": owner[author_keys["position"].to_numpy(np.int64)]}
        )
        other_keys = _value_keys(pairs["other"])
        both_ways = pd.DataFrame(
            {
                "key": np.concatenate([person_keys, other_keys]),
                "author": np.concatenate([other_keys, person_keys]),
                "pair": np.concatenate([pair_index, pair_index]),
            }
        )
        hits = both_ways.merge(reviewer_keys, on="key").merge(authors, on="author")
        known = set(reviewer_keys["key"]) | set(authors["author"])
        values = np.concatenate([pairs["person"].to_numpy(), pairs["other"].to_numpy()])
        unknown = ~pd.Series(np.concatenate([person_keys, other_keys])).isin(known).to_numpy()
        stats = {"unknown_usernames": sorted(set(values[unknown]))}
    else:
        raise ValueError(f"unknown COI pair kind {kind!r} (submission or person)")
    matrix = _pairs_to_matrix(
        hits["submission"].to_numpy(np.int64),
        hits["reviewer"].to_numpy(np.int64),
        (len(submissions), len(reviewers)),
    )
    stats.update(
        {
            "kind": kind,
            "pairs": len(pairs),
            "pairs_without_effect": len(pairs) - int(hits["pair"].nunique()),
            "coi_pairs": int(matrix.sum()),
        }
    )
    return matrix, stats
