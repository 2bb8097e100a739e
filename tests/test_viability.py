import csv
import os

import pytest

from revmatch.io import InputError, write_jsonl
from revmatch.conference.settings import ViabilitySettings
from revmatch.conference.viability import ACROSS_TRACKS, check_viability, reviewer_capacities, viability_file


def reviewer(rid, tracks=(), ac=(), sac=(), emergency=False):
    return {
        "id": rid, "tracks": list(tracks), "areaChair": bool(ac), "ac_tracks": list(ac),
        "seniorAreaChair": bool(sac), "sac_tracks": list(sac), "emergency": emergency,
    }


def papers(track, n):
    return [{"id": f"{track}{i}", "track": track} for i in range(n)]


def counts(reviews_per_paper=3, max_papers_per_reviewer=6, by_track=True, ac_max_papers=15):
    return ViabilitySettings(reviews_per_paper, max_papers_per_reviewer, by_track, ac_max_papers, 1)


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
    subs = papers("MT", 4) + papers("Syntax", 2)
    text, problems = check_viability(people, subs, {}, counts(ac_max_papers=5))
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
    text, problems = check_viability(people, papers("MT", 5), quotas, counts(ac_max_papers=4))
    # needed 15; available 2 + 2 + 10 = 14: a quota replaces the maximum, as in the
    # assignment (the emergency reviewer and the AC do not count)
    assert {(p["track"], p["kind"], p["needed"], p["available"], p["shortfall"]) for p in problems} == {
        ("MT", "reviewer", 15, 14, 1),
        ("MT", "ac", 5, 4, 1),
    }
    assert text.count("WARNING") == 2


def test_too_few_distinct_reviewers_is_flagged():
    people = [reviewer("a", ["MT"]), reviewer("b", ["MT"])]
    _, problems = check_viability(people, papers("MT", 2), {}, counts())
    assert [(p["kind"], p["available"], p["shortfall"]) for p in problems] == [("reviewer", 4, 2)]


def test_too_few_distinct_area_chairs_is_flagged():
    """Two ACs per paper from one AC: its capacity (15) covers the 4 assignments, but it takes
    each paper once."""
    people = [reviewer(f"r{i}", ["MT"]) for i in range(3)] + [reviewer("ac", ac=["MT"])]
    settings = ViabilitySettings(3, 6, True, 15, 2)
    text, problems = check_viability(people, papers("MT", 2), {}, settings)
    assert [(p["kind"], p["needed"], p["available"], p["shortfall"]) for p in problems] == [("ac", 4, 2, 2)]
    assert "too few area chairs: each paper needs 2 distinct area chairs" in text


def test_reviewers_shared_between_tracks_cannot_serve_both():
    people = [reviewer(f"r{i}", ["A", "B"]) for i in range(3)]
    _, problems = check_viability(people, papers("A", 6) + papers("B", 6), {}, counts())
    # each track alone needs 18 of 18, but together they need 36 of 18
    assert problems == [
        {**problems[0], "track": ACROSS_TRACKS, "kind": "reviewer",
         "needed": 36, "available": 18, "shortfall": 18}
    ]


def test_without_tracks_one_pool():
    people = [reviewer("a", ["A"]), reviewer("b", ["B"]), reviewer("c")]
    text, problems = check_viability(people, papers("A", 3) + papers("B", 3), {}, counts(by_track=False))
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


# ---------------------------------------------------------------- conflicts, JSON result, the demo

import json  # noqa: E402

import numpy as np  # noqa: E402

from revmatch.conference.profiles import read_profiles
from revmatch.conference.softconf import extract_softconf
from revmatch.conference.viability import InfeasibleTrack, infeasible_message, raise_if_infeasible
from tests.conftest import DEMO, copy_workflow, run_snakemake  # noqa: E402


def test_conflicts_reduce_what_a_reviewer_can_give():
    people = [reviewer(f"r{i}", ["MT"]) for i in range(4)]
    subs = papers("MT", 2)
    assert check_viability(people, subs, {}, counts())[1] == []
    coi = np.zeros((2, 4), dtype=bool)
    coi[0, :2] = True  # paper MT0 keeps 2 reviewers free of conflicts
    text, problems = check_viability(people, subs, {}, counts(), coi=coi)
    assert [(p["kind"], p["track"], p["needed"], p["available"], p["shortfall"]) for p in problems] == [
        ("paper", "MT", 3, 2, 1)
    ]
    assert "MT0 (2)" in problems[0]["message"] and "WARNING" in text


