"""Encoding speed of the packaged encoder on the CPU: torch against ONNX Runtime, each in
fp32 and with int8 dynamic quantisation, and the agreement of each with torch fp32.

Texts are Anthology titles + abstracts (2016-2022, as the workflow joins them), encoded in
length-sorted batches of 64 with ``--threads`` intra-op threads; the figure per runtime is
texts per second and the time 100,000 abstracts would take at that rate. Agreement is the
cosine of each text's embedding with torch fp32's (mean and 1st percentile):

    .venv/bin/python benchmarks/encoder_speed.py --texts 2000 --threads 2 --out encoder_speed.json

Runtimes: ``torch``, ``onnx`` and ``onnx-int8`` are the workflow's encoder
(``model.encoder.runtime``, ``revmatch.model.onnx_encoder``); ``torch-int8`` (torch dynamic
quantisation) is measured here only. ``--device cuda --runtimes torch`` measures the
workflow's GPU path (fp16).

``--heldout results/corpus/papers.parquet`` (the corpus of the Anthology evaluation,
benchmarks/anthology_evaluation.yaml) instead scores each runtime on the held-out tasks
(``revmatch.model.evaluate``, same queries, baseline the first runtime) with its paired bootstrap
interval, encoding the whole corpus once per runtime (``--cache``: the workflow's embedding
cache, so that torch's embeddings are read, not recomputed):

    .venv/bin/python benchmarks/encoder_speed.py --heldout /tmp/anthology/results/corpus/papers.parquet \
        --cache /tmp/anthology/results/model/embedding_cache --max-seq-length 128 --out heldout_runtimes.json

(``--encoder-folder results/model/encoders/tuned --avg-model results/model/similarity.pt``:
the fine-tuned encoder and its ensemble with the averaging model, the default ``tuned+avg``.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from revmatch.corpus import read_anthology
from revmatch.model import TransformerEncoder, encoder_folder, load_sentence_transformer, paper_text

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "acl-anthology" / "papers.jsonl.gz"


def anthology_texts(source: Path, n: int, seed: int = 1) -> list[str]:
    """``n`` random title + abstract texts of 2016-2022 Anthology papers (the workflow's corpus)."""
    papers, _ = read_anthology(source, {"min_year": 2016, "max_year": 2022})
    texts = [paper_text(t, a) for t, a in zip(papers["title"], papers["abstract"], strict=True)]
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.choice(len(texts), size=min(n, len(texts)), replace=False)]


def torch_int8(folder: Path, length: int):
    """The torch model with int8 dynamic quantisation of its linear layers (measured only)."""
    model = load_sentence_transformer(folder, "cpu", length)
    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def encode(texts):
        return model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)
    return encode


def heldout_runtimes(papers_parquet: Path, runtimes: list[str], length: int, cache: Path | None,
                     batch_size: int, folder: Path, name: str, avg_model: Path | None = None) -> dict:
    """Held-out metrics of an encoder under each runtime (and, with ``avg_model``, of its
    ensemble with the averaging model), each against the first runtime over the same queries."""
    import pandas as pd

    from revmatch.model import Ensemble, averaging_model, encoder_model, evaluate, heldout_mask

    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "title", "abstract", "authors"])
    heldout = heldout_mask(papers["paper_id"].astype(str).tolist(), 0.05, 1)
    models = {f"{name}@{runtime}": encoder_model(f"{name}@{runtime}", folder, batch_size=batch_size,
                                                 max_seq_length=length, embedding_cache=cache, runtime=runtime)
              for runtime in runtimes}
    baselines = [f"{name}@{runtimes[0]}"]
    if avg_model is not None:
        avg = averaging_model(avg_model)
        models |= {f"{key}+avg": Ensemble([encoder, avg]) for key, encoder in list(models.items())}
        baselines.append(f"{name}@{runtimes[0]}+avg")
    results = evaluate(models, papers, heldout, max_queries=2000, baseline=baselines, aggregators=["weighted_top3"])
    return {spec: {task: {k: v for k, v in metrics.items() if k.startswith("mrr")}
                   for task, metrics in tasks.items()} for spec, tasks in results.items()}


def measure(encode, texts: list[str], reference: np.ndarray | None) -> dict:
    encode(texts[:64])  # warm-up
    started = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    seconds = time.perf_counter() - started
    result = {"seconds": round(seconds, 2), "texts_per_second": round(len(texts) / seconds, 1),
              "minutes_per_100k": round(100_000 / (len(texts) / seconds) / 60, 1)}
    if reference is not None:
        cosine = (vectors * reference).sum(axis=1)
        result |= {"cosine_mean": round(float(cosine.mean()), 4),
                   "cosine_p1": round(float(np.percentile(cosine, 1)), 4)}
    return result, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-seq-length", default="128,256", help="comma-separated word-piece limits")
    parser.add_argument("--runtimes", default="torch,torch-int8,onnx,onnx-int8")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--heldout", type=Path, default=None, help="papers.parquet: held-out quality per runtime")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (with --heldout)")
    parser.add_argument("--encoder-folder", type=Path, default=None,
                        help="with --heldout: a sentence-transformers folder (e.g. the fine-tuned encoder) "
                             "instead of the packaged minilm")
    parser.add_argument("--avg-model", type=Path, default=None,
                        help="with --heldout: also each runtime's ensemble with this averaging model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.heldout:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        runtimes = [r for r in args.runtimes.split(",") if r != "torch-int8"]
        started = time.perf_counter()
        figures = {"load_average_before": os.getloadavg(),
                   "models": heldout_runtimes(args.heldout, runtimes, int(args.max_seq_length.split(",")[0]),
                                              args.cache, args.batch_size,
                                              args.encoder_folder or encoder_folder("minilm"),
                                              "tuned" if args.encoder_folder else "minilm", args.avg_model),
                   "seconds": round(time.perf_counter() - started, 1), "load_average_after": os.getloadavg()}
        print(json.dumps(figures, indent=1))
        if args.out:
            args.out.write_text(json.dumps(figures, indent=1) + "\n")
        return
    texts = anthology_texts(args.source, args.texts)
    folder = encoder_folder("minilm")
    figures = {"machine": {"cpus": os.cpu_count(), "threads": args.threads, "platform": platform.platform(),
                           "processor": platform.processor(), "load_average_before": os.getloadavg(),
                           "torch": torch.__version__, "device": args.device},
               "texts": len(texts), "batch_size": args.batch_size, "runs": {}}
    if args.device != "cpu":
        figures["machine"]["gpu"] = torch.cuda.get_device_name(0)
    for length in [int(x) for x in args.max_seq_length.split(",")]:
        reference = None
        for runtime in args.runtimes.split(","):
            if runtime == "torch-int8":
                encode = torch_int8(folder, length)
            else:  # the workflow's encoder, without its cache
                encode = TransformerEncoder("minilm", folder, device=args.device, batch_size=args.batch_size,
                                            max_seq_length=length, runtime=runtime)
            result, vectors = measure(encode, texts, reference)
            if runtime == "torch":
                reference = vectors
            figures["runs"][f"{runtime}@{length}"] = result
            print(runtime, length, result, flush=True)
    figures["machine"]["load_average_after"] = os.getloadavg()
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
