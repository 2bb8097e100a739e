"""Classes of malformed input found by outside probes (issue 19), one section a class:

1. absurd numbers (``inf``, ``nan``, ``1e309``, huge integers) in every numeric reader of the
   conference stage and of OpenReview's matcher inputs;
2. empty inputs (no submission, no reviewer in the conference or a track, no bids);
3. identity conflicts (an author row whose e-mail and username name two people);
4. short and truncated START rows.

Each bad input is an ``InputError`` (or ``InfeasibleTrack``) naming what is wrong and where,
before any matrix is computed, and leaves no output behind; what is accepted is counted.
"""

import csv
import logging
from pathlib import Path

import numpy as np
import pytest

from revmatch.conference import (
    InfeasibleTrack,
    author_people,
    extract_softconf,
    merge_cois_file,
    read_bids,
    read_profiles,
    read_quotas,
    viability_file,
)
from revmatch.io import InputError, read_jsonl, write_jsonl
from revmatch.matching import read_matcher_inputs
from revmatch.matching.openreview_matcher import match_files

PROFILE_HEADER = ["Username", "Email", "First Name", "Last Name", "Semantic Scholar ID", "Roles",
                  "Affiliation", "Quota for Review"]
PROFILES = [
    ["alice", "alice@uni.edu", "Alice", "Smith", "111", "committee:MT", "Uni A", ""],
    ["bob", "bob@corp.com", "Bob", "Jones", "222", "committee:MT", "Corp B", "4"],
    ["carol", "carol@lab.org", "Carol", "Lee", "333", "committee:MT", "Lab C", ""],
    ["dan", "dan@home.net", "Dan", "Kim", "", "Author", "", ""],
]
SUBMISSION_HEADER = ["Submission ID", "Title", "Track", "Submission Type", "Abstract", "Authors",
                     "All Author Emails", "Acceptance Status", "1: Username", "2: Username"]
SUBMISSIONS = [
    ["1", "One", "MT", "Long", "A.", "Dan Kim", "dan@home.net", "", "dan", ""],
    ["2", "Two", "MT", "Short", "B.", "Eve Roe", "eve@x.org", "", "eve", ""],
    ["3", "Three", "MT", "Long", "C.", "Dan Kim", "dan@home.net", "Withdrawn", "dan", ""],
]
BID_HEADER = ["Submission ID/Username", "alice", "bob", "carol"]
BIDS = [["1", "1", "", "3"], ["2", "", "2", ""]]
QUOTA_HEADER = ["Username", "Quota"]
OUTPUTS = ["reviewers.jsonl", "submissions.jsonl", "rejects.jsonl", "bids.npy", "non_reviewers.jsonl",
           "multi_track.csv", "report.json"]


