import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from scipy.optimize import Bounds, LinearConstraint, milp

from revmatch.io import write_jsonl
from revmatch.matching.assignment_file import solve_assignment_file
from revmatch.matching.conference_assignment import assign_conference
from revmatch.matching.eligibility import capacity_by_track
from revmatch.matching.lp import solve_assignment
from revmatch.matching.problem import InfeasibleAssignment
from revmatch.matching.pruning import solve_assignment_pruned
from revmatch.matching.senior import senior_group
from revmatch.matching.settings import AssignmentSettings
from revmatch.matching.table import ASSIGNMENT_COLUMNS, read_assignment

SCHEMA = Path(__file__).parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def assignment_settings(**changes):
    """The schema's default assignment settings, with ``changes``."""
    matching = yaml.safe_load(SCHEMA.read_text())["properties"]["matching"]["properties"]
    defaults = AssignmentSettings.from_config({"matching": {key: spec["default"] for key, spec in matching.items()}})
    return dataclasses.replace(defaults, **changes)


def milp_optimum(scores, allowed, k, max_load, min_load):
    """Independent 0/1 optimum of the same instance with scipy's MILP solver."""
    papers, people = np.nonzero(allowed)
    n = len(papers)
    n_papers, n_people = allowed.shape
    rows = np.concatenate([papers, n_papers + people])
    cols = np.concatenate([np.arange(n), np.arange(n)])
    matrix = sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n_papers + n_people, n))
    lower = np.concatenate([np.full(n_papers, k), min_load])
    upper = np.concatenate([np.full(n_papers, k), max_load])
    result = milp(
        -scores[papers, people],
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
    )
    assert result.success, result.message
    return -result.fun


