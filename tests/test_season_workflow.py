"""The chair's season through the workflow on the demo: forced and forbidden pairs, attribute
constraints, the fair objective, a re-solve (minimal change and emergency) and the randomized
assignment, each from a config overlay that re-runs only the assignment and its exports.

The demo run is shared with the other end-to-end tests: the module puts its base assignment
back when it ends."""

import json

import numpy as np
import pandas as pd
import pytest

from revmatch.conference import email_domain
from revmatch.io import read_jsonl
from tests.conftest import REPO, planned_rules, run_snakemake

pytestmark = pytest.mark.slow

SEASON = REPO / "resources" / "demo" / "season"
BASE = ("--configfile", "config/config.yaml", ".test/fast.yaml")


@pytest.fixture(scope="module")
def season_run(demo_run):
    """The demo run; its base assignment is solved again when the module ends."""
    yield demo_run
    proc = run_snakemake(demo_run, *BASE)
    assert proc.returncode == 0, proc.stderr[-5000:]


def run_overlay(workdir, text: str):
    """Run the workflow with ``text`` as an extra config file; returns the conference folder."""
    (workdir / "season.yaml").write_text(text)
    proc = run_snakemake(workdir, *BASE, "season.yaml")
    assert proc.returncode == 0, proc.stderr[-8000:]
    return workdir / "results" / "demo"


def pairs_of(conf) -> set[tuple[str, str]]:
    table = pd.read_csv(conf / "assignment.csv", dtype=str, keep_default_na=False)
    return set(zip(table["submission_id"], table["reviewer_id"]))


def test_forced_and_forbidden_pairs_reach_the_assignment_and_its_exports(season_run):
    conf = run_overlay(
        season_run,
        f"matching:\n  forced: {SEASON / 'forced.csv'}\n  forbidden: {SEASON / 'forbidden.csv'}\n",
    )
    forced = pd.read_csv(SEASON / "forced.csv", dtype=str)
    forbidden = pd.read_csv(SEASON / "forbidden.csv", dtype=str)
    pairs = pairs_of(conf)
    assert set(zip(forced["submission_id"], forced["reviewer_id"])) <= pairs
    assert not set(zip(forbidden["submission_id"], forbidden["reviewer_id"])) & pairs
    table = pd.read_csv(conf / "assignment.csv", dtype=str, keep_default_na=False)
    assert set(table.loc[table["reason"] != "", "reason"]) == {f"forced: {r}" for r in forced["reason"]}
    records = {r["submission_id"]: r for r in read_jsonl(conf / "assignments.jsonl")}
    for sid, rid, reason in forced[["submission_id", "reviewer_id", "reason"]].itertuples(index=False):
        person = next(p for p in records[sid]["assignedReviewers"] if p["id"] == rid)
        assert person["reason"] == f"forced: {reason}"
    assert "forced: " in (conf / "assignments.txt").read_text()
    summary = json.loads((conf / "assignment_summary.json").read_text())
    assert summary["forced_pairs"] == len(forced) and summary["forbidden_pairs"] == len(forbidden)


def test_attribute_constraints_hold_on_every_paper(season_run):
    conf = run_overlay(season_run, "matching:\n  attribute_constraints:\n    - {attribute: email_domain, max: 1}\n")
    reviewers = {r["id"]: r for r in read_jsonl(conf / "reviewers.jsonl")}
    table = pd.read_csv(conf / "assignment.csv", dtype=str, keep_default_na=False)
    domains = table["reviewer_id"].map(lambda rid: email_domain(reviewers[rid].get("email", "")))
    counted = table[domains != ""].assign(domain=domains[domains != ""])
    assert counted.groupby(["submission_id", "domain"]).size().max() == 1
    assert table.groupby("submission_id").size().eq(3).all()
    summary = json.loads((conf / "assignment_summary.json").read_text())
    assert summary["certificate"]["mip"]["gap"] <= 1e-4
    assert set(summary["group_constraints"]) == {"senior", "email_domain"}


def test_fair_objective_raises_the_worst_paper_and_reports_its_price(season_run):
    conf = run_overlay(season_run, "matching:\n  objective: fair\n")
    fair = json.loads((conf / "assignment_summary.json").read_text())["mode"]["fair"]
    assert fair["worst_paper_fair"] >= fair["worst_paper_usual"] - 1e-9
    assert fair["objective_given_up_at_most"] >= -1e-6  # the MIPs are optimal within mip_rel_gap
    for track in fair["classes"].values():
        assert track["worst_paper_fair"] >= track["worst_paper_usual"] - 1e-6
    assert all(fair["certificates"][stage]["mip"]["gap"] <= 1e-4 for stage in ("floors", "fair"))
    table = pd.read_csv(conf / "assignment.csv", dtype=str, keep_default_na=False)
    totals = table.astype({"score": float}).groupby("submission_id")["score"].sum()
    assert totals.min() == pytest.approx(fair["worst_paper_fair"], abs=1e-6)


