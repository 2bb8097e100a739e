from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from revmatch.model import AGGREGATORS, aggregate_scores, csr_top_values, segment_top_values
from revmatch.matching.aggregate import aggregate_scores_file, aggregate_uncached_file, gather_rows_file
from revmatch.matching.authorship import save_authorship
from revmatch.matching.paper_cache import cached_paper_matrix, write_manifest
from revmatch.matching.paper_matrix import paper_matrix
from revmatch.matching.paper_matrix_files import paper_matrix_file
from revmatch.matching.settings import AggregateSettings, PaperMatrixSettings


def naive_score(similarities, n_papers, method, k):
    """One reviewer, one submission, written out the long way."""
    if not similarities:
        return 0.0
    best = sorted((float(s) for s in similarities), reverse=True)
    if method == "max":
        return best[0]
    if method == "mean":
        return sum(best) / len(best)
    if method == "weighted_top3":
        k = 3
    if method in ("weighted_top3", "weighted_topk"):
        total = 0.0
        for i, s in enumerate(best[:k]):
            total += s / (i + 1)
        return total
    if method == "topk_mean":
        return sum(best[:k]) / len(best[:k])
    if method == "reference_weighted_top3":
        column = sorted(best + [0.0] * (n_papers - len(best)))  # ascending, as the reference sorts
        last = column[-3:]  # t3, t2, t1
        weights = [1.0, 1.0 / 2, 1.0 / 3][: len(last)]
        return sum(w * s for w, s in zip(weights, last))
    raise AssertionError(method)


def naive_aggregate(paper_scores, authorship, method, k):
    dense = authorship.toarray()
    out = np.zeros((paper_scores.shape[0], dense.shape[0]), dtype=np.float32)
    for p in range(paper_scores.shape[0]):
        for r in range(dense.shape[0]):
            mine = [paper_scores[p, d] for d in np.flatnonzero(dense[r])]
            out[p, r] = naive_score(mine, paper_scores.shape[1], method, k)
    return out


@pytest.fixture(scope="module")
def random_instance():
    rng = np.random.default_rng(7)
    n_submissions, n_papers = 13, 40
    counts = [0, 1, 2, 5, 0, 3, 9, 1, 2, 40, 4, 6]
    rows = np.zeros((len(counts), n_papers), dtype=bool)
    for r, c in enumerate(counts):
        rows[r, rng.choice(n_papers, size=c, replace=False)] = True
    paper_scores = rng.uniform(-1, 1, size=(n_submissions, n_papers)).astype(np.float32)
    paper_scores[:, ::3] = np.round(paper_scores[:, ::3], 1)  # ties
    paper_scores[2] = -np.abs(paper_scores[2])  # a submission that every paper dislikes
    return paper_scores, sp.csr_matrix(rows)


@pytest.mark.parametrize("method", list(AGGREGATORS))
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_methods_equal_naive_loops(random_instance, method, k):
    paper_scores, authorship = random_instance
    expected = naive_aggregate(paper_scores, authorship, method, k)
    got = aggregate_scores(paper_scores, authorship, method=method, k=k, block_rows=4)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert (got[:, [0, 4]] == 0).all()  # reviewers without papers


def test_reference_variant_documented_example():
    scores = np.array([[0.9, 0.5, 0.3, 0.1, 0.7]], dtype=np.float32)
    authorship = sp.csr_matrix(np.array([[1, 1, 1, 1, 0]], dtype=bool))
    ref = aggregate_scores(scores, authorship, method="reference_weighted_top3")
    assert ref[0, 0] == pytest.approx(0.85, abs=1e-6)
    documented = aggregate_scores(scores, authorship, method="weighted_top3")
    assert documented[0, 0] == pytest.approx(0.9 + 0.5 / 2 + 0.3 / 3, abs=1e-6)


def test_reference_variant_clamps_negative_similarities_with_zero_fill():
    scores = np.array([[-0.2, -0.4, 0.6, 0.1]], dtype=np.float32)
    few = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=bool))  # two non-authored papers give two zeros
    reference = aggregate_scores(scores, few, method="reference_weighted_top3")[0, 0]
    assert reference == pytest.approx(-0.2, abs=1e-6)
    every = sp.csr_matrix(np.array([[1, 1, 1, 1]], dtype=bool))  # no zero fill: all own papers count
    reference = aggregate_scores(scores, every, method="reference_weighted_top3")[0, 0]
    assert reference == pytest.approx(-0.2 * 1 + 0.1 / 2 + 0.6 / 3, abs=1e-6)
    documented = aggregate_scores(scores, few, method="weighted_top3")[0, 0]
    assert documented == pytest.approx(-0.2 - 0.4 / 2, abs=1e-6)


def test_unknown_method_lists_the_choices():
    with pytest.raises(ValueError, match="weighted_top3.*reference_weighted_top3"):
        aggregate_scores(np.zeros((1, 2)), sp.csr_matrix((1, 2), dtype=bool), method="median")


def test_bad_inputs_are_rejected():
    authorship = sp.csr_matrix(np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="paper columns"):
        aggregate_scores(np.zeros((1, 4)), authorship)
    with pytest.raises(ValueError, match="k must be"):
        aggregate_scores(np.zeros((1, 3)), authorship, method="topk_mean", k=0)
    with pytest.raises(ValueError, match="row 1"):
        aggregate_scores(np.array([[0.1, 0.2, 0.3], [0.1, np.nan, 0.3]]), authorship)