def write_csv(path: Path, header: list[str] | None, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def extract(tmp_path: Path, profiles=PROFILES, submissions=SUBMISSIONS, bids=BIDS, quotas=None, **options):
    """Write the exports and extract them into ``tmp_path / 'out'``; the report."""
    files = {
        "profiles": write_csv(tmp_path / "Profile_Information.csv", PROFILE_HEADER, profiles),
        "submissions": write_csv(tmp_path / "Submission_Information.csv", SUBMISSION_HEADER, submissions),
        "bids": None if bids is None else write_csv(tmp_path / "Bid_Information.csv", BID_HEADER, bids),
        "quotas": None if quotas is None else write_csv(tmp_path / "quotas.csv", QUOTA_HEADER, quotas),
    }
    out = tmp_path / "out"
    return extract_softconf(
        files["profiles"], files["submissions"], files["bids"],
        *(out / name for name in OUTPUTS), quotas_csv=files["quotas"], **options,
    )


def assert_no_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


# ================================================================== 1. absurd numbers

ABSURD = [
    ("inf", "infinite"),
    ("-Infinity", "infinite"),
    ("nan", "NaN"),
    ("1e309", "too large"),
    ("99999999999999999999", "above 1000000"),
    ("2.5", "not a whole number"),
    ("-1", "below 0"),
]


def _quotas_file(tmp_path, value):
    rows = [["alice", "2"], ["bob", value]]
    path = write_csv(tmp_path / "quotas.csv", ["Username", "Quota for Review"], rows)
    return lambda: read_quotas(path, ["alice", "bob"]), path, 3, "Quota for Review"


def _profiles_file(tmp_path, value):
    rows = [PROFILES[0], PROFILES[1][:7] + [value]]
    path = write_csv(tmp_path / "profiles.csv", PROFILE_HEADER, rows)
    return lambda: read_profiles(path), path, 3, "Quota for Review"


def _reviewers_jsonl(tmp_path, value):
    path = tmp_path / "reviewers.jsonl"
    literal = {"inf": "Infinity", "nan": "NaN"}.get(value, value)  # as Python's json spells them
    path.write_text('{"id": "alice", "tracks": ["MT"]}\n'
                    '{"id": "bob", "tracks": ["MT"], "quota": %s}\n' % literal)
    write_jsonl([{"id": "1", "track": "MT"}], tmp_path / "submissions.jsonl")
    return lambda: viability_file(path, tmp_path / "submissions.jsonl", None, None, 1, 2), path, 2, "quota"


def _matcher_counts(tmp_path, value, option, line_text):
    scores = write_csv(tmp_path / "scores.csv", None, [["p1", "u1", "0.5"], ["p1", "u2", "0.2"]])
    path = tmp_path / f"{option}.csv"
    path.write_text(f"{line_text},1\n{line_text},{value}\n")
    call = dict(scores=[scores], weights=[1], max_papers_default=1, **{option: path})
    return lambda: read_matcher_inputs(**call), path, 2, {"max_papers": "max_papers"}.get(option, "demand")


COUNT_READERS = {
    "quotas.csv": _quotas_file,
    "profile quota": _profiles_file,
    "reviewers.jsonl quota": _reviewers_jsonl,
    "matcher max_papers": lambda tmp, v: _matcher_counts(tmp, v, "max_papers", "u1"),
    "matcher custom_user_demand": lambda tmp, v: _matcher_counts(tmp, v, "custom_user_demand", "p1"),
}


@pytest.mark.parametrize("reader", sorted(COUNT_READERS))
@pytest.mark.parametrize(("value", "problem"), ABSURD)
def test_absurd_counts_are_located_by_every_reader(tmp_path, reader, value, problem):
    """A quota, load or demand that is infinite, NaN, overflows or is beyond the bounds is an
    ``InputError`` naming the file, the row and the column, with the reason."""
    call, path, row, column = COUNT_READERS[reader](tmp_path, value)
    if reader == "reviewers.jsonl quota" and value == "1e309":
        problem = "infinite"  # JSON reads 1e309 as inf before any check sees it
    with pytest.raises(InputError) as err:
        call()
    assert (Path(err.value.path), err.value.row, err.value.column) == (path, row, column)
    assert problem in err.value.message and "non-negative integer (at most 1000000)" in err.value.message


@pytest.mark.parametrize(
    ("value", "problem"),
    [*ABSURD[:4], ("99999999999999999999", "above 4"), ("5", "above 4"), ("0", "below 1"),
     ("2.5", "not a whole number")],
)
def test_absurd_bids_are_located(tmp_path, value, problem):
    path = write_csv(tmp_path / "bids.csv", BID_HEADER, [["1", "1", "2", "3"], ["2", "4", value, ""]])
    with pytest.raises(InputError) as err:
        read_bids(path, ["1", "2"], ["alice", "bob", "carol"])
    assert (err.value.row, err.value.column) == (3, "bob")
    assert f"bid {value!r} is {problem}" in err.value.message and "1 = Yes" in err.value.message


def test_absurd_numbers_stop_the_extraction_with_no_output(tmp_path):
    with pytest.raises(InputError, match=r"Profile_Information.csv, row 3, column 'Quota for Review': quota "
                                         r"'1e309' is too large"):
        extract(tmp_path, profiles=[PROFILES[0], PROFILES[1][:7] + ["1e309"], *PROFILES[2:]])
    assert_no_output(tmp_path)
    with pytest.raises(InputError, match=r"quotas.csv, row 2, column 'Quota': quota 'nan' is NaN"):
        extract(tmp_path, quotas=[["ghost", "nan"]])  # a bad number is refused even for an unknown username
    assert_no_output(tmp_path)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("inf", "infinite"), ("nan", "NaN"), ("1e309", "too large"), ("-1e309", "too small"),
     ("2e6", "above 1000000"), ("abc", "not a number")],
)
def test_absurd_scores_of_the_matcher_are_located(tmp_path, value, problem):
    scores = write_csv(tmp_path / "scores.csv", None, [["p1", "u1", "0.5"], ["p1", "u2", value]])
    with pytest.raises(InputError) as err:
        read_matcher_inputs([scores], weights=[1], max_papers_default=1)
    assert (Path(err.value.path), err.value.row, err.value.column) == (scores, 2, "score")
    assert f"score {value!r} is {problem}" in err.value.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [("NaN", "NaN"), ("Infinity", "infinite"), ("1e309", "infinite"), ("2e6", "above 1000000"),
     ("true", "not a number")],
)
def test_absurd_numbers_of_the_scores_specification_are_named(tmp_path, text, problem):
    scores = write_csv(tmp_path / "scores.csv", None, [["p1", "u1", "0.5"]])
    bids = write_csv(tmp_path / "bids.csv", None, [["p1", "u1", "High"]])
    spec = tmp_path / "spec.json"
    spec.write_text('{"scores.csv": {"weight": %s}, "bids.csv": {"weight": 1, "translate_map": {"High": %s}}}'
                    % ("1", text))
    with pytest.raises(InputError) as err:
        read_matcher_inputs([scores, bids], scores_specification=spec, max_papers_default=1)
    assert (Path(err.value.path), err.value.column) == (spec, "bids.csv.translate_map.High")
    assert problem in err.value.message
    spec.write_text('{"scores.csv": {"weight": %s}}' % text)
    with pytest.raises(InputError) as err:
        read_matcher_inputs([scores], scores_specification=spec, max_papers_default=1)
    assert err.value.column == "scores.csv.weight" and problem in err.value.message


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_papers_default", 10**30), ("min_papers_default", -1), ("num_reviewers", 10**7)],
)
def test_absurd_counts_on_the_command_line_are_named(tmp_path, option, value):
    scores = write_csv(tmp_path / "scores.csv", None, [["p1", "u1", "0.5"]])
    options = {"max_papers_default": 1, option: value}
    with pytest.raises(InputError, match=f"--{option}: "):
        read_matcher_inputs([scores], weights=[1], **options)
    with pytest.raises(InputError, match=r"--weights: the weight of .* is infinite"):
        read_matcher_inputs([scores], weights=[float("inf")], max_papers_default=1)


