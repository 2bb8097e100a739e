import csv
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revmatch.conference import profiles
from revmatch.conference.bids import read_bids
from revmatch.conference.profiles import (
    MULTI_TRACK_COLUMNS,
    clean_s2_ids,
    parse_roles,
    parse_s2_ids,
    read_profiles,
)
from revmatch.conference.quotas import read_quotas
from revmatch.conference.softconf import extract_softconf
from revmatch.conference.start_csv import read_csv_export
from revmatch.conference.submissions import read_submissions
from revmatch.io import InputError, read_jsonl

PROFILE_HEADER = [
    "Username", "Email", "First Name", "Last Name", "Semantic Scholar ID", "Roles",
    "PCRole", "emergencyReviewer", "Affiliation",
]
PROFILE_ROWS = [
    ["alice", "alice@uni.edu", "Alice", "Smith", "https://www.semanticscholar.org/author/Alice-Smith/111",
     "committee:Machine Translation", "no", "Yes", "Uni A, Dept. of CS"],
    ["bob", "bob@x.org", "Bob", "Jones", "222", "committee:Machine Translation:Dialogue: Speech",
     "", "", "X Corp"],
    ["carol", "carol@x.org", "Carol", "Lee", "", "committee:Machine Translation:Meta Reviewer", "", "", ""],
    ["dave", "dave@x.org", "Dave", "Kim", "444", "committee:Syntax:Syntax (manager 3)", "", "", ""],
    ["erin", "erin@x.org", "Erin", "Wu", "", "manager:committee", "", "", ""],
    ["frank", "frank@x.org", "Frank", "Fox", "https://www.semanticscholar.org/author/666?tab=papers",
     "Author", "", "", ""],
    ["gina", "gina@x.org", "Gina", "Gray", "777", "Syntax", "yes", "Yes", ""],
    ["hank", "hank@x.org", "Hank", "Hill", "", "committee", "", "", ""],
    ["ivy", "ivy@x.org", "Ivy", "Ng", "888; 889", "committee:Syntax"],  # short row
]
SUBMISSION_HEADER = [
    "Submission ID", "Title", "Track", "Submission Type", "Abstract", "Authors", "All Author Emails",
    "Acceptance Status", "1: Username", "2: Username",
]
ABSTRACT_101 = 'We translate, "carefully",\nacross two lines.'
SUBMISSION_ROWS = [
    ["101", "Neural MT", "Machine Translation", "Long Paper", ABSTRACT_101, "Frank Fox and Alice Smith",
     "frank@x.org; alice@uni.edu", "", "frank", "alice"],
    ["102", "Parsing", "Syntax", "Short paper", "Trees.", "Zed Unknown, Bob Jones",
     "zed@nowhere.org; BOB@x.org", "", "zed", ""],
    ["103", "Withdrawn one", "Syntax", "Long", "W.", "Gina Gray", "gina@x.org", "Withdrawn", "gina", ""],
    ["104", "Rejected", "Machine Translation: Low-resource", "weird", "R.", "Hank Hill", "hank@x.org",
     "Desk Reject", "hank", ""],
    ["105", "No track", "", "long", "N.", "Gina Gray", "", "", "gina"],
]
BID_HEADER = ["Submission ID/Username", "alice", "bob", "gina", "ghost", ""]
BID_ROWS = [
    ["102", "1", "4", "", "3", ""],
    ["101", "2", "", "3", "", ""],
    ["103", "1", "1", "1", "1", ""],
    ["999", "1", "", "", "", ""],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def start_exports(tmp_path):
    return {
        "profiles": write_csv(
            tmp_path / "Profile_Information.csv", PROFILE_HEADER, PROFILE_ROWS, "utf-8-sig"
        ),
        "submissions": write_csv(tmp_path / "Submission_Information.csv", SUBMISSION_HEADER, SUBMISSION_ROWS),
        "bids": write_csv(tmp_path / "Bid_Information.csv", BID_HEADER, BID_ROWS),
    }


def extract_into(out: Path, exports: dict, bids: bool = True) -> dict:
    return extract_softconf(
        exports["profiles"],
        exports["submissions"],
        exports["bids"] if bids else None,
        out_reviewers=out / "reviewers.jsonl",
        out_submissions=out / "submissions.jsonl",
        out_rejects=out / "rejects.jsonl",
        out_bids_npy=out / "bids.npy",
        out_non_reviewers=out / "non_reviewers.jsonl",
        out_multi_track_csv=out / "multi_track_reviewers.csv",
        out_report_json=out / "extraction_report.json",
    )


# ---------------------------------------------------------------- CSV reading


def test_read_csv_export_bom_padding_multiline_and_trailing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(
        "\ufeff A , B ,C,\r\n1,\"two\r\nlines, \"\"quoted\"\"\",3,\r\n4\r\n\r\n,,,\r\n5,6,7,\r\n".encode()
    )
    frame = read_csv_export(path)
    assert list(frame.columns) == ["A", "B", "C"]
    assert frame.loc[2, "B"] == 'two\r\nlines, "quoted"'
    assert frame.loc[3].tolist() == ["4", "", ""]
    assert frame.index.tolist() == [2, 3, 6]  # spreadsheet rows; blank rows 4 and 5 skipped
    assert frame.attrs["blank_rows"] == 2 and frame.attrs["dropped_columns"] == 1
    assert frame.attrs["encoding"] == "utf-8"


def test_read_csv_export_latin1_fallback_warns(tmp_path, caplog):
    path = tmp_path / "x.csv"
    path.write_bytes("Name,City\nJosé,Zürich\n".encode("latin-1"))
    frame = read_csv_export(path)
    assert frame.loc[2].tolist() == ["José", "Zürich"]
    assert frame.attrs["encoding"] == "latin-1"
    assert any("Latin-1" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("content", "row"),
    [("A,B\n1,2,3\n", 2), ('A,B\n1,"open\n', 2), ('A,B\n1,2\n"x"y,2\n', 3)],
)
def test_read_csv_export_rejects_malformed_rows(tmp_path, content, row):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        read_csv_export(path)
    assert err.value.path == str(path) and err.value.row == row


def test_read_csv_export_utf16_with_bom_and_nul_without(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("A,B\nJosé,2\n".encode("utf-16"))
    frame = read_csv_export(path)
    assert frame.loc[2].tolist() == ["José", "2"] and frame.attrs["encoding"] == "utf-16"
    path.write_bytes("A,B\n1,2\n".encode("utf-16-le"))  # no BOM: NUL bytes
    with pytest.raises(InputError, match="NUL") as err:
        read_csv_export(path)
    assert err.value.row == 1 and err.value.column is not None


@pytest.mark.parametrize(
    ("content", "row", "column"),
    [
        ('A,B,C\n1,"x"y,3\n', 2, "B"),
        ('A,B,C\n1,2,3\n4,5,"open\n6,7,8\n', 3, "C"),
        ("A,B\n1,2,,junk\n", 2, "#4"),
        ('A,B\n1,2\n"two\nlines",3\n4,"x"y\n', 4, "B"),
    ],
)
def test_malformed_csv_error_names_row_and_column(tmp_path, content, row, column):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        read_csv_export(path)
    assert (err.value.path, err.value.row, err.value.column) == (str(path), row, column)


def test_duplicate_usernames_differing_in_case(tmp_path):
    rows = [PROFILE_ROWS[0], ["ALICE"] + PROFILE_ROWS[1][1:]]
    path = write_csv(tmp_path / "p.csv", PROFILE_HEADER, rows)
    with pytest.raises(InputError, match="rows 2 and 3") as err:
        read_profiles(path)
    assert err.value.column == "Username"


# ---------------------------------------------------------------- roles and ids


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("committee", dict(is_reviewer=True, tracks=[])),
        ("committee:Machine Translation", dict(is_reviewer=True, tracks=["Machine Translation"])),
        ("Machine Translation", dict(is_reviewer=True, tracks=["Machine Translation"])),
        ("committee:Summarization:Dialogue: Speech",
         dict(is_reviewer=True, tracks=["Summarization", "Dialogue- Speech"])),
        ("committee:Dialogue: Speech:Meta Reviewer",
         dict(is_reviewer=False, tracks=[], areaChair=True, ac_tracks=["Dialogue- Speech"])),
        ("committee:Syntax:Syntax (manager 3)",
         dict(is_reviewer=False, tracks=[], seniorAreaChair=True, sac_tracks=["Syntax"])),
        ("manager:committee", dict(is_reviewer=False, tracks=[], programmeChair=True)),
        ("Author", dict(is_reviewer=False, tracks=[])),
        ("", dict(is_reviewer=False, tracks=[])),
    ],
)
def test_parse_roles(roles, expected):
    parsed = parse_roles(roles)
    defaults = dict(areaChair=False, ac_tracks=[], seniorAreaChair=False, sac_tracks=[], programmeChair=False)
    assert parsed == {**defaults, **expected}


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("https://www.semanticscholar.org/author/Jane-Doe/1741101", ["1741101"]),
        ("https://www.semanticscholar.org/author/1741101/?sort=year#x", ["1741101"]),
        ("123, 456;789  123", ["123", "456", "789"]),
        ("", []),
        ("   ", []),
    ],
)
def test_clean_s2_ids(value, ids):
    assert clean_s2_ids(value) == ids


