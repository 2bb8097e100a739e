import numpy as np
import pandas as pd
import pytest

from revmatch.io import write_jsonl
from revmatch.similarity import (
    authored_papers,
    authorship_matrix,
    load_authorship,
    normalize_rows,
    paper_matrix,
    papers_per_reviewer,
    reviewer_papers_file,
)


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
            tmp_path / "reviewers.jsonl", tmp_path / "papers.parquet", tmp_path / "a.npz"
        )
    np.testing.assert_array_equal(matrix.toarray(), [[1, 0, 0], [0, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(load_authorship(tmp_path / "a.npz").toarray(), matrix.toarray())
    assert "1 reviewers have no paper" in caplog.text and "bob" in caplog.text