@pytest.mark.parametrize("seed", range(6))
def test_random_instances_are_optimal_and_feasible(seed):
    rng = np.random.default_rng(seed)
    n_papers, n_people, k = int(rng.integers(15, 40)), int(rng.integers(8, 16)), int(rng.integers(1, 4))
    scores = rng.uniform(-0.5, 1.5, size=(n_papers, n_people))
    allowed = rng.random((n_papers, n_people)) > 0.25
    allowed[np.arange(n_papers)[:, None], np.argsort(rng.random((n_papers, n_people)), axis=1)[:, :k]] = True
    needed = n_papers * k
    max_load = rng.integers(needed // n_people + 2, needed // n_people + 6, size=n_people)
    min_load = np.minimum(rng.integers(0, 2, size=n_people), allowed.sum(axis=0))
    result = solve_assignment(scores, allowed, k, max_load, min_load)

    papers, people = result.pairs[:, 0], result.pairs[:, 1]
    np.testing.assert_array_equal(np.bincount(papers, minlength=n_papers), np.full(n_papers, k))
    loads = result.loads(n_people)
    assert (loads <= max_load).all() and (loads >= min_load).all()
    assert allowed[papers, people].all()
    assert len(np.unique(result.pairs, axis=0)) == len(result.pairs)
    np.testing.assert_array_equal(result.scores, scores[papers, people])
    assert result.status == "Optimal"
    assert result.solve_seconds >= 0
    optimum = milp_optimum(scores, allowed, k, max_load, min_load)
    assert result.objective == pytest.approx(optimum, rel=1e-9, abs=1e-9)


def test_per_paper_reviews_and_prechecks():
    scores = np.array([[1.0, 0.5, 0.2], [0.3, 0.9, 0.1]])
    result = solve_assignment(scores, np.ones((2, 3), bool), np.array([1, 2]), np.array([1, 2, 2]))
    assert sorted(map(tuple, result.pairs.tolist())) == [(0, 0), (1, 1), (1, 2)]
    assert result.objective == pytest.approx(2.0)

    allowed = np.ones((4, 3), bool)
    allowed[2, :2] = False
    short = r"1 paper\(s\) have fewer allowed reviewers.*2 \(1 allowed, 2 needed\)"
    with pytest.raises(InfeasibleAssignment, match=short):
        solve_assignment(np.ones((4, 3)), allowed, 2, np.full(3, 4))
    with pytest.raises(InfeasibleAssignment, match=r"at most 6 reviews but 8 are needed \(shortfall 2\)"):
        solve_assignment(np.ones((4, 3)), np.ones((4, 3), bool), 2, np.full(3, 2))
    with pytest.raises(InfeasibleAssignment, match="minimum loads add up to 9"):
        solve_assignment(np.ones((4, 3)), np.ones((4, 3), bool), 2, np.full(3, 4), np.full(3, 3))


def test_solver_infeasibility_is_a_message():
    # Papers 0 and 1 may only go to reviewers 0 and 1, who take one paper each:
    # the counts suffice, a matching does not exist.
    allowed = np.zeros((6, 5), dtype=bool)
    allowed[:2, :2] = True
    allowed[2:, 2:] = True
    with pytest.raises(InfeasibleAssignment) as info:
        solve_assignment(np.ones((6, 5)), allowed, 2, np.array([1, 1, 4, 4, 4]))
    assert "infeasible" in info.value.message and "compete" in info.value.message


# --------------------------------------------------------------------------- conferences


def person(pid, tracks=(), ac=(), sac=(), emergency=False):
    return {
        "id": pid,
        "name": f"Name {pid}",
        "ids": [],
        "startUsername": pid,
        "tracks": list(tracks),
        "areaChair": bool(ac),
        "ac_tracks": list(ac),
        "seniorAreaChair": bool(sac),
        "sac_tracks": list(sac),
        "emergency": emergency,
    }


def conference(seed=0):
    """Track A: 6 papers, reviewers a0..a5; track B: 4 papers, b0..b3; x0 reviews in both."""
    reviewers = (
        [person(f"a{i}", ["A"]) for i in range(6)]
        + [person(f"b{i}", ["B"]) for i in range(4)]
        + [person("x0", ["A", "B"]), person("acA", ac=["A"]), person("acB", ac=["B"])]
        + [person("sacA", sac=["A"])]
    )
    submissions = [
        {"id": str(100 + p), "title": f"Paper {p}", "track": "A" if p < 6 else "B"} for p in range(10)
    ]
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 1.8, size=(len(submissions), len(reviewers))).astype(np.float32)
    coi = np.zeros(scores.shape, dtype=bool)
    coi[0, 0] = coi[7, 6] = True
    return scores, coi, submissions, reviewers


def test_conference_respects_roles_tracks_and_cois():
    scores, coi, submissions, reviewers = conference()
    table = assign_conference(
        scores, coi, submissions, reviewers, reviews_per_paper=3, max_papers_per_reviewer=4
    )
    assert list(table.columns) == ASSIGNMENT_COLUMNS
    assert len(table) == 30 and (table.groupby("submission_id").size() == 3).all()
    tracks = {r["id"]: set(r["tracks"]) for r in reviewers}
    assert all(row.track in tracks[row.reviewer_id] for row in table.itertuples())
    assert not set(table["reviewer_id"]) & {"acA", "acB", "sacA"}
    assert not ((table["submission_id"] == "100") & (table["reviewer_id"] == "a0")).any()
    assert not ((table["submission_id"] == "107") & (table["reviewer_id"] == "b0")).any()
    assert table.groupby("reviewer_id").size().max() <= 4
    # sorted by submission (file order), then score descending, ranks 1..3
    assert list(pd.unique(table["submission_id"])) == [s["id"] for s in submissions]
    for _, group in table.groupby("submission_id"):
        assert list(group["score"]) == sorted(group["score"], reverse=True)
        assert list(group["rank"]) == [1, 2, 3]
    p = {s["id"]: i for i, s in enumerate(submissions)}
    r = {x["id"]: j for j, x in enumerate(reviewers)}
    expected = scores[table["submission_id"].map(p), table["reviewer_id"].map(r)]
    np.testing.assert_allclose(table["score"], expected)