@pytest.mark.parametrize(
    ("value", "ids", "not_ids"),
    [
        ("my S2 id is 1741101", ["1741101"], []),
        ("https://www.semanticscholar.org/author/noah-a-smith", ["noah-a-smith"], []),
        ("noah-a-smith", ["noah-a-smith"], []),
        ("jane-doe, john-roe", ["jane-doe", "john-roe"], []),
        ("semanticscholar.org/author/J-D/55; 66", ["55", "66"], []),
        ("(1741101)", ["1741101"], []),
        ("N/A", [], []),
        ("https://scholar.google.com/citations?user=qc6CJjYAAAAJ", [],
         ["https://scholar.google.com/citations?user=qc6CJjYAAAAJ"]),
        ("0000-0002-1825-0097", [], ["0000-0002-1825-0097"]),
        ("Jane Doe", [], ["Jane", "Doe"]),
        ("https://www.semanticscholar.org/author/", [], ["https://www.semanticscholar.org/author/"]),
        ("123 https://dblp.org/pid/1/2", ["123"], ["https://dblp.org/pid/1/2"]),
    ],
)
def test_parse_s2_ids_free_text(value, ids, not_ids):
    assert parse_s2_ids(value) == (ids, not_ids)


def test_profiles_report_ids_not_understood_and_quota_column(tmp_path, caplog):
    header = PROFILE_HEADER[:6] + ["Quota for Review"]
    rows = [
        ["a", "a@x.org", "A", "A", "https://scholar.google.com/citations?user=qc6CJjYAAAAJ", "committee", "3"],
        ["b", "b@x.org", "B", "B", "42", "committee", "None"],
        ["c", "c@x.org", "C", "C", "", "committee", ""],
    ]
    path = write_csv(tmp_path / "p.csv", header, rows)
    reviewers, _, _, stats = profiles._profile_records(path)
    assert [(r["ids"], r["quota"]) for r in reviewers] == [([], 3), (["42"], 0), ([], None)]
    assert stats["s2_id_not_understood"] == [{"username": "a", "value": rows[0][4]}]
    assert stats["without_s2_id"] == 2
    assert any("not an id" in r.message for r in caplog.records)
    bad = write_csv(tmp_path / "bad.csv", header, [rows[0][:6] + ["lots"]])
    with pytest.raises(InputError) as err:
        read_profiles(bad)
    assert (err.value.row, err.value.column) == (2, "Quota for Review")


