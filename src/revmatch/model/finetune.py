"""Fine-tuning a pretrained encoder on the corpus: expertise pairs and in-batch negatives.

Every epoch each training paper draws one positive partner (``revmatch.model.pairs``):
``coauthors``, another paper by one of its authors (the signal reviewer expertise is read
from), or ``titles``, its title against its abstract; ``coauthors+titles`` draws uniformly
among the kinds a paper can form, and a paper that can form none sits the epoch out
(counted in the log). A batch of B pairs is scored as a B x B matrix of scaled cosines,
and the loss is the cross-entropy of each anchor picking its own partner among the batch's
partners, and back (the symmetric multiple-negatives ranking loss).

Training is deterministic for a seed (pairs, order, dropout), keeps checkpoints every
``checkpoint_every`` steps and resumes from the last one with the same settings and data;
on CUDA it runs in bfloat16 autocast. Held-out papers (``heldout_mask``) are never
trained on, so the held-out evaluation stays honest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import PathLike, atomic_path, write_json
from revmatch.model.device import resolve_device
from revmatch.model.encoders import (
    encoder_folder,
    folder_fingerprint,
    load_sentence_transformer,
    quiet_progress,
)
from revmatch.model.heldout import heldout_mask
from revmatch.model.pairs import choose_kinds, coauthor_relevance, draw_partners, paper_author_ids
from revmatch.model.settings import FinetuneParams, FinetuningSettings
from revmatch.model.text import paper_text

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 60.0  # a progress line at least this often (besides every checkpoint)


@dataclasses.dataclass(frozen=True)
class PairCorpus:
    """The training papers' texts and what their pairs are drawn from."""

    texts: list[str]
    titles: list[str]
    abstracts: list[str]
    partners: sp.csr_matrix

    def available(self, kinds: Sequence[str]) -> np.ndarray:
        """(papers, kinds) bool: which kinds of pair each paper can form."""
        has = {"coauthors": np.diff(self.partners.indptr) > 0,
               "titles": np.array([bool(t) and bool(a) for t, a in zip(self.titles, self.abstracts)], dtype=bool)}
        return np.column_stack([has[kind] for kind in kinds])


def pair_corpus(papers: pd.DataFrame) -> PairCorpus:
    """Texts, titles, abstracts and co-authorship of the papers (rows in frame order)."""
    titles = [paper_text(t, None) for t in papers["title"]]
    abstracts = [paper_text(None, a) for a in papers["abstract"]]
    texts = [paper_text(t, a) for t, a in zip(papers["title"], papers["abstract"], strict=True)]
    author_ids = [paper_author_ids(authors) for authors in papers["authors"]]
    return PairCorpus(texts, titles, abstracts, coauthor_relevance(author_ids, np.arange(len(author_ids))))


def epoch_pairs(corpus: PairCorpus, params: FinetuneParams, epoch: int) -> tuple[list[str], list[str]]:
    """The (anchor, positive) texts of one epoch, shuffled; the same for the same seed and epoch."""
    rng = np.random.default_rng([params.seed, epoch])
    chosen = choose_kinds(corpus.available(params.kinds), params.kinds, rng)
    rows = np.flatnonzero(chosen != None)  # noqa: E711 (object array)
    rows = rows[rng.permutation(len(rows))]
    if params.max_pairs is not None:
        rows = rows[: params.max_pairs]
    anchors, positives = [], []
    coauthored = rows[chosen[rows] == "coauthors"]
    partner = dict(zip(coauthored.tolist(), draw_partners(corpus.partners, coauthored, rng).tolist(),
                       strict=True)) if len(coauthored) else {}
    for row in rows.tolist():
        if chosen[row] == "coauthors":
            anchors.append(corpus.texts[row])
            positives.append(corpus.texts[partner[row]])
        else:
            anchors.append(corpus.titles[row])
            positives.append(corpus.abstracts[row])
    return anchors, positives


def in_batch_loss(anchors, positives, scale: float):
    """Symmetric multiple-negatives ranking loss of (B, d) anchor and positive embeddings."""
    import torch
    import torch.nn.functional as F

    logits = scale * F.normalize(anchors, dim=-1) @ F.normalize(positives, dim=-1).T
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def run_fingerprint(params: FinetuneParams, base_key: str, corpus: PairCorpus) -> str:
    """Digest of what a checkpoint may be resumed for: settings, base weights, training texts and pairs."""
    digest = hashlib.blake2b(digest_size=16)
    settings = dataclasses.asdict(params)
    del settings["checkpoint_every"]  # how often progress is kept does not change the run
    digest.update(json.dumps(settings, sort_keys=True).encode() + base_key.encode())
    for text in corpus.texts:
        digest.update(text.encode("utf-8") + b"\0")
    digest.update(corpus.partners.indptr.tobytes() + corpus.partners.indices.tobytes())
    return digest.hexdigest()


