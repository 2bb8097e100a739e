"""``model.matching_model``: the paper matrix of any registry model (tfidf, bm25, ensembles)
through the block cache, equal to ``registry.paper_scores``, and the workflow wiring."""

import re

import numpy as np
import pandas as pd
import pytest

from revmatch.io import write_jsonl
from revmatch.model import (
    TEXT_FIELDS,
    aggregate_scores,
    index_corpus_file,
    load_indexes,
    load_registry_model,
    paper_scores,
    parse_spec,
    unrelated_score,
)
from revmatch.matching.authorship import authorship_matrix
from revmatch.matching.paper_cache import read_paper_matrix
from revmatch.matching.paper_matrix_files import (
    read_submission_texts,
    registry_matrix_part,
    registry_paper_matrix_file,
)
from revmatch.matching.settings import PaperMatrixSettings
from revmatch.model import paper_text
from tests.conftest import copy_workflow, run_snakemake

TOPICS = [
    "parsing syntax tree grammar dependency treebank",
    "translation bilingual alignment decoder bleu phrase",
    "speech audio acoustic phoneme speaker waveform",
    "sentiment opinion polarity emotion review aspect",
]


def _text(rng, topic):
    words = TOPICS[topic].split() + "model method results data learning".split()
    return " ".join(rng.choice(words, size=int(rng.integers(6, 14))))


@pytest.fixture(scope="module")
def conference(tmp_path_factory):
    """A small corpus with tfidf and bm25 indexes, submissions and paper-matrix columns."""
    root = tmp_path_factory.mktemp("conference")
    rng = np.random.default_rng(7)
    n_papers, n_submissions = 40, 13
    papers = pd.DataFrame({
        "paper_id": [f"p{i}" for i in range(n_papers)],
        "title": [f"On {TOPICS[i % 4].split()[0]} {i}" for i in range(n_papers)],
        "abstract": [_text(rng, i % 4) for i in range(n_papers)],
    })
    papers.to_parquet(root / "papers.parquet", index=False)
    submissions = [{"id": f"s{i}", "title": f"Submission {i}", "paperAbstract": _text(rng, i % 4)}
                   for i in range(n_submissions)]
    submissions[5]["paperAbstract"] = None  # title only
    submissions[9] = {"id": "s9", "title": "zzz qqq", "paperAbstract": "xxyy"}  # no corpus term at all
    write_jsonl(submissions, root / "submissions.jsonl")
    columns = [f"p{i}" for i in (3, 17, 0, 25, 8, 39, 12)]
    (root / "columns.txt").write_text("\n".join(columns) + "\n")
    for name in ("tfidf", "bm25"):
        index_corpus_file(name, root / "papers.parquet", root / f"{name}.npz")
    return {"root": root, "columns": np.array([int(c[1:]) for c in columns]), "n": n_submissions,
            "texts": [paper_text(s["title"], s["paperAbstract"]) for s in submissions]}


def _settings(spec, parts=1, block_rows=4):
    """Paper-matrix settings of the registry model ``spec`` on the default text fields."""
    model = {"spec": spec, "fields": list(TEXT_FIELDS), "sentence_transformers": {}}
    return PaperMatrixSettings(model=model, parts=parts, block_rows=block_rows, memory_budget_mb=4096)


def _matrix_files(conference, spec, parts, cache, block_rows=4):
    root = conference["root"]
    indexes = [root / f"{name}.npz" for name in parse_spec(spec)]
    manifests = []
    for part in range(parts):
        out = cache.parent / f"{cache.name}-part{part}.parquet"
        registry_paper_matrix_file(indexes, root / "submissions.jsonl", root / "papers.parquet",
                                   root / "columns.txt", out, cache, _settings(spec, parts, block_rows), part=part)
        manifests.append(out)
    return read_paper_matrix(manifests, root / "columns.txt")


def _direct(conference, spec):
    model = load_registry_model(spec)
    index = load_indexes(model, [conference["root"] / f"{name}.npz" for name in parse_spec(spec)])
    return paper_scores(model, index, conference["texts"], columns=conference["columns"]), model, index