def test_area_chair_mode_assigns_area_chairs_of_the_track():
    scores, coi, submissions, reviewers = conference()
    table = assign_conference(scores, coi, submissions, reviewers, 1, 6, area_chairs=True)
    assert set(table.loc[table["track"] == "A", "reviewer_id"]) == {"acA"}
    assert set(table.loc[table["track"] == "B", "reviewer_id"]) == {"acB"}


def test_without_tracks_every_reviewer_is_a_candidate():
    scores, coi, submissions, reviewers = conference()
    reviewers.append(person("c0"))  # a committee member before track assignment: no track yet
    scores = np.hstack([scores, np.full((10, 1), 5.0, np.float32)])
    coi = np.hstack([coi, np.zeros((10, 1), bool)])
    scores[:, 11:14] = 9.0  # area chairs and the senior area chair would be everybody's favourites
    table = assign_conference(scores, coi, submissions, reviewers, 3, 4, by_track=False)
    assert (table["reviewer_id"] == "c0").sum() == 4
    assert not set(table["reviewer_id"]) & {"acA", "acB", "sacA"}
    assert set(table.loc[table["track"] == "A", "reviewer_id"]) & {f"b{i}" for i in range(4)}  # across tracks
    with pytest.raises(InfeasibleAssignment, match="'B'"):
        assign_conference(scores, coi, submissions, reviewers, 3, 4, by_track=True, min_papers_per_reviewer=0,
                           quotas={"b0": 0, "b1": 0, "b2": 0})


def test_one_global_lp_shares_load_across_tracks():
    scores, coi, submissions, reviewers = conference()
    scores[:, 10] = 5.0  # x0 is everybody's favourite, in both tracks
    table = assign_conference(scores, coi, submissions, reviewers, 3, 4)
    assert (table["reviewer_id"] == "x0").sum() == 4  # the load limit spans the two tracks


def test_infeasible_conference_names_the_track():
    scores, coi, submissions, reviewers = conference()
    short = r"track 'B': 12 reviews needed for 4 papers but its 5 reviewers can give at most 10"
    with pytest.raises(InfeasibleAssignment, match=short):
        assign_conference(scores, coi, submissions, reviewers, 3, 2)
    coi[8, [6, 7, 8, 9]] = True
    short = r"track 'B': 1 paper\(s\) have fewer than 3 allowed reviewers.*108 \(1 allowed\)"
    with pytest.raises(InfeasibleAssignment, match=short):
        assign_conference(scores, coi, submissions, reviewers, 3, 6)


def test_shortfall_from_shared_reviewers_names_the_tracks():
    reviewers = [person("a0", ["A"]), person("b0", ["B"]), person("x0", ["A", "B"])]
    submissions = [{"id": "1", "track": "A"}, {"id": "2", "track": "B"}]
    scores = np.ones((2, 3))
    with pytest.raises(InfeasibleAssignment) as info:  # each track alone is fine; x0 cannot serve both
        assign_conference(scores, np.zeros((2, 3), bool), submissions, reviewers, 2, 1)
    assert "no track is short on its own" in info.value.message
    assert "'A' (2 available for 2 needed)" in info.value.message and "'B'" in info.value.message


def test_quotas_replace_the_maximum(caplog):
    scores, coi, submissions, reviewers = conference()
    scores[:6, 1] = 10.0  # a1 would take every A paper
    scores[:6, 2] = 9.0
    with caplog.at_level("WARNING"):
        quotas = {"a1": 6, "a2": 0, "ghost": 3}
        table = assign_conference(scores, coi, submissions, reviewers, 3, 3, quotas=quotas)
    loads = table.groupby("reviewer_id").size()
    assert loads["a1"] == 6  # above max_papers_per_reviewer=3
    assert "a2" not in loads.index
    assert loads.drop("a1").max() <= 3
    assert "exceed max_papers_per_reviewer=3" in caplog.text and "a1 (3 -> 6)" in caplog.text
    assert "ghost" in caplog.text


