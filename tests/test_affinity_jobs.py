"""Affinity jobs on the demo conference: every mode through Snakemake against the Expertise
API schema (jsonschema), registry models (tfidf, the ensemble avg+bm25), metadata, symmetry,
Data Errors and `revmatch affinity status`."""

import json
import os
import re
import subprocess
import sys

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from revmatch import affinity
from revmatch.io import read_jsonl
from revmatch.model import TrainParams, train_model
from revmatch.model import read_paper_texts, tokenize, train_sentencepiece
from tests.conftest import REPO, copy_workflow, run_snakemake

DEMO_JOBS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["affinity_jobs"]
BAD_JOBS = {
    "bad_unknown_member": {
        "mode": "user_subset", "members": ["ghost", "xjin90"], "on_unknown_member": "error"
    },
    "bad_members_file": {"mode": "group_submissions", "group": {"members_file": "nowhere.txt"}},
}
# Registry models through the workflow: their corpus indexes come from rule index_corpus.
MODEL_JOBS = {
    "tfidf_vs_submissions": {"mode": "group_submissions", "model": "tfidf", "group": {"role": "area_chair"},
                             "submission_status": ["active", "desk_rejected"], "normalize": False},
    "ensemble_acs": {"mode": "group_group", "model": "avg+bm25", "group": {"role": "area_chair"},
                     "alternate_group": {"role": "area_chair"}, "schema": "current"},
}
EMBEDDING_DIM = 24
EXTRA_JOBS = {
    "current_submissions": {"mode": "group_submissions", "group": {"role": "reviewer"}, "schema": "current",
                            "output": "project"},
    "legacy_group_group": {"mode": "group_group", "group": {"role": "senior_area_chair"},
                           "alternate_group": {"role": "area_chair"}},
}