def test_bounded_numbers_are_still_read(tmp_path):
    """The bounds refuse only what no chair means: 1e6 papers, scores of magnitude 1e6."""
    scores = write_csv(tmp_path / "scores.csv", None, [["p1", "u1", "1e6"], ["p1", "u2", "-0.5"]])
    loads = tmp_path / "loads.csv"
    loads.write_text("u1,1000000\nu2, 2.0 \n")
    inputs = read_matcher_inputs([scores], weights=[1], max_papers=loads, num_reviewers=1)
    assert inputs.maximums.tolist() == [1_000_000, 2] and inputs.aggregate.tolist() == [[1e6, -0.5]]
    quotas = write_csv(tmp_path / "q.csv", ["Username", "Quota"], [["alice", "1000000"], ["bob", " 3.0 "]])
    assert read_quotas(quotas, ["alice", "bob"])[0] == {"alice": 1_000_000, "bob": 3}

def test_match_files_reads_checked_numbers(tmp_path):
    """The matcher's solve reads the same checked numbers (a 20-digit load never reaches the solver)."""
    scores = write_csv(tmp_path / "scores.csv", None, [["p1", "u1", "0.5"]])
    loads = tmp_path / "loads.csv"
    loads.write_text("u1,99999999999999999999\n")
    with pytest.raises(InputError, match=r"loads.csv, row 1, column 'max_papers': max_papers "
                                         r"'99999999999999999999' is above 1000000"):
        match_files([scores], tmp_path / "out", weights=[1], max_papers=loads, num_reviewers=1)
    assert not (tmp_path / "out" / "assignments.json").exists()