def test_minimum_load_is_met():
    scores, coi, submissions, reviewers = conference()
    scores[:, 3] = -1.0  # nobody wants a3 ...
    table = assign_conference(scores, coi, submissions, reviewers, 3, 4, min_papers_per_reviewer=2)
    loads = table.groupby("reviewer_id").size()
    assert loads["a3"] >= 2  # ... but the minimum load holds


def test_emergency_reviewers_only_when_needed():
    scores, coi, submissions, reviewers = conference()
    reviewers.append(person("e0", ["B"], emergency=True))
    scores = np.hstack([scores, np.zeros((10, 1), np.float32)])
    coi = np.hstack([coi, np.zeros((10, 1), bool)])
    scores[6:, -1] = scores[6:, 6:11].min(axis=1) + 0.1  # better than anybody, by less than the penalty
    table = assign_conference(scores, coi, submissions, reviewers, 3, 4, emergency_penalty=0.5)
    assert "e0" not in set(table["reviewer_id"])
    # with loads of 2, track B's five regular reviewers give 10 of 12 reviews: e0 takes exactly the rest
    quotas = {f"a{i}": 4 for i in range(6)}
    table = assign_conference(scores, coi, submissions, reviewers, 3, 2, quotas=quotas)
    assert (table["reviewer_id"] == "e0").sum() == 2
    rows = table[table["reviewer_id"] == "e0"]
    papers = rows["submission_id"].astype(int) - 100
    np.testing.assert_allclose(rows["score"], scores[papers, -1])  # unpenalised


def test_capacity_by_track():
    allowed = np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1]], dtype=bool)
    frame = capacity_by_track(allowed, np.array(["A", "A", "B"], dtype=object), 2, np.array([1, 5, 5]))
    by_track = frame.set_index("track")
    columns = ["papers", "needed", "reviewers", "available", "shortfall"]
    assert by_track.loc["A", columns].tolist() == [2, 4, 2, 3, 1]  # reviewer 0 can only take 1
    assert by_track.loc["B", columns].tolist() == [1, 2, 2, 2, 0]


def test_solve_assignment_file(tmp_path):
    scores, coi, submissions, reviewers = conference()
    for submission in submissions[6:]:
        submission["track"] = "n/a"
    for r in reviewers[6:11]:
        r["tracks"] = ["n/a" if t == "B" else t for t in r["tracks"]]
    np.save(tmp_path / "aggregate.npy", scores)
    np.save(tmp_path / "coi.npy", coi)
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    (tmp_path / "quotas.csv").write_text("Username,Quota for Review\na0,1\na1,None\na2,\nnobody,3\n")
    table = solve_assignment_file(
        tmp_path / "aggregate.npy",
        tmp_path / "coi.npy",
        tmp_path / "submissions.jsonl",
        tmp_path / "reviewers.jsonl",
        tmp_path / "quotas.csv",
        tmp_path / "out" / "assignment.csv",
        tmp_path / "out" / "assignment_summary.json",
        assignment_settings(reviews_per_paper=3, max_papers_per_reviewer=5),
    )
    on_disk = read_assignment(tmp_path / "out" / "assignment.csv")
    assert set(on_disk["track"]) == {"A", "n/a"}
    pd.testing.assert_frame_equal(on_disk, table.reset_index(drop=True), check_dtype=False, atol=1e-12)
    loads = on_disk.groupby("reviewer_id").size()
    assert loads.get("a0", 0) <= 1 and "a1" not in loads.index
    summary = json.loads((tmp_path / "out" / "assignment_summary.json").read_text())
    assert summary["status"] == "Optimal" and summary["assignments"] == 30
    assert set(summary["loads"]) == {"min", "mean", "max"}
    assert summary["tracks"]["n/a"]["papers"] == 4 and summary["tracks"]["A"]["assignments"] == 18
    assert summary["objective"] == pytest.approx(on_disk["score"].sum(), rel=1e-6)