def _lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the steps, then linear decay to 0."""
    warm = max(1, int(round(warmup * total)))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))


def finetune(base_folder: PathLike, corpus: PairCorpus, params: FinetuneParams, out_dir: PathLike,
             checkpoint_dir: PathLike | None = None, device: str = "auto") -> dict:
    """Fine-tune the sentence-transformers model of ``base_folder``; save it to ``out_dir``."""
    import torch

    device = str(resolve_device(device))
    torch.manual_seed(params.seed)
    model = load_sentence_transformer(base_folder, "cpu", params.max_seq_length).to(device)
    model.train()
    pairable = int(corpus.available(params.kinds).any(axis=1).sum())
    steps_per_epoch = math.ceil(min(pairable, params.max_pairs or pairable) / params.batch_size)
    total = steps_per_epoch * params.epochs
    if total == 0:
        raise ValueError("no training pairs: no paper can form a pair of kinds " + params.pairs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, total, params.warmup))
    fingerprint = run_fingerprint(params, folder_fingerprint(base_folder), corpus)
    checkpoint = Path(checkpoint_dir) / f"{fingerprint}.pt" if checkpoint_dir else None
    step, losses = 0, []
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        if device == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        step, losses = state["step"], state["losses"]
        logger.info("resuming from %s at step %d of %d", checkpoint, step, total)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda"
                else torch.autocast("cpu", enabled=False))
    started, texts_seen = time.perf_counter(), 0
    last_log = started
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        anchors, positives = epoch_pairs(corpus, params, epoch)
        for batch in range(offset, steps_per_epoch):
            chunk = slice(batch * params.batch_size, (batch + 1) * params.batch_size)
            if len(anchors[chunk]) < 2:  # a last batch of one pair has no negative
                step += 1
                continue
            with autocast:
                a = model(_features(model, anchors[chunk], device))["sentence_embedding"]
                p = model(_features(model, positives[chunk], device))["sentence_embedding"]
                loss = in_batch_loss(a.float(), p.float(), params.scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            texts_seen += 2 * len(anchors[chunk])
            losses.append(float(loss.detach()))
            checkpoint_due = step % params.checkpoint_every == 0 or step == total
            if checkpoint_due or time.perf_counter() - last_log > PROGRESS_SECONDS:
                last_log = time.perf_counter()
                window = min(len(losses), params.checkpoint_every)
                logger.info("step %d of %d (epoch %d): loss %.4f (mean of the last %d), %.1f texts/s", step,
                            total, epoch + 1, float(np.mean(losses[-window:])), window,
                            texts_seen / max(last_log - started, 1e-9))
            if checkpoint_due and checkpoint is not None and step < total:
                _save_checkpoint(checkpoint, model, optimizer, scheduler, step, losses)
    seconds = time.perf_counter() - started
    model.eval()
    _save_model(model, out_dir)
    stats = {"steps": total, "pairs_per_epoch": steps_per_epoch * params.batch_size, "seconds": round(seconds, 1),
             "texts_per_second": round(texts_seen / max(seconds, 1e-9), 1), "device": device,
             "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
             "params": dataclasses.asdict(params)}
    logger.info("fine-tuned %s in %.1f s: %s", params.base, seconds, stats)
    return stats


def _features(model, texts: list[str], device: str) -> dict:
    return {key: value.to(device) if hasattr(value, "to") else value
            for key, value in _preprocess(model, texts).items()}


def _save_checkpoint(path: Path, model, optimizer, scheduler, step: int, losses: list[float]) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                    "step": step, "losses": losses}, tmp)


def _save_model(model, out_dir: PathLike) -> None:
    """Save the model folder whole or not at all (a sibling temporary folder, then a rename)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_progress():
        model.save(str(tmp))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)


def finetune_encoder_file(
    papers_parquet: PathLike,
    out_dir: PathLike,
    stats_json: PathLike,
    settings: FinetuningSettings,
    encoder_folders: dict[str, PathLike] | None = None,
    checkpoint_dir: PathLike | None = None,
) -> dict:
    """Fine-tune ``settings.params.base`` on the corpus papers not held out (``settings.heldout``);
    write the folder and stats."""
    params, device, held = settings.params, settings.device, settings.heldout
    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "title", "abstract", "authors"])
    heldout = heldout_mask(papers["paper_id"].astype(str).tolist(), held.fraction, held.seed)
    corpus = pair_corpus(papers[~heldout].reset_index(drop=True))
    counts = dict(zip(params.kinds, map(int, corpus.available(params.kinds).sum(axis=0)), strict=True))
    can_pair = int(corpus.available(params.kinds).any(axis=1).sum())
    logger.info("fine-tuning on %d papers (%d held out): papers able to form each kind %s; %d papers form "
                "no pair and sit out", len(corpus.texts), int(heldout.sum()), counts,
                len(corpus.texts) - can_pair)
    stats = finetune(encoder_folder(params.base, encoder_folders), corpus, params, out_dir,
                     checkpoint_dir, device)
    stats |= {"training_papers": len(corpus.texts), "heldout_papers": int(heldout.sum()),
              "pairable_papers": can_pair, "pairable_by_kind": counts}
    write_json(stats, stats_json)
    return stats


def _preprocess(model, texts: list[str]) -> dict:
    """The model's tokenised batch (``preprocess`` in sentence-transformers 6, ``tokenize`` before)."""
    return model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
