import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revmatch.conference import coi, coi_sources
from revmatch.conference.softconf import extract_softconf
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
    np.testing.assert_array_equal(coi_sources.coi_from_bids(bids), bids == 0)
    assert coi_sources.coi_from_bids(bids).dtype == bool


def test_coi_from_authorship_by_username_email_case_insensitive():
    matrix = coi_sources.coi_from_authorship(SUBMISSIONS, REVIEWERS)
    assert matrix.shape == (3, 4) and matrix.dtype == bool
    assert pairs(matrix) == {("101", "alice"), ("102", "bob"), ("105", "gina")}


def test_coi_from_authorship_shared_semantic_scholar_id():
    twin = [{"id": "alice2", "startUsername": "alice2", "email": "a2@other.org", "ids": ["111"]}]
    assert coi_sources.coi_from_authorship(SUBMISSIONS, twin)[:, 0].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (2018, {("101", "gina")}),
        (2020, set()),
        (None, {("101", "gina"), ("101", "dave"), ("101", "bob")}),
    ],
)
def test_coi_from_coauthorship_window(since, expected):
    matrix = coi_sources.coi_from_coauthorship(SUBMISSIONS, REVIEWERS, PAPERS, since)
    # alice wrote p1 but is an author of 101 herself: that is authorship, not co-authorship
    assert pairs(matrix) == expected


def test_coi_from_coauthorship_without_ids_or_papers():
    no_ids = [{**r, "ids": []} for r in REVIEWERS]
    assert not coi_sources.coi_from_coauthorship(SUBMISSIONS, no_ids, PAPERS, None).any()
    assert not coi_sources.coi_from_coauthorship(SUBMISSIONS, REVIEWERS, PAPERS.iloc[:0], None).any()


def test_merge_cois_union_and_reasons():
    bid = np.zeros((3, 4), dtype=bool)
    bid[1, 1] = bid[0, 3] = True
    authorship = coi_sources.coi_from_authorship(SUBMISSIONS, REVIEWERS)
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
    extract_softconf(
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


# ---------------------------------------------------------------- same organisation


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("jane@cs.cmu.edu", "cmu.edu"),
        ("J@NLP.Cam.AC.UK", "cam.ac.uk"),
        ("x@u-tokyo.ac.jp", "u-tokyo.ac.jp"),
        ("x@google.com", "google.com"),
        ("no-at-sign", ""),
        ("x@localhost", ""),
        ("", ""),
    ],
)
def test_email_domain(email, domain):
    assert coi_sources.email_domain(email) == domain


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Dept. of CS, University of Edinburgh", "Edinburgh University", True),
        ("Université de Montréal", "universite de montreal", True),
        ("Google Inc.", "Google", True),
        ("School of Informatics, University of Edinburgh, UK", "University of Edinburgh", True),
        ("Stanford University, USA", "Google, USA", False),
        ("Independent Researcher", "independent researcher", False),
        ("", "", False),
    ],
)
def test_normalise_affiliation(a, b, same):
    key_a, key_b = coi_sources.normalise_affiliation(a), coi_sources.normalise_affiliation(b)
    assert (bool(key_a) and key_a == key_b) == same


ORG_REVIEWERS = [
    {"id": "r1", "email": "r1@cs.cmu.edu", "affiliation": "Carnegie Mellon University"},
    {"id": "r2", "email": "r2@gmail.com", "affiliation": ""},
    {"id": "r3", "email": "r3@ed.ac.uk", "affiliation": "School of Informatics, University of Edinburgh"},
]
ORG_SUBMISSIONS = [
    {"id": "s1", "authors": [{"email": "a@lti.cmu.edu", "affiliation": ""}]},
    {"id": "s2", "authors": [{"email": "b@gmail.com", "affiliation": "University of Edinburgh"}]},
    {"id": "s3", "authors": [{"email": "c@inf.ed.ac.uk", "affiliation": "Carnegie Mellon University, Pittsburgh"}]},
]


def org_pairs(matrix):
    rows, cols = np.nonzero(matrix)
    return {(ORG_SUBMISSIONS[p]["id"], ORG_REVIEWERS[r]["id"]) for p, r in zip(rows, cols)}


def test_coi_from_email_domain_leaves_out_public_providers():
    matrix = coi_sources.coi_from_email_domain(ORG_SUBMISSIONS, ORG_REVIEWERS)
    assert org_pairs(matrix) == {("s1", "r1"), ("s3", "r3")}  # not s2-r2 (gmail.com)
    extra = coi_sources.PUBLIC_EMAIL_DOMAINS | {"ed.ac.uk"}
    matrix = coi_sources.coi_from_email_domain(ORG_SUBMISSIONS, ORG_REVIEWERS, extra)
    assert org_pairs(matrix) == {("s1", "r1")}


def test_coi_from_affiliation_normalised():
    matrix = coi_sources.coi_from_affiliation(ORG_SUBMISSIONS, ORG_REVIEWERS)
    assert org_pairs(matrix) == {("s2", "r3"), ("s3", "r1")}