def test_submission_texts_are_the_avg_path_texts(conference):
    ids, texts = read_submission_texts(conference["root"] / "submissions.jsonl")
    assert ids == [f"s{i}" for i in range(conference["n"])]
    assert texts == conference["texts"]
    assert texts[5] == "Submission 5"
    _, abstracts = read_submission_texts(conference["root"] / "submissions.jsonl", fields=["abstract"])
    assert abstracts[5] == "" and abstracts[0] != texts[0]


@pytest.mark.parametrize("spec", ["tfidf", "tfidf+bm25"])
def test_cached_matrix_equals_paper_scores_and_parts_equal_one_job(conference, tmp_path, spec):
    direct, model, index = _direct(conference, spec)
    one = _matrix_files(conference, spec, 1, tmp_path / "one")
    two = _matrix_files(conference, spec, 2, tmp_path / "two")
    assert one.shape == (conference["n"], len(conference["columns"]))
    offset = unrelated_score(model, index)
    if spec == "tfidf":
        assert offset == 0
    else:  # z-scores shifted so that "no common term with any member" is 0
        assert offset < 0
    np.testing.assert_array_equal(one[:], direct - offset)
    np.testing.assert_array_equal(two[:], one[:])
    assert (one[:][9] == 0).all()  # a submission without a corpus term relates to nothing: exactly 0
    assert (one[:] >= 0).all()  # tfidf and bm25 are never below "nothing in common"

    # the cache is reused (nothing recomputed) and keyed by the spec
    again = _matrix_files(conference, spec, 2, tmp_path / "two")
    np.testing.assert_array_equal(again[:], two[:])
    other = "bm25" if spec == "tfidf" else "tfidf"
    _matrix_files(conference, other, 1, tmp_path / "two")
    assert len(list((tmp_path / "two").iterdir())) == 1  # the old spec's folder was pruned


def test_cache_computes_only_changed_rows(conference, tmp_path, caplog):
    root = conference["root"]
    _matrix_files(conference, "tfidf+bm25", 1, tmp_path / "cache")
    edited = tmp_path / "edited"
    edited.mkdir()
    for name in ("papers.parquet", "columns.txt", "tfidf.npz", "bm25.npz"):
        (edited / name).write_bytes((root / name).read_bytes())
    records = pd.read_json(root / "submissions.jsonl", lines=True).to_dict("records")
    records[2]["paperAbstract"] = "speech audio revised"
    write_jsonl(records, edited / "submissions.jsonl")
    with caplog.at_level("INFO"):
        registry_paper_matrix_file([edited / "tfidf.npz", edited / "bm25.npz"],
                                   edited / "submissions.jsonl", edited / "papers.parquet",
                                   edited / "columns.txt", tmp_path / "m.parquet", tmp_path / "cache",
                                   _settings("tfidf+bm25"))
    assert f"{conference['n'] - 1} rows cached, 1 to compute" in caplog.text


def test_uncached_matrix_equals_cached_and_aggregates_no_paper_reviewers_to_zero(conference, tmp_path):
    root = conference["root"]
    cached = _matrix_files(conference, "tfidf+bm25", 2, tmp_path / "cache")
    rows = []
    for part in range(2):
        matrix, ids, _ = registry_matrix_part([root / "tfidf.npz", root / "bm25.npz"],
                                              root / "submissions.jsonl", root / "papers.parquet",
                                              root / "columns.txt", _settings("tfidf+bm25", parts=2), part=part)
        rows.append(matrix[0 : len(ids)])
    np.testing.assert_array_equal(np.concatenate(rows), cached[:])

    # reviewers: two with papers, one without; 0 is "no expertise" on the ensemble's scale too
    authorship = authorship_matrix([["a"], ["b"], []], [["a"], ["a"], ["b"], [], ["b"], [], []])
    scores = aggregate_scores(cached, authorship, method="weighted_top3")
    assert (scores[:, 2] == 0).all()
    assert (scores[:, :2] >= 0).all() and (scores[:, :2] > 0).any()
    assert (scores[9] == 0).all()


