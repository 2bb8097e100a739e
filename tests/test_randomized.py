"""Dependent rounding of a fractional assignment: exact marginals (empirically, within a few
standard errors), exact paper counts, floor/ceil reviewer loads, seeds, bad input, ACL size."""

import time

import numpy as np
import pytest

from revmatch.matching.randomized import sample_assignment


def averaged_matchings(n_papers, n_reviewers, per_paper, n_matchings, spread, rng):
    """Pairs whose values average ``n_matchings`` (even) integral matchings of ``per_paper``
    reviewers per paper: each paper cycles through 2*per_paper..2*per_paper+spread random
    reviewers, so paper sums are exactly ``per_paper`` and values are in {1/n, ..., 1/2}."""
    papers, reviewers, values = [], [], []
    for p in range(n_papers):
        width = int(rng.integers(2 * per_paper, 2 * per_paper + spread + 1))
        counts = np.zeros(width)
        for i in range(n_matchings):
            counts[(np.arange(per_paper) + i * per_paper) % width] += 1
        papers.append(np.full(width, p))
        reviewers.append(rng.choice(n_reviewers, width, replace=False))
        values.append(counts / n_matchings)
    return np.concatenate(papers), np.concatenate(reviewers), np.concatenate(values)


def check_degrees(paper, reviewer, fraction, chosen):
    """Each paper gets its sum exactly, each reviewer the floor or ceiling of its load."""
    counts = np.bincount(paper, weights=chosen.astype(float))
    assert np.array_equal(counts, np.round(np.bincount(paper, weights=fraction)))
    load = np.bincount(reviewer, weights=fraction)
    got = np.bincount(reviewer, weights=chosen.astype(float), minlength=load.size)
    assert np.all(got >= np.floor(load + 1e-6)) and np.all(got <= np.ceil(load - 1e-6))
    assert not chosen[fraction == 0].any() and chosen[fraction == 1].all()


def check_marginals(paper, reviewer, fraction, n_samples, z=4.5):
    """Sample ``n_samples`` times; check every sample's degrees and every pair's marginal."""
    total = np.zeros(fraction.size)
    for seed in range(n_samples):
        chosen = sample_assignment(paper, reviewer, fraction, seed)
        check_degrees(paper, reviewer, fraction, chosen)
        total += chosen
    stderr = np.sqrt(fraction * (1 - fraction) / n_samples)
    np.testing.assert_array_less(np.abs(total / n_samples - fraction), z * stderr + 1e-12)


HAND_MADE = {
    "one paper, two halves": ([0, 0], [0, 1], [0.5, 0.5]),
    "4-cycle": ([0, 0, 1, 1], [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]),
    "fixed pairs and a path": ([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 1, 2], [1.0, 0.5, 0.5, 0.0, 0.3, 0.7]),
    "uneven loads": (
        [0, 0, 1, 1, 2, 2, 2, 3, 3, 3],
        [0, 1, 0, 2, 1, 2, 3, 0, 3, 4],
        [0.3, 0.7, 0.6, 0.4, 0.5, 0.5, 1.0, 0.2, 0.9, 0.9],
    ),
}


@pytest.mark.parametrize("name", HAND_MADE)
def test_hand_made_marginals(name):
    paper, reviewer, fraction = (np.asarray(a) for a in HAND_MADE[name])
    check_marginals(paper, reviewer, fraction.astype(float), 3000)


def test_four_cycle_loads_are_exact():
    chosen = sample_assignment(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.full(4, 0.5), 7)
    assert chosen.sum() == 2 and chosen[[0, 2]].sum() == 1 and chosen[[1, 3]].sum() == 1


@pytest.mark.parametrize("instance_seed", [0, 1, 2])
def test_random_marginals(instance_seed):
    rng = np.random.default_rng(instance_seed)
    paper, reviewer, fraction = averaged_matchings(6, 8, 2, [4, 6][instance_seed % 2], 2, rng)
    assert fraction.max() <= 0.5
    check_marginals(paper, reviewer, fraction, 4000)


def test_pass_through_and_snapping():
    rng = np.random.default_rng(3)
    paper, reviewer, fraction = averaged_matchings(10, 12, 2, 4, 3, rng)
    # one more pair at 1 (up to 1e-10) and one at 0 per paper, on reviewers 12..
    extra = np.arange(10)
    paper = np.concatenate([paper, extra, extra])
    reviewer = np.concatenate([reviewer, 12 + extra, 22 + extra])
    given = np.concatenate([fraction, np.full(10, 1 - 1e-10), np.full(10, 1e-10)])
    snapped = np.concatenate([fraction, np.ones(10), np.zeros(10)])
    for seed in range(200):
        chosen = sample_assignment(paper, reviewer, given, seed)
        check_degrees(paper, reviewer, snapped, chosen)
    integral = np.array([0.0, 1.0, 1.0, 0.0])
    assert np.array_equal(sample_assignment(np.array([0, 0, 1, 1]), np.arange(4), integral, 0), integral == 1)
    assert sample_assignment(np.zeros(0, int), np.zeros(0, int), np.zeros(0), 0).shape == (0,)


def test_seeds():
    rng = np.random.default_rng(4)
    paper, reviewer, fraction = averaged_matchings(40, 30, 3, 6, 4, rng)
    first = sample_assignment(paper, reviewer, fraction, 11)
    assert np.array_equal(first, sample_assignment(paper, reviewer, fraction, 11))
    samples = {sample_assignment(paper, reviewer, fraction, seed).tobytes() for seed in range(10)}
    assert len(samples) >= 9


def test_bad_input():
    ok_paper, ok_reviewer = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="same|shape"):
        sample_assignment(ok_paper, ok_reviewer[:3], np.full(4, 0.5), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\].*1\.2"):
        sample_assignment(ok_paper, ok_reviewer, np.array([1.2, -0.2, 0.5, 0.5]), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sample_assignment(ok_paper, ok_reviewer, np.array([np.nan, 0.5, 0.5, 0.5]), 0)
    with pytest.raises(ValueError, match=r"paper 1 has sum 1\.5"):
        sample_assignment(ok_paper, ok_reviewer, np.array([0.5, 0.5, 0.5, 1.0]), 0)
    with pytest.raises(ValueError, match="duplicate pair: paper 1, reviewer 0"):
        sample_assignment(ok_paper, np.array([0, 1, 0, 0]), np.full(4, 0.5), 0)
    # within the tolerances: sums off by 1e-7, values 1e-10 beyond [0, 1]
    chosen = sample_assignment(ok_paper, ok_reviewer, np.array([0.5 + 1e-7, 0.5, 1 + 1e-10, -1e-10]), 0)
    assert chosen.sum() == 2 and chosen[2] and not chosen[3]


def test_acl_size():
    rng = np.random.default_rng(5)
    paper, reviewer, fraction = averaged_matchings(5000, 10000, 3, 6, 12, rng)
    assert 55_000 < fraction.size < 65_000
    first = paper < 5
    sample_assignment(paper[first], reviewer[first], fraction[first], 0)  # compile (or load the cache)
    for seed in range(3):
        start = time.perf_counter()
        chosen = sample_assignment(paper, reviewer, fraction, seed)
        elapsed = time.perf_counter() - start
        print(f"one sample of {fraction.size} pairs ({np.sum(fraction % 1 > 0)} fractional): {elapsed:.3f} s")
        check_degrees(paper, reviewer, fraction, chosen)