def results_schema(mode: str, schema: str) -> dict:
    """JSON Schema of the Expertise API results document (legacy or current keys)."""
    if schema == "current":
        a_key, b_key = "entityA", "entityB"
    elif mode == "group_group":
        a_key, b_key = "match_member", "submission_member"
    else:
        a_key, b_key = "user", "submission"
    ids = {"type": "array", "items": {"type": "string"}}
    count = {"type": "integer", "minimum": 0}
    meta = {"no_profile": ids, "no_profile_submission": ids, "no_publications": ids,
            "no_publications_count": count, "submission_count": count}
    if schema == "current":
        meta["archives_count"] = {"type": "object", "additionalProperties": count}
    entry = {
        "type": "object", "additionalProperties": False, "required": [a_key, b_key, "score"],
        "properties": {a_key: {"type": "string"}, b_key: {"type": "string"},
                       "score": {"type": "number", "minimum": 0, "maximum": 1}},
    }
    return {
        "type": "object", "additionalProperties": False, "required": ["metadata", "results"],
        "properties": {
            "metadata": {"type": "object", "additionalProperties": False, "required": list(meta),
                         "properties": meta},
            "results": {"type": "array", "items": entry},
        },
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's reviewers, submissions, rejects and corpus from the real rules, synthetic
    embeddings, and every demo job plus some bad ones run by Snakemake's affinity rule."""
    work = copy_workflow(tmp_path_factory.mktemp("affinity_demo"))
    proc = run_snakemake(work, "results/demo/reviewers.jsonl", "results/corpus/papers.parquet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rng = np.random.default_rng(0)
    conf = work / "results" / "demo"
    # A small real averaging model of the embeddings' dimension (for the avg member of avg+bm25),
    # written before the embeddings so that they are not older than the model.
    train_tiny_model(work / "results/corpus/papers.parquet", work / "results/model", EMBEDDING_DIM)
    sizes = {
        "results/model/corpus_embeddings.npy": len(pd.read_parquet(work / "results/corpus/papers.parquet",
                                                                   columns=["year"])),
        "results/demo/matrices/submission_embeddings.npy": len(read_jsonl(conf / "submissions.jsonl")),
        "results/demo/affinity/embeddings/avg/rejects.npy": len(read_jsonl(conf / "rejects.jsonl")),
    }
    for path, rows in sizes.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        np.save(work / path, rng.normal(size=(rows, EMBEDDING_DIM)).astype(np.float32))
    # The synthetic embeddings stand in for the averaging model's: the jobs that name no model
    # (and the demo's encoder job) score with avg here.
    demo_jobs = {name: {**spec, "model": "avg"} if spec.get("model") == "tuned" else spec
                 for name, spec in DEMO_JOBS.items()}
    jobs = {**demo_jobs, **BAD_JOBS, **MODEL_JOBS}
    (work / "jobs.yaml").write_text(yaml.safe_dump({"affinity_jobs": jobs, "model": {"matching_model": "avg"}}))
    targets = [f"results/demo/affinity/{job}/results.json" for job in jobs]
    # Only the affinity and index rules run: the embeddings above stand in for the model's.
    run = run_snakemake(work, "--allowed-rules", "affinity_job", "index_corpus", "--keep-going", *targets,
                        "--configfile", "config/config.yaml", "jobs.yaml")
    for job, spec in EXTRA_JOBS.items():  # more schemas and modes, in this process
        affinity.affinity_job_file(
            spec, conf / "reviewers.jsonl", conf / "submissions.jsonl",
            work / "results/corpus/papers.parquet",
            conf / "affinity" / job / "results.json", conf / "affinity" / job / "results.csv",
            corpus_embeddings_npy=work / "results/model/corpus_embeddings.npy",
            submission_embeddings_npy=conf / "matrices/submission_embeddings.npy",
        )
    return {"work": work, "run": run, "conf": conf}


def train_tiny_model(papers_parquet, folder, dim):
    """``similarity.pt``: the averaging model trained for one epoch on 300 demo titles."""
    folder.mkdir(parents=True, exist_ok=True)
    titles = read_paper_texts(papers_parquet, ["title"])[:300]
    tokens = folder / "titles.tok.txt"
    tokens.write_text("\n".join(tokenize(titles)) + "\n")
    train_sentencepiece(tokens, folder / "titles.sp.model", vocab_size=400)
    import sentencepiece as spm

    pieces = spm.SentencePieceProcessor(model_file=str(folder / "titles.sp.model")).encode(
        tokens.read_text().splitlines(), out_type=str)
    params = TrainParams(dim=dim, epochs=1, batch_size=32, lr=0.02, seed=1)
    train_model(pieces, params, folder / "similarity.pt", folder / "titles.sp.model", device="cpu")


def load_inputs(demo):
    conf = demo["conf"]
    return {
        "reviewers": read_jsonl(conf / "reviewers.jsonl"),
        "submissions": read_jsonl(conf / "submissions.jsonl"),
        "papers": pd.read_parquet(demo["work"] / "results/corpus/papers.parquet"),
        "scorer": affinity.EmbeddingScorer(np.load(demo["work"] / "results/model/corpus_embeddings.npy"),
                                           np.load(conf / "matrices/submission_embeddings.npy")),
    }


OPENREVIEW_STATUS_KEYS = ["name", "tauthor", "jobId", "status", "description", "cdate", "mdate", "request"]


def assert_read_by_openreview(folder, spec):
    """The job's files in ``folder`` read as OpenReview's readers read them (status record and
    wait loop, metadata, the score file against the JSON, the venue's edges, number format)."""
    from tests.openreview_readers import machine_size, read_score_file, venue_note_scores, wait_step

    status = json.loads((folder / "status.json").read_text())
    assert list(status) == OPENREVIEW_STATUS_KEYS and wait_step(status) == "results", status
    assert status["description"].startswith("Job is complete and the computed scores are ready")
    pairwise = spec["mode"] == "group_group"
    document = json.loads((folder / "results.json").read_text())
    assert document["results"]
    meta = document["metadata"]
    keys = ["submission_count", "no_publications_count", "no_publications", "no_profile", "archives_count"]
    assert list(meta) == keys + ["no_profile_submission"] * pairwise
    assert meta["no_publications_count"] == len(meta["no_publications"])
    assert isinstance(meta["archives_count"], int) and isinstance(machine_size(meta), int)
    entries = read_score_file(folder / "results.csv", pairwise)
    if spec["schema"] == "legacy":
        a_key, b_key = ("match_member", "submission_member") if pairwise else ("user", "submission")
        document["results"] = [{"entityA": e[a_key], "entityB": e[b_key], "score": e["score"]}
                               for e in document["results"]]

    def pair(entry):
        return entry["entityA"], entry["entityB"]

    assert sorted(entries, key=pair) == sorted(document["results"], key=pair)
    if not pairwise:
        assert venue_note_scores(folder / "results.csv") == [(e["entityB"], e["entityA"], e["score"])
                                                             for e in entries]
    decimals = affinity.score_decimals(spec["mode"], "openreview")
    assert all(re.fullmatch(rf"[01]\.\d{{1,{decimals}}}", line.rsplit(",", 1)[1])
               for line in (folder / "results.csv").read_text().splitlines())
    return status, document


def assert_project_files(folder, spec):
    """The project's output (``output: project``): the results schema and a CSV with a header."""
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "Completed" and "jobId" not in status, status
    document = json.loads((folder / "results.json").read_text())
    jsonschema.validate(document, results_schema(spec["mode"], spec["schema"]))
    assert document["results"]
    meta = document["metadata"]
    assert meta["no_publications_count"] == len(meta["no_publications"])
    table = pd.read_csv(folder / "results.csv", dtype=str)
    assert list(table.columns) == affinity.results_columns(spec["mode"], spec["schema"], "project")
    assert table.astype({"score": float}).to_dict("records") == document["results"]


@pytest.mark.parametrize("job", [*DEMO_JOBS, *EXTRA_JOBS, *MODEL_JOBS])
def test_each_mode_writes_the_expertise_api_schema(demo, job):
    """Every demo job (and more modes and models) in OpenReview's shape by default, read by its
    readers; ``output: project`` in the project's."""
    spec = affinity.check_job({**DEMO_JOBS, **EXTRA_JOBS, **MODEL_JOBS}[job])
    folder = demo["conf"] / "affinity" / job
    if spec["output"] == "openreview":
        assert_read_by_openreview(folder, spec)
    else:
        assert_project_files(folder, spec)
    assert spec["output"] == ("project" if job == "current_submissions" else "openreview")


def test_demo_modes_cover_the_four_modes():
    assert sorted({job["mode"] for job in DEMO_JOBS.values()}) == sorted(affinity.JOB_MODES)


def test_metadata_lists_members_without_profile_or_publications(demo):
    inputs = load_inputs(demo)
    reviewers = inputs["reviewers"]
    corpus_ids = {str(a["id"]) for authors in inputs["papers"]["authors"] for a in authors if a["id"]}
    without = [r["id"] for r in reviewers if not {str(i) for i in r["ids"]} & corpus_ids]
    with_papers = [r for r in reviewers if r["id"] not in without]
    assert without and with_papers
    listed = [without[0], "ghost@nowhere.org", with_papers[0]["email"].upper(), with_papers[1]["id"], "ghost"]
    doc = affinity.run_affinity_job({"mode": "user_subset", "members": listed}, **inputs)
    assert doc["metadata"]["no_profile"] == ["ghost@nowhere.org", "ghost"]
    assert doc["metadata"]["no_publications"] == [without[0]]
    assert doc["metadata"]["no_publications_count"] == 1
    assert {e["user"] for e in doc["results"]} == {with_papers[0]["id"], with_papers[1]["id"]}
    assert len(doc["results"]) == 2 * len(inputs["submissions"])
    # A whole role: every member without corpus papers is listed, in profile order.
    everyone = affinity.run_affinity_job({"mode": "group_submissions", "group": {"role": "all"}}, **inputs)
    assert everyone["metadata"]["no_publications"] == without
    assert len(everyone["results"]) == len(with_papers) * len(inputs["submissions"])


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_user_to_user_scores_are_symmetric_when_a_is_b(demo, reduce):
    inputs = load_inputs(demo)
    job = {"mode": "group_group", "group": {"role": "area_chair"}, "alternate_group": {"role": "area_chair"},
           "reduce": reduce}
    doc = affinity.run_affinity_job(job, **inputs)
    scores = {(e["match_member"], e["submission_member"]): e["score"] for e in doc["results"]}
    n = sum(bool(r["areaChair"]) for r in inputs["reviewers"]) - doc["metadata"]["no_publications_count"]
    assert len(scores) == n * n and n > 5
    assert all(scores[(a, b)] == scores[(b, a)] for a, b in scores)


def test_data_errors_leave_a_status_and_fail_the_job(demo):
    assert demo["run"].returncode != 0  # the bad jobs fail the run; --keep-going ran the rest
    expected = {
        "bad_unknown_member": "not in the conference: ['ghost']",
        "bad_members_file": "nowhere.txt: id list file not found",
    }
    for job, reason in expected.items():
        folder = demo["conf"] / "affinity" / job
        status = json.loads((folder / "status.json").read_text())
        assert status["status"] == "Data Error" and reason in status["description"], status
        assert sorted(p.name for p in folder.iterdir()) == ["status.json"]
        log = (demo["work"] / "logs" / "demo" / f"affinity_{job}.log").read_text()
        assert f"affinity job {job}: Data Error: " in log and "Traceback" not in log


def test_status_command(demo):
    work = demo["work"]
    env = dict(os.environ)

    def status(*args):
        return subprocess.run([sys.executable, "-m", "revmatch.cli", "affinity", "status", *args],
                              cwd=work, capture_output=True, text=True, env=env)

    done = status("area_chairs_vs_submissions", "--config", "jobs.yaml", "--conference-dir", "results/demo")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "Completed"
    bad = status("bad_unknown_member", "--config", "config/config.yaml", "--conference-dir", "results/demo")
    assert bad.returncode == 1 and json.loads(bad.stdout)["status"] == "Data Error"
    folder = status("results/demo/affinity/bad_members_file")
    assert folder.returncode == 1 and "nowhere.txt" in json.loads(folder.stdout)["description"]
    (work / "more.yaml").write_text("conference: demo\naffinity_jobs:\n  later:\n    mode: user_subset\n"
                                    "    members: [xjin90]\n")
    queued = status("later", "--config", "more.yaml")
    assert queued.returncode == 0 and json.loads(queued.stdout)["status"] == "Queued"
    unknown = status("never", "--config", "more.yaml")
    assert unknown.returncode == 2 and "no affinity job 'never'" in unknown.stderr


def test_run_command_on_a_job_file(demo, tmp_path):
    work = demo["work"]
    job = tmp_path / "acs.yaml"
    job.write_text(yaml.safe_dump({"mode": "group_submissions", "group": {"role": "area_chair"},
                                   "submission_status": ["active", "desk_rejected"], "schema": "current"}))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "revmatch.cli", "affinity", "run", "--job", str(job), "--conference-dir",
         "results/demo", "--reject-embeddings", "results/demo/affinity/embeddings/avg/rejects.npy",
         "--out", str(out)],
        cwd=work, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "Completed"
    _, document = assert_read_by_openreview(out, affinity.check_job(yaml.safe_load(job.read_text())))
    rejects = [r for r in read_jsonl(demo["conf"] / "rejects.jsonl") if r["reason"] == "desk reject"]
    active = read_jsonl(demo["conf"] / "submissions.jsonl")
    assert document["metadata"]["submission_count"] == len(active) + len(rejects)


@pytest.mark.slow
def test_demo_workflow_jobs_with_the_trained_model(demo_run):
    """The configured demo jobs in the end-to-end run (real model embeddings)."""
    for job, spec in DEMO_JOBS.items():
        assert_read_by_openreview(demo_run / "results" / "demo" / "affinity" / job, affinity.check_job(spec))


def test_registry_model_jobs_read_their_indexes(demo):
    """tfidf and avg+bm25 jobs ran through rule index_corpus; tfidf scores (normalize: false)
    are the cosine of the submission's text and the member's closest paper."""
    from revmatch.model import load_index, load_registry_model, paper_scores, paper_text

    work, conf = demo["work"], demo["conf"]
    assert sorted(p.name for p in (work / "results/model/index").iterdir()) == ["avg.npz", "bm25.npz", "tfidf.npz"]
    document = json.loads((conf / "affinity/tfidf_vs_submissions/results.json").read_text())
    rejects = [r for r in read_jsonl(conf / "rejects.jsonl") if r["reason"] == "desk reject"]
    assert document["metadata"]["submission_count"] == len(read_jsonl(conf / "submissions.jsonl")) + len(rejects)
    entry = document["results"][len(document["results"]) // 2]
    record = {r["id"]: r for r in read_jsonl(conf / "submissions.jsonl")}.get(entry["submission"]) or {
        r["startSubmissionId"]: r for r in rejects}[entry["submission"]]
    reviewers = read_jsonl(conf / "reviewers.jsonl")
    papers = pd.read_parquet(work / "results/corpus/papers.parquet")
    member = next(r for r in reviewers if r["id"] == entry["user"])
    incidence, _ = affinity.member_publications([member], papers)
    index = load_index(work / "results/model/index/tfidf.npz", "tfidf")
    text = paper_text(record.get("title"), record.get("paperAbstract"))
    cosines = paper_scores(load_registry_model("tfidf"), index, [text], incidence.indices)
    decimals = affinity.score_decimals("group_submissions", "openreview")
    assert entry["score"] == pytest.approx(round(float(cosines.max()), decimals), abs=2e-7)
    ensemble = json.loads((conf / "affinity/ensemble_acs/results.json").read_text())
    scores = {(e["entityA"], e["entityB"]): e["score"] for e in ensemble["results"]}
    assert len(scores) > 25 and all(scores[(a, b)] == scores[(b, a)] for a, b in scores)
    log = (work / "logs/demo/affinity_ensemble_acs.log").read_text()
    assert "Traceback" not in log


def test_job_model_names_any_registry_model(demo):
    """An unknown model, or a model without a fixed scale and normalize: false, stops the
    workflow before any job runs, naming the job (known models ran in the fixture)."""
    work = demo["work"]
    target = "results/demo/affinity/ensemble/results.json"

    def dry_run(job):
        (work / "models.yaml").write_text(yaml.safe_dump({"affinity_jobs": {"ensemble": job}}))
        return run_snakemake(work, "-n", target, "--allowed-rules", "affinity_job",
                             "--configfile", "config/config.yaml", "models.yaml")

    job = {"mode": "user_subset", "members": ["xjin90"]}
    unknown = dry_run({**job, "model": "avg+specter"})
    assert unknown.returncode != 0
    message = unknown.stdout + unknown.stderr
    assert "config key affinity_jobs.ensemble.model: 'avg+specter' names unknown model(s) specter" in message
    assert "known: ['avg', 'bm25', 'minilm', 'tfidf', 'tuned']" in message
    unscaled = dry_run({**job, "model": "bm25", "normalize": False})
    assert unscaled.returncode != 0
    assert "affinity job 'ensemble': model 'bm25' has no fixed [0, 1] scale" in unscaled.stdout + unscaled.stderr


# ---------------------------------------------------------------- OpenReview's job configs, as they are


OR_VENUE = "demo.org/2026/Conference"
OPENREVIEW_JOBS = {
    "or_reviewers": {  # current form; an OpenReview model -> the matching model; sparse results
        "name": "Demo reviewers", "entityA": {"type": "Group", "memberOf": f"{OR_VENUE}/Reviewers"},
        "entityB": {"type": "Note", "withVenueid": f"{OR_VENUE}/Submission", "withContent": None},
        "model": {"name": "specter2+scincl", "scoreComputation": "max", "sparseValue": 5},
        "dataset": {"minimumPubDate": 1420070400000, "topRecentPubs": 20},
    },
    "or_sacs_vs_acs": {  # current form, two groups
        "name": "SACs vs ACs", "entityA": {"type": "Group", "memberOf": f"{OR_VENUE}/Senior_Area_Chairs"},
        "entityB": {"type": "Group", "memberOf": f"{OR_VENUE}/Area_Chairs"}, "model": {"name": "specter+mfr"},
    },
    "or_legacy": {  # legacy form: two committees against the desk-rejected submissions, average scores
        "match_group": [f"{OR_VENUE}/Area_Chairs", f"{OR_VENUE}/Senior_Area_Chairs"],
        "paper_venueid": f"{OR_VENUE}/Desk_Rejected_Submission", "model": "specter2",
        "model_params": {"average_score": True, "max_score": False},
    },
    "or_archives": {  # the reviewers' OpenReview archives instead of the corpus (avg: the trained model)
        "name": "From archives", "entityA": {"type": "Group", "memberOf": f"{OR_VENUE}/Reviewers"},
        "entityB": {"type": "Note", "invitation": f"{OR_VENUE}/-/Submission"}, "model": {"name": "scincl"},
        "archives_dir": "openreview/archives",
    },
    "or_bad": {
        "name": "Weighted", "entityA": {"type": "Group", "memberOf": f"{OR_VENUE}/Reviewers"},
        "entityB": {"type": "Note", "withVenueid": OR_VENUE},
        "dataset": {"weightSpecification": [{"prefix": "ACL", "weight": 2}]},
    },
}


def write_demo_archives(work, conf):
    """The demo reviewers' corpus papers as OpenReview archives (``<id>.jsonl``, current API's
    value wrappers), under ``openreview/archives``; the number of papers written."""
    from tests.test_affinity import ms

    papers = pd.read_parquet(work / "results/corpus/papers.parquet")
    reviewers = read_jsonl(conf / "reviewers.jsonl")
    incidence, _ = affinity.member_publications(reviewers, papers)
    folder = work / "openreview" / "archives"
    folder.mkdir(parents=True)
    written = 0
    for i, member in enumerate(reviewers):
        records = []
        for row in incidence[i].indices:
            paper = papers.iloc[row]
            content = {"title": {"value": paper["title"]}, "abstract": {"value": paper["abstract"]},
                       "authorids": {"value": [str(a["id"]) for a in paper["authors"]]}}
            cdate = None if pd.isna(paper["year"]) else ms(int(paper["year"]), 3)
            records.append(json.dumps({"id": paper["paper_id"], "cdate": cdate, "content": content}))
        if records:
            (folder / f"{member['id']}.jsonl").write_text("\n".join(records) + "\n")
            written += len(records)
    return written


@pytest.fixture(scope="module")
def openreview_demo(demo):
    """OpenReview's job configs, as they are, under ``affinity_jobs:`` of the demo, run by the
    affinity rule."""
    work, conf = demo["work"], demo["conf"]
    write_demo_archives(work, conf)
    (work / "or_jobs.yaml").write_text(yaml.safe_dump({"affinity_jobs": OPENREVIEW_JOBS,
                                                       "model": {"matching_model": "avg"}}))
    targets = [f"results/demo/affinity/{job}/results.json" for job in OPENREVIEW_JOBS]
    run = run_snakemake(work, "--allowed-rules", "affinity_job", "--keep-going", *targets,
                        "--configfile", "config/config.yaml", "or_jobs.yaml")
    return {**demo, "or_run": run}


@pytest.mark.parametrize("job", [job for job in OPENREVIEW_JOBS if job != "or_bad"])
def test_openreview_configs_run_in_the_workflow_in_openreviews_shape(openreview_demo, job):
    folder = openreview_demo["conf"] / "affinity" / job
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "Completed", (status, openreview_demo["or_run"].stderr[-3000:])
    status, _ = assert_read_by_openreview(folder, affinity.check_job(OPENREVIEW_JOBS[job]))
    config = OPENREVIEW_JOBS[job]
    assert status["name"] == config.get("name", job) and status["request"] == config
    assert status["description"].startswith("Job is complete and the computed scores are ready (model ")
    assert "scored with this project's matching model 'avg'" in status["description"]


def test_openreview_sparse_results_keep_each_sides_best(openreview_demo):
    """sparseValue 5: each reviewer's 5 best submissions and each submission's 5 best reviewers."""
    folder = openreview_demo["conf"] / "affinity" / "or_reviewers"
    document = json.loads((folder / "results.json").read_text())
    table = pd.DataFrame(document["results"])
    reviewers = table["entityA"].nunique()
    submissions = len(read_jsonl(openreview_demo["conf"] / "submissions.jsonl"))
    assert document["metadata"]["submission_count"] == submissions
    assert reviewers > 5 and len(table) < reviewers * submissions
    assert table.groupby("entityA").size().min() >= 5 and table.groupby("entityB").size().min() >= 5


def test_openreview_archives_job_reads_the_archives(openreview_demo):
    work, conf = openreview_demo["work"], openreview_demo["conf"]
    document = json.loads((conf / "affinity" / "or_archives" / "results.json").read_text())
    archived = {path.stem for path in (work / "openreview" / "archives").iterdir()}
    assert {e["entityA"] for e in document["results"]} <= archived
    reviewers = [r for r in read_jsonl(conf / "reviewers.jsonl")
                 if not r["areaChair"] and not r["seniorAreaChair"]]
    assert set(document["metadata"]["no_publications"]) == {r["id"] for r in reviewers} - archived
    lines = sum(len((work / "openreview" / "archives" / f"{r['id']}.jsonl").read_text().splitlines())
                for r in reviewers if r["id"] in archived)
    assert document["metadata"]["archives_count"] == lines
    log = (work / "logs" / "demo" / "affinity_or_archives.log").read_text()
    assert "Traceback" not in log and "archives openreview/archives" in log


def test_openreview_config_a_job_cannot_honour_is_a_data_error(openreview_demo):
    assert openreview_demo["or_run"].returncode != 0  # or_bad fails; --keep-going ran the others
    folder = openreview_demo["conf"] / "affinity" / "or_bad"
    status = json.loads((folder / "status.json").read_text())
    assert list(status) == OPENREVIEW_STATUS_KEYS and status["status"] == "Data Error"
    assert status["description"] == ("OpenReview field dataset.weightSpecification: publications are not "
                                     "weighted by venue here")
    assert sorted(p.name for p in folder.iterdir()) == ["status.json"]
    log = (openreview_demo["work"] / "logs" / "demo" / "affinity_or_bad.log").read_text()
    assert "affinity job or_bad: Data Error: OpenReview field dataset.weightSpecification" in log


def test_run_and_status_commands_on_an_openreview_config(openreview_demo, tmp_path):
    work = openreview_demo["work"]
    job = tmp_path / "expertise_request.json"
    job.write_text(json.dumps({**OPENREVIEW_JOBS["or_reviewers"], "model": {"name": "bm25"}}))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "revmatch.cli", "affinity", "run", "--job", str(job), "--conference-dir",
         "results/demo", "--out", str(out)],
        cwd=work, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert list(status) == OPENREVIEW_STATUS_KEYS and status["name"] == "Demo reviewers"
    first = (out / "results.csv").read_text().splitlines()[0].split(",")
    submissions = {s["id"] for s in read_jsonl(work / "results/demo/submissions.jsonl")}
    assert float(first[2]) >= 0 and first[0] in submissions  # no header: submission,user,score
    shown = subprocess.run(
        [sys.executable, "-m", "revmatch.cli", "affinity", "status", "or_reviewers", "--config",
         "or_jobs.yaml", "--conference-dir", "results/demo"],
        cwd=work, capture_output=True, text=True,
    )
    assert shown.returncode == 0 and json.loads(shown.stdout)["jobId"]


def test_a_paper_subset_needs_the_rejects_embeddings_only_for_a_set_aside_submission(demo, tmp_path):
    """OpenReview's paper-subset requests take any status. Listing active submissions only
    needs no rejects' embeddings; listing a set-aside one without their file encodes the
    rejects with the averaging model, as rule embed_rejected_submissions does; without the
    model either, a Data Error says what is missing."""
    from revmatch.model import embed_submissions_file

    work, conf = demo["work"], demo["conf"]
    active = [s["id"] for s in read_jsonl(conf / "submissions.jsonl")][:2]
    set_aside = read_jsonl(conf / "rejects.jsonl")[0]["startSubmissionId"]
    model = work / "results/model/similarity.pt"

    def subset(ids, out, **files):
        request = {"name": "late papers", "entityA": {"type": "Group", "memberOf": f"{OR_VENUE}/Area_Chairs"},
                   "entityB": {"type": "Note", "submissions": [{"id": i, "title": "", "abstract": ""}
                                                               for i in ids]},
                   "model": {"name": "specter2+scincl", "normalizeScores": False}}
        status = affinity.affinity_job_file(
            request, conf / "reviewers.jsonl", conf / "submissions.jsonl", work / "results/corpus/papers.parquet",
            out / "results.json", out / "results.csv", rejects_jsonl=conf / "rejects.jsonl", default_model="avg",
            corpus_embeddings_npy=work / "results/model/corpus_embeddings.npy",
            submission_embeddings_npy=conf / "matrices/submission_embeddings.npy", **files)
        return status, out

    status, out = subset(active, tmp_path / "active")
    assert status["status"] == "Completed", status
    assert json.loads((out / "results.json").read_text())["metadata"]["submission_count"] == 2
    status, encoded = subset([active[0], set_aside], tmp_path / "encoded", avg_model=model)
    assert status["status"] == "Completed", status
    cached = tmp_path / "rejects.npy"
    embed_submissions_file(model, conf / "rejects.jsonl", cached, fields=affinity.ScorerSettings().text_fields)
    status, from_file = subset([active[0], set_aside], tmp_path / "cached", reject_embeddings_npy=cached)
    assert status["status"] == "Completed", status
    document = json.loads((encoded / "results.json").read_text())
    assert {e["entityB"] for e in document["results"]} == {active[0], set_aside}
    assert document == json.loads((from_file / "results.json").read_text())
    status, _ = subset([set_aside], tmp_path / "missing")
    assert status["status"] == "Data Error"
    assert "needs the rejects' embeddings, or the model that makes them" in status["description"]