# ---------------------------------------------------------------- profiles


def test_read_profiles_records(start_exports):
    reviewers, non_reviewers, multi = read_profiles(start_exports["profiles"])
    assert [r["id"] for r in reviewers] == ["alice", "bob", "carol", "dave", "gina", "hank", "ivy"]
    by_id = {r["id"]: r for r in reviewers}
    assert by_id["alice"] == {
        "id": "alice", "name": "Alice Smith", "email": "alice@uni.edu", "ids": ["111"],
        "startUsername": "alice",
        "tracks": ["Machine Translation"], "areaChair": False, "ac_tracks": [], "seniorAreaChair": False,
        "sac_tracks": [], "emergency": True, "affiliation": "Uni A, Dept. of CS", "quota": None,
    }
    assert by_id["bob"]["tracks"] == ["Machine Translation", "Dialogue- Speech"]
    assert by_id["carol"]["areaChair"] and by_id["carol"]["ac_tracks"] == ["Machine Translation"]
    assert by_id["dave"]["seniorAreaChair"] and by_id["dave"]["sac_tracks"] == ["Syntax"]
    assert by_id["gina"]["tracks"] == ["Syntax"] and not by_id["gina"]["emergency"]  # PCRole is not "no"
    assert by_id["hank"]["tracks"] == [] and by_id["ivy"]["ids"] == ["888", "889"]
    assert by_id["ivy"]["affiliation"] == "" and not by_id["ivy"]["emergency"]
    assert [r["id"] for r in non_reviewers] == ["erin", "frank"]
    assert non_reviewers[0]["tracks"] == "manager:committee"  # raw role string, as the reference
    assert non_reviewers[1]["ids"] == ["666"]
    assert list(multi.columns) == MULTI_TRACK_COLUMNS
    assert multi["start_id"].tolist() == ["bob"]
    assert multi.iloc[0]["reviewer_tracks"] == "Machine Translation; Dialogue- Speech"


