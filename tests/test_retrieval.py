import json

import numpy as np
import pandas as pd
import pytest

from revmatch.io import InputError
from revmatch.model.dense_models import DenseModel
from revmatch.model.heldout import heldout_mask
from revmatch.model.pairs import coauthor_relevance
from revmatch.model.retrieval import (
    author_papers,
    evaluate_models_file,
    format_report,
    paired_bootstrap,
    read_sts,
    sts_correlation,
    summarise,
    target_ranks,
    title_to_abstract,
    top_k_columns,
)
from revmatch.model.settings import EvaluationSettings, HeldoutSettings
from revmatch.model.sparse_models import BM25Model, TfidfModel

TOPICS = {
    "parsing": "parser grammar treebank dependency constituency",
    "translation": "translation bilingual decoder alignment bleu",
    "speech": "speech acoustic phoneme waveform prosody",
    "sentiment": "sentiment opinion polarity emotion stance",
}


def test_ranks_are_pessimistic_on_ties_and_top_k_is_ordered():
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    assert target_ranks(scores, np.array([1, 2])).tolist() == [2, 4]
    assert target_ranks(scores, np.array([2, 0])).tolist() == [3, 4]
    assert top_k_columns(np.array([[0.1, 0.9, 0.5, 0.7]]), 3).tolist() == [[1, 3, 2]]
    assert summarise(np.array([1, 2, 4]), {1: np.array([1.0, 0.0, 0.0])}) == {
        "queries": 3, "mrr": pytest.approx((1 + 0.5 + 0.25) / 3), "recall@1": pytest.approx(1 / 3)}


def test_title_to_abstract_with_tfidf():
    abstracts = [f"{words} unique{i} study" for i, words in enumerate(TOPICS.values())]
    titles = ["unique2 waveform", "unique0 parser", "no word known"]
    model = TfidfModel()
    result = title_to_abstract(model, model.index(abstracts), titles, np.array([2, 0, 3]), ks=(1, 2))
    # the unknown title scores 0 everywhere: worst rank 4
    assert result == {"queries": 3, "mrr": pytest.approx((1 + 1 + 0.25) / 3),
                      "recall@1": pytest.approx(2 / 3), "recall@2": pytest.approx(2 / 3)}


def test_author_papers_by_hand():
    # fixed 2-d embeddings: paper 0 is closest to 1, then 2, then 3
    vectors = {"a": [1, 0], "b": [0.9, 0.1], "c": [0.6, 0.4], "d": [0, 1]}
    model = DenseModel("fixed", lambda texts: np.array([vectors[t] for t in texts], dtype=np.float32))
    texts = ["a", "b", "c", "d"]
    authors = [["x", "y"], ["z"], ["x"], ["y"]]
    relevant = coauthor_relevance(authors, np.array([0, 2]))
    assert relevant.toarray().tolist() == [[False, False, True, True], [True, False, False, False]]
    result = author_papers(model, model.index(texts), texts, np.array([0, 2]), relevant, ks=(1, 2))
    # query 0: ranking 1, 2, 3 (self excluded) -> first relevant (2) at rank 2; recall@1 0, @2 1/2
    # query 2: ranking 1, 0, 3 -> relevant 0 at rank 2; recall@1 0, @2 1
    assert result == {"queries": 2, "mrr": pytest.approx(0.5), "recall@1": 0.0,
                      "recall@2": pytest.approx(0.75)}


def test_sts_correlation_and_file(tmp_path):
    path = tmp_path / "sts.tsv"
    path.write_text("sentence1\tsentence2\tscore\n"
                    "a parser for trees\ta parser for trees\t5\n"
                    "a parser for trees\ta tree parser\t3.5\n"
                    "speech from audio\ta tree parser\t0\n"
                    "opinion of reviews\topinion polarity of reviews\t4\n")
    sts = read_sts(path)
    result = sts_correlation(BM25Model(), sts["sentence1"].tolist(), sts["sentence2"].tolist(),
                             sts["score"].to_numpy())
    assert result["pairs"] == 4 and result["spearman"] > 50
    path.write_text("sentence1\tsentence2\tscore\na\tb\thigh\n")
    with pytest.raises(InputError, match="row 2"):
        read_sts(path)
    path.write_text("s1\ts2\tscore\na\tb\t1\n")
    with pytest.raises(InputError, match="sentence1"):
        read_sts(path)