def test_a_json_integer_of_thousands_of_digits_is_refused(tmp_path):
    call, path, row, column = _reviewers_jsonl(tmp_path, "9" * 2000)
    with pytest.raises(InputError, match=r"quota \(an integer of \d+ bits\) is too large") as err:
        call()
    assert (Path(err.value.path), err.value.row, err.value.column) == (path, row, column)



# ================================================================== 2. empty inputs


@pytest.mark.parametrize(
    ("submissions", "message"),
    [([], "no submission to match: the file has a header but no submission"),
     ([row[:7] + ["Withdrawn"] + row[8:] for row in SUBMISSIONS[:2]] + [SUBMISSIONS[2]],
      r"every one of its 3 submissions is set aside \(0 desk rejected, 3 withdrawn\)")],
)
def test_no_submission_to_match_stops_the_extraction(tmp_path, submissions, message):
    with pytest.raises(InputError, match=message) as err:
        extract(tmp_path, submissions=submissions)
    assert err.value.path.endswith("Submission_Information.csv")
    assert_no_output(tmp_path)


def test_no_reviewer_stops_the_extraction(tmp_path):
    authors_only = [row[:5] + ["Author"] + row[6:] for row in PROFILES] + [
        ["pc", "pc@x.org", "P", "C", "", "manager:committee", "", ""]
    ]
    with pytest.raises(InputError, match=r"no reviewer: none of its 5 profiles has a reviewer, area chair or "
                                         r"senior area chair role \(1 programme chairs") as err:
        extract(tmp_path, profiles=authors_only)
    assert err.value.path.endswith("Profile_Information.csv") and err.value.column == "Roles"
    assert_no_output(tmp_path)


def test_no_bids_file_is_a_counted_warning_and_an_empty_one_an_error(tmp_path, caplog):
    """A venue without bidding (no bids file) gets all-Maybe bids and a warning; a bids file
    that holds no bid of a submission to match is an empty or wrong export: refused, nothing
    written."""
    with caplog.at_level(logging.WARNING):
        report = extract(tmp_path, bids=None)
    assert report["bids"] == {"file": None, "bids_given": 0}
    assert report["warnings"] == ["no bids file: every submission-reviewer pair is Maybe"]
    assert "no bids file" in caplog.text
    assert (np.load(tmp_path / "out" / "bids.npy") == 2).all()
    # empty, or the only bids are a withdrawn submission's
    for name, bids in (("empty", [["1", "", "", ""]]), ("set_aside", [["1", "", "", ""], ["3", "1", "1", "1"]])):
        (tmp_path / name).mkdir()
        with pytest.raises(InputError, match="holds no bid of a submission to match"):
            extract(tmp_path / name, bids=bids)
        assert_no_output(tmp_path / name)
    assert extract(tmp_path)["warnings"] == []