def test_read_profiles_missing_columns_named(tmp_path):
    header = [c for c in PROFILE_HEADER if c not in ("Roles", "Email")]
    path = write_csv(tmp_path / "p.csv", header, [["a", "A", "B", ""]])
    with pytest.raises(InputError) as err:
        read_profiles(path)
    assert str(path) in str(err.value) and (err.value.row, err.value.column) == (1, "Email")
    assert "'Email'" in err.value.message and "'Roles'" in err.value.message


def test_read_profiles_duplicate_username_names_both_rows(tmp_path):
    rows = PROFILE_ROWS[:3] + [["bob", "other@x.org", "Bo", "B", "", "committee"]]
    path = write_csv(tmp_path / "p.csv", PROFILE_HEADER, rows)
    with pytest.raises(InputError) as err:
        read_profiles(path)
    assert "rows 3 and 5" in err.value.message and err.value.column == "Username"


def test_read_profiles_latin1_file(tmp_path):
    rows = [["jose", "jose@x.org", "José", "Núñez", "", "committee:Syntax"]]
    path = write_csv(tmp_path / "p.csv", PROFILE_HEADER, rows, encoding="latin-1")
    reviewers, _, _ = read_profiles(path)
    assert reviewers[0]["name"] == "José Núñez"


# ---------------------------------------------------------------- submissions


def test_read_submissions_kept_rejects_and_authors(start_exports):
    reviewers, non_reviewers, _ = read_profiles(start_exports["profiles"])
    kept, rejects = read_submissions(start_exports["submissions"], reviewers + non_reviewers)
    assert [s["id"] for s in kept] == ["101", "102", "105"]
    first = kept[0]
    assert first["startSubmissionId"] == "101" and first["type"] == "long"
    assert first["paperAbstract"] == ABSTRACT_101
    assert first["authors"] == [
        {"name": "Frank Fox", "ids": ["666"], "startUsername": "frank", "email": "frank@x.org",
         "affiliation": ""},
        {"name": "Alice Smith", "ids": ["111"], "startUsername": "alice", "email": "alice@uni.edu",
         "affiliation": "Uni A, Dept. of CS"},
    ]
    assert kept[1]["type"] == "short"
    assert kept[1]["authors"][0] == {
        "name": "Zed Unknown", "ids": [], "startUsername": "zed", "email": "zed@nowhere.org", "affiliation": ""
    }
    assert kept[1]["authors"][1]["startUsername"] == "bob"  # email match ignores case
    assert kept[2]["track"] == "n/a" and kept[2]["authors"][0]["startUsername"] == "gina"  # by username
    set_aside = [(r["startSubmissionId"], r["reason"]) for r in rejects]
    assert set_aside == [("103", "withdrawn"), ("104", "desk reject")]
    assert rejects[1]["track"] == "Machine Translation- Low-resource"
    assert rejects[1]["status"] == "Desk Reject"


