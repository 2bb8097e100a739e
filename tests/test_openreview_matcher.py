"""OpenReview matcher interop: its input files (as openreview-matcher's CLI reads them) solved exactly,
checked against an independent optimum (scipy's MILP), and its output files read back to its contract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from revmatch.io import InputError
from revmatch.matching.matcher_inputs import add_matcher_arguments, matcher_option_dests, read_matcher_inputs
from revmatch.matching.openreview_matcher import (
    match_files,
    match_from_args,
    read_attribute_constraints,
    write_matcher_outputs,
)
from revmatch.matching.problem import InfeasibleAssignment

TRANSLATE = {"Very High": 1.0, "High": 0.5, "Neutral": 0.0, "Low": -0.5, "Very Low": -1.0}
BID_DEFAULT = -0.2
WEIGHTS = {"affinity": 1.0, "tpms": 0.5, "bids": 0.8}


# --- the matcher's output contract (matcher/encoder.py decode_assignments / decode_alternates) ---

def read_matcher_output(path: Path) -> dict[str, list[tuple[str, float]]]:
    """{paper_id: [(user, aggregate_score), ...]} of an assignments.json or alternates.json, checked to be
    ``{paper_id: [{"aggregate_score": float, "user": user_id}, ...]}`` and nothing else."""
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    out = {}
    for paper, entries in data.items():
        assert isinstance(paper, str) and isinstance(entries, list)
        for entry in entries:
            assert set(entry) == {"aggregate_score", "user"}
            assert isinstance(entry["user"], str)
            score = entry["aggregate_score"]
            assert isinstance(score, float | int) and not isinstance(score, bool)
        out[paper] = [(e["user"], float(e["aggregate_score"])) for e in entries]
    return out


# --- an instance written as the matcher's files ---

def write_csv(path: Path, rows) -> Path:
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


def make_instance(tmp_path: Path, seed: int = 7, n_papers: int = 12, n_users: int = 9) -> dict:
    """Random matcher files and the same data as plain Python for the independent solve."""
    rng = np.random.default_rng(seed)
    papers = [f"paper{i:02d}" for i in range(n_papers)]
    users = [f"~User_{chr(65 + j)}1" for j in range(n_users)]
    affinity = {(p, u): round(float(rng.uniform(0.05, 1)), 3)
                for p in papers for u in users if rng.random() < 0.85}
    tpms = {(p, u): round(float(rng.uniform(0, 1)), 3) for p in papers for u in users if rng.random() < 0.4}
    bids = {(p, u): str(rng.choice(list(TRANSLATE))) for p in papers for u in users if rng.random() < 0.3}
    conflicts = {(papers[i], users[(3 * i) % n_users]) for i in range(0, n_papers, 2)}
    candidates = sorted((k for k in affinity if k not in conflicts), key=lambda k: affinity[k])
    forced = {candidates[0]}  # the weakest pair: forced against the optimum
    custom_max = {users[0]: 1, users[1]: 6}
    custom_demand = {papers[1]: 1, papers[2]: 3}
    files = {
        "affinity": write_csv(tmp_path / "affinity.csv", [(p, u, s) for (p, u), s in affinity.items()]),
        "tpms": write_csv(tmp_path / "tpms.csv", [(p, u, s) for (p, u), s in tpms.items()]),
        "bids": write_csv(tmp_path / "bids.csv", [(p, u, label) for (p, u), label in bids.items()]),
    }
    constraints = write_csv(tmp_path / "constraints.csv",
                            [(p, u, -1) for p, u in sorted(conflicts)] + [(p, u, 1) for p, u in forced])
    spec = tmp_path / "scores_specification.json"
    spec.write_text(json.dumps({"bids.csv": {"default": BID_DEFAULT, "translate_map": TRANSLATE}}))
    return {
        "papers": papers, "users": users, "affinity": affinity, "tpms": tpms, "bids": bids,
        "conflicts": conflicts, "forced": forced, "custom_max": custom_max, "custom_demand": custom_demand,
        "score_files": [files["affinity"], files["tpms"], files["bids"]],
        "weights": [WEIGHTS["affinity"], WEIGHTS["tpms"], WEIGHTS["bids"]],
        "constraints": constraints, "spec": spec,
        "max_papers": write_csv(tmp_path / "max_papers.csv", custom_max.items()),
        "custom_user_demand": write_csv(tmp_path / "demand.csv", custom_demand.items()),
        "min_default": 2, "max_default": 4, "num_reviewers": 2,
    }


def independent_aggregate(inst: dict) -> np.ndarray:
    """The weighted sum of the three edge types, missing pairs at their defaults (0, 0, BID_DEFAULT)."""
    agg = np.zeros((len(inst["papers"]), len(inst["users"])))
    for i, p in enumerate(inst["papers"]):
        for j, u in enumerate(inst["users"]):
            bid = TRANSLATE[inst["bids"][p, u]] if (p, u) in inst["bids"] else BID_DEFAULT
            agg[i, j] = (WEIGHTS["affinity"] * inst["affinity"].get((p, u), 0.0)
                         + WEIGHTS["tpms"] * inst["tpms"].get((p, u), 0.0) + WEIGHTS["bids"] * bid)
    return agg


def independent_milp(inst: dict, agg: np.ndarray, group: set[str] | None = None, group_min: int = 0,
                     floor: float | None = None):
    """scipy's MILP over the same pairs: (objective, x (P, U)); ``floor`` holds every paper's total."""
    papers, users = inst["papers"], inst["users"]
    n_p, n_u = len(papers), len(users)
    upper = np.ones((n_p, n_u))
    lower = np.zeros((n_p, n_u))
    for i, p in enumerate(papers):
        for j, u in enumerate(users):
            if (p, u) in inst["conflicts"] or agg[i, j] == 0:
                upper[i, j] = 0
            if (p, u) in inst["forced"]:
                lower[i, j] = upper[i, j] = 1
    demand = np.array([inst["custom_demand"].get(p, inst["num_reviewers"]) for p in papers])
    max_load = np.array([inst["custom_max"].get(u, inst["max_default"]) for u in users])
    min_load = np.minimum(inst["min_default"], max_load)
    rows_p = np.kron(np.eye(n_p), np.ones(n_u))
    rows_u = np.kron(np.ones(n_p), np.eye(n_u))
    constraints = [LinearConstraint(rows_p, demand, demand), LinearConstraint(rows_u, min_load, max_load)]
    if group:
        member = np.array([u in group for u in users], dtype=float)
        constraints.append(LinearConstraint(np.kron(np.eye(n_p), member), group_min, np.inf))
    if floor is not None:
        constraints.append(LinearConstraint(np.kron(np.eye(n_p), np.ones(n_u)) * agg.ravel(), floor, np.inf))
    result = milp(-agg.ravel(), constraints=constraints, integrality=np.ones(n_p * n_u),
                  bounds=Bounds(lower.ravel(), upper.ravel()))
    assert result.success, result.message
    return -result.fun, np.round(result.x).reshape(n_p, n_u)


def run(inst: dict, out: Path, **options) -> dict:
    return match_files(
        inst["score_files"], out, weights=inst["weights"], scores_specification=inst["spec"],
        constraints=inst["constraints"], max_papers=inst["max_papers"],
        custom_user_demand=inst["custom_user_demand"], min_papers_default=inst["min_default"],
        max_papers_default=inst["max_default"], num_reviewers=inst["num_reviewers"], **options,
    )


def test_matcher_files_solve_to_the_independent_optimum(tmp_path):
    inst = make_instance(tmp_path)
    summary = run(inst, tmp_path / "out", num_alternates=3)
    agg = independent_aggregate(inst)
    optimum, _ = independent_milp(inst, agg)
    assignments = read_matcher_output(tmp_path / "out" / "assignments.json")
    total = sum(score for entries in assignments.values() for _, score in entries)
    assert total == pytest.approx(optimum, abs=1e-6)
    assert summary["total_aggregate_score"] == pytest.approx(optimum, abs=1e-6)
    assert summary["status"] == "Complete" and summary["proven_gap"] == 0.0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["proven_gap"] == 0.0

    index_p = {p: i for i, p in enumerate(inst["papers"])}
    index_u = {u: j for j, u in enumerate(inst["users"])}
    loads = dict.fromkeys(inst["users"], 0)
    for paper, entries in assignments.items():
        assert len(entries) == inst["custom_demand"].get(paper, inst["num_reviewers"])
        for user, score in entries:
            assert (paper, user) not in inst["conflicts"]
            assert score == pytest.approx(agg[index_p[paper], index_u[user]])
            loads[user] += 1
    assert set(assignments) == set(inst["papers"])
    for user, load in loads.items():
        maximum = inst["custom_max"].get(user, inst["max_default"])
        assert min(inst["min_default"], maximum) <= load <= maximum
    (paper, user), = inst["forced"]
    assert user in [u for u, _ in assignments[paper]]


def test_alternates_are_the_best_unassigned_users_without_conflict(tmp_path):
    inst = make_instance(tmp_path, seed=3)
    run(inst, tmp_path, num_alternates=4)
    agg = independent_aggregate(inst)
    assignments = read_matcher_output(tmp_path / "assignments.json")
    alternates = read_matcher_output(tmp_path / "alternates.json")
    assert set(alternates) == set(inst["papers"])
    for i, paper in enumerate(inst["papers"]):
        assigned = {u for u, _ in assignments.get(paper, [])}
        listed = [u for u, _ in alternates[paper]]
        eligible = [u for u in inst["users"] if u not in assigned and (paper, u) not in inst["conflicts"]]
        assert len(listed) == min(4, len(eligible)) and not set(listed) & assigned
        assert not {(paper, u) for u in listed} & inst["conflicts"]
        scores = [s for _, s in alternates[paper]]
        assert scores == sorted(scores, reverse=True)
        rest = [agg[i, inst["users"].index(u)] for u in eligible if u not in listed]
        assert all(min(scores) >= s for s in rest)


def test_fairir_with_attribute_constraints_raises_the_worst_paper(tmp_path):
    inst = make_instance(tmp_path, seed=11)
    senior = set(inst["users"][2:5])
    spec = tmp_path / "attributes.json"
    constraint = {"comparator": ">=", "bound": 1, "members": sorted(senior)}
    spec.write_text(json.dumps({"Seniority/Senior": constraint}))
    summary = run(inst, tmp_path / "fair", solver="FairIR", attribute_constraints=spec)
    agg = independent_aggregate(inst)
    assignments = read_matcher_output(tmp_path / "fair" / "assignments.json")
    totals = {p: sum(s for _, s in entries) for p, entries in assignments.items()}
    for entries in assignments.values():
        assert any(u in senior for u, _ in entries)
    # the best worst paper by an independent max-min MILP (bisection on the floor), then the best total at it
    low, high = min(totals.values()) - 1e-6, float(agg.max() * 3)
    for _ in range(30):
        middle = (low + high) / 2
        try:
            independent_milp(inst, agg, senior, 1, floor=middle)
            low = middle
        except AssertionError:
            high = middle
    assert min(totals.values()) == pytest.approx(low, abs=1e-4)
    best_at_floor, _ = independent_milp(inst, agg, senior, 1, floor=min(totals.values()) - 1e-7)
    assert sum(totals.values()) == pytest.approx(best_at_floor, rel=2e-4)
    fair = summary["report"]["fair"]
    assert fair["worst_paper_fair"] >= fair["worst_paper_usual"] - 1e-9


def test_randomized_caps_every_pair_and_keeps_the_counts(tmp_path):
    inst = make_instance(tmp_path, seed=5)
    summary = run(inst, tmp_path, solver="Randomized", probability_limits="0.6", seed=3)
    report = summary["report"]["randomized"]
    assert report["largest_probability"] <= 1.0 and report["max_probability"] == 0.6
    assert report["expected_objective"] <= report["deterministic_objective"] + 1e-9
    assignments = read_matcher_output(tmp_path / "assignments.json")
    for paper, entries in assignments.items():
        assert len(entries) == inst["custom_demand"].get(paper, inst["num_reviewers"])
    per_pair = write_csv(tmp_path / "limits.csv", [(inst["papers"][0], inst["users"][0], 0.5)])
    with pytest.raises(ValueError, match="per-pair"):
        run(inst, tmp_path, solver="Randomized", probability_limits=str(per_pair))


@pytest.mark.parametrize("solver", ["PerturbedMaximization", "FairSequence"])
def test_solvers_that_cannot_be_honoured_say_so(tmp_path, solver):
    inst = make_instance(tmp_path)
    with pytest.raises(ValueError, match="cannot be honoured"):
        run(inst, tmp_path, solver=solver)


def test_no_solution_names_the_paper_and_writes_the_status(tmp_path):
    scores = write_csv(tmp_path / "s.csv", [("pA", "u1", 0.5), ("pA", "u2", 0.4), ("pB", "u1", 0.3)])
    conflicts = write_csv(tmp_path / "c.csv", [("pB", "u2", -1)])
    with pytest.raises(InfeasibleAssignment, match="pB"):
        match_files([scores], tmp_path, weights=[1], constraints=conflicts, max_papers_default=2,
                    num_reviewers=2)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "No Solution"
    assert not (tmp_path / "assignments.json").exists()


def test_normalized_types_and_user_group(tmp_path):
    a = write_csv(tmp_path / "a.csv", [("p1", "u1", 0.4), ("p1", "u2", 0.0), ("p2", "u3", 1.0)])
    b = write_csv(tmp_path / "b.csv", [("p1", "u1", 1.0), ("p1", "u2", 0.6)])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"a.csv": {"weight": 2, "normalize": True},
                                str(b): {"weight": 1, "normalize": True}}))
    groups = write_csv(tmp_path / "groups.csv", [("Reviewers", "u1"), ("Reviewers", "u2"), ("ACs", "u3")])
    inputs = read_matcher_inputs([a, b], scores_specification=spec, max_papers_default=1,
                                 user_group="Reviewers", user_group_file=groups)
    assert inputs.users == ["u1", "u2"] and inputs.papers == ["p1", "p2"]
    # p1,u1: (2*0.4 + 1*1.0) / (2 + 1); p1,u2: (0 + 0.6) / 1 (a zero score carries no weight); p2: none
    np.testing.assert_allclose(inputs.aggregate, [[1.8 / 3, 0.6], [0.0, 0.0]])


def test_zero_score_pairs_need_allow_zero_score_assignments(tmp_path):
    scores = write_csv(tmp_path / "s.csv", [("p1", "u1", 0.5), ("p1", "u3", 0.0), ("p2", "u2", 0.3)])
    options = dict(weights=[1], max_papers_default=1, num_reviewers=1, min_papers_default=1)
    with pytest.raises(InfeasibleAssignment, match="p1"):  # p1 has one pair with a non-zero score
        match_files([scores], tmp_path, **dict(options, num_reviewers=2))
    summary = match_files([scores], tmp_path / "zero", allow_zero_score_assignments=True,
                          **dict(options, num_reviewers=2, max_papers_default=2))
    assignments = read_matcher_output(tmp_path / "zero" / "assignments.json")
    assert "u3" in {u for entries in assignments.values() for u, _ in entries}  # its minimum load of 1
    assert summary["allowed_pairs"] == 6
    plain = match_files([scores], tmp_path / "plain", **options)
    assert any("minimum is 0" in note for note in plain["notes"])
    assert plain["allowed_pairs"] == 2


def test_cli_arguments_mirror_the_matcher(tmp_path):
    inst = make_instance(tmp_path)
    parser = argparse.ArgumentParser()
    add_matcher_arguments(parser)
    args = parser.parse_args([
        "--scores", *map(str, inst["score_files"]), "--weights", *map(str, inst["weights"]),
        "--scores_specification", str(inst["spec"]), "--constraints", str(inst["constraints"]),
        "--max_papers", str(inst["max_papers"]), "--custom_user_demand", str(inst["custom_user_demand"]),
        "--min_papers_default", "2", "--max_papers_default", "4", "--num_reviewers", "2",
        "--num_alternates", "2", "--solver", "MinMax", "--out", str(tmp_path / "cli"),
    ])
    assert set(vars(args)) == set(matcher_option_dests())
    summary = match_from_args(args)
    optimum, _ = independent_milp(inst, independent_aggregate(inst))
    assert summary["total_aggregate_score"] == pytest.approx(optimum, abs=1e-6)
    assert all(len(v) <= 2 for v in read_matcher_output(tmp_path / "cli" / "alternates.json").values())


@pytest.mark.parametrize(
    ("name", "text", "row", "column", "message"),
    [
        ("scores.csv", "p1,u1,0.5\np1,u2,abc\n", 2, "score", "not a number"),
        ("scores.csv", "paper_id,user_id,score\np1,u1,0.5\n", 1, "score", "no header row"),
        ("scores.csv", "p1,u1,0.5\np2,u1\n", 2, "score", "expected 3 fields"),
        ("scores.csv", "p1,u1,0.5\n,u2,0.1\n", 2, "paper_id", "empty id"),
        ("bids.csv", "p1,u1,High\np1,u2,Maybe\n", 2, "label", "cannot translate label 'Maybe'"),
        ("constraints.csv", "p1,u1,-1\np1,u2,2\n", 2, "constraint", "must be -1"),
        ("max_papers.csv", "u1,2\nu2,1.5\n", 2, "max_papers", "non-negative integer"),
        ("demand.csv", "p1,-1\n", 1, "demand", "non-negative integer"),
    ],
)
def test_bad_input_names_file_row_and_column(tmp_path, name, text, row, column, message):
    good = write_csv(tmp_path / "good.csv", [("p1", "u1", 0.5), ("p1", "u2", 0.3)])
    bad = tmp_path / name
    bad.write_text(text)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"bids.csv": {"translate_map": {"High": 1}}}))
    files = {"scores.csv": dict(scores=[bad], weights=[1]),
             "bids.csv": dict(scores=[good, bad], weights=[1, 1], scores_specification=spec),
             "constraints.csv": dict(scores=[good], weights=[1], constraints=bad),
             "max_papers.csv": dict(scores=[good], weights=[1], max_papers=bad, max_papers_default=1),
             "demand.csv": dict(scores=[good], weights=[1], custom_user_demand=bad, max_papers_default=1)}
    with pytest.raises(InputError, match=message) as caught:
        read_matcher_inputs(**files[name])
    assert (Path(caught.value.path), caught.value.row, caught.value.column) == (bad, row, column)


def test_bad_json_inputs_name_the_entry(tmp_path):
    good = write_csv(tmp_path / "good.csv", [("p1", "u1", 0.5)])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"good.csv": {"weight": 1, "defualt": 0.1}}))
    with pytest.raises(InputError, match="unknown field") as caught:
        read_matcher_inputs([good], scores_specification=spec, max_papers_default=1)
    assert caught.value.column == "good.csv"
    attributes = tmp_path / "attributes.json"
    attributes.write_text(json.dumps({"Senior": {"bound": 1, "members": ["u1"]}}))
    with pytest.raises(InputError, match="missing comparator") as caught:
        read_attribute_constraints(attributes)
    assert caught.value.column == "Senior"
    with pytest.raises(ValueError, match="--weights: 2 weight"):
        read_matcher_inputs([good], weights=[1, 2], max_papers_default=1)
    with pytest.raises(ValueError, match="--max_papers_default is needed"):
        read_matcher_inputs([good], weights=[1])


def test_write_matcher_outputs_of_the_conference_assignment(tmp_path):
    submissions = [{"id": "s1"}, {"id": "s2"}]
    reviewers = [{"id": "alice"}, {"id": "bob"}, {"id": "carol"}, {"id": "dave"}]
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.2, 0.6, 0.95, 0.5]])
    coi = np.array([[False, False, True, False], [True, False, False, False]])
    table = pd.DataFrame({"submission_id": ["s1", "s2"], "reviewer_id": ["alice", "carol"],
                          "score": [0.9, 0.95]})
    paths = write_matcher_outputs(table, scores, coi, submissions, reviewers, 2, tmp_path)
    assignments = read_matcher_output(Path(paths["assignments"]))
    alternates = read_matcher_output(Path(paths["alternates"]))
    assert assignments == {"s1": [("alice", 0.9)], "s2": [("carol", 0.95)]}
    assert alternates == {"s1": [("bob", 0.8), ("dave", 0.1)], "s2": [("bob", 0.6), ("dave", 0.5)]}
    allowed = ~coi & np.array([True, True, True, False])[None, :]  # dave is no reviewer (e.g. an area chair)
    paths = write_matcher_outputs(table, scores, coi, submissions, reviewers, 2, tmp_path / "roles", allowed)
    assert read_matcher_output(Path(paths["alternates"])) == {"s1": [("bob", 0.8)], "s2": [("bob", 0.6)]}
    with pytest.raises(ValueError, match="unknown reviewer"):
        write_matcher_outputs(table.assign(reviewer_id=["alice", "zoe"]), scores, coi, submissions,
                              reviewers, 2, tmp_path)


# --- the workflow: openreview_matches entries run by rule openreview_match ---

def test_workflow_runs_the_matchers_files_of_the_config(tmp_path):
    """An ``openreview_matches`` entry (the matcher's option names: score files with weights, a
    default and translate map, conflicts and a forced edge, custom loads and demands) run by
    Snakemake's rule: the exact optimum, in the matcher's shape; a changed option re-runs it."""
    from revmatch.matching.openreview_matcher import MATCHER_FILE_OPTIONS
    from tests.conftest import copy_workflow, planned_rules, run_snakemake
    from tests.test_affinity import workflow_schema

    work = copy_workflow(tmp_path / "work")
    (work / "matcher_files").mkdir()
    inst = make_instance(work / "matcher_files")
    entry = {
        "scores": [str(p.relative_to(work)) for p in inst["score_files"]], "weights": inst["weights"],
        "scores_specification": "matcher_files/scores_specification.json",
        "constraints": "matcher_files/constraints.csv", "max_papers": "matcher_files/max_papers.csv",
        "custom_user_demand": "matcher_files/demand.csv", "min_papers_default": inst["min_default"],
        "max_papers_default": inst["max_default"], "num_reviewers": inst["num_reviewers"], "num_alternates": 2,
    }
    overlay = work / "matcher.yaml"
    overlay.write_text(json.dumps({"openreview_matches": {"pc_run": entry}}))
    out = work / "results" / "demo" / "openreview_match" / "pc_run"
    target = str((out / "assignments.json").relative_to(work))
    args = ["--configfile", "config/config.yaml", "matcher.yaml"]
    proc = run_snakemake(work, target, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    optimum, _ = independent_milp(inst, independent_aggregate(inst))
    assignments = read_matcher_output(out / "assignments.json")
    assert sum(s for entries in assignments.values() for _, s in entries) == pytest.approx(optimum, abs=1e-6)
    assert all(len(v) <= 2 for v in read_matcher_output(out / "alternates.json").values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "Complete" and summary["proven_gap"] == 0.0
    assert "Traceback" not in (work / "logs" / "demo" / "openreview_match_pc_run.log").read_text()
    # The schema's keys are the matcher's options, its files the ones the rule reads as inputs.
    keys = workflow_schema()["properties"]["openreview_matches"]["additionalProperties"]["properties"]
    assert set(keys) == set(matcher_option_dests()) - {"out"}
    assert set(MATCHER_FILE_OPTIONS) < set(keys)
    # A changed value or file re-runs the match, and nothing else.
    overlay.write_text(json.dumps({"openreview_matches": {"pc_run": {**entry, "num_alternates": 3}}}))
    assert planned_rules(run_snakemake(work, "-n", target, *args)) == {"openreview_match"}
    (work / "matcher_files" / "max_papers.csv").write_text("~User_A1,2\n")
    assert planned_rules(run_snakemake(work, "-n", target, *args)) == {"openreview_match"}


def test_workflow_refuses_a_matcher_entry_it_cannot_run(tmp_path):
    """A score file naming no affinity job, or a job without OpenReview's score file, stops the
    DAG naming the key; a missing file stops it before any job."""
    from tests.conftest import copy_workflow, run_snakemake

    work = copy_workflow(tmp_path / "work")

    def dry_run(entry, jobs=None):
        config = {"openreview_matches": {"m": entry}, **({"affinity_jobs": jobs} if jobs else {})}
        (work / "m.yaml").write_text(json.dumps(config))
        proc = run_snakemake(work, "-n", "results/demo/openreview_match/m/assignments.json",
                             "--configfile", "config/config.yaml", "m.yaml")
        assert proc.returncode != 0
        return proc.stdout + proc.stderr

    assert ("config key openreview_matches.m.scores: 'affinity:nope' names no job of affinity_jobs"
            in dry_run({"scores": ["affinity:nope"], "weights": [1]}))
    project = {"mode": "group_submissions", "group": {"role": "reviewer"}, "output": "project"}
    assert "the job writes the project's output (a header row); give it output: openreview" in dry_run(
        {"scores": ["affinity:mine"], "weights": [1]}, {"mine": project})
    assert "config key openreview_matches.m.constraints: file not found: nowhere.csv" in dry_run(
        {"scores": ["affinity:area_chairs_vs_submissions"], "weights": [1], "constraints": "nowhere.csv"})


@pytest.mark.slow
def test_demo_matches_its_area_chairs_on_an_affinity_jobs_score_file(demo_run):
    """The demo's entry: the area chairs' expertise job's score file (OpenReview's) fed to the
    matcher, one area chair a submission within the loads, at the file's scores."""
    from tests.openreview_readers import venue_note_scores

    conf = demo_run / "results" / "demo"
    edges = {(paper, user): score for paper, user, score in
             venue_note_scores(conf / "affinity" / "area_chairs_vs_submissions" / "results.csv")}
    assignments = read_matcher_output(conf / "openreview_match" / "area_chairs" / "assignments.json")
    submissions = {json.loads(line)["id"] for line in (conf / "submissions.jsonl").read_text().splitlines()}
    assert set(assignments) == submissions and all(len(v) == 1 for v in assignments.values())
    loads = pd.Series([user for entries in assignments.values() for user, _ in entries]).value_counts()
    assert loads.max() <= 8
    assert all(score == pytest.approx(edges[paper, user]) for paper, entries in assignments.items()
               for user, score in entries)
    assert json.loads((conf / "openreview_match" / "area_chairs" / "summary.json").read_text())["proven_gap"] == 0
