"""Fine-tuning throughput of the packaged encoder (the workflow's ``finetune_encoder`` code):
texts per second (anchors and positives) and seconds per 1,000 pairs, on the CPU with
``--threads`` torch threads or on CUDA (bfloat16 autocast), with peak memory.

Pairs are co-authored 2016-2022 Anthology papers (as the workflow draws them):

    .venv/bin/python benchmarks/finetune_speed.py --pairs 640 --batch-size 64 --threads 2 --out finetune.json
    .venv/bin/python benchmarks/finetune_speed.py --device cuda --pairs 20000 --batch-size 128

The model is written to a temporary folder and deleted; nothing is checkpointed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from revmatch.corpus import read_anthology
from revmatch.model import FinetuneParams, encoder_folder, finetune, pair_corpus

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "acl-anthology" / "papers.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    papers, _ = read_anthology(args.source, {"min_year": 2016, "max_year": 2022})
    corpus = pair_corpus(papers)
    params = FinetuneParams(max_pairs=args.pairs, batch_size=args.batch_size, lr=5e-5,
                            max_seq_length=args.max_seq_length, checkpoint_every=10**9)
    load_before = os.getloadavg()
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        stats = finetune(encoder_folder("minilm"), corpus, params, Path(tmp) / "tuned", device=args.device)
        wall = time.perf_counter() - started
    figures = {
        "machine": {"cpus": os.cpu_count(), "threads": args.threads, "platform": platform.platform(),
                    "device": stats["device"], "load_average_before": load_before,
                    "load_average_after": os.getloadavg(), "torch": torch.__version__},
        "pairs": args.pairs, "batch_size": args.batch_size, "max_seq_length": args.max_seq_length,
        "steps": stats["steps"], "training_seconds": stats["seconds"], "wall_seconds": round(wall, 1),
        "texts_per_second": stats["texts_per_second"],
        "seconds_per_1000_pairs": round(stats["seconds"] / args.pairs * 1000, 1),
        "first_loss": stats["first_loss"], "last_loss": stats["last_loss"],
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }
    if args.device == "cuda":
        figures["machine"]["gpu"] = torch.cuda.get_device_name(0)
        figures["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