def test_bad_quota_is_located(tmp_path):
    scores, coi, submissions, reviewers = conference()
    np.save(tmp_path / "aggregate.npy", scores)
    np.save(tmp_path / "coi.npy", coi)
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    (tmp_path / "quotas.csv").write_text("Username,QuotaForReview\na0,1\na1,lots\n")
    with pytest.raises(ValueError, match=r"quotas.csv, row 3, column 'QuotaForReview'"):
        solve_assignment_file(
            *(tmp_path / n for n in ("aggregate.npy", "coi.npy", "submissions.jsonl", "reviewers.jsonl")),
            tmp_path / "quotas.csv",
            tmp_path / "a.csv",
            tmp_path / "s.json",
            assignment_settings(reviews_per_paper=3, max_papers_per_reviewer=5),
        )


def pruning_instance(seed, n_papers=120, n_people=200):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(-0.5, 1.5, size=(n_papers, n_people))
    allowed = rng.random((n_papers, n_people)) < 0.8
    max_load = rng.integers(0, 5, size=n_people)
    return scores, allowed, max_load


def assert_feasible(result, allowed, k, max_load, min_load):
    papers, people = result.pairs[:, 0], result.pairs[:, 1]
    n_papers = allowed.shape[0]
    np.testing.assert_array_equal(np.bincount(papers, minlength=n_papers), np.full(n_papers, k))
    loads = result.loads(allowed.shape[1])
    assert (loads <= max_load).all() and (loads >= min_load).all()
    assert allowed[papers, people].all()
    assert len(np.unique(result.pairs, axis=0)) == len(result.pairs)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("candidates", [5, 10])
def test_pruned_solve_matches_the_full_lp_and_proves_it(seed, candidates):
    scores, allowed, max_load = pruning_instance(seed)
    min_load = np.minimum(np.random.default_rng(seed).integers(0, 2, size=len(max_load)), max_load)
    full = solve_assignment(scores, allowed, 3, max_load, min_load)
    pruned = solve_assignment_pruned(scores, allowed, 3, max_load, min_load, candidates_per_paper=candidates)

    assert pruned.objective == pytest.approx(full.objective, abs=1e-6)
    assert_feasible(pruned, allowed, 3, max_load, min_load)
    np.testing.assert_array_equal(pruned.scores, scores[pruned.pairs[:, 0], pruned.pairs[:, 1]])
    certificate = pruned.certificate
    assert certificate["proven_optimal"] and certificate["improving_pairs"] == 0
    assert certificate["max_reduced_cost"] <= 1e-9
    assert certificate["pairs_in_lp"] + certificate["pairs_priced"] == allowed.sum()
    assert certificate["pairs_in_lp"] < allowed.sum() / 2
    assert full.certificate is None


def test_aggressive_pruning_needs_pricing_rounds():
    # Every paper's top reviewers by score are the same few people with load 1, so the LP over the
    # top 3 per paper is infeasible (widened) and then misses better pairs that pricing must add.
    rng = np.random.default_rng(7)
    n_papers, n_people = 60, 100
    scores = rng.uniform(0, 1, size=(n_papers, n_people))
    scores[:, :8] += 2.0
    allowed = rng.random((n_papers, n_people)) < 0.8
    max_load = np.where(np.arange(n_people) < 8, 1, 3)
    full = solve_assignment(scores, allowed, 3, max_load)
    pruned = solve_assignment_pruned(scores, allowed, 3, max_load, candidates_per_paper=3)

    assert pruned.certificate["rounds"] >= 2
    assert pruned.certificate["proven_optimal"]
    assert pruned.objective == pytest.approx(full.objective, abs=1e-6)
    assert_feasible(pruned, allowed, 3, max_load, np.zeros(n_people, dtype=np.int64))


