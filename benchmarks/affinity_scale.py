"""An ACL-scale affinity job (group vs submissions) and its time and peak memory.

    .venv/bin/python benchmarks/affinity_scale.py                    # 10,000 x 5,000, dim 1024
    .venv/bin/python benchmarks/affinity_scale.py --members 2000 --submissions 1000

The synthetic conference (reviewers.jsonl, submissions.jsonl, a corpus papers.parquet with
authors and years, corpus and submission embeddings) is written once to ``--cache`` and
reused: the timed part is the job as the workflow runs it (``affinity_job_file``: read the
files, match publications, score, normalise, write results.json, results.csv and
status.json), in a fresh process whose peak RSS is reported. Reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def build_instance(
    cache: Path, n_members: int, n_submissions: int, n_papers: int, dim: int, seed: int = 0
) -> dict[str, Path]:
    """Write the synthetic conference to ``cache`` (once per size) and return its paths."""
    from revmatch.corpus import papers_frame, write_papers
    from revmatch.io import save_npy, write_jsonl

    folder = cache / f"v2_m{n_members}_s{n_submissions}_p{n_papers}_d{dim}"
    paths = {
        "reviewers_jsonl": folder / "reviewers.jsonl",
        "submissions_jsonl": folder / "submissions.jsonl",
        "papers_parquet": folder / "papers.parquet",
        "corpus_embeddings_npy": folder / "corpus_embeddings.npy",
        "submission_embeddings_npy": folder / "submission_embeddings.npy",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(seed)
    # 3% of members have no Semantic Scholar id; papers have 1-4 authors, mostly members.
    has_id = rng.random(n_members) >= 0.03
    reviewers = [
        {"id": f"user{i}", "name": f"User {i}", "email": f"user{i}@uni.edu",
         "ids": [f"{100000 + i}"] if has_id[i] else [], "startUsername": f"user{i}",
         "tracks": [f"Track {i % 20}"], "areaChair": False, "ac_tracks": [], "seniorAreaChair": False,
         "sac_tracks": [], "emergency": False}
        for i in range(n_members)
    ]
    n_authors = rng.integers(1, 5, n_papers)
    author_pool = np.where(rng.random(n_authors.sum()) < 0.7,
                           100000 + rng.integers(0, n_members, n_authors.sum()),
                           900000 + rng.integers(0, 5 * n_members, n_authors.sum()))
    starts = np.concatenate([[0], np.cumsum(n_authors)])
    years = rng.integers(2000, 2025, n_papers)
    papers = papers_frame([
        {"paper_id": f"c{d:07d}", "title": f"Paper {d}", "abstract": "A.", "year": int(years[d]),
         "venue": "ACL",
         "authors": [{"id": str(a), "name": f"A{a}"} for a in author_pool[starts[d]:starts[d + 1]]],
         "acl_id": None}
        for d in range(n_papers)
    ])
    submissions = [{"id": str(1 + s), "title": f"Submission {s}", "track": f"Track {s % 20}"}
                   for s in range(n_submissions)]
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(reviewers, paths["reviewers_jsonl"])
    write_jsonl(submissions, paths["submissions_jsonl"])
    write_papers(papers, paths["papers_parquet"])
    save_npy(rng.standard_normal((n_papers, dim), dtype=np.float32), paths["corpus_embeddings_npy"])
    save_npy(rng.standard_normal((n_submissions, dim), dtype=np.float32), paths["submission_embeddings_npy"])
    return paths


def run_job(paths: dict[str, str], out: Path, reduce: str, schema: str) -> dict:
    """Time one group-vs-submissions job of every member (this process)."""
    from revmatch.affinity import affinity_job_file

    job = {"mode": "group_submissions", "group": {"role": "reviewer"}, "reduce": reduce, "schema": schema}
    started = time.perf_counter()
    status = affinity_job_file(job, **paths, out_json=out / "results.json", out_csv=out / "results.csv")
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 1),
        "status": status["status"],
        "description": status["description"],
        "json_bytes": (out / "results.json").stat().st_size,
        "csv_bytes": (out / "results.csv").stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--submissions", type=int, default=5_000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--reduce", default="max")
    parser.add_argument("--schema", default="legacy")
    parser.add_argument("--cache", default="/tmp/revmatch-affinity-bench")
    parser.add_argument("--keep", action="store_true", help="keep the results (GBs at full size)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from revmatch.log import setup_logging

        setup_logging(None)  # the job's log, with timestamps, on stderr
        paths = json.loads(args.child)
        out = Path(paths.pop("out"))
        print(json.dumps(run_job(paths, out, args.reduce, args.schema)))
        return
    started = time.perf_counter()
    paths = build_instance(Path(args.cache), args.members, args.submissions, args.papers, args.dim)
    print(f"instance ready in {time.perf_counter() - started:.1f} s: {paths['reviewers_jsonl'].parent}",
          file=sys.stderr)
    out = paths["reviewers_jsonl"].parent / "job"
    child = {k: str(v) for k, v in paths.items()} | {"out": str(out)}
    cmd = [sys.executable, __file__, "--child", json.dumps(child),
           "--reduce", args.reduce, "--schema", args.schema]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    figures["peak_rss_gb"] = round(usage.ru_maxrss / 1e6, 2)
    figures["load_average"] = os.getloadavg()
    figures.update(members=args.members, submissions=args.submissions, papers=args.papers, dim=args.dim,
                   reduce=args.reduce, schema=args.schema, cores=os.cpu_count())
    if not args.keep:
        for name in ("results.json", "results.csv"):
            (out / name).unlink(missing_ok=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
