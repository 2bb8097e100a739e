import csv
import os

import pytest

from revmatch.io import InputError, write_jsonl
from revmatch.viability import ACROSS_TRACKS, check_viability, reviewer_capacities, viability_file


def reviewer(rid, tracks=(), ac=(), sac=(), emergency=False):
    return {
        "id": rid, "tracks": list(tracks), "areaChair": bool(ac), "ac_tracks": list(ac),
        "seniorAreaChair": bool(sac), "sac_tracks": list(sac), "emergency": emergency,
    }


def papers(track, n):
    return [{"id": f"{track}{i}", "track": track} for i in range(n)]


def test_reviewer_capacities_quota_replaces_max():
    people = [reviewer("a"), reviewer("b"), reviewer("c")]
    assert reviewer_capacities(people, {"a": 2, "b": 10}, 6).tolist() == [2, 10, 6]


def test_feasible_tracks_report_counts_and_no_problem():
    people = [reviewer(f"r{i}", ["MT"]) for i in range(4)] + [
        reviewer("shared", ["MT", "Syntax"]),
        reviewer("s1", ["Syntax"]), reviewer("s2", ["Syntax"]), reviewer("s3", ["Syntax"]),
        reviewer("em", ["Syntax"], emergency=True),
        reviewer("ac", ac=["MT"]), reviewer("ac2", ac=["Syntax"]), reviewer("sac", sac=["MT"]),
    ]
    text, problems = check_viability(people, papers("MT", 4) + papers("Syntax", 2), {}, 3, 6, ac_max_papers=5)
    assert problems == []
    assert "Track: MT" in text and "Track: Syntax" in text and "WARNING" not in text
    mt = text.split("Track: MT")[1].split("Track: Syntax")[0]
    assert "papers: 4" in mt and "reviewers: 5 (4 only in this track)" in mt
    assert "area chairs: 1" in mt and "senior area chairs: 1" in mt
    assert "reviewer assignments needed: 12" in mt and "available: 30 (dedicated to this track: 24)" in mt
    assert "emergency reviewers: 1 (capacity 6" in text.split("Track: Syntax")[1]
    assert "All tracks together: 18 of 18" in text


def test_infeasible_track_is_flagged_with_shortfall():
    people = [reviewer(f"r{i}", ["MT"]) for i in range(3)]
    people += [reviewer("em", ["MT"], emergency=True), reviewer("ac", ac=["MT"])]
    quotas = {"r0": 2, "r1": 2, "r2": 10}
    text, problems = check_viability(people, papers("MT", 5), quotas, 3, 6, ac_max_papers=4)
    # needed 15; available 2 + 2 + 10 = 14: a quota replaces the maximum, as in the
    # assignment (the emergency reviewer and the AC do not count)
    assert {(p["track"], p["kind"], p["needed"], p["available"], p["shortfall"]) for p in problems} == {
        ("MT", "reviewer", 15, 14, 1),
        ("MT", "ac", 5, 4, 1),
    }
    assert text.count("WARNING") == 2


def test_too_few_distinct_reviewers_is_flagged():
    people = [reviewer("a", ["MT"]), reviewer("b", ["MT"])]
    _, problems = check_viability(people, papers("MT", 2), {}, 3, 6)
    assert [(p["kind"], p["available"], p["shortfall"]) for p in problems] == [("reviewer", 4, 2)]


def test_reviewers_shared_between_tracks_cannot_serve_both():
    people = [reviewer(f"r{i}", ["A", "B"]) for i in range(3)]
    _, problems = check_viability(people, papers("A", 6) + papers("B", 6), {}, 3, 6)
    # each track alone needs 18 of 18, but together they need 36 of 18
    assert problems == [
        {**problems[0], "track": ACROSS_TRACKS, "kind": "reviewer",
         "needed": 36, "available": 18, "shortfall": 18}
    ]


def test_without_tracks_one_pool():
    people = [reviewer("a", ["A"]), reviewer("b", ["B"]), reviewer("c")]
    text, problems = check_viability(people, papers("A", 3) + papers("B", 3), {}, 3, 6, by_track=False)
    assert problems == [] and "Track: all" in text and "papers: 6" in text


def test_viability_file_with_quotas(tmp_path):
    write_jsonl([reviewer(f"r{i}", ["MT"]) for i in range(3)], tmp_path / "reviewers.jsonl")
    write_jsonl(papers("MT", 4), tmp_path / "submissions.jsonl")
    quotas = tmp_path / "quotas.csv"
    with open(quotas, "w", newline="") as fh:
        csv.writer(fh).writerows(
            [["Username", "Quota for Review"], ["r0", "None"], ["r1", ""], ["ghost", "3"]]
        )
    out = tmp_path / "viability.txt"
    problems = viability_file(tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", quotas, out, 3, 4)
    assert [(p["needed"], p["available"]) for p in problems] == [(12, 8)]
    text = out.read_text()
    assert "1 rows of unknown usernames ignored" in text and "WARNING" in text
    assert viability_file(tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", None, out, 3, 4) == []

    with open(quotas, "w", newline="") as fh:
        csv.writer(fh).writerows([["Username", "Quota"], ["r0", "-1"]])
    with pytest.raises(InputError):
        viability_file(tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", quotas, out, 3, 4)


def test_viability_file_never_replaces_the_null_device(tmp_path):
    write_jsonl([reviewer("r0", ["MT"])], tmp_path / "reviewers.jsonl")
    write_jsonl(papers("MT", 1), tmp_path / "submissions.jsonl")
    args = (tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", None)
    assert viability_file(*args, os.devnull, 3, 4)[0]["track"] == "MT"
    assert viability_file(*args, None, 3, 4)[0]["track"] == "MT"
    assert not os.path.isfile(os.devnull)