def test_pruned_solve_stops_after_max_rounds_without_proof():
    rng = np.random.default_rng(7)
    scores = rng.uniform(0, 1, size=(60, 100))
    scores[:, :8] += 2.0
    allowed = rng.random((60, 100)) < 0.8
    max_load = np.where(np.arange(100) < 8, 1, 3)
    full = solve_assignment(scores, allowed, 3, max_load)
    pruned = solve_assignment_pruned(scores, allowed, 3, max_load, candidates_per_paper=3, max_rounds=1)
    assert pruned.certificate["rounds"] == 1
    assert not pruned.certificate["proven_optimal"] and pruned.certificate["improving_pairs"] > 0
    assert pruned.certificate["max_reduced_cost"] > 1e-9
    assert pruned.objective <= full.objective + 1e-6
    assert_feasible(pruned, allowed, 3, max_load, np.zeros(100, dtype=np.int64))


def test_pruned_solve_reports_infeasibility_like_the_full_one():
    scores, allowed, max_load = pruning_instance(0, n_papers=20, n_people=10)
    with pytest.raises(InfeasibleAssignment, match="reviewers can take at most"):
        solve_assignment_pruned(scores, allowed, 3, np.ones(10, dtype=np.int64), candidates_per_paper=3)


def test_conference_above_the_pruning_threshold_is_certified(tmp_path):
    scores, coi, submissions, reviewers = conference()
    full = assign_conference(scores, coi, submissions, reviewers, 3, 4)
    pruned = assign_conference(
        scores, coi, submissions, reviewers, 3, 4, prune_above_pairs=0, candidates_per_paper=3
    )
    assert pruned["score"].sum() == pytest.approx(full["score"].sum(), abs=1e-6)

    np.save(tmp_path / "aggregate.npy", scores)
    np.save(tmp_path / "coi.npy", coi)
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    paths = [tmp_path / n for n in ("aggregate.npy", "coi.npy", "submissions.jsonl", "reviewers.jsonl")]
    for threshold, name in ((0, "pruned.json"), (2_000_000, "full.json")):
        solve_assignment_file(
            *paths,
            None,
            tmp_path / "assignment.csv",
            tmp_path / name,
            assignment_settings(
                reviews_per_paper=3, max_papers_per_reviewer=4, prune_above_pairs=threshold, candidates_per_paper=3
            ),
        )
    certified = json.loads((tmp_path / "pruned.json").read_text())
    assert certified["certificate"]["proven_optimal"] is True
    assert certified["certificate"]["rounds"] >= 1
    uncertified = json.loads((tmp_path / "full.json").read_text())
    assert uncertified["certificate"] is None
    assert certified["objective"] == pytest.approx(uncertified["objective"], abs=1e-6)


def milp_senior_optimum(scores, allowed, k, max_load, senior, need):
    """Independent 0/1 optimum with at least need[p] senior reviewers per paper (scipy MILP)."""
    papers, people = np.nonzero(allowed)
    n = len(papers)
    n_papers, n_people = allowed.shape
    is_senior = senior[people]
    rows = np.concatenate([papers, n_papers + people, n_papers + n_people + papers[is_senior]])
    cols = np.concatenate([np.arange(n), np.arange(n), np.arange(n)[is_senior]])
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * n_papers + n_people, n))
    lower = np.concatenate([np.full(n_papers, k), np.zeros(n_people), need])
    upper = np.concatenate([np.full(n_papers, k), max_load, np.full(n_papers, np.inf)])
    result = milp(-scores[papers, people], constraints=LinearConstraint(matrix, lower, upper),
                  integrality=np.ones(n), bounds=Bounds(0, 1))
    assert result.success, result.message
    return -result.fun


