"""Held-out retrieval of a trained averaging model against TF-IDF on the ACL Anthology.

Builds the 2016-2022 Anthology corpus (papers with an abstract) from the shared metadata,
tokenises it, trains sentencepiece (vocabulary 20,000) and the averaging model with the
given settings on the papers not held out (5%, as the workflow's evaluation), then runs the
workflow's evaluation (``revmatch.model.evaluate_models_file``): MRR of a held-out
title against all abstracts and of a held-out paper against its authors' other papers,
with each model's MRR minus TF-IDF's and its paired bootstrap 90% interval.

    .venv/bin/python benchmarks/heldout_retrieval.py --work /tmp/heldout \\
        --params '{"dim": 4096, "epochs": 4, "init": "idf", "pooling": "sublinear", "lr": 0.03,
                   "pairs": "coauthors"}' --tag coauthors

The corpus files are made once per ``--work`` folder and reused; each ``--tag`` gets its
model and ``eval_<tag>.json``/``.txt``. Training uses one torch thread (as the workflow).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import resource
import time
from pathlib import Path

import pandas as pd
import torch

from revmatch.model import (
    EvaluationSettings,
    HeldoutSettings,
    TrainingSettings,
    TrainParams,
    encode_file,
    evaluate_models_file,
    parse_spec,
    tokenize_papers_file,
    train_model_file,
    train_sentencepiece,
)

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "acl-anthology" / "papers.jsonl.gz"


def anthology_papers(source: Path, first_year: int, last_year: int) -> pd.DataFrame:
    """Papers of the years with an abstract: paper_id, title, abstract, authors (id, name)."""
    rows = []
    with gzip.open(source, "rt") as lines:
        for line in lines:
            paper = json.loads(line)
            if first_year <= paper["year"] <= last_year and paper.get("abstract"):
                rows.append({"paper_id": paper["paper_id"], "title": paper["title"],
                             "abstract": paper["abstract"],
                             "authors": [{"id": a.get("id"), "name": a.get("name")}
                                         for a in paper.get("authors", [])]})
    return pd.DataFrame(rows)


def prepare(work: Path, source: Path, first_year: int, last_year: int, pieces: bool = True) -> None:
    """Corpus and, with ``pieces``, tokens, sentencepiece model and pieces in ``work`` (each
    skipped when present)."""
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "papers.parquet").exists():
        anthology_papers(source, first_year, last_year).to_parquet(work / "papers.parquet", index=False)
    if (work / "corpus.sp.txt").exists() or not pieces:
        return
    tokenize_papers_file(work / "papers.parquet", work / "corpus.tok.txt", processes=2)
    train_sentencepiece(work / "corpus.tok.txt", work / "sp.model", vocab_size=20000,
                        character_coverage=0.9995, seed=1, threads=2)
    encode_file(work / "sp.model", work / "corpus.tok.txt", work / "corpus.sp.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="folder for the corpus files and models")
    parser.add_argument("--params", default="{}", help="training settings as JSON (TrainParams fields)")
    parser.add_argument("--tag", default="avg", help="name of this run's model and evaluation files")
    parser.add_argument("--models", default="avg,tfidf", help="comma-separated registry specs to evaluate")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--years", default="2016-2022")
    parser.add_argument("--max-queries", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=None,
                        help="an averaging model file to evaluate instead of training one")
    parser.add_argument("--encoders", default="{}",
                        help="JSON: encoder folders by name (model.sentence_transformers)")
    parser.add_argument("--encoder", default="{}", help="JSON: encoder settings (batch_size, max_seq_length)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--baseline", default="tfidf", help="comma-separated baseline specs")
    parser.add_argument("--aggregators", default="", help="comma-separated aggregators (reviewers_<a> tasks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)

    first_year, last_year = map(int, args.years.split("-"))
    needs_avg = any("avg" in parse_spec(spec) for spec in args.models.split(","))
    prepare(args.work, args.source, first_year, last_year, pieces=needs_avg and args.model is None)
    model = args.model or args.work / f"model_{args.tag}.pt"
    started = time.perf_counter()
    papers = args.work / "papers.parquet"
    stats = {key: None for key in ("seconds", "tokens_per_second", "sequences", "loss_history")}
    heldout = HeldoutSettings(0.05, 1)
    if needs_avg and args.model is None:
        training = TrainingSettings(TrainParams.from_dict(json.loads(args.params)), "cpu", heldout)
        stats = train_model_file(args.work / "corpus.sp.txt", args.work / "sp.model", model, training,
                                 papers_parquet=papers)
    evaluation = EvaluationSettings.build(
        models=args.models.split(","), baseline=args.baseline.split(","),
        aggregators=[a for a in args.aggregators.split(",") if a], heldout=heldout,
        max_queries=args.max_queries, ks=(1, 5, 10), bm25={}, device="cpu")
    results = evaluate_models_file(papers, args.work / f"eval_{args.tag}.json",
                                   args.work / f"eval_{args.tag}.txt", evaluation,
                                   avg_model=model if needs_avg else None,
                                   sentence_transformers=json.loads(args.encoders),
                                   encoder=json.loads(args.encoder)
                                   | {"embedding_cache": args.work / "embedding_cache"})
    print(json.dumps({
        "tag": args.tag, "params": json.loads(args.params),
        "training": {key: stats[key]
                     for key in ("seconds", "tokens_per_second", "sequences", "loss_history")},
        "total_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "mrr": {spec: {task: {key: value for key, value in metrics.items() if key.startswith("mrr")}
                       for task, metrics in result.items()} for spec, result in results.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