@pytest.mark.parametrize(
    ("header", "rows", "row", "column", "message"),
    [(BID_HEADER, [["901", "1", "", ""], ["902", "", "3", ""]], 2, "Submission ID/Username",
      "none of its 2 rows names a submission of this conference"),
     (["id", "xavier", "yann"], [["1", "1", "2"]], 1, "xavier",
      "none of its 2 reviewer columns names a reviewer's username")],
)
def test_bids_of_another_conference_are_refused(tmp_path, header, rows, row, column, message):
    path = write_csv(tmp_path / "bids.csv", header, rows)
    with pytest.raises(InputError, match=message) as err:
        read_bids(path, ["1", "2"], ["alice", "bob", "carol"])
    assert (err.value.row, err.value.column) == (row, column)


def reviewer(rid, tracks=(), ac=(), emergency=False):
    return {"id": rid, "tracks": list(tracks), "areaChair": bool(ac), "ac_tracks": list(ac),
            "seniorAreaChair": False, "sac_tracks": [], "emergency": emergency}


def viability(tmp_path, reviewers, submissions, by_track=True):
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    return viability_file(tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", None,
                          tmp_path / "v.txt", 1, 6, by_track=by_track, out_json=tmp_path / "v.json")


def test_viability_stops_on_an_empty_conference(tmp_path):
    with pytest.raises(InputError, match="submissions.jsonl: no submission to match"):
        viability(tmp_path, [reviewer("a", ["MT"])], [])
    with pytest.raises(InputError, match="reviewers.jsonl: no reviewer"):
        viability(tmp_path, [], [{"id": "1", "track": "MT"}])
    assert not (tmp_path / "v.txt").exists() and not (tmp_path / "v.json").exists()


def test_viability_stops_on_a_track_nobody_can_take(tmp_path):
    people = [reviewer("a", ["MT"]), reviewer("b", ["Syntax"], emergency=True), reviewer("c", ac=["Speech"])]
    tracks = ["MT", "Syntax", "Speech", "Machine Trans"]
    papers = [{"id": str(i), "track": track} for i, track in enumerate(tracks)]
    with pytest.raises(InfeasibleTrack) as err:
        viability(tmp_path, people, papers)
    message = str(err.value)
    assert ("1 track(s) have papers but no reviewer, emergency reviewer or area chair: "
            "'Machine Trans' (1 papers)") in message
    assert "Tracks with reviewers or ACs: 'MT', 'Speech', 'Syntax'" in message
    assert "by_track: false" in message
    assert not (tmp_path / "v.json").exists()
    # without tracks every reviewer takes every paper; a track with only an AC or only an emergency
    # reviewer is a problem of the report (an AC assignment may go on), not a stop
    assert viability(tmp_path, people, papers, by_track=False) == []
    problems = [p for p in viability(tmp_path, people, papers[:3]) if p["kind"] == "reviewer"]
    assert [p["track"] for p in problems] == ["Speech", "Syntax"]
    assert "Speech: no reviewer in this track" in problems[0]["message"]


# ================================================================== 3. identity conflicts

CONFLICTED = [
    # Dan's row names alice by e-mail and bob by username: two people
    ["1", "One", "MT", "Long", "A.", "Dan Kim, Al Smith", "dan@home.net; ALICE@uni.edu", "", "dan", "bob"],
    # the same person by e-mail and username (case aside): no conflict
    ["2", "Two", "MT", "Short", "B.", "Carol Lee", "carol@lab.org", "", "Carol", ""],
]