def test_reviewers_without_papers_are_logged(caplog):
    authorship = sp.csr_matrix(np.array([[0, 0], [1, 0], [0, 0]], dtype=bool))
    with caplog.at_level("WARNING"):
        out = aggregate_scores(np.array([[0.5, 0.2]], dtype=np.float32), authorship)
    np.testing.assert_array_equal(out, [[0.0, 0.5, 0.0]])
    assert "2 of 3 reviewers have no corpus paper" in caplog.text


def test_aggregate_scores_file_round_trip(tmp_path, random_instance):
    paper_scores, authorship = random_instance
    ids = [f"s{i}" for i in range(paper_scores.shape[0])]
    # a cache whose blocks hold exactly these similarities (identity embeddings would lose them)
    manifests = []
    for part, rows in enumerate([slice(0, 5), slice(5, None)]):
        manifest = cached_paper_matrix(
            np.eye(paper_scores.shape[0], dtype=np.float32)[rows], ids[rows],
            np.zeros((paper_scores.shape[1], paper_scores.shape[0]), dtype=np.float32),
            [f"p{d}" for d in range(paper_scores.shape[1])], tmp_path / "cache", block_rows=3,
        )
        for name, group in manifest.groupby("file"):
            block = np.load(Path(manifest.attrs["cache_dir"]) / name)
            block[group["row"].to_numpy()] = paper_scores[rows][group.index.to_numpy()]
            np.save(Path(manifest.attrs["cache_dir"]) / name, block)
        write_manifest(manifest, tmp_path / f"part{part}.parquet")
        manifests.append(tmp_path / f"part{part}.parquet")
    (tmp_path / "papers.txt").write_text("".join(f"p{d}\n" for d in range(paper_scores.shape[1])))
    save_authorship(authorship, tmp_path / "authorship.npz")
    out = aggregate_scores_file(
        manifests, tmp_path / "papers.txt", tmp_path / "authorship.npz", tmp_path / "agg.npy",
        AggregateSettings(aggregator="max", top_k=3, cache_paper_matrix=True),
    )
    on_disk = np.load(tmp_path / "agg.npy")
    assert on_disk.dtype == np.float32
    np.testing.assert_array_equal(on_disk, out)
    np.testing.assert_array_equal(on_disk, naive_aggregate(paper_scores, authorship, "max", 1))


@pytest.mark.parametrize("depth", [1, 3, 7])
def test_compiled_top_values_equal_numpy_partition(depth):
    rng = np.random.default_rng(depth)
    counts = rng.integers(1, 30, size=50)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = rng.integers(0, 200, size=indptr[-1])
    rows = rng.standard_normal((9, 200)).astype(np.float32)
    rows[:, ::5] = np.round(rows[:, ::5], 1)  # ties
    expected = segment_top_values(rows[:, indices], indptr[:-1], depth)
    np.testing.assert_array_equal(csr_top_values(rows, indptr, indices, depth), expected)


def test_gather_rows_file_stacks_parts(tmp_path):
    parts = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((1, 3), dtype=np.float32)]
    for i, block in enumerate(parts):
        np.save(tmp_path / f"{i}.npy", block)
    out = gather_rows_file([tmp_path / "0.npy", tmp_path / "1.npy"], tmp_path / "all.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "all.npy"), np.concatenate(parts))
    assert out.shape == (3, 3)
    np.save(tmp_path / "bad.npy", np.ones((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        gather_rows_file([tmp_path / "0.npy", tmp_path / "bad.npy"], tmp_path / "x.npy")


def test_uncached_aggregation_equals_cached_parts(tmp_path):
    from revmatch.io import write_jsonl
    rng = np.random.default_rng(11)
    queries, corpus = rng.standard_normal((13, 6)).astype(np.float32), rng.standard_normal((20, 6)).astype(np.float32)
    write_jsonl([{"id": f"s{i}"} for i in range(13)], tmp_path / "subs.jsonl")
    np.save(tmp_path / "q.npy", queries)
    np.save(tmp_path / "c.npy", corpus)
    import pandas as pd

    pd.DataFrame({"paper_id": [f"p{i}" for i in range(20)]}).to_parquet(tmp_path / "papers.parquet")
    columns = [3, 7, 1, 12, 19, 5]
    (tmp_path / "cols.txt").write_text("".join(f"p{c}\n" for c in columns))
    authorship = sp.random(9, 6, density=0.4, random_state=3, format="csr").astype(bool)
    save_authorship(authorship, tmp_path / "a.npz")
    common = (tmp_path / "q.npy", tmp_path / "subs.jsonl", tmp_path / "c.npy", tmp_path / "papers.parquet",
              tmp_path / "cols.txt")
    matrix = PaperMatrixSettings(model={"spec": "avg"}, parts=2, block_rows=4, memory_budget_mb=4096)
    weighted = AggregateSettings(aggregator="weighted_top3", top_k=3, cache_paper_matrix=True)
    for part in range(2):
        paper_matrix_file(*common, tmp_path / f"m{part}.parquet", tmp_path / "cache", matrix, part=part)
        cached = aggregate_scores_file([tmp_path / f"m{part}.parquet"], tmp_path / "cols.txt", tmp_path / "a.npz",
                                       tmp_path / f"agg{part}.npy", weighted)
        fused = aggregate_uncached_file(*common, tmp_path / "a.npz", tmp_path / f"f{part}.npy", matrix, weighted,
                                        part=part)
        np.testing.assert_allclose(fused, cached, atol=1e-6)
    full = naive_aggregate(paper_matrix(queries, corpus[columns]), authorship, "weighted_top3", 3)
    both = np.concatenate([np.load(tmp_path / "f0.npy"), np.load(tmp_path / "f1.npy")])
    np.testing.assert_allclose(both, full, atol=1e-5)
