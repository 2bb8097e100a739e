import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revmatch import coi, softconf
from revmatch.io import InputError, save_npy, write_jsonl, write_parquet

REVIEWERS = [
    {"id": "alice", "startUsername": "alice", "email": "alice@uni.edu", "ids": ["111"]},
    {"id": "bob", "startUsername": "bob", "email": "bob@x.org", "ids": ["222"]},
    {"id": "gina", "startUsername": "gina", "email": "gina@x.org", "ids": ["777"]},
    {"id": "dave", "startUsername": "dave", "email": "dave@x.org", "ids": ["444"]},
]
SUBMISSIONS = [
    {"id": "101", "authors": [
        {"name": "Frank Fox", "ids": ["666"], "startUsername": "frank", "email": "frank@x.org"},
        {"name": "Alice Smith", "ids": ["111"], "startUsername": "ALICE", "email": ""},
    ]},
    {"id": "102", "authors": [
        {"name": "Zed", "ids": [], "startUsername": "zed", "email": "zed@nowhere.org"},
        {"name": "Bob Jones", "ids": [], "startUsername": "", "email": "BOB@x.org"},
    ]},
    {"id": "105", "authors": [{"name": "Gina Gray", "ids": [], "startUsername": "gina", "email": ""}]},
]
PAPERS = pd.DataFrame(
    {
        "paper_id": ["p1", "p2", "p3", "p4"],
        "year": pd.array([2020, 2019, 2010, None], dtype="Int64"),
        "authors": [
            [{"id": "111", "name": "Alice Smith"}, {"id": "999", "name": "Someone"}],
            [{"id": "666", "name": "Frank Fox"}, {"id": "777", "name": "Gina Gray"}],
            [
                {"id": "444", "name": "Dave Kim"},
                {"id": "666", "name": "Frank Fox"},
                {"id": None, "name": "X"},
            ],
            [{"id": "222", "name": "Bob Jones"}, {"id": "666", "name": "Frank Fox"}],
        ],
    }
)


def pairs(matrix: np.ndarray) -> set[tuple[str, str]]:
    rows, cols = np.nonzero(matrix)
    return {(SUBMISSIONS[p]["id"], REVIEWERS[r]["id"]) for p, r in zip(rows, cols)}


def test_coi_from_bids():
    bids = np.array([[0, 1, 2, 3], [3, 0, 0, 2]], dtype=np.int8)
    np.testing.assert_array_equal(coi.coi_from_bids(bids), bids == 0)
    assert coi.coi_from_bids(bids).dtype == bool


def test_coi_from_authorship_by_username_email_case_insensitive():
    matrix = coi.coi_from_authorship(SUBMISSIONS, REVIEWERS)
    assert matrix.shape == (3, 4) and matrix.dtype == bool
    assert pairs(matrix) == {("101", "alice"), ("102", "bob"), ("105", "gina")}


def test_coi_from_authorship_shared_semantic_scholar_id():
    twin = [{"id": "alice2", "startUsername": "alice2", "email": "a2@other.org", "ids": ["111"]}]
    assert coi.coi_from_authorship(SUBMISSIONS, twin)[:, 0].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (2018, {("101", "gina")}),
        (2020, set()),
        (None, {("101", "gina"), ("101", "dave"), ("101", "bob")}),
    ],
)
def test_coi_from_coauthorship_window(since, expected):
    matrix = coi.coi_from_coauthorship(SUBMISSIONS, REVIEWERS, PAPERS, since)
    # alice wrote p1 but is an author of 101 herself: that is authorship, not co-authorship
    assert pairs(matrix) == expected


def test_coi_from_coauthorship_without_ids_or_papers():
    no_ids = [{**r, "ids": []} for r in REVIEWERS]
    assert not coi.coi_from_coauthorship(SUBMISSIONS, no_ids, PAPERS, None).any()
    assert not coi.coi_from_coauthorship(SUBMISSIONS, REVIEWERS, PAPERS.iloc[:0], None).any()


