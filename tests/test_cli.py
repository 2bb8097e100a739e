"""The revmatch command on the demo's START exports."""

import json

import pytest

from revmatch.cli import main
from revmatch.io import read_jsonl
from tests.conftest import DEMO

START = DEMO / "start"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert "revmatch" in capsys.readouterr().out


def test_extract_then_viability(tmp_path, capsys):
    out = tmp_path / "conf"
    rc = main([
        "extract", "--profiles", str(START / "Profile_Information.csv"),
        "--submissions", str(START / "Submission_Information.csv"),
        "--bids", str(START / "Bid_Information.csv"), "--out", str(out),
    ])
    assert rc == 0
    reviewers = read_jsonl(out / "reviewers.jsonl")
    submissions = read_jsonl(out / "submissions.jsonl")
    assert len(reviewers) > 250 and len(submissions) > 130
    assert json.loads((out / "extraction_report.json").read_text())
    rc = main([
        "viability", "--reviewers", str(out / "reviewers.jsonl"),
        "--submissions", str(out / "submissions.jsonl"),
        "--quotas", str(START / "quotas.csv"), "--out", str(tmp_path / "viability.txt"),
    ])
    assert rc == 0
    assert "Track:" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "Profile_Information.csv"
    bad.write_text("Username,Email\nx,y\n")
    rc = main([
        "extract", "--profiles", str(bad),
        "--submissions", str(START / "Submission_Information.csv"), "--out", str(tmp_path / "o"),
    ])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Roles" in err
    assert not (tmp_path / "o" / "reviewers.jsonl").exists()