def test_read_submissions_summary_alias_and_bad_type(tmp_path):
    header = ["Submission ID", "Title", "Track", "Submission Type", "Summary", "Authors"]
    rows = [["1", "T", "A", "Long", "S", "X Y"], ["2", "T", "A", "poster", "S", "Z"]]
    path = write_csv(tmp_path / "s.csv", header, rows)
    with pytest.raises(InputError) as err:
        read_submissions(path, None)
    assert err.value.row == 3 and err.value.column == "Submission Type"
    path = write_csv(
        tmp_path / "s2.csv", header + ["All Author Emails"],
        [["1", "T", "A:B", "Long", "S", "X Y, V U, and Z W", "x@y.org; ; z@w.org"]],
    )
    kept, rejects = read_submissions(path, None)
    assert kept[0]["paperAbstract"] == "S" and kept[0]["track"] == "A-B" and rejects == []
    authors = [(a["name"], a["email"]) for a in kept[0]["authors"]]
    assert authors == [("X Y", "x@y.org"), ("V U", ""), ("Z W", "z@w.org")]


# ---------------------------------------------------------------- bids and quotas


def test_read_bids_maps_codes_by_id_and_counts_unknowns(start_exports):
    bids, report = read_bids(
        start_exports["bids"], ["101", "102", "105"], ["alice", "bob", "carol", "gina"],
        all_submission_ids=["101", "102", "103", "104", "105"],
    )
    assert bids.dtype == np.int8
    np.testing.assert_array_equal(bids, [[2, 2, 2, 1], [3, 0, 2, 2], [2, 2, 2, 2]])
    assert report["rows_set_aside"] == 1 and report["rows_unknown"] == 1
    assert report["unknown_submission_ids"] == ["999"] and report["unknown_usernames"] == ["ghost"]
    assert report["submissions_without_row"] == 1 and report["reviewers_without_column"] == 1
    assert report["bids"] == {"yes": 1, "maybe": 1, "no": 1, "coi": 1}


def test_read_bids_numeric_cells_and_invalid_code(tmp_path):
    path = write_csv(tmp_path / "b.csv", ["", "a", "b"], [["2", "1.0", "4"], ["1", "3", " "]])
    bids, _ = read_bids(path, ["1", "2"], ["b", "a"])
    np.testing.assert_array_equal(bids, [[2, 1], [0, 3]])
    path = write_csv(tmp_path / "bad.csv", ["id", "a", "b"], [["1", "1", "2"], ["2", "yes", "2"]])
    with pytest.raises(InputError) as err:
        read_bids(path, ["1", "2"], ["a", "b"])
    assert (err.value.row, err.value.column) == (3, "a")


def test_read_quotas(tmp_path):
    path = write_csv(
        tmp_path / "q.csv", ["Username", "Quota for Review"],
        [["a", "3"], ["b", ""], ["c", "None"], ["ghost", "2"], ["d", "4.0"]],
    )
    quotas, report = read_quotas(path, ["a", "b", "c", "d"])
    assert quotas == {"a": 3, "c": 0, "d": 4}
    assert report["unknown_usernames"] == ["ghost"] and report["empty"] == 1
    path = write_csv(tmp_path / "q2.csv", ["Username", "QuotaForReview"], [["a", "three"]])
    with pytest.raises(InputError) as err:
        read_quotas(path, ["a"])
    assert (err.value.row, err.value.column) == (2, "QuotaForReview")


# ---------------------------------------------------------------- file level