# ---------------------------------------------------------------- external files


def test_external_submission_pairs(tmp_path):
    path = _write(
        tmp_path / "cois.csv", ["Username", "Submission ID"],
        [["ALICE", "102"], ["bob@x.org", "105"], ["ghost", "101"], ["dave", "999"]],
    )
    pairs, kind = coi_sources.read_coi_pairs(path)
    assert kind == "submission" and pairs["row"].tolist() == [2, 3, 4, 5]
    matrix, stats = coi_sources.coi_from_pairs(pairs, kind, SUBMISSIONS, REVIEWERS)
    assert pairs_of(matrix) == {("102", "alice"), ("105", "bob")}
    assert stats["unknown_usernames"] == ["ghost"] and stats["unknown_submissions"] == ["999"]
    assert stats["pairs_without_effect"] == 2 and stats["coi_pairs"] == 2


def test_external_person_pairs_flag_both_ways(tmp_path):
    path = _write(
        tmp_path / "people.csv", ["Username 1", "Username 2"],
        [["dave", "frank"], ["zed@nowhere.org", "gina"], ["nobody", "dave"]],
    )
    pairs, kind = coi_sources.read_coi_pairs(path)
    assert kind == "person"
    matrix, stats = coi_sources.coi_from_pairs(pairs, kind, SUBMISSIONS, REVIEWERS)
    # dave reviews frank's 101; gina reviews zed's 102; (gina wrote 105, zed is no reviewer)
    assert pairs_of(matrix) == {("101", "dave"), ("102", "gina")}
    assert stats["unknown_usernames"] == ["nobody"] and stats["pairs_without_effect"] == 1


def test_external_file_errors_are_located(tmp_path):
    path = _write(tmp_path / "bad.csv", ["Username", "Note"], [["a", "b"]])
    with pytest.raises(InputError) as err:
        coi_sources.read_coi_pairs(path)
    assert (err.value.row, err.value.column) == (1, "Submission ID")
    path = _write(tmp_path / "empty.csv", ["Username", "Submission ID"], [["a", "1"], ["", "2"]])
    with pytest.raises(InputError) as err:
        coi_sources.read_coi_pairs(path)
    assert (err.value.path, err.value.row, err.value.column) == (str(path), 3, "Username")


def pairs_of(matrix):
    return pairs(matrix)


def test_merge_cois_file_every_source_with_index_files(tmp_path):
    reviewers = [
        {**r, "affiliation": a}
        for r, a in zip(REVIEWERS, ["Uni A", "X Corp", "", "Uni B"])
    ]
    submissions = [
        {**SUBMISSIONS[0], "authors": [{**a, "affiliation": ""} for a in SUBMISSIONS[0]["authors"]]},
        {**SUBMISSIONS[1], "authors": [{**SUBMISSIONS[1]["authors"][0], "affiliation": "uni b"},
                                       {**SUBMISSIONS[1]["authors"][1], "affiliation": ""}]},
        SUBMISSIONS[2],
    ]
    write_jsonl(submissions, tmp_path / "s.jsonl")
    write_jsonl(reviewers, tmp_path / "r.jsonl")
    save_npy(np.full((3, 4), 2, dtype=np.int8), tmp_path / "bids.npy")
    write_parquet(PAPERS, tmp_path / "papers.parquet")
    external = _write(tmp_path / "ext.csv", ["Username", "Submission ID"], [["gina", "102"]])
    out = tmp_path / "out"
    counts = coi.merge_cois_file(
        tmp_path / "s.jsonl", tmp_path / "r.jsonl", tmp_path / "bids.npy", tmp_path / "papers.parquet",
        out / "coi.npy", out / "reasons.csv", out / "report.txt", coauthor_since_year=2018,
        external_csvs=[external], same_email_domain=True, same_affiliation=True,
        out_submission_index=out / "rows.txt", out_reviewer_index=out / "cols.txt",
    )
    assert (out / "rows.txt").read_text().split() == ["101", "102", "105"]
    assert (out / "cols.txt").read_text().split() == ["alice", "bob", "gina", "dave"]
    reasons = set(pd.read_csv(out / "reasons.csv", dtype=str).itertuples(index=False, name=None))
    # x.org: authors frank (101) and bob (102); reviewers bob, gina and dave
    same_domain = {(sid, rid, "email_domain") for sid in ("101", "102") for rid in ("bob", "gina", "dave")}
    assert reasons == same_domain | {
        ("101", "alice", "authorship"),
        ("102", "bob", "authorship"),
        ("105", "gina", "authorship"),
        ("101", "gina", "coauthorship"),
        ("102", "dave", "affiliation"),  # "uni b"
        ("102", "gina", "external"),
    }
    report = (out / "report.txt").read_text()
    for reason in ("bid: 0 pairs", "authorship: 3 pairs", "coauthorship: 1 pairs", "email_domain: 6 pairs",
                   "affiliation: 1 pairs", "external: 1 pairs"):
        assert reason in report
    assert counts["by_reason"]["external"] == 1 and counts["external"][0]["kind"] == "submission"
    assert "co-authorship not checked for 3 of 5 submission authors" in report  # zed, bob and gina


