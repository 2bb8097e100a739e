import logging

import numpy as np
import pandas as pd
import pytest

from revmatch.io import InputError, write_csv, write_jsonl
from revmatch.matching.export import assignment_records, write_assignments_jsonl, write_start_upload
from revmatch.matching.pair_files import (
    read_pair_file,
    read_previous_assignment,
    read_reviewer_attributes,
    read_reviewer_list,
)
from revmatch.matching.table import ASSIGNMENT_COLUMNS

SUBMISSIONS = [{"id": "11", "track": "A"}, {"id": "12", "track": "A"}, {"startSubmissionId": "13", "track": "B"}]
REVIEWERS = [{"id": "alice"}, {"id": "Bob"}, {"startUsername": "carol"}]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def pairs(frame):
    return sorted(zip(frame["submission_id"], frame["reviewer_id"]))


# --------------------------------------------------------------------------- forced / forbidden


def test_pair_file_own_columns(tmp_path):
    path = write(tmp_path / "forced.csv", "submission_id,reviewer_id,reason\n11,alice,asked by SAC\n13,carol,\n")
    frame = read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")
    assert list(frame.columns) == ["submission_id", "reviewer_id", "reason", "line"]
    assert frame.to_dict("records") == [
        {"submission_id": "11", "reviewer_id": "alice", "reason": "asked by SAC", "line": 2},
        {"submission_id": "13", "reviewer_id": "carol", "reason": "", "line": 3},
    ]
    assert frame["line"].dtype == np.int64


def test_pair_file_start_headers_any_case_and_spaces(tmp_path):
    text = "\ufeff Title , SUBMISSION ID ,username , REASON \nx,12,Bob,conflict\n\ny, 11 , alice ,\n"
    path = write(tmp_path / "forbidden.csv", text)
    frame = read_pair_file(path, SUBMISSIONS, REVIEWERS, "forbidden")
    assert pairs(frame) == [("11", "alice"), ("12", "Bob")]
    assert frame["reason"].tolist() == ["conflict", ""]
    assert frame["line"].tolist() == [2, 4]  # the blank line 3 is skipped, lines keep their numbers


def test_pair_file_first_accepted_name_wins_and_reason_optional(tmp_path):
    path = write(tmp_path / "f.csv", "submission,Reviewer Username,reviewer\n11,carol,nobody\n")
    frame = read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")
    assert pairs(frame) == [("11", "carol")]
    assert frame["reason"].tolist() == [""]


def test_pair_file_header_only_is_empty(tmp_path):
    path = write(tmp_path / "f.csv", "Submission ID,Username\n")
    frame = read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")
    assert frame.empty and list(frame.columns) == ["submission_id", "reviewer_id", "reason", "line"]


def test_pair_file_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_pair_file(write(tmp_path / "f.csv", ""), SUBMISSIONS, REVIEWERS, "forced")


def test_pair_file_missing_column_names_accepted_names(tmp_path):
    path = write(tmp_path / "f.csv", "submission_id,person\n11,alice\n")
    with pytest.raises(InputError) as info:
        read_pair_file(path, SUBMISSIONS, REVIEWERS, "forbidden")
    err = info.value
    assert (err.path, err.row, err.column) == (str(path), 1, "reviewer_id")
    for name in ("'reviewer_id'", "'Username'", "'Reviewer Username'", "'reviewer'", "forbidden reviewer"):
        assert name in str(err)


def test_pair_file_headerless_file_is_missing_columns(tmp_path):
    path = write(tmp_path / "f.csv", "11,alice\n12,Bob\n")
    with pytest.raises(InputError, match="no forced submission column.*'Submission ID'"):
        read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")


def test_pair_file_empty_id_cell(tmp_path):
    path = write(tmp_path / "f.csv", "Submission ID,Username\n11,alice\n12, \n")
    with pytest.raises(InputError, match=r"row 3, column 'Username': empty reviewer id") as info:
        read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")
    assert (info.value.row, info.value.column) == (3, "Username")


def test_pair_file_unknown_submission(tmp_path):
    path = write(tmp_path / "f.csv", "submission_id,reviewer_id\n11,alice\n99,Bob\n98,carol\n")
    with pytest.raises(InputError) as info:
        read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")
    assert "unknown submission id '99' (2 row(s) with unknown submission ids)" in str(info.value)
    assert (info.value.row, info.value.column) == (3, "submission_id")
    assert str(path) in str(info.value)


