"""Invariants of the committed demo conference (resources/demo/) and of its builder."""

import csv
import gzip
import importlib.util
import json
import re
import sys

import pandas as pd
import pytest

from tests.conftest import DEMO, REPO

SOURCE = REPO.parent / "shared" / "data" / "acl-anthology"
TRACKS = {
    "Machine Translation",
    "Dialogue and Interactive Systems",
    "Information Extraction",
    "Sentiment Analysis, Stylistic Analysis, and Argument Mining",
    "Resources and Evaluation",
}
S2_FIELDS = [
    "id", "title", "paperAbstract", "entities", "s2Url", "pdfUrls", "s2PdfUrl", "authors", "inCitations",
    "outCitations", "year", "venue", "journalName", "journalVolume", "journalPages", "sources", "doi",
    "doiUrl", "pmid", "fieldsOfStudy", "magId",
]
ACL_URL = re.compile(r"^https://(www\.aclweb\.org/anthology|aclanthology\.org)/[^/]+\.pdf$")
GENERATED = [
    *(f"s2/s2-corpus-{k:03d}.jsonl.gz" for k in range(5)),
    "start/Profile_Information.csv",
    "start/Submission_Information.csv",
    "start/Bid_Information.csv",
    "start/quotas.csv",
    "reviews.csv",
    "reviews_truth/submissions.csv",
    "reviews_truth/reviewers.csv",
    "reviews_truth/expertise.csv",
]


