"""Throughput of the averaging model: training tokens/s and peak RSS; encoding 100,000 abstracts.

Input: a corpus already tokenised and encoded by the workflow (``results/model/corpus.sp.txt``
and ``sentencepiece.model``) or by hand (revmatch.model.text). Example, the ACL setting on CPU:

    .venv/bin/python benchmarks/model_throughput.py --pieces results/model/corpus.sp.txt \
        --sentencepiece results/model/sentencepiece.model --epochs 1 --out figures.json

Training runs ``--epochs`` epochs with the ACL settings (``--dim`` etc. override them) and
reports tokens/s and the process's peak RSS. Encoding embeds ``--n-encode`` lines (the
corpus repeated as needed) from pieces, as the corpus step does, and, with ``--papers``, the
same number of raw title + abstract texts (Moses tokenisation in ``--processes`` processes,
as for submissions).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from revmatch.io import read_lines
from revmatch.model import (
    TrainParams,
    embed_piece_lines,
    embed_texts,
    load_model,
    read_paper_texts,
    train_model,
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def repeat_to(items: list, n: int) -> list:
    return (items * (n // max(len(items), 1) + 1))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", required=True, help="pieces file, one abstract a line")
    parser.add_argument("--sentencepiece", required=True, help="the sentencepiece model of the pieces")
    parser.add_argument("--papers", help="papers.parquet for the raw-text encoding figure")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="0: the reference's behaviour; > 0: real dropout (slower)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: see README)")
    parser.add_argument("--processes", type=int, default=2, help="Moses processes for raw texts")
    parser.add_argument("--n-encode", type=int, default=100_000)
    parser.add_argument("--model", help="existing model file: skip training, only encode")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    figures: dict = {"threads": args.threads, "device": args.device}
    piece_lines = [line.split() for line in read_lines(args.pieces)]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            model_path = str(Path(tmp) / "model.pt")
            params = TrainParams(dim=args.dim, epochs=args.epochs, dropout=args.dropout)
            started, cpu_started = time.perf_counter(), time.process_time()
            stats = train_model(piece_lines, params, model_path, args.sentencepiece, device=args.device)
            figures["training"] = {
                "lines": len(piece_lines), "sequences": stats["sequences"], "vocab_size": stats["vocab_size"],
                "dim": args.dim, "dropout": args.dropout, "epochs": args.epochs,
                "tokens_per_second": stats["tokens_per_second"],
                "seconds_per_epoch": stats["seconds"] / args.epochs, "loss_history": stats["loss_history"],
                "wall_seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,
                "peak_rss_mb": peak_rss_mb(),
            }
            print("training:", figures["training"], flush=True)

        model = load_model(model_path, device=args.device)
        lines = repeat_to(piece_lines, args.n_encode)
        started, cpu_started = time.perf_counter(), time.process_time()
        embeddings = embed_piece_lines(model, lines)
        figures["encode_pieces"] = {"lines": len(lines), "pieces": sum(map(len, lines)), "dim": model.dim,
                                    "seconds": time.perf_counter() - started,
                                    "cpu_seconds": time.process_time() - cpu_started,
                                    "shape": list(embeddings.shape)}
        print("encoding from pieces:", figures["encode_pieces"], flush=True)
        if args.papers:
            texts = repeat_to(read_paper_texts(args.papers), args.n_encode)
            started = time.perf_counter()
            embed_texts(model, texts, processes=args.processes)
            figures["encode_texts"] = {"texts": len(texts), "processes": args.processes,
                                       "seconds": time.perf_counter() - started}
            print("encoding raw texts:", figures["encode_texts"], flush=True)
    figures["peak_rss_mb"] = peak_rss_mb()
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