def test_resolve_keeps_what_it_can_and_writes_the_changes(season_run):
    before = {
        (line.split(":")[0], rid)
        for line in (SEASON / "previous_start_upload.txt").read_text().split()
        for rid in line.split(":")[1:]
    }
    conf = run_overlay(
        season_run,
        f"matching:\n  previous_assignment: {SEASON / 'previous_start_upload.txt'}\n"
        f"  forbidden: {SEASON / 'forbidden.csv'}\n  max_papers_per_reviewer: 5\n",
    )
    summary = json.loads((conf / "assignment_summary.json").read_text())
    resolve = summary["mode"]["resolve"]
    assert resolve["mode"] == "minimal_change" and resolve["lexicographic_proven"]
    assert resolve["kept"] == resolve["kept_max"]
    changes = pd.read_csv(conf / "changes" / "changes.csv", dtype=str, keep_default_na=False)
    removed = changes[changes["change"] == "removed"]
    assert (removed["reason"] != "").all()
    reasons = " ".join(removed["reason"])
    assert "submission no longer active" in reasons and "forbidden" in reasons
    assert "reviewer no longer in the pool" in reasons
    after = pairs_of(conf)
    added = changes[changes["change"] == "added"]
    assert set(zip(added["submission_id"], added["reviewer_id"])) == after - before
    upload = (conf / "changes" / "start_upload_changes.txt").read_text().split()
    assert {line.split(":")[0] for line in upload} == set(changes["submission_id"]) & {s for s, _ in after}
    by_paper = pd.read_csv(conf / "changes" / "by_paper.csv", dtype=str)
    assert set(by_paper["submission_id"]) == set(changes["submission_id"])
    assert summary["changes"]["removed"] == len(removed)


def test_emergency_mode_fills_only_the_missing_slots_from_the_pool(season_run):
    conf = run_overlay(
        season_run,
        f"matching:\n  previous_assignment: {SEASON / 'previous_start_upload.txt'}\n"
        f"  forbidden: {SEASON / 'forbidden.csv'}\n  emergency_only: true\n"
        f"  emergency_pool: {SEASON / 'emergency_pool.txt'}\n",
    )
    pool = set((SEASON / "emergency_pool.txt").read_text().split())
    changes = pd.read_csv(conf / "changes" / "changes.csv", dtype=str, keep_default_na=False)
    added = changes[changes["change"] == "added"]
    assert len(added) and set(added["reviewer_id"]) <= pool
    removed = changes[changes["change"] == "removed"]
    assert not removed["reason"].str.startswith("moved").any()  # only invalid pairs go
    assert json.loads((conf / "assignment_summary.json").read_text())["mode"]["resolve"]["mode"] == "emergency"


def test_randomized_assignment_reports_its_expected_score(season_run):
    conf = run_overlay(
        season_run, "matching:\n  max_probability: 0.5\n  random_seed: 7\n  min_senior_per_paper: 0\n"
    )
    report = json.loads((conf / "assignment_summary.json").read_text())["mode"]["randomized"]
    assert report["max_probability"] == 0.5 and report["seed"] == 7
    assert report["expected_objective"] <= report["deterministic_objective"] + 1e-6
    assert 0.5 < report["expected_over_deterministic"] <= 1 + 1e-9
    table = pd.read_csv(conf / "assignment.csv", dtype=str)
    assert table.groupby("submission_id").size().eq(3).all()
    first = pairs_of(conf)
    again = run_overlay(
        season_run, "matching:\n  max_probability: 0.5\n  random_seed: 8\n  min_senior_per_paper: 0\n"
    )
    assert pairs_of(again) != first


@pytest.mark.parametrize(
    "override",
    [
        "matching:\n  objective: fair\n",
        "matching:\n  max_probability: 0.5\n  min_senior_per_paper: 0\n",
        "matching:\n  attribute_constraints: [{attribute: affiliation, max: 1}]\n",
        f"matching:\n  forced: {SEASON / 'forced.csv'}\n",
        f"matching:\n  previous_assignment: {SEASON / 'previous_start_upload.txt'}\n",
    ],
    ids=["fair", "randomized", "attributes", "forced", "resolve"],
)
def test_a_season_setting_reruns_only_the_assignment_and_what_follows(season_run, override):
    proc = run_snakemake(season_run, "-n", *BASE)
    if "Nothing to be done" not in proc.stdout + proc.stderr:
        assert run_snakemake(season_run, *BASE).returncode == 0
    (season_run / "season.yaml").write_text(override)
    proc = run_snakemake(season_run, "-n", *BASE, "season.yaml")
    assert proc.returncode == 0, proc.stderr
    assert planned_rules(proc) == {"solve_assignment", "export_assignments", "evaluate_assignment", "all"}


def test_the_season_files_of_the_demo_are_consistent():
    """The demo's season files name real submissions and reviewers (a withdrawn one and a departed
    reviewer on purpose in the previous assignment)."""
    previous = [line.split(":") for line in (SEASON / "previous_start_upload.txt").read_text().split()]
    assert all(len(line) >= 2 for line in previous)
    assert np.mean([len(line) == 4 for line in previous]) > 0.9
