import csv
import json

import numpy as np
import pandas as pd
import pytest

from revmatch.io import write_csv, write_jsonl
from revmatch.matching.conference_assignment import assign_conference
from revmatch.matching.export import (
    assignment_records,
    export_assignments_file,
    file_sha256,
    format_text_report,
    remove_previous_exports,
    stale_exports,
    top_reviewers,
    sheet_names,
    track_slug,
    write_assignments_csv,
    write_assignments_xlsx,
    write_start_upload,
    write_track_csvs,
)


def person(pid, tracks=(), ac=(), sac=()):
    return {
        "id": pid,
        "name": f"Name {pid}",
        "email": f"{pid}@example.org",
        "ids": [],
        "startUsername": pid,
        "tracks": list(tracks),
        "areaChair": bool(ac),
        "ac_tracks": list(ac),
        "seniorAreaChair": bool(sac),
        "sac_tracks": list(sac),
        "emergency": False,
    }


@pytest.fixture
def solved():
    """Track 'Dialogue and Interactive Systems' (with a SAC) and 'Machine Learning: NLP' (without one)."""
    dialogue, ml = "Dialogue and Interactive Systems", "Machine Learning- NLP"
    reviewers = (
        [person(f"d{i}", [dialogue]) for i in range(4)]
        + [person(f"m{i}", [ml]) for i in range(4)]
        + [person("acD", ac=[dialogue]), person("sacD", sac=[dialogue])]
    )
    submissions = [
        {
            "id": str(10 + p),
            "startSubmissionId": str(10 + p),
            "title": f"Title {p}",
            "track": dialogue if p < 3 else ml,
            "type": "long",
            "paperAbstract": f"Abstract, with \"quotes\"\nand a newline {p}",
            "authors": [],
        }
        for p in range(5)
    ]
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1.5, size=(5, len(reviewers))).astype(np.float32)
    coi = np.zeros(scores.shape, dtype=bool)
    coi[0, 9] = True  # paper 10 conflicts with the only SAC of its track -> COI track
    coi[0, 8] = True
    coi[1, 0] = True
    coi[3, 4] = True  # a track without SACs never becomes a COI track
    table = assign_conference(
        scores, coi, submissions, reviewers, reviews_per_paper=2, max_papers_per_reviewer=3
    )
    return table, submissions, reviewers, scores, coi


def test_records_shape_and_order(solved):
    table, submissions, reviewers, scores, coi = solved
    records = assignment_records(table, submissions, reviewers, scores, coi, num_similar=3)
    assert [r["submission_id"] for r in records] == [s["id"] for s in submissions]
    first = records[0]
    expected_keys = {"submission_id", "track", "title", "reviewers", "topSimReviewers", "assignedReviewers"}
    assert expected_keys | {"paperAbstract", "type", "conflicts", "allTrackSacsConflicted"} <= set(first)
    assert set(first["reviewers"][0]) == {"id", "name", "score"}
    assert first["assignedReviewers"][0]["names"] == [first["assignedReviewers"][0]["name"]]
    assert "email" not in first["assignedReviewers"][0]
    for rec in records:
        assigned_scores = [r["score"] for r in rec["reviewers"]]
        assert assigned_scores == sorted(assigned_scores, reverse=True)
        assert len(rec["topSimReviewers"]) == 3
    # best matches: non-COI reviewers of any role, best first
    p = 0
    allowed_scores = np.where(coi[p], -np.inf, scores[p])
    expected = [reviewers[j]["id"] for j in np.argsort(-allowed_scores, kind="stable")[:3]]
    assert [r["id"] for r in first["topSimReviewers"]] == expected
    assert first["conflicts"] == {"seniorAreaChairs": ["sacD"], "areaChairs": ["acD"], "reviewers": []}
    assert first["allTrackSacsConflicted"] is True
    assert records[1]["conflicts"]["reviewers"] == ["d0"]
    assert records[3]["conflicts"]["reviewers"] == ["m0"] and records[3]["allTrackSacsConflicted"] is False


def test_top_reviewers_with_few_candidates():
    scores = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]])
    coi = np.array([[False, False, False], [True, True, False]])
    best, valid = top_reviewers(scores, coi, 5)
    assert best.shape == (2, 3)
    assert best[0].tolist() == [1, 2, 0] and valid[0].all()
    assert best[1][valid[1]].tolist() == [2]