def test_merge_cois_file_bad_external_file_leaves_no_output(tmp_path):
    write_jsonl(SUBMISSIONS, tmp_path / "s.jsonl")
    write_jsonl(REVIEWERS, tmp_path / "r.jsonl")
    save_npy(np.full((3, 4), 2, dtype=np.int8), tmp_path / "bids.npy")
    bad = _write(tmp_path / "ext.csv", ["Username", "Submission ID"], [["gina", "102", "surplus"]])
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        coi.merge_cois_file(
            tmp_path / "s.jsonl", tmp_path / "r.jsonl", tmp_path / "bids.npy", None,
            out / "coi.npy", out / "reasons.csv", out / "report.txt", external_csvs=[bad],
        )
    assert err.value.path == str(bad) and err.value.row == 2
    assert not out.exists() or list(out.iterdir()) == []


# ---------------------------------------------------------------- the demo conference


def test_demo_every_coauthor_of_a_reviewer_has_that_coi(tmp_path):
    """Every demo submission with an author who co-wrote a corpus paper (2016 on) with a
    reviewer has the co-authorship COI for that reviewer, and no other pair has it."""
    from revmatch.corpus import FilterSpec, filter_shard, merge_shards
    from revmatch.io import read_jsonl
    from tests.conftest import DEMO

    start, out = DEMO / "start", tmp_path / "demo"
    extract_softconf(
        start / "Profile_Information.csv", start / "Submission_Information.csv", start / "Bid_Information.csv",
        out / "reviewers.jsonl", out / "submissions.jsonl", out / "rejects.jsonl", out / "bids.npy",
        out / "non_reviewers.jsonl", out / "multi.csv", out / "report.json",
    )
    spec = FilterSpec(min_year=2016)
    papers, _ = merge_shards([filter_shard(p, spec)[0] for p in sorted((DEMO / "s2").glob("*.gz"))])
    write_parquet(papers, tmp_path / "papers.parquet")
    coi.merge_cois_file(
        out / "submissions.jsonl", out / "reviewers.jsonl", out / "bids.npy", tmp_path / "papers.parquet",
        out / "coi.npy", out / "coi_reasons.csv", out / "coi_report.txt", coauthor_since_year=2016,
    )

    submissions, reviewers = read_jsonl(out / "submissions.jsonl"), read_jsonl(out / "reviewers.jsonl")
    papers_of: dict[str, set[int]] = {}
    for k, authors in enumerate(papers["authors"]):
        for author in authors:
            papers_of.setdefault(author["id"], set()).add(k)
    expected = set()
    for s in submissions:
        for a in {i for author in s["authors"] for i in author["ids"]}:
            for r in reviewers:
                if any(papers_of.get(a, set()) & papers_of.get(i, set()) for i in r["ids"] if i != a):
                    expected.add((s["id"], r["id"]))
    reasons = pd.read_csv(out / "coi_reasons.csv", dtype=str)
    found = set(reasons.loc[reasons["reason"] == "coauthorship", ["submission_id", "reviewer_id"]].itertuples(
        index=False, name=None
    ))
    assert len(expected) >= 20  # the demo plants co-authors of reviewers among the authors
    assert found == expected
    matrix = np.load(out / "coi.npy")
    rows = {s["id"]: i for i, s in enumerate(submissions)}
    cols = {r["id"]: j for j, r in enumerate(reviewers)}
    assert all(matrix[rows[s], cols[r]] for s, r in expected)


@pytest.fixture
def restore_logging():
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_cli_extract_coi_viability_on_the_demo(tmp_path, capsys, restore_logging):
    from revmatch.cli import main
    from tests.conftest import DEMO

    start, out = DEMO / "start", tmp_path / "conf"
    assert main([
        "extract", "--profiles", str(start / "Profile_Information.csv"),
        "--submissions", str(start / "Submission_Information.csv"), "--bids", str(start / "Bid_Information.csv"),
        "--quotas", str(start / "quotas.csv"), "--out", str(out),
    ]) == 0
    external = _write(tmp_path / "ext.csv", ["Username", "Other Username"], [["ghost1", "ghost2"]])
    assert main(["coi", "--conference-dir", str(out), "--no-same-email-domain", "--files", str(external)]) == 0
    printed = capsys.readouterr().out
    assert "external: 0 pairs" in printed and "2 unknown usernames" in printed
    assert (out / "coi_reviewers.txt").read_text().split()[0] == pd.read_json(out / "reviewers.jsonl", lines=True)["id"][0]
    assert main([
        "viability", "--reviewers", str(out / "reviewers.jsonl"), "--submissions", str(out / "submissions.jsonl"),
        "--coi", str(out / "coi.npy"), "--out", str(tmp_path / "viability"),
    ]) == 0
    assert "COIs taken into account" in capsys.readouterr().out
    assert main(["coi", "--conference-dir", str(out), "--coauthor-years", "5"]) == 2  # needs --conference-year
