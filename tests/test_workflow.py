"""End-to-end: the demo DAG through Snakemake, staleness, lint and config errors."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_matrix, load_npz

from revmatch.io import read_jsonl
from tests.conftest import copy_workflow, planned_rules, run_snakemake

pytestmark = pytest.mark.slow

CONTRACT = [
    "reviewers.jsonl",
    "submissions.jsonl",
    "assignments.jsonl",
    "assignments.csv",
    "assignments.xlsx",
    "viability.txt",
    "evaluation.txt",
    "calibration/submissions.csv",
]


def test_demo_outputs_exist(demo_run):
    conf = demo_run / "results" / "demo"
    for name in CONTRACT:
        assert (conf / name).stat().st_size > 0, name
    assert (demo_run / "results" / "model" / "similarity.pt").exists()
    assert (demo_run / "results" / "corpus" / "papers.parquet").exists()
    calib = pd.read_csv(conf / "calibration" / "submissions.csv")
    assert {"submission_id", "quality_mean", "quality_sd", "raw_mean"} <= set(calib.columns)
    result = json.loads((conf / "affinity" / "area_chairs_vs_submissions" / "results.json").read_text())
    assert set(result) == {"metadata", "results"}
    assert all(0.0 <= r["score"] <= 1.0 for r in result["results"])


def test_demo_assignment_in_the_openreview_matchers_shape(demo_run):
    """openreview/assignments.json holds the assignment's pairs as {paper: [{aggregate_score, user}]};
    alternates are other reviewers, never a COI."""
    conf = demo_run / "results" / "demo"
    table = pd.read_csv(conf / "assignment.csv", dtype=str, keep_default_na=False)
    assignments = json.loads((conf / "openreview" / "assignments.json").read_text())
    pairs = {(paper, entry["user"]) for paper, entries in assignments.items() for entry in entries}
    assert pairs == set(zip(table["submission_id"], table["reviewer_id"]))
    assert all(set(entry) == {"aggregate_score", "user"} for entries in assignments.values() for entry in entries)
    alternates = json.loads((conf / "openreview" / "alternates.json").read_text())
    conflicts = set(zip(*pd.read_csv(conf / "coi_reasons.csv", dtype=str)[["submission_id", "reviewer_id"]].T.values))
    for paper, entries in alternates.items():
        users = [entry["user"] for entry in entries]
        assert len(users) == 10 and not {(paper, u) for u in users} & (pairs | conflicts)


def test_demo_assignment_satisfies_every_constraint_and_is_optimal(demo_run):
    conf = demo_run / "results" / "demo"
    cfg_k, cfg_max = 3, 6
    submissions = read_jsonl(conf / "submissions.jsonl")
    reviewers = read_jsonl(conf / "reviewers.jsonl")
    lines = read_jsonl(conf / "assignments.jsonl")
    coi = np.load(conf / "coi.npy")
    scores = np.load(conf / "matrices" / "aggregate.npy")
    quotas = pd.read_csv(demo_run / "resources/demo/start/quotas.csv", dtype=str)
    quota = dict(zip(quotas["Username"], quotas["Quota for Review"].astype(int)))

    sub_index = {s["id"]: i for i, s in enumerate(submissions)}
    rev_index = {r["id"]: j for j, r in enumerate(reviewers)}
    assert [line["submission_id"] for line in lines] == [s["id"] for s in submissions]
    load = np.zeros(len(reviewers), dtype=int)
    total = 0.0
    for line in lines:
        i = sub_index[line["submission_id"]]
        ids = [r["id"] for r in line["reviewers"]]
        assert len(ids) == len(set(ids)) == cfg_k
        for rid in ids:
            j = rev_index[rid]
            rev = reviewers[j]
            assert not coi[i, j], (line["submission_id"], rid)
            assert submissions[i]["track"] in rev["tracks"]
            assert not rev["areaChair"] and not rev["seniorAreaChair"]
            load[j] += 1
            total += scores[i, j]
    for j, rev in enumerate(reviewers):
        assert load[j] <= quota.get(rev["id"], cfg_max), rev["id"]

    # An independent optimum (scipy's MILP) of the same problem, emergency penalty included.
    allowed = ~coi & np.array(
        [[s["track"] in r["tracks"] and not r["areaChair"] and not r["seniorAreaChair"]
          and bool(r["tracks"]) for r in reviewers] for s in submissions]
    )
    emergency = np.array([r["emergency"] for r in reviewers])
    penalised = scores - 0.5 * emergency[None, :]
    p_idx, r_idx = np.nonzero(allowed)
    n = len(p_idx)
    rows_p = coo_matrix((np.ones(n), (p_idx, np.arange(n))), shape=(len(submissions), n))
    rows_r = coo_matrix((np.ones(n), (r_idx, np.arange(n))), shape=(len(reviewers), n))
    upper = np.array([quota.get(r["id"], cfg_max) for r in reviewers])
    # The demo asks for at least one senior reviewer (>= 5 corpus papers) per paper where one is allowed.
    authorship = load_npz(conf / "matrices" / "authorship.npz")
    senior = np.diff(authorship.indptr) >= 5
    need = np.minimum((allowed & senior[None, :]).sum(axis=1), 1)
    is_senior = senior[r_idx]
    rows_s = coo_matrix((np.ones(is_senior.sum()), (p_idx[is_senior], np.arange(n)[is_senior])),
                        shape=(len(submissions), n))
    res = milp(
        -penalised[p_idx, r_idx],
        constraints=[LinearConstraint(rows_p, cfg_k, cfg_k), LinearConstraint(rows_r, 0, upper),
                     LinearConstraint(rows_s, need, np.inf)],
        integrality=np.ones(n),
        bounds=(0, 1),
    )
    assert res.status == 0
    ours = sum(penalised[sub_index[l["submission_id"]], rev_index[r["id"]]] for l in lines for r in l["reviewers"])
    assert ours == pytest.approx(-res.fun, abs=1e-3)
    seniors = np.zeros(len(submissions))
    for line in lines:
        seniors[sub_index[line["submission_id"]]] += sum(senior[rev_index[r["id"]]] for r in line["reviewers"])
    assert (seniors >= need).all() and need.sum() > 0.9 * len(submissions)
    summary = json.loads((conf / "assignment_summary.json").read_text())
    assert summary["certificate"]["mip"]["gap"] <= 1e-4


def test_finished_run_has_nothing_to_do(demo_run):
    proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_max_papers_reruns_only_the_assignment(demo_run):
    override = demo_run / "max5.yaml"
    override.write_text("matching:\n  max_papers_per_reviewer: 5\n")
    proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml", "max5.yaml")
    assert proc.returncode == 0, proc.stderr
    assert planned_rules(proc) == {
        "solve_assignment", "check_viability", "export_assignments", "evaluate_assignment", "all"
    }


def test_changing_a_quota_reruns_only_the_assignment(demo_run, tmp_path):
    quotas = demo_run / "resources/demo/start/quotas.csv"
    original = quotas.read_bytes()
    try:
        text = original.decode().splitlines()
        name, value = text[1].rsplit(",", 1)
        text[1] = f"{name},{int(value) - 1}"
        quotas.write_text("\n".join(text) + "\n")
        proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml")
    finally:
        quotas.write_bytes(original)
    assert proc.returncode == 0, proc.stderr
    assert planned_rules(proc) == {
        "solve_assignment", "check_viability", "export_assignments", "evaluate_assignment", "all"
    }


ASSIGNMENT_AND_EXPORTS = {"solve_assignment", "export_assignments", "evaluate_assignment", "all"}
AGGREGATION = {"aggregate_scores", "gather_aggregate"}
# the demo's openreview_matches entry reads an affinity job's scores: the matcher runs again after it
AVERAGING_MODEL = {"train_similarity_model", "embed_corpus", "index_corpus", "compute_paper_matrix", "evaluate_models",
                   "affinity_job", "openreview_match"}


@pytest.mark.parametrize(
    ("override", "planned"),
    [
        ("matching:\n  emergency_penalty: 0.4\n", ASSIGNMENT_AND_EXPORTS),
        ("matching:\n  num_similar: 5\n", {"export_assignments", "all"}),
        ("matching:\n  aggregator: max\n", AGGREGATION | ASSIGNMENT_AND_EXPORTS),
        ("matching:\n  block_rows: 1024\n", {"compute_paper_matrix"} | AGGREGATION | ASSIGNMENT_AND_EXPORTS),
        ("viability:\n  ac_max_papers: 14\n", {"check_viability"} | ASSIGNMENT_AND_EXPORTS),
        ("coi:\n  same_affiliation: false\n", {"merge_cois", "check_viability"} | ASSIGNMENT_AND_EXPORTS),
        ("calibration:\n  draws: 150\n", {"calibrate_reviews", "plot_calibration", "all"}),
        ("model:\n  evaluation:\n    max_queries: 100\n", {"evaluate_models", "all"}),
        ("model:\n  train:\n    lr: 0.02\n", AVERAGING_MODEL | AGGREGATION | ASSIGNMENT_AND_EXPORTS),
    ],
    ids=["emergency_penalty", "num_similar", "aggregator", "block_rows", "ac_max_papers", "same_affiliation",
         "calibration_draws", "evaluation_max_queries", "train_lr"],
)
def test_a_changed_setting_reruns_exactly_what_it_shapes(demo_run, override, planned):
    """Each stage's settings reach its rules as plain params: a change re-runs the rules whose
    outputs it shapes and their consumers, nothing else (the sets measured before the
    settings objects existed)."""
    (demo_run / "setting.yaml").write_text(override)
    proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml", "setting.yaml")
    assert proc.returncode == 0, proc.stderr
    assert planned_rules(proc) == planned


def test_lint_is_clean(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = run_snakemake(workdir, "--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("matching:\n  max_papers_per_reviwer: 5\n", "max_papers_per_reviwer"),
        ("matching:\n  max_papers_per_reviewer: many\n", "max_papers_per_reviewer"),
        ("softconf:\n  profiles: nowhere/Profile_Information.csv\n"
         "  submissions: resources/demo/start/Submission_Information.csv\n", "nowhere/Profile_Information.csv"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, override, expected):
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(override)
    proc = run_snakemake(workdir, "--configfile", "config/config.yaml", "bad.yaml")
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()


def test_changing_the_finetuning_reruns_what_the_tuned_encoder_shapes_only(demo_run):
    (demo_run / "lr.yaml").write_text("model:\n  finetune:\n    lr: 1.0e-5\n")
    proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml", "lr.yaml")
    assert proc.returncode == 0, proc.stderr
    planned = planned_rules(proc)
    # tuned is in the default model: its index, the matrices, the assignment and the jobs follow
    assert {"finetune_encoder", "index_corpus", "compute_paper_matrix", "solve_assignment",
            "evaluate_models"} <= planned
    assert not planned & {"train_similarity_model", "embed_corpus", "tokenize_corpus", "train_sentencepiece",
                          "extract_softconf", "merge_cois", "calibrate_reviews"}


def test_changing_how_encoders_embed_reruns_the_scores_not_the_fine_tuning(demo_run):
    (demo_run / "runtime.yaml").write_text("model:\n  encoder:\n    runtime: onnx\n")
    proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml", "runtime.yaml")
    assert proc.returncode == 0, proc.stderr
    planned = planned_rules(proc)
    assert {"compute_paper_matrix", "evaluate_models", "affinity_job"} <= planned
    assert not planned & {"finetune_encoder", "train_similarity_model", "embed_corpus"}


def test_acl_reference_preset_trains_the_reference_model_and_matches_with_it(demo_run):
    (demo_run / "preset.yaml").write_text("model:\n  preset: acl-reference\n")
    proc = run_snakemake(demo_run, "-n", "--configfile", "config/config.yaml", ".test/fast.yaml", "preset.yaml")
    assert proc.returncode == 0, proc.stderr
    planned = planned_rules(proc)
    assert {"train_sentencepiece", "train_similarity_model", "compute_paper_matrix"} <= planned
    assert "finetune_encoder" not in planned  # the encoders are untouched
    assert "params have changed" in (proc.stdout + proc.stderr).lower()


def test_an_added_submission_is_the_only_text_encoded_again(demo_run, tmp_path):
    """A copy of the finished demo with one more submission: the encoder encodes that one
    text; the corpus index and every other submission's row are reused."""
    import shutil

    work = tmp_path / "demo"
    shutil.copytree(demo_run, work, symlinks=True)
    csv = work / "resources/demo/start/Submission_Information.csv"
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    added = table.iloc[[0]].copy()  # an active submission (Awaiting Decision)
    added["Submission ID"] = str(int(table["Submission ID"].astype(int).max()) + 1)
    added["Title"] = "Zero-shot cross-lingual semantic parsing with multilingual encoders"
    added["Abstract"] = "We parse questions in ten languages into logical forms without target-language data."
    pd.concat([table, added]).to_csv(csv, index=False)
    proc = run_snakemake(work, "--configfile", "config/config.yaml", ".test/fast.yaml", "--until", "compute_paper_matrix")
    assert proc.returncode == 0, proc.stderr[-5000:]
    logs = "".join(path.read_text() for path in (work / "logs/demo").glob("compute_paper_matrix_part*.log"))
    encoded = [int(n) for n in re.findall(r"tuned: encoded (\d+) of", logs)]
    assert encoded == [1], logs[-3000:]
    assert re.search(r"\d+ rows cached, 1 to compute", logs)  # the other rows come from the paper cache