def read_rows(name: str) -> list[list[str]]:
    with open(DEMO / name, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def read_dicts(name: str) -> list[dict]:
    header, *rows = read_rows(name)
    return [dict(zip(header, row + [""] * (len(header) - len(row)), strict=True)) for row in rows]


def parse_role(roles: str) -> tuple[str, list[str]]:
    """(kind, tracks) of a START ``Roles`` value as the demo writes it."""
    if roles == "manager:committee":
        return "chair", []
    if roles == "Author":
        return "author", []
    parts = roles.split(":")[1:]
    if parts[-1] == "Meta Reviewer":
        return "area_chair", parts[:-1]
    if parts[-1].endswith("(manager 1)"):
        return "senior_area_chair", parts[:1]
    return "reviewer", parts


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    records = []
    for k in range(5):
        with gzip.open(DEMO / "s2" / f"s2-corpus-{k:03d}.jsonl.gz", "rt", encoding="utf-8") as fh:
            records.extend(json.loads(line) for line in fh)
    return records


@pytest.fixture(scope="module")
def profiles() -> list[dict]:
    rows = read_dicts("start/Profile_Information.csv")
    for row in rows:
        row["kind"], row["tracks"] = parse_role(row["Roles"])
        row["s2"] = row["Semantic Scholar ID"].rstrip("/").rsplit("/", 1)[-1]
    return rows


@pytest.fixture(scope="module")
def submissions() -> list[dict]:
    return read_dicts("start/Submission_Information.csv")


def test_every_generated_file_is_there_and_the_demo_is_small():
    sizes = {name: (DEMO / name).stat().st_size for name in GENERATED}
    assert all(size > 0 for size in sizes.values()), sizes
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 4_000_000


def test_s2_chunks_are_byte_stable_gzip_of_legacy_records(corpus):
    for k in range(5):
        head = (DEMO / "s2" / f"s2-corpus-{k:03d}.jsonl.gz").read_bytes()[:10]
        assert head[:2] == b"\x1f\x8b"
        assert head[3] & 0x08 == 0, "no file name in the gzip header"
        assert head[4:8] == b"\0\0\0\0", "gzip mtime is 0"
    assert all(list(r) == S2_FIELDS for r in corpus)
    ids = [r["id"] for r in corpus]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{40}", i) for i in ids)


def test_corpus_holds_acl_papers_and_records_the_filter_drops(corpus):
    acl = [r for r in corpus if r["pdfUrls"] and ACL_URL.match(r["pdfUrls"][0])]
    other = [r for r in corpus if r not in acl]
    with_abstract = [r for r in acl if r["paperAbstract"]]
    assert 3800 <= len(with_abstract) <= 4200
    assert 5 <= len(acl) - len(with_abstract) <= 30
    assert all(2016 <= r["year"] <= 2021 for r in acl)
    assert any("aclanthology.org" in r["pdfUrls"][0] for r in acl)
    assert any("aclweb.org" in r["pdfUrls"][0] for r in acl)
    assert all(r["authors"] and all(a["ids"] for a in r["authors"]) for r in acl)
    assert 250 <= len(other) <= 350
    assert not any("aclweb.org" in json.dumps(r) or "aclanthology.org" in json.dumps(r) for r in other)
    assert any(not r["paperAbstract"] for r in other)
    assert all("synthetic" in r["title"].lower() for r in other)


def test_profiles_have_the_committee_of_a_conference(profiles):
    header = read_rows("start/Profile_Information.csv")[0]
    assert header[:2] == ["Username", "Email"]
    assert {"First Name", "Last Name", "Semantic Scholar ID", "Roles", "PCRole", "emergencyReviewer"} <= set(header)
    assert 280 <= len(profiles) <= 320
    usernames = [p["Username"] for p in profiles]
    assert len(set(usernames)) == len(usernames)
    assert all(p["Email"].startswith(p["Username"] + "@") for p in profiles)
    kinds = pd.Series([p["kind"] for p in profiles]).value_counts()
    assert kinds["chair"] == 1
    assert 20 <= kinds["area_chair"] <= 30
    assert 4 <= kinds["senior_area_chair"] <= 6
    assert 3 <= kinds["author"] <= 40
    assert all(set(p["tracks"]) <= TRACKS for p in profiles)
    assert sum(len(p["tracks"]) == 2 for p in profiles if p["kind"] == "reviewer") >= 5
    emergency = [p for p in profiles if "Yes" in p["emergencyReviewer"] and p["PCRole"] == "no"]
    assert 5 <= len(emergency) <= 15
    short = sum(len(row) < len(header) for row in read_rows("start/Profile_Information.csv")[1:])
    assert 0.05 * len(profiles) <= short <= 0.2 * len(profiles)


def test_most_reviewers_map_to_corpus_authors(profiles, corpus):
    author_ids = {i for r in corpus for a in r["authors"] for i in a["ids"]}
    committee = [p for p in profiles if p["kind"] in ("reviewer", "area_chair", "senior_area_chair")]
    with_id = [p for p in committee if p["s2"]]
    mapped = [p for p in with_id if p["s2"] in author_ids]
    assert len(mapped) >= 0.85 * len(committee)
    assert 10 <= len(with_id) - len(mapped) <= 20, "about 15 reviewers without corpus papers"
    assert any(p["Semantic Scholar ID"].startswith("https://www.semanticscholar.org/author/") for p in with_id)
    assert any(p["Semantic Scholar ID"] == p["s2"] for p in with_id)


def test_submissions_are_real_looking_start_rows(submissions, profiles):
    assert 140 <= len(submissions) <= 160
    assert [s["Submission ID"] for s in submissions] == [str(k) for k in range(1, len(submissions) + 1)]
    assert {s["Track"] for s in submissions} == TRACKS
    assert {s["Submission Type"] for s in submissions} == {"Long Paper", "Short Paper"}
    status = pd.Series([s["Acceptance Status"] for s in submissions]).value_counts()
    assert status["Desk Reject"] == 4 and status["Withdrawn"] == 3
    assert any("\n" in s["Abstract"] for s in submissions)
    assert any('"' in s["Abstract"] for s in submissions)
    known = {p["Username"]: p for p in profiles}
    reviewer_authors = 0
    for s in submissions:
        names = re.split(r", | and ", s["Authors"])
        emails = s["All Author Emails"].split("; ")
        assert len(names) == len(emails)
        for k, email in enumerate(emails, start=1):
            username = s[f"{k}: Username"]
            if username:
                assert known[username]["Email"] == email
                reviewer_authors += known[username]["kind"] == "reviewer"
    assert reviewer_authors >= 5


def test_every_track_is_feasible(submissions, profiles):
    quotas = {row["Username"]: int(row["Quota for Review"]) for row in read_dicts("start/quotas.csv")}
    active = [s for s in submissions if s["Acceptance Status"] in ("", "Awaiting Decision")]
    for track in TRACKS:
        reviewers = [p for p in profiles if p["kind"] == "reviewer" and track in p["tracks"]]
        capacity = sum(min(quotas.get(p["Username"], 6), 6) for p in reviewers)
        papers = sum(s["Track"] == track for s in active)
        assert papers >= 10
        assert capacity >= 3 * papers, track


def test_quotas_are_small_integers_of_reviewers(profiles):
    rows = read_dicts("start/quotas.csv")
    reviewers = {p["Username"] for p in profiles if p["kind"] == "reviewer"}
    assert 30 <= len(rows) <= 50
    assert all(r["Username"] in reviewers and 2 <= int(r["Quota for Review"]) <= 6 for r in rows)


def test_bids_matrix_is_submissions_by_bidders(submissions, profiles):
    header, *rows = read_rows("start/Bid_Information.csv")
    bidders = [p["Username"] for p in profiles if p["kind"] in ("reviewer", "area_chair")]
    assert header[0] == "Submission ID/Username" and header[-1] == ""
    assert header[1:-1] == bidders
    assert [r[0] for r in rows] == [s["Submission ID"] for s in submissions]
    assert all(len(r) == len(header) and r[-1] == "" for r in rows)
    cells = pd.Series([c for r in rows for c in r[1:-1]])
    assert set(cells) <= {"", "1", "2", "3", "4"}
    counts = cells.value_counts()
    assert counts[""] > 0.8 * len(cells)
    assert {"1", "2", "3", "4"} <= set(counts.index)
    per_bidder = (pd.DataFrame([r[1:-1] for r in rows]) != "").sum(axis=0)
    assert 8 <= per_bidder.mean() <= 20


def test_reviews_cover_active_submissions_by_their_track_reviewers(submissions, profiles):
    reviews = pd.read_csv(DEMO / "reviews.csv", dtype={"Submission ID": str})
    assert list(reviews.columns) == ["Submission ID", "Reviewer Username", "Overall Recommendation", "Reviewer Expertise"]
    active = {s["Submission ID"]: s for s in submissions if s["Acceptance Status"] in ("", "Awaiting Decision")}
    assert set(reviews["Submission ID"]) == set(active)
    assert (reviews.groupby("Submission ID").size() == 3).all()
    assert not reviews.duplicated(["Submission ID", "Reviewer Username"]).any()
    assert reviews["Overall Recommendation"].between(1, 5).all()
    assert reviews["Reviewer Expertise"].between(1, 3).all()
    people = {p["Username"]: p for p in profiles}
    for sid, username in zip(reviews["Submission ID"], reviews["Reviewer Username"], strict=True):
        person = people[username]
        assert person["kind"] == "reviewer" and active[sid]["Track"] in person["tracks"]
        authors = {active[sid][f"{k}: Username"] for k in range(1, 11) if f"{k}: Username" in active[sid]}
        assert username not in authors
    load = reviews.groupby("Reviewer Username").size()
    assert load.max() <= 6


def test_review_truth_is_keyed_by_the_review_ids():
    reviews = pd.read_csv(DEMO / "reviews.csv", dtype=str)
    truth = {n: pd.read_csv(DEMO / "reviews_truth" / f"{n}.csv", dtype=str) for n in ("submissions", "reviewers", "expertise")}
    assert set(truth["submissions"].iloc[:, 0]) == set(reviews["Submission ID"])
    assert set(truth["reviewers"].iloc[:, 0]) == set(reviews["Reviewer Username"])
    assert len(truth["expertise"]) == 3


def _load_builder():
    path = DEMO / "build_demo.py"
    spec = importlib.util.spec_from_file_location("build_demo", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_demo"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (SOURCE / "papers.jsonl.gz").exists(), reason="ACL Anthology metadata not available")
def test_builder_reproduces_the_committed_files_byte_for_byte(tmp_path):
    builder = _load_builder()
    assert builder.main(["--source", str(SOURCE), "--out", str(tmp_path)]) == 0
    built = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert built == sorted(GENERATED)
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