def test_identity_conflict_is_counted_listed_and_warned(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        report = extract(tmp_path, submissions=CONFLICTED)
    stats = report["submissions"]
    assert stats["identity_conflicts"] == 1
    assert stats["identity_conflict_list"] == [{
        "submission_id": "1", "row": 2, "author": "Al Smith", "email": "ALICE@uni.edu",
        "email_profile": "alice", "username": "bob", "username_profile": "bob",
    }]
    assert any("identity_conflict_list" in w for w in report["warnings"])
    assert "1 authors name one profile by e-mail and another by username" in caplog.text
    author = read_jsonl(tmp_path / "out" / "submissions.jsonl")[0]["authors"][1]
    assert author["startUsername"] == "alice" and author["otherProfile"]["startUsername"] == "bob"
    assert author["otherProfile"]["ids"] == ["222"] and author["otherProfile"]["affiliation"] == "Corp B"


def test_both_people_of_an_identity_conflict_are_conflicts_of_interest(tmp_path):
    extract(tmp_path, submissions=CONFLICTED)
    out = tmp_path / "out"
    merge_cois_file(out / "submissions.jsonl", out / "reviewers.jsonl", out / "bids.npy", None,
                    out / "coi.npy", out / "reasons.csv", out / "coi.txt", same_email_domain=True,
                    same_affiliation=True)
    reasons = {tuple(line.split(",")) for line in (out / "reasons.csv").read_text().splitlines()[1:]}
    assert {("1", "alice", "authorship"), ("1", "bob", "authorship"), ("2", "carol", "authorship")} <= reasons
    assert ("1", "bob", "email_domain") in reasons and ("1", "bob", "affiliation") in reasons
    assert np.load(out / "coi.npy")[0].tolist() == [True, True, False]
    submissions = read_jsonl(out / "submissions.jsonl")
    assert [(p, person["startUsername"]) for p, person in author_people(submissions)] == [
        (0, "dan"), (0, "alice"), (0, "bob"), (1, "carol")
    ]


# ================================================================== 4. short and truncated rows


def test_a_row_cut_before_its_status_is_refused(tmp_path):
    """A withdrawn paper whose row lost its status must not come back as an active one."""
    cut = [SUBMISSIONS[0], SUBMISSIONS[1], SUBMISSIONS[2][:6]]
    with pytest.raises(InputError) as err:
        extract(tmp_path, submissions=cut)
    assert err.value.path.endswith("Submission_Information.csv")
    assert (err.value.row, err.value.column) == (4, "Acceptance Status")
    assert "has 6 of 10 fields and ends before the status column" in err.value.message
    assert "never taken as active" in err.value.message
    assert_no_output(tmp_path)


def test_short_rows_are_counted_in_the_report(tmp_path, caplog):
    profiles = [PROFILES[0][:6], *PROFILES[1:3], PROFILES[3][:6]]
    submissions = [SUBMISSIONS[0][:9], SUBMISSIONS[1][:8], SUBMISSIONS[2]]  # trailing empty cells left out
    with caplog.at_level(logging.INFO):
        report = extract(tmp_path, profiles=profiles, submissions=submissions, bids=[["1", "1"], BIDS[1]],
                         quotas=[["alice"], ["bob", "2"]])
    assert (report["profiles"]["short_rows"], report["profiles"]["short_row_numbers"]) == (2, [2, 5])
    assert (report["submissions"]["short_rows"], report["submissions"]["short_row_numbers"]) == (2, [2, 3])
    assert (report["bids"]["short_rows"], report["bids"]["short_row_numbers"]) == (1, [2])
    assert (report["quotas"]["short_rows"], report["quotas"]["short_row_numbers"]) == (1, [2])
    assert report["submissions"]["kept"] == 2 and report["submissions"]["withdrawn"] == 1
    assert "2 rows shorter than the header (8 columns), padded with empty cells: rows 2, 5" in caplog.text


def test_without_a_status_column_every_submission_is_kept_with_a_warning(tmp_path, caplog):
    header = SUBMISSION_HEADER[:7]
    path = write_csv(tmp_path / "s.csv", header, [row[:7] for row in SUBMISSIONS])
    profiles = write_csv(tmp_path / "p.csv", PROFILE_HEADER, PROFILES)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        report = extract_softconf(profiles, path, None, *(out / name for name in OUTPUTS))
    assert report["submissions"]["status_column"] is None and report["submissions"]["kept"] == 3
    assert "no 'Acceptance Status' column: every submission is kept" in caplog.text

