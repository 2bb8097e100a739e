import numpy as np
import pandas as pd
import pytest

from revmatch.matching.evaluation import bid_counts, bid_shares, evaluate_file, format_evaluation
from revmatch.io import write_csv, write_jsonl


def test_shares_sum_to_one_and_match_counts():
    rng = np.random.default_rng(0)
    bids = rng.integers(0, 4, size=(30, 12)).astype(np.int8)
    pairs = np.column_stack([np.repeat(np.arange(30), 3), rng.integers(0, 12, size=90)])
    shares = bid_shares(pairs, bids)
    counts = bid_counts(pairs, bids)
    assert set(shares) == {0, 1, 2, 3}
    assert sum(shares.values()) == pytest.approx(1.0)
    levels = bids[pairs[:, 0], pairs[:, 1]]
    for level in range(4):
        assert counts[level] == int((levels == level).sum())
        assert shares[level] == pytest.approx(counts[level] / 90)


def test_known_shares():
    bids = np.array([[3, 2, 1], [0, 3, 2]])
    shares = bid_shares(np.array([[0, 0], [0, 1], [1, 1], [1, 2]]), bids)
    assert shares == {0: 0.0, 1: 0.0, 2: 0.5, 3: 0.5}


def test_empty_and_bad_bids():
    assert bid_shares(np.zeros((0, 2), dtype=int), np.full((2, 2), 2)) == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}
    with pytest.raises(ValueError, match="outside 0..3"):
        bid_shares(np.array([[0, 0]]), np.array([[4]]))


def test_format_evaluation():
    shares = {0: 0.0, 1: 0.25, 2: 0.25, 3: 0.5}
    counts = {0: 0, 1: 1, 2: 1, 3: 2}
    text = format_evaluation(shares, counts, {"mean score": 1.23456, "max load": 4})
    assert "Ratio of 3 (Yes): 0.5000 (2 assignments)" in text
    assert "Ratio of 0 (COI): 0.0000 (0 assignments)" in text
    assert "mean score  1.2346" in text and "max load    4" in text


def test_evaluate_file(tmp_path):
    submissions = [{"id": "1", "track": "n/a"}, {"id": "2", "track": "n/a"}]
    reviewers = [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]
    write_jsonl(submissions, tmp_path / "submissions.jsonl")
    write_jsonl(reviewers, tmp_path / "reviewers.jsonl")
    np.save(tmp_path / "bids.npy", np.array([[3, 2, 1], [1, 3, 3]], dtype=np.int8))
    table = pd.DataFrame(
        {
            "submission_id": ["1", "1", "2", "2"],
            "track": ["n/a"] * 4,
            "reviewer_id": ["u1", "u2", "u2", "u3"],
            "score": [1.0, 0.5, 0.8, 0.6],
            "rank": [1, 2, 1, 2],
        }
    )
    write_csv(table, tmp_path / "assignment.csv")
    inputs = (tmp_path / "submissions.jsonl", tmp_path / "reviewers.jsonl", tmp_path / "bids.npy")
    shares = evaluate_file(tmp_path / "assignment.csv", *inputs, tmp_path / "evaluation.txt")
    assert shares == {0: 0.0, 1: 0.0, 2: 0.25, 3: 0.75}
    text = (tmp_path / "evaluation.txt").read_text()
    assert "Ratio of 3 (Yes): 0.7500 (3 assignments)" in text
    assert "mean score" in text and "0.7250" in text and "max load" in text

    table.loc[3, "reviewer_id"] = "u9"
    write_csv(table, tmp_path / "bad.csv")
    with pytest.raises(ValueError, match=r"bad.csv, row 5, column 'reviewer_id': unknown reviewer id 'u9'"):
        evaluate_file(tmp_path / "bad.csv", *inputs, tmp_path / "e2.txt")
