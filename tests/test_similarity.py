from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revmatch.io import write_jsonl
from revmatch.matching.authorship import (
    authored_papers,
    authorship_matrix,
    load_authorship,
    papers_per_reviewer,
    reviewer_papers_file,
)
from revmatch.matching.paper_cache import PaperMatrix, cached_paper_matrix, prune_cache, read_paper_matrix, rows_for_budget
from revmatch.matching.paper_matrix import normalize_rows, paper_matrix
from revmatch.matching.paper_matrix_files import paper_matrix_file, part_rows
from revmatch.matching.settings import PaperMatrixSettings


def naive_authorship(reviewer_ids, paper_author_ids):
    out = np.zeros((len(reviewer_ids), len(paper_author_ids)), dtype=bool)
    for r, ids in enumerate(reviewer_ids):
        mine = {str(i).strip() for i in ids if str(i).strip()}
        for d, authors in enumerate(paper_author_ids):
            out[r, d] = bool(mine & {str(a).strip() for a in authors})
    return out


def test_authorship_matches_naive_on_random_ids():
    rng = np.random.default_rng(3)
    pool = [str(i) for i in range(60)] + [""]
    reviewers = [list(rng.choice(pool, size=rng.integers(0, 4))) for _ in range(40)]
    papers = [list(rng.choice(pool, size=rng.integers(0, 6))) for _ in range(80)]
    matrix = authorship_matrix(reviewers, papers)
    assert matrix.dtype == bool
    assert matrix.shape == (40, 80)
    np.testing.assert_array_equal(matrix.toarray(), naive_authorship(reviewers, papers))