def test_pair_file_unknown_reviewer_suggests_case(tmp_path):
    path = write(tmp_path / "f.csv", "submission_id,Username\n11,bob\n")
    with pytest.raises(InputError, match=r"row 2, column 'Username': unknown reviewer id 'bob'.*'Bob'"):
        read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")


def test_pair_file_duplicates_keep_first_and_are_counted(tmp_path, caplog):
    text = (
        "submission_id,reviewer_id,reason\n"
        "11,alice,first\n12,Bob,x\n11,alice,first\n11,alice,second\n12,Bob,x\n13,alice,\n"
    )
    path = write(tmp_path / "f.csv", text)
    with caplog.at_level(logging.WARNING, logger="revmatch.matching.pair_files"):
        frame = read_pair_file(path, SUBMISSIONS, REVIEWERS, "forbidden")
    assert frame.to_dict("records") == [
        {"submission_id": "11", "reviewer_id": "alice", "reason": "first", "line": 2},
        {"submission_id": "12", "reviewer_id": "Bob", "reason": "x", "line": 3},
        {"submission_id": "13", "reviewer_id": "alice", "reason": "", "line": 7},
    ]
    assert "3 repeated forbidden pair row(s) ignored" in caplog.text
    assert "(1 of them with a different reason)" in caplog.text
    assert "line 5 (11, alice)" in caplog.text


def test_pair_file_blank_rows_are_logged(tmp_path, caplog):
    path = write(tmp_path / "f.csv", "submission_id,reviewer_id\n\n11,alice\n,\n")
    with caplog.at_level(logging.INFO):
        frame = read_pair_file(path, SUBMISSIONS, REVIEWERS, "forced")
    assert len(frame) == 1
    assert "skipped 2 blank rows" in caplog.text


# --------------------------------------------------------------------------- previous assignment


def test_previous_assignment_jsonl(tmp_path):
    records = [
        {"submission_id": "11", "id": "ignored", "assignedReviewers": [{"id": "alice", "score": 1}, {"id": "bob"}]},
        {"id": "12", "reviewers": [{"id": "carol"}]},  # fallbacks: id, reviewers
        {"submission_id": "withdrawn", "assignedReviewers": [{"id": "left-the-pc"}], "reviewers": [{"id": "x"}]},
        {"submission_id": "14", "assignedReviewers": []},
    ]
    path = tmp_path / "assignments.jsonl"
    write_jsonl(records, path)
    frame = read_previous_assignment(path)
    assert list(frame.columns) == ["submission_id", "reviewer_id"]
    assert frame.values.tolist() == [["11", "alice"], ["11", "bob"], ["12", "carol"], ["withdrawn", "left-the-pc"]]