@pytest.mark.parametrize("seed", range(3))
def test_senior_side_constraint_mip_pruned_equals_dense(seed):
    scores, allowed, max_load = pruning_instance(seed, n_papers=60, n_people=90)
    max_load = max_load + 2
    rng = np.random.default_rng(100 + seed)
    senior = rng.random(90) < 0.2
    max_load[senior] = np.maximum(max_load[senior], 6)  # enough senior capacity for every paper
    # seniors are weaker matches, so the constraint binds
    scores = scores - 0.6 * senior[None, :]
    need = np.ones(60, dtype=np.int64)
    side = senior_group(senior, need)
    free = solve_assignment(scores, allowed, 3, max_load)
    assert (np.bincount(free.pairs[:, 0], weights=senior[free.pairs[:, 1]], minlength=60) < 1).any()

    dense = solve_assignment(scores, allowed, 3, max_load, groups=(side,), mip_rel_gap=1e-9)
    pruned = solve_assignment_pruned(scores, allowed, 3, max_load, candidates_per_paper=6, groups=(side,),
                                     mip_rel_gap=1e-9)
    optimum = milp_senior_optimum(scores, allowed, 3, max_load, senior, need)
    for result in (dense, pruned):
        assert_feasible(result, allowed, 3, max_load, np.zeros(90, dtype=np.int64))
        per_paper = np.bincount(result.pairs[:, 0], weights=senior[result.pairs[:, 1]], minlength=60)
        assert (per_paper >= 1).all()
        assert result.objective == pytest.approx(optimum, abs=1e-6)
        assert result.certificate["mip"]["gap"] <= 1e-9 + 1e-12
    certificate = pruned.certificate
    assert certificate["proven_optimal"]
    # the LP relaxation of the full problem bounds the MIP; the gap to it is reported
    assert certificate["mip"]["lp_relaxation_bound"] >= pruned.objective - 1e-9
    assert -1e-9 <= certificate["mip"]["gap_to_lp_bound"] < 0.05
    assert free.objective >= dense.objective - 1e-9


def test_conference_with_senior_reviewers_lowers_need_where_none_allowed(caplog):
    rng = np.random.default_rng(0)
    subs = [{"id": f"s{i}", "track": "T"} for i in range(6)]
    people = [person(f"r{j}", tracks=["T"]) for j in range(8)]
    scores = rng.uniform(0, 1, (6, 8))
    senior = np.zeros(8, dtype=bool)
    senior[[0, 1]] = True
    coi = np.zeros((6, 8), dtype=bool)
    coi[0, [0, 1]] = True  # s0 can have no senior reviewer
    with caplog.at_level("WARNING"):
        table = assign_conference(scores, coi, subs, people, 2, 4, senior=senior, min_senior_per_paper=1)
    assert "1 paper(s) have fewer than 1 allowed reviewers with senior" in caplog.text and "s0" in caplog.text
    has_senior = table.assign(senior=table["reviewer_id"].isin(["r0", "r1"])).groupby("submission_id")["senior"].any()
    assert has_senior.drop("s0").all()


def test_solve_assignment_file_refuses_an_infeasible_track(tmp_path):
    from revmatch.io import write_json
    from revmatch.conference import InfeasibleTrack

    write_json({"problems": [{"kind": "reviewer", "track": "Syntax", "needed": 30, "available": 24,
                              "shortfall": 6, "message": "track 'Syntax': short by 6"}]},
               tmp_path / "viability.json")
    with pytest.raises(InfeasibleTrack, match="Syntax"):
        solve_assignment_file(
            tmp_path / "missing.npy", tmp_path / "missing_coi.npy", tmp_path / "s.jsonl", tmp_path / "r.jsonl",
            None, tmp_path / "a.csv", tmp_path / "s.json",
            assignment_settings(reviews_per_paper=3, max_papers_per_reviewer=5),
            viability_json=tmp_path / "viability.json",
        )
    assert not (tmp_path / "a.csv").exists()