def test_merge_cois_union_and_reasons():
    bid = np.zeros((3, 4), dtype=bool)
    bid[1, 1] = bid[0, 3] = True
    authorship = coi.coi_from_authorship(SUBMISSIONS, REVIEWERS)
    merged, reasons = coi.merge_cois(
        {"bid": bid, "authorship": authorship}, [s["id"] for s in SUBMISSIONS], [r["id"] for r in REVIEWERS]
    )
    np.testing.assert_array_equal(merged, bid | authorship)
    assert list(reasons.columns) == ["submission_id", "reviewer_id", "reason"]
    assert list(reasons.itertuples(index=False, name=None)) == [
        ("101", "alice", "authorship"),
        ("101", "dave", "bid"),
        ("102", "bob", "bid"),
        ("102", "bob", "authorship"),
        ("105", "gina", "authorship"),
    ]
    with pytest.raises(ValueError, match="shape"):
        coi.merge_cois({"bid": bid[:2]}, ["a", "b", "c"], ["1", "2", "3", "4"])


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_merge_cois_file_from_start_exports(tmp_path):
    profiles = _write(
        tmp_path / "Profile_Information.csv",
        ["Username", "Email", "First Name", "Last Name", "Semantic Scholar ID", "Roles"],
        [
            ["alice", "alice@uni.edu", "Alice", "Smith", "https://www.semanticscholar.org/author/A/111",
             "committee:MT"],
            ["bob", "bob@x.org", "Bob", "Jones", "222", "committee:MT"],
            ["gina", "gina@x.org", "Gina", "Gray", "777", "committee:MT"],
            ["frank", "frank@x.org", "Frank", "Fox", "666", "Author"],
        ],
    )
    submissions = _write(
        tmp_path / "Submission_Information.csv",
        ["Submission ID", "Title", "Track", "Submission Type", "Abstract", "Authors", "All Author Emails",
         "1: Username", "2: Username"],
        [
            ["1", "T1", "MT", "long", "A", "Frank Fox", "frank@x.org", "frank", ""],
            ["2", "T2", "MT", "long", "A", "Bob Jones and Frank Fox", "bob@x.org; frank@x.org",
             "bob", "frank"],
        ],
    )
    bid_rows = [["1", "4", "", ""], ["2", "", "", ""]]
    bids = _write(tmp_path / "bids.csv", ["Submission ID", "alice", "bob", "gina"], bid_rows)
    out = tmp_path / "conf"
    softconf.extract_softconf(
        profiles, submissions, bids,
        out / "reviewers.jsonl", out / "submissions.jsonl", out / "rejects.jsonl", out / "bids.npy",
        out / "non_reviewers.jsonl", out / "multi.csv", out / "report.json",
    )
    write_parquet(PAPERS, tmp_path / "papers.parquet")
    coi.merge_cois_file(
        out / "submissions.jsonl", out / "reviewers.jsonl", out / "bids.npy", tmp_path / "papers.parquet",
        out / "coi.npy", out / "coi_reasons.csv", out / "coi_report.txt", coauthor_since_year=2018,
    )
    matrix = np.load(out / "coi.npy")
    assert matrix.dtype == bool
    # rows: submissions 1, 2; columns: alice, bob, gina
    np.testing.assert_array_equal(matrix, [[True, False, True], [False, True, True]])
    reasons = pd.read_csv(out / "coi_reasons.csv", dtype=str)
    assert set(reasons.itertuples(index=False, name=None)) == {
        ("1", "alice", "bid"),
        ("1", "gina", "coauthorship"),
        ("2", "bob", "authorship"),
        ("2", "gina", "coauthorship"),
    }
    report = (out / "coi_report.txt").read_text()
    assert "COI pairs: 4 of 6" in report
    assert "bid: 1 pairs" in report and "authorship: 1 pairs" in report and "coauthorship: 2 pairs" in report
    assert "from 2018 on" in report


def test_merge_cois_file_checks_bids_shape(tmp_path):
    write_jsonl(SUBMISSIONS, tmp_path / "s.jsonl")
    write_jsonl(REVIEWERS, tmp_path / "r.jsonl")
    save_npy(np.full((2, 4), 2, dtype=np.int8), tmp_path / "bids.npy")
    with pytest.raises(InputError, match="shape"):
        coi.merge_cois_file(
            tmp_path / "s.jsonl", tmp_path / "r.jsonl", tmp_path / "bids.npy", None,
            tmp_path / "coi.npy", tmp_path / "reasons.csv", tmp_path / "report.txt",
        )
    assert not (tmp_path / "coi.npy").exists()