def test_infeasible_message_names_track_and_shortfall(tmp_path):
    people = [reviewer(f"r{i}", ["MT"]) for i in range(3)] + [reviewer(f"s{i}", ["Syntax"]) for i in range(3)]
    write_jsonl(people, tmp_path / "reviewers.jsonl")
    write_jsonl(papers("MT", 2) + papers("Syntax", 8), tmp_path / "submissions.jsonl")
    out_json = tmp_path / "viability.json"
    problems = viability_file(
        tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", None, tmp_path / "v.txt", 3, 6,
        out_json=out_json,
    )
    result = json.loads(out_json.read_text())
    assert result["feasible"] is False and result["problems"] == problems
    assert [(p["track"], p["shortfall"]) for p in problems] == [("Syntax", 6)]
    with pytest.raises(InfeasibleTrack) as err:
        raise_if_infeasible(out_json)
    assert "track 'Syntax': short by 6" in str(err.value)
    raise_if_infeasible(out_json, area_chairs=True)  # no AC problem: an AC assignment may go on
    assert infeasible_message([], area_chairs=False) is None


def test_quota_from_reviewers_jsonl(tmp_path):
    people = [{**reviewer(f"r{i}", ["MT"]), "quota": 1} for i in range(3)] + [reviewer("r3", ["MT"])]
    write_jsonl(people, tmp_path / "reviewers.jsonl")
    write_jsonl(papers("MT", 3), tmp_path / "submissions.jsonl")
    problems = viability_file(tmp_path / "reviewers.jsonl", tmp_path / "submissions.jsonl", None, None, 3, 6)
    assert [(p["needed"], p["available"]) for p in problems] == [(9, 6)]  # 1 + 1 + 1 + min(6, 3 papers)


def _demo_extract(out, quotas_csv):
    start = DEMO / "start"
    extract_softconf(
        start / "Profile_Information.csv", start / "Submission_Information.csv", start / "Bid_Information.csv",
        out / "reviewers.jsonl", out / "submissions.jsonl", out / "rejects.jsonl", out / "bids.npy",
        out / "non_reviewers.jsonl", out / "multi.csv", out / "report.json", quotas_csv=quotas_csv,
    )


def _zero_quotas(path, track):
    """A quotas file giving every reviewer of ``track`` (in the demo profiles) a quota of 1."""
    reviewers, _, _ = read_profiles(DEMO / "start" / "Profile_Information.csv")
    members = [r["id"] for r in reviewers if track in r["tracks"]]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["Username", "Quota for Review"], *[[m, "1"] for m in members]])
    return path


DEMO_TRACK = "Machine Translation"


def test_demo_track_made_infeasible_is_flagged(tmp_path):
    out = tmp_path / "demo"
    _demo_extract(out, DEMO / "start" / "quotas.csv")
    assert viability_file(out / "reviewers.jsonl", out / "submissions.jsonl", None, out / "v.txt", 3, 6) == []
    _demo_extract(out, _zero_quotas(tmp_path / "quotas.csv", DEMO_TRACK))
    problems = viability_file(
        out / "reviewers.jsonl", out / "submissions.jsonl", None, out / "v.txt", 3, 6, out_json=out / "v.json"
    )
    assert [p["track"] for p in problems] == [DEMO_TRACK]
    text = (out / "v.txt").read_text()
    block = text.split(f"Track: {DEMO_TRACK}")[1].split("Track:")[0]
    assert f"WARNING: {DEMO_TRACK}: reviewer assignments needed exceed those available" in block
    with pytest.raises(InfeasibleTrack, match=f"track '{DEMO_TRACK}': short by {problems[0]['shortfall']}"):
        raise_if_infeasible(out / "v.json")


def test_check_viability_rule_flags_an_infeasible_track(tmp_path):
    (tmp_path / "wf").mkdir()
    workdir = copy_workflow(tmp_path / "wf")
    quotas = _zero_quotas(workdir / "tight_quotas.csv", DEMO_TRACK)
    (workdir / "tight.yaml").write_text(f"softconf:\n  quotas: {quotas.name}\n")
    proc = run_snakemake(
        workdir, "--configfile", "config/config.yaml", "tight.yaml", "--", "results/demo/viability.json",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((workdir / "results/demo/viability.json").read_text())
    assert result["feasible"] is False and result["settings"]["coi"] is True
    assert {p["track"] for p in result["problems"]} == {DEMO_TRACK}
    assert "WARNING: Machine Translation" in (workdir / "results/demo/viability.txt").read_text()
    assert "WARNING" in (workdir / "logs/demo/check_viability.log").read_text()
    # the quotas reach the check directly, not through the extraction: a changed quota
    # re-runs no extraction, embedding or matching