def test_extract_softconf_writes_all_outputs(tmp_path, start_exports):
    out = tmp_path / "out"
    report = extract_into(out, start_exports)
    reviewers = read_jsonl(out / "reviewers.jsonl")
    submissions = read_jsonl(out / "submissions.jsonl")
    bids = np.load(out / "bids.npy")
    assert bids.shape == (len(submissions), len(reviewers)) == (3, 7) and bids.dtype == np.int8
    assert bids[1, 1] == 0 and bids[1, 0] == 3  # submission 102: bob COI, alice Yes
    assert len(read_jsonl(out / "rejects.jsonl")) == 2
    assert [r["id"] for r in read_jsonl(out / "non_reviewers.jsonl")] == ["erin", "frank"]
    assert pd.read_csv(out / "multi_track_reviewers.csv")["start_id"].tolist() == ["bob"]
    on_disk = json.loads((out / "extraction_report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["submissions"]["withdrawn"] == 1 and on_disk["submissions"]["desk_rejected"] == 1
    assert on_disk["profiles"]["programme_chairs"] == 1 and on_disk["bids"]["rows_set_aside"] == 1
    assert on_disk["submissions"]["author_list_mismatch"] == 0


def test_extract_softconf_without_bids_is_all_maybe(tmp_path, start_exports):
    out = tmp_path / "out"
    extract_into(out, start_exports, bids=False)
    assert (np.load(out / "bids.npy") == 2).all()


def test_extract_softconf_failure_leaves_no_output(tmp_path, start_exports):
    rows = [r[:3] + ["poster"] + r[4:] for r in SUBMISSION_ROWS]
    bad = {**start_exports, "submissions": write_csv(tmp_path / "bad.csv", SUBMISSION_HEADER, rows)}
    out = tmp_path / "out"
    with pytest.raises(InputError):
        extract_into(out, bad)
    assert not out.exists() or list(out.iterdir()) == []


# ---------------------------------------------------------------- properties


def _profile_records(path: Path):
    reviewers, non_reviewers, multi = read_profiles(path)
    return reviewers, non_reviewers, multi.to_dict("records")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(PROFILE_HEADER))))
def test_profiles_column_order_does_not_matter(tmp_path, order):
    baseline = _profile_records(write_csv(tmp_path / "base.csv", PROFILE_HEADER, PROFILE_ROWS))
    padded = [row + [""] * (len(PROFILE_HEADER) - len(row)) for row in PROFILE_ROWS]
    header = [PROFILE_HEADER[i] for i in order]
    path = write_csv(tmp_path / "shuffled.csv", header, [[r[i] for i in order] for r in padded])
    assert _profile_records(path) == baseline


FILLER = st.text(
    alphabet=st.characters(blacklist_characters='",\r\n\x00', blacklist_categories=("Cs",)), max_size=8
)
MALFORMATIONS = ["blank", "separators", "extra", "open_quote", "quote_junk", "duplicate", "no_user"]


@st.composite
def malformed_lines(draw):
    """A CSV line that is no valid new profile: blank, broken quoting, extra fields, a
    repeated or empty username."""
    n = len(PROFILE_HEADER)
    kind = draw(st.sampled_from(MALFORMATIONS))
    fields = [draw(FILLER) for _ in range(n)]
    if kind == "blank":
        return ""
    if kind == "separators":
        return "," * draw(st.integers(0, n + 3))
    if kind == "extra":
        return ",".join(fields + ["x" + draw(FILLER) for _ in range(draw(st.integers(1, 3)))])
    if kind == "open_quote":
        k = draw(st.integers(0, n - 1))
        return ",".join(fields[:k] + ['"' + fields[k]] + fields[k + 1 :])
    if kind == "quote_junk":
        k = draw(st.integers(0, n - 1))
        return ",".join(fields[:k] + ['"' + fields[k] + '"x'] + fields[k + 1 :])
    if kind == "duplicate":
        return ",".join([draw(st.sampled_from([r[0] for r in PROFILE_ROWS]))] + fields[1:])
    return ",".join([" "] + fields[1:-1] + ["y" + fields[-1]])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=malformed_lines(), position=st.integers(0, len(PROFILE_ROWS)))
def test_malformed_profile_row_is_ignored_or_named(tmp_path, start_exports, line, position):
    baseline = _profile_records(start_exports["profiles"])
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        work = Path(work)
        text = start_exports["profiles"].read_text(encoding="utf-8-sig")
        lines = text.splitlines()
        lines.insert(1 + position, line)
        path = work / "Profile_Information.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = work / "out"
        try:
            records = _profile_records(path)
        except InputError as err:
            assert err.path == str(path)
            with pytest.raises(InputError):
                extract_into(out, {**start_exports, "profiles": path})
            assert not out.exists() or list(out.iterdir()) == []
        else:
            assert records == baseline
            extract_into(out, {**start_exports, "profiles": path})
            assert len(read_jsonl(out / "reviewers.jsonl")) == len(baseline[0])
