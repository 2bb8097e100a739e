"""Fine-tuning the packaged encoder: co-authored pairs, in-batch negatives, checkpoints and
resume after a real interruption (a killed process)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from revmatch.model.encoders import encoder_folder, load_sentence_transformer
from revmatch.model.finetune import (
    epoch_pairs,
    finetune,
    finetune_encoder_file,
    in_batch_loss,
    pair_corpus,
)
from revmatch.model.settings import FinetuneParams, FinetuningSettings, HeldoutSettings

TOPICS = {
    "parsing": "parsing syntax treebank dependency grammar constituency parser tree arcs",
    "translation": "translation bilingual decoder alignment bleu phrase reordering parallel",
    "speech": "speech audio acoustic phoneme speaker waveform prosody spectrogram",
    "sentiment": "sentiment opinion polarity emotion review aspect rating sarcasm",
}


def synthetic_papers(n: int = 48, seed: int = 3) -> pd.DataFrame:
    """Papers on four topics; a topic's papers share its lead author and draw one of three others."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        topic = list(TOPICS)[i % 4]
        words = TOPICS[topic].split()
        authors = [{"id": f"{topic}-{k}", "name": f"{topic} {k}"} for k in (0, int(rng.integers(1, 4)))]
        rows.append({"paper_id": f"P{i:03d}", "title": " ".join(rng.choice(words, size=4)).capitalize(),
                     "abstract": " ".join(rng.choice(words, size=16)).capitalize() + ".", "authors": authors})
    return pd.DataFrame(rows)


FAST = FinetuneParams(batch_size=8, epochs=2, lr=1e-4, max_seq_length=32, checkpoint_every=2)


def test_epoch_pairs_are_coauthored_seeded_and_redrawn():
    papers = synthetic_papers()
    corpus = pair_corpus(papers)
    anchors, positives = epoch_pairs(corpus, FAST, epoch=0)
    assert len(anchors) == len(papers)  # every paper here has a co-author's paper
    row = {text: i for i, text in enumerate(corpus.texts)}
    for a, p in zip(anchors, positives):
        ia, ip = row[a], row[p]
        assert ia != ip
        assert {x["id"] for x in papers["authors"][ia]} & {x["id"] for x in papers["authors"][ip]}
    assert epoch_pairs(corpus, FAST, epoch=0) == (anchors, positives)
    assert epoch_pairs(corpus, FAST, epoch=1) != (anchors, positives)
    limited = FinetuneParams(max_pairs=10, pairs="coauthors+titles")
    anchors, positives = epoch_pairs(corpus, limited, epoch=0)
    assert len(anchors) == 10
    titles = [a for a, p in zip(anchors, positives) if a in corpus.titles]
    assert titles and all(corpus.abstracts[corpus.titles.index(a)] == p
                          for a, p in zip(anchors, positives) if a in corpus.titles)


def test_papers_without_a_pair_sit_out():
    papers = synthetic_papers(12)
    papers["authors"] = [[{"id": "loner", "name": "Lone Author"}], *papers["authors"][1:]]
    corpus = pair_corpus(papers)
    anchors, _ = epoch_pairs(corpus, FinetuneParams(), epoch=0)
    assert len(anchors) == 11 and corpus.texts[0] not in anchors
    with pytest.raises(ValueError, match="kinds joined"):
        FinetuneParams(pairs="halves")


def _pair_loss(folder, corpus, params) -> float:
    model = load_sentence_transformer(folder, "cpu", params.max_seq_length).eval()
    anchors, positives = epoch_pairs(corpus, params, epoch=0)
    with torch.no_grad():
        a = model.encode(anchors, convert_to_tensor=True)
        p = model.encode(positives, convert_to_tensor=True)
    return float(in_batch_loss(a, p, params.scale))


def test_finetuning_lowers_the_in_batch_loss(tmp_path):
    corpus = pair_corpus(synthetic_papers())
    stats = finetune(encoder_folder("minilm"), corpus, FAST, tmp_path / "tuned", device="cpu")
    assert stats["steps"] == 12 and stats["device"] == "cpu"
    before = _pair_loss(encoder_folder("minilm"), corpus, FAST)
    after = _pair_loss(tmp_path / "tuned", corpus, FAST)
    # 12 papers a topic look alike: log(12) = 2.48 is the floor of this loss
    assert after < before - 0.3
    assert not list(tmp_path.glob(".tuned*"))  # no half-written folder left


def test_file_level_finetuning_leaves_heldout_papers_out(tmp_path):
    papers = synthetic_papers()
    papers.to_parquet(tmp_path / "papers.parquet")
    settings = FinetuningSettings(FinetuneParams(batch_size=8, max_pairs=16, max_seq_length=32), "cpu",
                                  HeldoutSettings(0.25, 1))
    stats = finetune_encoder_file(tmp_path / "papers.parquet", tmp_path / "tuned", tmp_path / "stats.json",
                                  settings)
    assert stats["training_papers"] + stats["heldout_papers"] == len(papers)
    assert 0 < stats["heldout_papers"] < len(papers)
    assert json.loads((tmp_path / "stats.json").read_text())["steps"] == 2
    from revmatch.model.registry import load_registry_model

    tuned = load_registry_model("tuned", sentence_transformers={"tuned": tmp_path / "tuned"})
    assert tuned.embed(["a parser"]).shape == (1, 384)


RUN = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from revmatch.model import FinetuneParams, FinetuningSettings, HeldoutSettings, finetune_encoder_file
settings = FinetuningSettings(FinetuneParams.from_dict({params}), "cpu", HeldoutSettings(0.05, 1))
finetune_encoder_file(sys.argv[1], sys.argv[2], sys.argv[3], settings, checkpoint_dir=sys.argv[4])
"""


def test_resume_after_a_killed_run_is_identical(tmp_path):
    papers = synthetic_papers(64)
    papers.to_parquet(tmp_path / "papers.parquet")
    params = {"batch_size": 8, "epochs": 1, "lr": 1e-4, "max_seq_length": 32, "checkpoint_every": 2}
    script = tmp_path / "run.py"
    script.write_text(RUN.format(params=params))

    def run(name, checkpoints):
        return [sys.executable, str(script), str(tmp_path / "papers.parquet"), str(tmp_path / name),
                str(tmp_path / f"{name}.json"), str(tmp_path / checkpoints)]

    full = subprocess.run(run("full", "ck-full"), capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]

    checkpoints = tmp_path / "ck"
    proc = subprocess.Popen(run("resumed", "ck"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    def saved():  # a checkpoint under its final name (not the temporary one being written)
        return [p for p in checkpoints.glob("*.pt") if not p.name.startswith(".")]

    while not saved() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "resumed").exists(), "the run finished before it could be interrupted"
    resumed = subprocess.run(run("resumed", "ck"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr

    from safetensors.torch import load_file

    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "full.json").read_text())["last_loss"] == \
        json.loads((tmp_path / "resumed.json").read_text())["last_loss"]