def test_csv_header_and_cells(solved, tmp_path):
    table, submissions, reviewers, scores, coi = solved
    records = assignment_records(table, submissions, reviewers, scores, coi)
    write_assignments_csv(records, tmp_path / "assignments.csv", reviews_per_paper=2)
    with open(tmp_path / "assignments.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "ID",
        "Assigned reviewer 1",
        "Assigned reviewer 1 score",
        "Assigned reviewer 2",
        "Assigned reviewer 2 score",
        "Track",
        "Assigned within same track",
    ]
    assert [r[0] for r in rows[1:]] == ["10", "11", "12", "13", "14"]
    assert rows[1][5] == "COI" and rows[2][5] == "Dialogue and Interactive Systems"
    assert all(r[6] == "True" for r in rows[1:])
    first = table[table["submission_id"] == "10"]
    assert rows[1][1] == first["reviewer_id"].iloc[0]
    assert float(rows[1][2]) == pytest.approx(round(first["score"].iloc[0], 4))
    write_assignments_csv(records, tmp_path / "ac.csv", reviews_per_paper=1, role="AC")
    assert pd.read_csv(tmp_path / "ac.csv").columns[1] == "Assigned AC 1"


def test_track_files_and_start_lines(solved, tmp_path):
    table, submissions, reviewers, scores, coi = solved
    records = assignment_records(table, submissions, reviewers, scores, coi, num_similar=2)
    (tmp_path / "tracks").mkdir()
    (tmp_path / "tracks" / "stale.csv").write_text("old\n")
    slugs = write_track_csvs(records, tmp_path / "tracks", reviews_per_paper=2, num_similar=2)
    assert slugs == {"COI": "COI", "Dialogue and Interactive Systems": "Dialogue-and-Interactive-Systems",
                     "Machine Learning- NLP": "Machine-Learning-NLP"}
    assert sorted(p.name for p in (tmp_path / "tracks").iterdir()) == sorted(
        f"{s}.{ext}" for s in slugs.values() for ext in ("csv", "txt")
    )
    dialogue = pd.read_csv(
        tmp_path / "tracks" / "Dialogue-and-Interactive-Systems.csv", dtype=str, keep_default_na=False
    )
    assert list(dialogue.columns) == [
        "ID",
        "Assigned reviewer 1",
        "Assigned reviewer 1 score",
        "Assigned reviewer 2",
        "Assigned reviewer 2 score",
        "Similar reviewer 1",
        "Similar reviewer 1 score",
        "Similar reviewer 2",
        "Similar reviewer 2 score",
        "SACs with COI",
        "ACs with COI",
        "Reviewers with COI",
    ]
    assert dialogue["ID"].tolist() == ["11", "12"]
    assert dialogue["Assigned reviewer 1"].str.fullmatch(r"Name d\d \(d\d\)").all()
    assert dialogue.loc[0, "Reviewers with COI"] == "d0"
    coi_track = pd.read_csv(tmp_path / "tracks" / "COI.csv", dtype=str)
    assert coi_track["ID"].tolist() == ["10"]
    assert coi_track["Original track"].tolist() == ["Dialogue and Interactive Systems"]
    assert coi_track.loc[0, "SACs with COI"] == "sacD" and coi_track.loc[0, "ACs with COI"] == "acD"
    ml = (tmp_path / "tracks" / "Machine-Learning-NLP.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in ml] == ["13", "14"]

    write_start_upload(records, tmp_path / "start.txt")
    lines = (tmp_path / "start.txt").read_text().splitlines()
    assert len(lines) == 5
    for line, rec in zip(lines, records):
        sid, *users = line.split(":")
        assert sid == rec["submission_id"] and len(users) == 2
        assert users == [r["id"] for r in rec["reviewers"]]


def test_track_slug():
    assert track_slug("Machine Learning for NLP") == "Machine-Learning-for-NLP"
    assert track_slug("Semantics: Lexical, Sentence-level") == "Semantics-Lexical-Sentence-level"
    assert track_slug("n/a") == "n-a"
    assert track_slug("") == "no-track"


def test_text_report_layout(solved):
    table, submissions, reviewers, scores, coi = solved
    records = assignment_records(table, submissions, reviewers, scores, coi, num_similar=2)
    text = format_text_report(records)
    block = text.split("----------------------------------------------\n")[1]
    lines = block.splitlines()
    assert lines[:3] == ["*** Paper Title", "Title 0", "*** Paper Abstract"]
    assert "*** Best Matched Reviewers" in lines and "*** Assigned Reviewers" in lines
    assigned = lines[lines.index("*** Assigned Reviewers") + 1 :]
    best = records[0]["reviewers"][0]
    assert assigned[0] == f"# {best['name']} (Score {best['score']:.4f})"
    assert text.count("*** Paper Title") == 5
    assert "*** Similar Papers" not in text


def test_export_assignments_file(solved, tmp_path):
    table, submissions, reviewers, scores, coi = solved
    write_csv(table, tmp_path / "assignment.csv")
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    np.save(tmp_path / "aggregate.npy", scores)
    np.save(tmp_path / "coi.npy", coi)
    out = tmp_path / "out"
    export_assignments_file(
        tmp_path / "assignment.csv",
        tmp_path / "submissions.jsonl",
        tmp_path / "reviewers.jsonl",
        tmp_path / "aggregate.npy",
        tmp_path / "coi.npy",
        out_jsonl=out / "assignments.jsonl",
        out_csv=out / "assignments.csv",
        out_tracks_dir=out / "tracks",
        out_start_txt=out / "start_upload.txt",
        out_text=out / "assignments.txt",
        reviews_per_paper=2,
        num_similar=4,
        out_xlsx=out / "assignments.xlsx",
    )
    assert "All tracks" in pd.read_excel(out / "assignments.xlsx", sheet_name=None)
    lines = (out / "assignments.jsonl").read_text().splitlines()
    assert len(lines) == 5
    first = json.loads(lines[0])
    assert {"submission_id", "track", "reviewers", "topSimReviewers", "assignedReviewers"} <= set(first)
    assert len(first["topSimReviewers"]) == 4
    assert (out / "tracks" / "COI.csv").exists()
    assert (out / "assignments.txt").read_text().count("*** Assigned Reviewers") == 5
    assert len((out / "start_upload.txt").read_text().splitlines()) == 5
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left behind


def test_unknown_ids_in_the_assignment_are_errors(solved, tmp_path):
    table, submissions, reviewers, scores, coi = solved
    bad = table.copy()
    bad.loc[0, "reviewer_id"] = "nobody"
    with pytest.raises(ValueError, match="assignment row 0: unknown reviewer id 'nobody'"):
        assignment_records(bad, submissions, reviewers, scores, coi)


def test_xlsx_workbook_has_global_and_track_sheets(solved, tmp_path):
    table, submissions, reviewers, scores, coi = solved
    records = assignment_records(table, submissions, reviewers, scores, coi, num_similar=4)
    path = tmp_path / "assignments.xlsx"
    write_assignments_xlsx(records, path, reviews_per_paper=2, num_similar=4)
    sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    tracks = sorted({rec["track"] for rec in records})
    assert list(sheets) == ["All tracks", *sheet_names(tracks)]
    assert sheets["All tracks"]["ID"].tolist() == [rec["submission_id"] for rec in records]
    pd.testing.assert_frame_equal(
        sheets["All tracks"].fillna(""),
        pd.read_csv(_csv_of(records, tmp_path), dtype=str).fillna(""),
    )
    assert sum(len(sheets[name]) for name in sheet_names(tracks)) == len(records)


def _csv_of(records, tmp_path):
    path = tmp_path / "global.csv"
    write_assignments_csv(records, path, reviews_per_paper=2)
    return path


def test_sheet_names_are_valid_and_unique():
    names = sheet_names(["A/B: Tagging", "A/B: Tagging?", "x" * 40, "x" * 40])
    assert all(len(n) <= 31 and not set("[]:*?/\\") & set(n) for n in names)
    assert len({n.lower() for n in names}) == 4


def test_a_forced_pair_carries_its_reason_into_every_export(solved, tmp_path):
    """The chair's reason of a forced pair reaches the JSON lines, the spreadsheet and the text
    report; other pairs carry none, and the reference layout keeps no notes column then."""
    table, submissions, reviewers, scores, coi = solved
    plain = assignment_records(table, submissions, reviewers, scores, coi)
    assert "Notes" not in _csv_of(plain, tmp_path).read_text().splitlines()[0]
    table = table.copy()
    table.loc[0, "reason"] = "forced: the area chair asked"
    records = assignment_records(table, submissions, reviewers, scores, coi)
    people = [p for rec in records for p in rec["assignedReviewers"]]
    assert [p["reason"] for p in people if "reason" in p] == ["forced: the area chair asked"]
    with _csv_of(records, tmp_path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["Notes"] == f"{table.loc[0, 'reviewer_id']}: forced: the area chair asked"
    assert all(row["Notes"] == "" for row in rows[1:])
    assert "[forced: the area chair asked]" in format_text_report(records)


def export_into(out, tmp_path, with_openreview=True):
    """Export the solved fixture's files (written by ``test_export_assignments_file``'s way) into ``out``."""
    return export_assignments_file(
        tmp_path / "assignment.csv", tmp_path / "submissions.jsonl", tmp_path / "reviewers.jsonl",
        tmp_path / "aggregate.npy", tmp_path / "coi.npy",
        out_jsonl=out / "assignments.jsonl", out_csv=out / "assignments.csv", out_tracks_dir=out / "tracks",
        out_start_txt=out / "start_upload.txt", out_text=out / "assignments.txt", reviews_per_paper=2,
        out_xlsx=out / "assignments.xlsx", out_openreview_dir=out / "openreview" if with_openreview else None,
        out_manifest=out / "exports.json",
    )


def write_inputs(solved, tmp_path):
    table, submissions, reviewers, scores, coi = solved
    write_csv(table, tmp_path / "assignment.csv")
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    np.save(tmp_path / "aggregate.npy", scores)
    np.save(tmp_path / "coi.npy", coi)


def test_the_manifest_fingerprints_the_assignment_and_every_export(solved, tmp_path):
    """exports.json names the assignment's SHA-256 and each export's (track files one by one,
    paths relative to it); the exports themselves are the same bytes as without it."""
    write_inputs(solved, tmp_path)
    export_into(tmp_path / "out", tmp_path)
    manifest = json.loads((tmp_path / "out" / "exports.json").read_text())
    assert manifest["assignment"] == {"file": "../assignment.csv", "sha256": file_sha256(tmp_path / "assignment.csv")}
    exported = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
                if p.is_file() and p.name != "exports.json"}
    assert set(manifest["exports"]) == exported
    assert {"start_upload.txt", "openreview/assignments.json", "tracks/COI.csv"} <= exported
    assert all(manifest["exports"][name] == file_sha256(tmp_path / "out" / name) for name in exported)
    assert stale_exports(tmp_path / "out" / "exports.json") == []
    export_assignments_file(  # the same exports without a manifest: byte for byte
        tmp_path / "assignment.csv", tmp_path / "submissions.jsonl", tmp_path / "reviewers.jsonl",
        tmp_path / "aggregate.npy", tmp_path / "coi.npy", out_jsonl=tmp_path / "plain" / "assignments.jsonl",
        out_csv=tmp_path / "plain" / "assignments.csv", out_tracks_dir=tmp_path / "plain" / "tracks",
        out_start_txt=tmp_path / "plain" / "start_upload.txt", out_text=tmp_path / "plain" / "assignments.txt",
        reviews_per_paper=2, out_openreview_dir=tmp_path / "plain" / "openreview",
    )
    for name in ("start_upload.txt", "openreview/assignments.json", "openreview/alternates.json", "assignments.jsonl"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "out" / name).read_bytes(), name


def test_a_changed_assignment_or_export_makes_the_exports_stale(solved, tmp_path):
    write_inputs(solved, tmp_path)
    out = tmp_path / "out"
    export_into(out, tmp_path, with_openreview=False)
    (out / "start_upload.txt").write_text("10:d1:d2\n")
    (out / "assignments.txt").unlink()
    table = solved[0]
    write_csv(table.iloc[1:], tmp_path / "assignment.csv")
    assert sorted(stale_exports(out / "exports.json")) == [
        "../assignment.csv (changed)", "assignments.txt (missing)", "start_upload.txt (changed)"]


def test_previous_exports_are_removed_files_and_folders(solved, tmp_path):
    write_inputs(solved, tmp_path)
    out = tmp_path / "out"
    export_into(out, tmp_path)
    paths = [out / "assignments.jsonl", out / "tracks", out / "openreview" / "assignments.json",
             out / "evaluation.txt", out / "exports.json"]
    removed = remove_previous_exports(paths)
    assert removed == [str(p) for p in paths if p.name != "evaluation.txt"]  # absent: nothing to remove
    assert not any(p.exists() for p in paths)
    assert (out / "openreview" / "alternates.json").exists() and (out / "start_upload.txt").exists()