def synthetic_corpus(n: int, seed: int = 0) -> pd.DataFrame:
    """Papers on four topics; authors write on one topic each."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        topic = names[i % 4]
        words = TOPICS[topic].split()
        rows.append({
            "paper_id": f"P{i}",
            "title": f"{rng.choice(words)} {rng.choice(words)} own{i}",
            "abstract": " ".join(rng.choice(words, size=15)) + f" own{i} own{i}",
            "authors": [{"id": f"{topic}-{rng.integers(3)}", "name": "x"}],
        })
    return pd.DataFrame(rows)


def test_evaluate_models_file(tmp_path):
    papers = synthetic_corpus(120)
    parquet = tmp_path / "papers.parquet"
    papers.to_parquet(parquet, index=False)
    sts = tmp_path / "sts.tsv"
    sts.write_text("sentence1\tsentence2\tscore\nparser grammar\tparser grammar\t5\n"
                   "parser grammar\tspeech prosody\t0\nparser treebank\tparser grammar\t3\n")
    settings = EvaluationSettings.build(models=["tfidf", "bm25", "tfidf+bm25"], baseline="tfidf",
                                        aggregators=[], heldout=HeldoutSettings(0.25, 1), max_queries=20,
                                        ks=(1, 5), bm25={}, device="cpu")
    results = evaluate_models_file(parquet, tmp_path / "r.json", tmp_path / "r.txt", settings, sts_tsv=sts)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["heldout_papers"] == int(heldout_mask(papers["paper_id"].tolist(), 0.25).sum())
    assert saved["models"] == results and set(results) == {"tfidf", "bm25", "tfidf+bm25"}
    for metrics in results.values():
        title = metrics["title_to_abstract"]
        assert title["queries"] == 20 and title["recall@1"] > 0.9  # the own-word gives it away
        assert 0 < metrics["author_papers"]["mrr"] <= 1 and metrics["sts"]["pairs"] == 3
    assert (tmp_path / "r.txt").read_text() == format_report(results)
    # Each model against the baseline (tfidf by default), over the same queries.
    assert "mrr_minus_tfidf" not in results["tfidf"]["title_to_abstract"]
    for spec in ("bm25", "tfidf+bm25"):
        for task in ("title_to_abstract", "author_papers"):
            metrics = results[spec][task]
            assert metrics["mrr_minus_tfidf"] == pytest.approx(metrics["mrr"] - results["tfidf"][task]["mrr"])
            low, high = metrics["mrr_minus_tfidf_90"]
            assert low <= metrics["mrr_minus_tfidf"] <= high
    assert "mrr_minus_tfidf_90 [" in (tmp_path / "r.txt").read_text()


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(0)
    baseline = rng.random(500)
    better = baseline + 0.1 + rng.normal(0, 0.05, 500)
    result = paired_bootstrap(better, baseline, seed=1)
    assert result["difference"] == pytest.approx(np.mean(better - baseline))
    low, high = result["interval"]
    assert 0.09 < low < result["difference"] < high < 0.11
    assert paired_bootstrap(baseline, baseline)["interval"] == [0.0, 0.0]
    tie = paired_bootstrap(baseline + np.resize([0.2, -0.2], 500), baseline, seed=1)  # mean difference 0
    assert tie["difference"] == pytest.approx(0.0, abs=1e-12) and tie["interval"][0] < 0 < tie["interval"][1]


@pytest.mark.slow
def test_workflow_indexes_and_evaluates_the_demo_models(tmp_path):
    from conftest import copy_workflow, run_snakemake

    from revmatch.model.corpus_index import load_index

    workdir = copy_workflow(tmp_path)
    (workdir / "small.yaml").write_text("model:\n  train:\n    epochs: 1\n    dim: 32\n")
    targets = ["results/model/index/avg.npz", "results/model/index/bm25.npz",
               "results/model/evaluation/retrieval.json"]
    proc = run_snakemake(workdir, *targets, "--configfile", "config/config.yaml", "small.yaml")
    assert proc.returncode == 0, proc.stderr[-5000:]
    papers = pd.read_parquet(workdir / "results/corpus/papers.parquet")
    assert len(load_index(workdir / "results/model/index/avg.npz", "avg")) == len(papers)
    assert len(load_index(workdir / "results/model/index/bm25.npz", "bm25")) == len(papers)
    saved = json.loads((workdir / "results/model/evaluation/retrieval.json").read_text())
    # The demo's models, its baselines among them, each with the reviewers tasks per aggregator.
    assert set(saved["models"]) == {"tuned+avg", "avg+tfidf", "tuned", "avg", "tfidf", "bm25"}
    for metrics in saved["models"].values():
        assert metrics["title_to_abstract"]["queries"] > 0
        assert 0 < metrics["title_to_abstract"]["mrr"] <= 1
        assert {"reviewers_weighted_top3", "reviewers_topk_mean", "reviewers_max"} <= set(metrics)
    assert "mrr_minus_avg+tfidf_90" in saved["models"]["tuned+avg"]["author_papers"]
    assert (workdir / "results/model/encoders/tuned/model.safetensors").exists()


def test_author_ranking_aggregates_each_authors_other_papers():
    """The reviewers task against a direct computation: the query's own column counts 0 and
    each author scores s1 + s2/2 + s3/3 (or the max) over the papers they wrote."""
    from revmatch.model.aggregation import aggregate_scores
    from revmatch.model.retrieval import author_incidence, author_ranking

    rng = np.random.default_rng(4)
    names = list(TOPICS)
    texts, author_ids = [], []
    for i in range(40):
        topic = names[i % 4]
        texts.append(" ".join(rng.choice(TOPICS[topic].split(), size=8)))
        author_ids.append([f"{topic}-{i % 3}", f"x{i}"])  # x<i> wrote one paper only
    queries = np.array([0, 5, 10, 17])
    authorship, relevant = author_incidence(author_ids, queries)
    assert authorship.shape == (12 + 40, 40)
    assert (relevant.sum(axis=1).A1 == 1).all()  # x<i> wrote nothing else: not a reviewer to find

    model = TfidfModel()
    index = model.index(texts)
    found = {}
    for method in ("weighted_top3", "max"):
        metrics, ranks = author_ranking(model, index, texts, queries, authorship, relevant, method=method,
                                        ks=(1, 3), return_ranks=True)
        scores = model.score(index, model.queries(index, [texts[i] for i in queries]), slice(0, 4), None)
        scores[np.arange(4), queries] = 0.0
        expected = aggregate_scores(scores, authorship, method=method)
        own = relevant.toarray()
        assert ranks.tolist() == [int((row >= row[mask].max()).sum()) for row, mask in zip(expected, own)]
        assert metrics["mrr"] == pytest.approx(np.mean(1.0 / ranks))
        found[method] = metrics
    # The sum over an author's best papers finds the query's prolific co-author among the
    # same-topic one-paper authors; the max alone cannot tell them apart.
    assert found["weighted_top3"]["recall@3"] > 0.5
    assert found["weighted_top3"]["mrr"] > found["max"]["mrr"]