def test_previous_assignment_jsonl_errors(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"submission_id": "1", "assignedReviewers": [{"id": "a"}]}\n\n{bad\n')
    with pytest.raises(InputError, match=r"row 3: invalid JSON"):
        read_previous_assignment(path)
    path = write(tmp_path / "b.jsonl", '{"assignedReviewers": [{"id": "a"}]}\n')
    with pytest.raises(InputError, match=r"row 1, column 'submission_id': no submission id"):
        read_previous_assignment(path)
    path = write(tmp_path / "c.jsonl", '{"id": "1", "assignedReviewers": [{"name": "A"}]}\n')
    with pytest.raises(InputError, match=r"row 1, column 'assignedReviewers': reviewer 1 .* has no id"):
        read_previous_assignment(path)


def test_previous_assignment_table_csv(tmp_path):
    table = pd.DataFrame(
        [["11", "A", "alice", 0.9, 1, ""], ["11", "A", "gone", 0.5, 2, ""], ["old", "B", "carol", 0.1, 1, ""]],
        columns=ASSIGNMENT_COLUMNS,
    )
    table["note"] = "extra"
    path = tmp_path / "assignment.csv"
    write_csv(table, path)
    frame = read_previous_assignment(path)
    assert frame.values.tolist() == [["11", "alice"], ["11", "gone"], ["old", "carol"]]


def test_previous_assignment_spreadsheet_is_refused(tmp_path):
    path = write(tmp_path / "assignments.csv", "ID,Assigned reviewer 1,Track\n11,alice,A\n")
    with pytest.raises(InputError, match=r"row 1, column 'submission_id': no submission column.*chairs' spreadsheet"):
        read_previous_assignment(path)


def test_previous_assignment_start_upload(tmp_path):
    path = write(tmp_path / "start.txt", "11:alice:Bob\r\n\r\n 12 : carol \r\n99\r\nold:gone\r\n")
    frame = read_previous_assignment(path)
    assert frame.values.tolist() == [["11", "alice"], ["11", "Bob"], ["12", "carol"], ["old", "gone"]]


def test_previous_assignment_start_empty_field(tmp_path):
    path = write(tmp_path / "start.txt", "11:alice\n\n12::Bob\n")
    with pytest.raises(InputError, match=r"row 3: empty field in '12::Bob'") as info:
        read_previous_assignment(path)
    assert info.value.row == 3


@pytest.mark.parametrize(
    "name, text, lines",
    [
        ("a.txt", "11:a\n12:Bob\n11:carol:a\n", "on lines 1 and 3"),
        ("a.jsonl", '{"id": "11", "reviewers": [{"id": "a"}, {"id": "a"}]}\n', "twice on line 1"),
        ("a.csv", "submission_id,reviewer_id\n11,a\n12,a\n11,a\n", "on lines 2 and 4"),
    ],
)
def test_previous_assignment_repeated_pair(tmp_path, name, text, lines):
    with pytest.raises(InputError, match=rf"pair \(11, a\) appears {lines} \(1 repeat"):
        read_previous_assignment(write(tmp_path / name, text))


@pytest.mark.parametrize(
    "name, text",
    [
        ("a.txt", "11\n\n12\n"),
        ("a.jsonl", '{"id": "11", "assignedReviewers": []}\n'),
        ("a.csv", "submission_id,reviewer_id\n"),
    ],
)
def test_previous_assignment_empty(tmp_path, name, text):
    with pytest.raises(InputError, match="no assignment in"):
        read_previous_assignment(write(tmp_path / name, text))


@pytest.mark.parametrize(
    "text",
    [
        '{"submission_id": "11", "assignedReviewers": [{"id": "alice"}]}\n',
        "track,Submission_ID,Reviewer_ID\nA,11,alice\n",
        "\n11:alice\n",
    ],
)
def test_previous_assignment_format_by_content(tmp_path, text):
    frame = read_previous_assignment(write(tmp_path / "previous.out", text))
    assert frame.values.tolist() == [["11", "alice"]]


def test_previous_assignment_unknown_format(tmp_path):
    with pytest.raises(InputError, match="not a previous assignment"):
        read_previous_assignment(write(tmp_path / "previous", "alice\nBob\n"))


def test_previous_assignment_reads_every_export(tmp_path):
    """The project's own exports read back to the same pairs, a paper without reviewers included."""
    table = pd.DataFrame(
        [["11", "A", "alice", 0.9, 1, ""], ["11", "A", "Bob", 0.5, 2, "forced: AC"], ["13", "B", "carol", 0.1, 1, ""]],
        columns=ASSIGNMENT_COLUMNS,
    )
    scores = np.ones((3, 3))
    records = assignment_records(table, SUBMISSIONS, REVIEWERS, scores, np.zeros((3, 3), bool), num_similar=2)
    write_csv(table, tmp_path / "assignment.csv")
    write_assignments_jsonl(records, tmp_path / "assignments.jsonl")
    write_start_upload(records, tmp_path / "start.txt")
    assert (tmp_path / "start.txt").read_text().splitlines()[1] == "12"
    expected = [("11", "Bob"), ("11", "alice"), ("13", "carol")]
    for name in ("assignment.csv", "assignments.jsonl", "start.txt"):
        assert pairs(read_previous_assignment(tmp_path / name)) == expected, name


# --------------------------------------------------------------------------- reviewer files


def test_reviewer_list_csv(tmp_path, caplog):
    path = write(tmp_path / "emergency.csv", "Name,Username\nA,alice\nC,carol\nA again,alice\n")
    with caplog.at_level(logging.WARNING):
        listed = read_reviewer_list(path, REVIEWERS)
    assert listed.dtype == bool and listed.tolist() == [True, False, True]
    assert "1 reviewer(s) listed again" in caplog.text and "alice (row 4)" in caplog.text


def test_reviewer_list_txt(tmp_path, caplog):
    path = write(tmp_path / "emergency.txt", "\ufeffBob\n\n  carol  \n")
    with caplog.at_level(logging.INFO):
        assert read_reviewer_list(path, REVIEWERS).tolist() == [False, True, True]
    assert "skipped 1 blank line(s)" in caplog.text


def test_reviewer_list_unknown(tmp_path):
    with pytest.raises(InputError, match=r"row 3: unknown reviewer id 'dave' \(1 row"):
        read_reviewer_list(write(tmp_path / "e.txt", "alice\nBob\ndave\n"), REVIEWERS)
    with pytest.raises(InputError, match=r"row 2, column 'reviewer_id': unknown reviewer id 'dave'"):
        read_reviewer_list(write(tmp_path / "e.csv", "reviewer_id\ndave\n"), REVIEWERS)
    with pytest.raises(InputError, match=r"row 1, column 'reviewer_id': no reviewer column"):
        read_reviewer_list(write(tmp_path / "e2.csv", "alice\nBob\n"), REVIEWERS)


def test_reviewer_attributes(tmp_path):
    path = write(tmp_path / "attrs.csv", "region, Username ,seniority\nEU,carol, senior\nUS,alice,\n")
    frame = read_reviewer_attributes(path, REVIEWERS)
    assert frame.index.tolist() == ["alice", "Bob", "carol"]
    assert list(frame.columns) == ["region", "seniority"]
    assert frame.to_dict("index") == {
        "alice": {"region": "US", "seniority": ""},
        "Bob": {"region": "", "seniority": ""},
        "carol": {"region": "EU", "seniority": "senior"},
    }


def test_reviewer_attributes_errors(tmp_path):
    path = write(tmp_path / "a.csv", "reviewer,region\nalice,EU\nzed,US\n")
    with pytest.raises(InputError, match=r"row 3, column 'reviewer': unknown reviewer id 'zed'"):
        read_reviewer_attributes(path, REVIEWERS)
    path = write(tmp_path / "b.csv", "reviewer,region\nalice,EU\nBob,US\nalice,US\n")
    with pytest.raises(InputError, match=r"row 4, column 'reviewer': reviewer 'alice' appears on lines 2 and 4"):
        read_reviewer_attributes(path, REVIEWERS)
    path = write(tmp_path / "c.csv", "region,group\nEU,1\n")
    with pytest.raises(InputError, match="no reviewer column"):
        read_reviewer_attributes(path, REVIEWERS)


def test_previous_assignment_bad_records(tmp_path):
    with pytest.raises(InputError, match=r"row 2: a JSON list, not an object"):
        read_previous_assignment(write(tmp_path / "a.jsonl", '{"id": "1", "reviewers": ["a"]}\n[1]\n'))
    with pytest.raises(InputError, match=r"row 1, column 'reviewers': reviewers is not a list"):
        read_previous_assignment(write(tmp_path / "b.jsonl", '{"id": "1", "reviewers": "a:b"}\n'))
    with pytest.raises(InputError, match=r"row 3, column 'reviewer_id': empty reviewer id"):
        read_previous_assignment(write(tmp_path / "c.csv", "submission_id,reviewer_id\n1,a\n2,\n"))


def test_previous_assignment_logs_blank_lines_and_unreviewed(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="revmatch.matching.pair_files"):
        read_previous_assignment(write(tmp_path / "a.txt", "1:a\n\n2\n\n3:b\n"))
    assert "skipped 2 blank line(s)" in caplog.text
    assert "1 submission(s) without reviewers: 2" in caplog.text


def test_reviewer_attributes_columns(tmp_path, caplog):
    path = write(tmp_path / "a.csv", "reviewer_id,region,region\nalice,EU,US\n")
    with pytest.raises(InputError, match=r"row 1, column 'region': column name\(s\) used twice"):
        read_reviewer_attributes(path, REVIEWERS)
    with caplog.at_level(logging.WARNING):
        frame = read_reviewer_attributes(write(tmp_path / "b.csv", "Username\nBob\n"), REVIEWERS)
    assert frame.shape == (3, 0) and frame.index.tolist() == ["alice", "Bob", "carol"]
    assert "no attribute column" in caplog.text