def test_authorship_edge_cases():
    reviewers = [["1", "2"], [""], [], ["2"], [" 7 "]]
    papers = [["2", "2", "9"], ["1"], [""], ["7"], []]
    matrix = authorship_matrix(reviewers, papers).toarray()
    expected = np.array(
        [
            [1, 1, 0, 0, 0],  # two ids, duplicated author id on paper 0 counts once
            [0, 0, 0, 0, 0],  # empty id matches nothing (not even an empty author id)
            [0, 0, 0, 0, 0],
            [1, 0, 0, 0, 0],  # an id shared by two reviewer profiles
            [0, 0, 0, 1, 0],  # ids are stripped
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(papers_per_reviewer(authorship_matrix(reviewers, papers)), [2, 0, 0, 1, 1])
    np.testing.assert_array_equal(authored_papers(authorship_matrix(reviewers, papers)), [0, 1, 3])


def test_paper_matrix_equals_dense_cosine_across_blocks():
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((23, 16)).astype(np.float32)
    papers = rng.standard_normal((31, 16)).astype(np.float32)
    queries[4] = 0.0
    papers[7] = 0.0
    out = paper_matrix(queries, papers, block_rows=5)
    assert out.dtype == np.float32 and out.shape == (23, 31)
    q = queries.astype(np.float64)
    p = papers.astype(np.float64)
    qn = np.linalg.norm(q, axis=1, keepdims=True)
    pn = np.linalg.norm(p, axis=1, keepdims=True)
    dense = (q @ p.T) / np.where(qn > 0, qn, 1) / np.where(pn > 0, pn, 1).T
    np.testing.assert_allclose(out, dense, atol=2e-6)
    assert (out[4] == 0).all() and (out[:, 7] == 0).all()
    np.testing.assert_allclose(out, paper_matrix(queries, papers, block_rows=1000), atol=1e-6)


def test_paper_matrix_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="shapes"):
        paper_matrix(np.ones((2, 3)), np.ones((2, 4)))


def test_normalize_rows_unit_norm():
    rows = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_reviewer_papers_file(tmp_path, caplog):
    reviewers = [
        {"id": "alice", "name": "Alice A", "ids": ["11"]},
        {"id": "bob", "name": "Bob B", "ids": [""]},
        {"id": "carol", "name": "Carol C", "ids": ["33", "34"]},
    ]
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    papers = pd.DataFrame(
        {
            "paper_id": ["p1", "p2", "p3"],
            "authors": [
                [{"id": "11", "name": "Alice A"}, {"id": "34", "name": "Carol C"}],
                [{"id": None, "name": "Bob B"}],
                [{"id": "33", "name": "Carol C"}],
            ],
        }
    )
    papers.to_parquet(tmp_path / "papers.parquet", index=False)
    with caplog.at_level("WARNING"):
        matrix = reviewer_papers_file(
            tmp_path / "reviewers.jsonl", tmp_path / "papers.parquet", tmp_path / "a.npz", tmp_path / "cols.txt"
        )
    np.testing.assert_array_equal(matrix.toarray(), [[1, 0, 0], [0, 0, 0], [1, 0, 1]])
    # columns: only papers with a reviewer author (p2 has none)
    assert (tmp_path / "cols.txt").read_text().split() == ["p1", "p3"]
    np.testing.assert_array_equal(load_authorship(tmp_path / "a.npz").toarray(), [[1, 0], [0, 0], [1, 1]])
    assert "1 reviewers have no paper" in caplog.text and "bob" in caplog.text


def _embeddings(rng, n, dim=8):
    return rng.standard_normal((n, dim)).astype(np.float32)


def test_cached_paper_matrix_equals_dense_and_computes_only_new_rows(tmp_path, caplog):
    rng = np.random.default_rng(3)
    queries, papers = _embeddings(rng, 23), _embeddings(rng, 17)
    ids = [f"s{i}" for i in range(23)]
    paper_ids = [f"p{i}" for i in range(17)]
    dense = paper_matrix(queries, papers)
    manifest = cached_paper_matrix(queries[:20], ids[:20], papers, paper_ids, tmp_path, block_rows=6)
    blocks = sorted(Path(manifest.attrs["cache_dir"]).glob("*.rows.npy"))
    assert len(blocks) == 4  # 20 rows in blocks of 6
    matrix = PaperMatrix(manifest, manifest.attrs["cache_dir"], len(paper_ids))
    np.testing.assert_allclose(matrix[:], dense[:20], atol=1e-6)

    # two submissions withdrawn, three added: only the three new rows are computed
    keep = [0, 1, 2, 4, 5] + list(range(7, 23))
    with caplog.at_level("INFO"):
        again = cached_paper_matrix(queries[keep], [ids[i] for i in keep], papers, paper_ids, tmp_path, block_rows=6)
    assert "18 rows cached, 3 to compute" in caplog.text
    assert len(sorted(Path(again.attrs["cache_dir"]).glob("*.rows.npy"))) == 5
    view = PaperMatrix(again, again.attrs["cache_dir"], len(paper_ids))
    np.testing.assert_allclose(view[:], dense[keep], atol=1e-6)
    np.testing.assert_allclose(view[4:9], dense[keep][4:9], atol=1e-6)
    assert list(again["submission_id"]) == [ids[i] for i in keep]


def test_cache_is_keyed_by_embeddings_and_columns(tmp_path):
    rng = np.random.default_rng(4)
    queries, papers = _embeddings(rng, 5), _embeddings(rng, 7)
    ids, paper_ids = [f"s{i}" for i in range(5)], [f"p{i}" for i in range(7)]
    first = cached_paper_matrix(queries, ids, papers, paper_ids, tmp_path)
    changed = queries.copy()
    changed[2] += 1.0  # a revised abstract
    second = cached_paper_matrix(changed, ids, papers, paper_ids, tmp_path)
    assert (first["row_key"] != second["row_key"]).sum() == 1
    view = PaperMatrix(second, second.attrs["cache_dir"], 7)
    np.testing.assert_allclose(view[:], paper_matrix(changed, papers), atol=1e-6)
    third = cached_paper_matrix(queries, ids, papers[:6], paper_ids[:6], tmp_path)  # a new reviewer pool
    assert third.attrs["cache_dir"] != first.attrs["cache_dir"]
    assert prune_cache(tmp_path, keep=Path(third.attrs["cache_dir"]).name) == 1
    assert [d.name for d in tmp_path.iterdir()] == [Path(third.attrs["cache_dir"]).name]


def test_memory_budget_bounds_block_rows():
    assert rows_for_budget(100_000, memory_budget_mb=12, block_rows=2048) == 10
    assert rows_for_budget(10, memory_budget_mb=4096, block_rows=2048) == 2048
    assert rows_for_budget(10**9, memory_budget_mb=1, block_rows=2048) == 1


def test_parts_cover_rows_once():
    cuts = [part_rows(10, 3, k) for k in range(3)]
    assert [(c.start, c.stop) for c in cuts] == [(0, 3), (3, 7), (7, 10)]
    aligned = [part_rows(10, 3, k, align=4) for k in range(3)]
    assert [(c.start, c.stop) for c in aligned] == [(0, 4), (4, 8), (8, 10)]
    assert [(c.start, c.stop) for c in [part_rows(3, 4, k) for k in range(4)]] == [(0, 1), (1, 2), (2, 2), (2, 3)]
    with pytest.raises(ValueError):
        part_rows(10, 3, 3)


def test_paper_matrix_file_parts_through_manifests(tmp_path):
    rng = np.random.default_rng(5)
    queries, corpus = _embeddings(rng, 11), _embeddings(rng, 9)
    write_jsonl([{"id": f"s{i}"} for i in range(11)], tmp_path / "submissions.jsonl")
    np.save(tmp_path / "sub.npy", queries)
    np.save(tmp_path / "corpus.npy", corpus)
    pd.DataFrame({"paper_id": [f"p{i}" for i in range(9)]}).to_parquet(tmp_path / "papers.parquet")
    (tmp_path / "cols.txt").write_text("p7\np1\np4\n")
    manifests = []
    for part in range(3):
        out = tmp_path / "pm" / f"part{part}.parquet"
        out.parent.mkdir(exist_ok=True)
        paper_matrix_file(
            tmp_path / "sub.npy", tmp_path / "submissions.jsonl", tmp_path / "corpus.npy",
            tmp_path / "papers.parquet", tmp_path / "cols.txt", out, tmp_path / "cache",
            PaperMatrixSettings(model={"spec": "avg"}, parts=3, block_rows=2, memory_budget_mb=4096), part=part,
        )
        manifests.append(out)
    matrix = read_paper_matrix(manifests, tmp_path / "cols.txt")
    assert matrix.shape == (11, 3)
    np.testing.assert_allclose(matrix[:], paper_matrix(queries, corpus[[7, 1, 4]]), atol=1e-6)
