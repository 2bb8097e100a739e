"""A synthetic ACL-scale matching instance, and the time and memory of each matching step.

    .venv/bin/python benchmarks/acl_scale.py                      # 5,000 x 10,000, 100,000 papers
    .venv/bin/python benchmarks/acl_scale.py --submissions 20000 --reviewers 40000 --papers 500000  # ARR
    .venv/bin/python benchmarks/acl_scale.py --min-senior 1         # with the senior-reviewer MIP
    .venv/bin/python benchmarks/acl_scale.py --no-cache             # paper matrix computed inside the aggregation

The paper matrix goes through the block cache (``--cache-dir``, a temporary folder by
default, removed afterwards: 4 bytes x submissions x papers of disk), a second pass
reports the time of a fully cached run, and the aggregation reads the cache block-wise.

The instance has the structure of a real conference: papers and submissions cluster by
topic, reviewers write papers in one or two topics, tracks group topics, some reviewers
have quotas and some pairs are COIs. Reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from revmatch.model import aggregate_scores
from revmatch.matching import (
    ComputedPaperMatrix,
    PaperMatrix,
    cached_paper_matrix,
    rows_for_budget,
    senior_reviewers,
    solve_conference,
)


@dataclass
class Instance:
    submissions_emb: np.ndarray
    papers_emb: np.ndarray
    authorship: sp.csr_matrix
    submissions: list[dict]
    reviewers: list[dict]
    coi: np.ndarray
    quotas: dict[str, int]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_instance(
    n_submissions: int = 5000,
    n_reviewers: int = 10000,
    n_papers: int = 100_000,
    dim: int = 256,
    n_topics: int = 60,
    n_tracks: int = 20,
    coi_rate: float = 0.001,
    seed: int = 0,
) -> Instance:
    """Topic-clustered embeddings, authorship, tracks, quotas and COIs."""
    rng = np.random.default_rng(seed)
    centroids = _unit(rng.standard_normal((n_topics, dim)))
    track_of_topic = np.arange(n_topics) % n_tracks
    rev_topic = rng.integers(0, n_topics, n_reviewers)
    # Each paper has a first author among the reviewers and takes (mostly) their topic.
    first_author = rng.integers(0, n_reviewers, n_papers)
    paper_topic = np.where(rng.random(n_papers) < 0.8, rev_topic[first_author], rng.integers(0, n_topics, n_papers))
    papers_emb = _unit(centroids[paper_topic] + 0.9 * rng.standard_normal((n_papers, dim)) / np.sqrt(dim) * 8)
    # A second reviewer author on 30% of the papers, of the same topic when one exists.
    second = np.flatnonzero(rng.random(n_papers) < 0.3)
    by_topic = np.argsort(rev_topic, kind="stable")
    start = np.searchsorted(rev_topic[by_topic], paper_topic[second])
    count = np.bincount(rev_topic, minlength=n_topics)[paper_topic[second]]
    co_author = by_topic[np.minimum(start + (rng.random(len(second)) * np.maximum(count, 1)).astype(int), n_reviewers - 1)]
    rows = np.concatenate([first_author, co_author])
    cols = np.concatenate([np.arange(n_papers), second])
    authorship = sp.csr_matrix(
        (np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n_reviewers, n_papers), dtype=bool
    )
    sub_topic = rng.integers(0, n_topics, n_submissions)
    submissions_emb = _unit(centroids[sub_topic] + 0.9 * rng.standard_normal((n_submissions, dim)) / np.sqrt(dim) * 8)
    tracks = [f"Track {t:02d}" for t in range(n_tracks)]
    submissions = [{"id": str(i), "track": tracks[track_of_topic[t]]} for i, t in enumerate(sub_topic)]
    reviewers = []
    for j, t in enumerate(rev_topic):
        own = [tracks[track_of_topic[t]]]
        if rng.random() < 0.1:
            own.append(tracks[rng.integers(0, n_tracks)])
        reviewers.append({
            "id": f"r{j}", "tracks": sorted(set(own)), "areaChair": False, "seniorAreaChair": False,
            "emergency": bool(rng.random() < 0.02),
        })
    coi = rng.random((n_submissions, n_reviewers)) < coi_rate
    quota_ids = rng.choice(n_reviewers, n_reviewers // 10, replace=False)
    quotas = {f"r{j}": int(q) for j, q in zip(quota_ids, rng.integers(2, 7, len(quota_ids)))}
    return Instance(submissions_emb, papers_emb, authorship, submissions, reviewers, coi, quotas)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--reviewers", type=int, default=10000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--reviews-per-paper", type=int, default=3)
    parser.add_argument("--max-papers", type=int, default=6)
    parser.add_argument("--min-senior", type=int, default=0, help="senior reviewers per paper (MIP)")
    parser.add_argument("--memory-budget-mb", type=float, default=2048)
    parser.add_argument("--cache-dir", help="paper-matrix cache (default: a temporary folder)")
    parser.add_argument("--no-cache", action="store_true", help="compute the paper matrix inside the aggregation")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()

    started = time.perf_counter()
    t0 = time.perf_counter()
    inst = make_instance(args.submissions, args.reviewers, args.papers, args.dim)
    figures = {"instance_seconds": time.perf_counter() - t0}
    authored = np.flatnonzero(np.asarray(inst.authorship.sum(axis=0)).ravel() > 0)
    ids = [rec["id"] for rec in inst.submissions]
    paper_ids = [f"p{d}" for d in authored]
    papers = inst.papers_emb[authored]
    authorship = inst.authorship[:, authored].tocsr()
    if args.no_cache:
        t0 = time.perf_counter()
        matrix = ComputedPaperMatrix(inst.submissions_emb, papers)
        rows = rows_for_budget(len(authored), args.memory_budget_mb, 2048)
        scores = aggregate_scores(matrix, authorship, method="weighted_top3", block_rows=rows)
        figures["paper_matrix_and_aggregate_seconds"] = time.perf_counter() - t0
    else:
        cache = args.cache_dir or tempfile.mkdtemp(prefix="revmatch-bench-")
        try:
            t0 = time.perf_counter()
            manifest = cached_paper_matrix(
                inst.submissions_emb, ids, papers, paper_ids, cache, memory_budget_mb=args.memory_budget_mb
            )
            figures["paper_matrix_seconds"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            cached_paper_matrix(
                inst.submissions_emb, ids, papers, paper_ids, cache, memory_budget_mb=args.memory_budget_mb
            )
            figures["paper_matrix_cached_seconds"] = time.perf_counter() - t0
            matrix = PaperMatrix(manifest, manifest.attrs["cache_dir"], len(authored))
            t0 = time.perf_counter()
            scores = aggregate_scores(matrix, authorship, method="weighted_top3")
            figures["aggregate_seconds"] = time.perf_counter() - t0
        finally:
            if not args.cache_dir:
                shutil.rmtree(cache, ignore_errors=True)

    t0 = time.perf_counter()
    solved = solve_conference(
        scores, inst.coi, inst.submissions, inst.reviewers, args.reviews_per_paper, args.max_papers,
        quotas=inst.quotas, senior=senior_reviewers(inst.authorship, 12), min_senior_per_paper=args.min_senior,
    )
    figures["assignment_seconds"] = time.perf_counter() - t0
    figures["total_seconds"] = time.perf_counter() - started
    figures["lp_status"] = solved.result.status
    figures["lp_objective"] = solved.result.objective
    figures["lp_solve_seconds"] = solved.result.solve_seconds
    figures["certificate"] = getattr(solved.result, "certificate", None)
    figures["peak_rss_gb"] = peak_rss_gb()
    figures["size"] = {
        "submissions": args.submissions, "reviewers": args.reviewers, "papers": int(len(authored)),
        "authorship_links": int(inst.authorship.nnz), "allowed_pairs": int(solved.allowed.sum()),
    }
    text = json.dumps(figures, indent=2, default=float)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