# ---------------------------------------------------------------- the workflow

TARGET = "results/demo/assignment.csv"


def _planned_rules(proc) -> set[str]:
    text = proc.stdout + proc.stderr
    table = text.split("Job stats:")[1] if "Job stats:" in text else ""
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, flags=re.M)} - {"total"}


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    """The demo up to the assignment with an ensemble of tfidf and bm25 (no training needed)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("ensemble"))
    (workdir / "ensemble.yaml").write_text("model:\n  matching_model: tfidf+bm25\n")
    proc = run_snakemake(workdir, "--configfile", "config/config.yaml", "ensemble.yaml", "--", TARGET)
    assert proc.returncode == 0, proc.stderr[-8000:]
    return workdir


@pytest.mark.slow  # with the next test about 60 s on 2 cores: one run to the assignment, four dry runs
def test_ensemble_workflow_assigns_without_training(ensemble_run):
    assignment = pd.read_csv(ensemble_run / TARGET)
    submissions = pd.read_json(ensemble_run / "results/demo/submissions.jsonl", lines=True, dtype=False)
    assert set(assignment["submission_id"].astype(str)) == set(submissions["id"].astype(str))
    assert (assignment.groupby("submission_id").size() == 3).all()
    assert not (ensemble_run / "results/model/similarity.pt").exists()
    assert sorted(p.name for p in (ensemble_run / "results/model/index").iterdir()) == ["bm25.npz", "tfidf.npz"]
    aggregate = np.load(ensemble_run / "results/demo/matrices/aggregate.npy")
    assert aggregate.shape == (len(submissions), 275) and (aggregate >= 0).all()


@pytest.mark.slow
def test_changing_the_model_reruns_the_matrices_not_the_training(ensemble_run):
    same = run_snakemake(ensemble_run, "-n", "--configfile", "config/config.yaml", "ensemble.yaml", "--", TARGET)
    assert same.returncode == 0, same.stderr
    assert "Nothing to be done" in same.stdout + same.stderr

    (ensemble_run / "tfidf.yaml").write_text("model:\n  matching_model: tfidf\n")
    proc = run_snakemake(ensemble_run, "-n", "--configfile", "config/config.yaml", "tfidf.yaml", "--", TARGET)
    assert proc.returncode == 0, proc.stderr
    assert _planned_rules(proc) == {
        "compute_paper_matrix", "aggregate_scores", "gather_aggregate", "solve_assignment"
    }  # neither the corpus indexes nor (for any spec) the model are built again

    (ensemble_run / "avg.yaml").write_text("model:\n  matching_model: avg+tfidf\n")
    proc = run_snakemake(ensemble_run, "-n", "--configfile", "config/config.yaml", "avg.yaml", "--", TARGET)
    assert proc.returncode == 0, proc.stderr
    planned = _planned_rules(proc)
    assert {"index_corpus", "compute_paper_matrix", "aggregate_scores", "solve_assignment"} <= planned
    assert "embed_submissions" not in planned  # avg in an ensemble embeds the texts itself


def test_unknown_matching_model_stops_before_any_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text("model:\n  matching_model: tfidf+specter2\n")
    proc = run_snakemake(workdir, "-n", "--configfile", "config/config.yaml", "bad.yaml")
    assert proc.returncode != 0
    assert "model.matching_model" in proc.stdout + proc.stderr and "specter2" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_uncached_workflow_aggregate_equals_cached(ensemble_run):
    aggregate = ensemble_run / "results/demo/matrices/aggregate.npy"
    cached = aggregate.read_bytes()
    (ensemble_run / "nocache.yaml").write_text(
        "model:\n  matching_model: tfidf+bm25\nmatching:\n  cache_paper_matrix: false\n"
    )
    proc = run_snakemake(ensemble_run, "--configfile", "config/config.yaml", "nocache.yaml", "--",
                         "results/demo/matrices/aggregate.npy")
    assert proc.returncode == 0, proc.stderr[-8000:]
    assert "aggregate_scores" in proc.stdout + proc.stderr  # it ran again, computing the matrix itself
    assert aggregate.read_bytes() == cached
