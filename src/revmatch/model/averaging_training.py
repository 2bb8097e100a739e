"""Training the averaging model: positive pairs, hardest negatives, checkpoints.

The model is trained on abstracts alone: each abstract's pieces are cut into segments,
shuffled and split into two halves that form a positive pair; negatives are the hardest
non-partners in a mega-batch, and the loss is a margin ranking loss in both directions.
Other positive pairs (a paper with a co-authored paper, a title with its abstract) are
options of ``TrainParams.pairs`` (``revmatch.model.pairs``).

Differences from the reference code (acl-org/reviewer-paper-matching), on purpose:
gradient-norm clipping takes effect; every abstract is split into two random halves of its
segments (the reference carries a cut index over from one abstract to the next); training
resumes from per-epoch checkpoints; the model file holds the sentencepiece model, so it is
self-contained; abstracts with fewer than two segments are skipped (counted) instead of
giving an empty half. Dropout: the reference passes ``--dropout 0.3`` but discards the
dropout's result, so the default here is 0 (the reference's behaviour); a positive
``dropout`` applies real dropout to the word embeddings (hardest negatives are then chosen
with dropout off).

Speed: a training step gathers only the table rows its mini-batch uses, back-propagates into
those rows and copies their gradient into a persistent dense gradient buffer; the gradient
is the same as the dense embedding gradient of the reference (every other row's is zero),
and Adam stays dense (every row's moments decay and every row moves each step, as in the
reference), without allocating and zeroing a table-sized gradient per step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from revmatch.io import PathLike, atomic_path
from revmatch.log import progress
from revmatch.model.averaging import MODEL_FORMAT, AveragingModel, build_vocab, mean_pool, pieces_to_ids
from revmatch.model.device import resolve_device
from revmatch.model.pairs import PairSources, make_pairs, pair_kind_counts, parse_pair_kinds
from revmatch.model.settings import TrainParams

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "revmatch-averaging-checkpoint-1"
_CHECKPOINT_NAME = re.compile(r"epoch-(\d+)\.pt")


# ---------------------------------------------------------------- data


def _training_sequences(piece_lines: list[list[str]],
                        params: TrainParams) -> tuple[list[np.ndarray], dict[str, int], np.ndarray]:
    """Token-id sequences to train on (distinct, non-empty, at least two segments), the
    vocabulary, and the index in ``piece_lines`` of each sequence's line (its first copy)."""
    seen: set[tuple[str, ...]] = set()
    unique, origin = [], []
    for index, line in enumerate(piece_lines):
        key = tuple(line)
        if key and key not in seen:
            seen.add(key)
            unique.append(line)
            origin.append(index)
    n_empty = sum(not line for line in piece_lines)
    vocab = build_vocab(unique, params.max_vocab)
    ids, lengths = pieces_to_ids(unique, vocab)
    sequences = np.split(ids, np.cumsum(lengths)[:-1])
    long_enough = lengths > params.seg_length
    logger.info(
        "training lines: %d; skipped %d empty, %d duplicate, %d with fewer than two segments; "
        "%d pieces outside the vocabulary of %d dropped",
        int(long_enough.sum()), n_empty, len(piece_lines) - n_empty - len(unique),
        int((~long_enough).sum()), sum(map(len, unique)) - len(ids), len(vocab),
    )
    if long_enough.sum() < 2:
        raise ValueError("fewer than two usable training lines")
    kept = [seq for seq, keep in zip(sequences, long_enough, strict=True) if keep]
    return kept, vocab, np.asarray(origin, dtype=np.int64)[long_enough]


def _pair_sources(kinds: tuple[str, ...], sequences: list[np.ndarray], vocab: dict[str, int],
                  lines: np.ndarray, author_ids: Sequence[Sequence[str]] | None,
                  titles: Sequence[Sequence[str]] | None) -> PairSources:
    """The pair sources the ``kinds`` need, for the sequences of ``lines`` (indexes of the input);
    a kind whose source is missing raises (``PairSources.available``)."""
    authors = title_ids = None
    if "coauthors" in kinds and author_ids is not None:
        authors = [author_ids[i] for i in lines]
    if "titles" in kinds and titles is not None:
        ids, lengths = pieces_to_ids([titles[i] for i in lines], vocab)
        title_ids = np.split(ids, np.cumsum(lengths)[:-1])
    sources = PairSources.build(sequences, authors, title_ids)
    counts = pair_kind_counts(kinds, sources, len(sequences))
    logger.info("training pairs %s; sequences that can form each kind: %s (the others are cut into halves)",
                "+".join(kinds), counts)
    for kind in [kind for kind, count in counts.items() if count == 0]:
        logger.warning("no training sequence can form a %r pair (no %s in the corpus records)", kind,
                       "co-authored paper" if kind == "coauthors" else "title")
    return sources


def _pack(sequences: Sequence[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    ids = np.concatenate(sequences)
    return torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device)


def _fingerprint(sequences: list[np.ndarray], vocab: dict[str, int], params: TrainParams,
                 sources: PairSources | None = None) -> str:
    """Identity of a training run apart from its number of epochs (checkpoints must match it)."""
    digest = hashlib.sha256()
    settings = {k: v for k, v in dataclasses.asdict(params).items() if k != "epochs"}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update("\n".join(vocab).encode())
    digest.update(np.fromiter(map(len, sequences), dtype=np.int64).tobytes())
    digest.update(np.concatenate(sequences).tobytes())
    if sources is not None and sources.partners is not None:
        digest.update(sources.partners.indptr.tobytes())
        digest.update(sources.partners.indices.tobytes())
    if sources is not None and sources.titles is not None:
        digest.update(np.fromiter(map(len, sources.titles), dtype=np.int64).tobytes())
        digest.update(np.concatenate([np.empty(0, dtype=np.int64), *sources.titles]).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- training


@dataclasses.dataclass
class _TrainingState:
    module: AveragingModel
    optimizer: torch.optim.Optimizer
    rng: np.random.Generator
    epoch: int = 0
    batches_done: int = 0
    megabatch: int = 1
    history: list[dict] = dataclasses.field(default_factory=list)

    def checkpoint(self, fingerprint: str) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": fingerprint,
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "megabatch": self.megabatch,
            "history": self.history,
            "weights": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
        }

    def restore(self, checkpoint: dict) -> None:
        self.module.load_state_dict(checkpoint["weights"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.rng.bit_generator.state = checkpoint["numpy_rng"]
        self.epoch = checkpoint["epoch"]
        self.batches_done = checkpoint["batches_done"]
        self.megabatch = checkpoint["megabatch"]
        self.history = list(checkpoint["history"])


def inverse_document_frequency(sequences: Sequence[np.ndarray], vocab_size: int) -> np.ndarray:
    """Smoothed IDF of every vocabulary id over the sequences: ``log((n + 1) / (df + 1)) + 1``."""
    df = np.bincount(np.concatenate([np.unique(seq) for seq in sequences]), minlength=vocab_size)
    return (np.log((len(sequences) + 1) / (df + 1.0)) + 1.0).astype(np.float32)


def _new_state(vocab_size: int, params: TrainParams, device: torch.device,
               row_scale: np.ndarray | None = None) -> _TrainingState:
    """Fresh model, optimiser and generator; ``row_scale`` multiplies the initial rows."""
    rng = np.random.default_rng(params.seed)
    init_seed = int(rng.integers(0, 2**63))
    module = AveragingModel(vocab_size, params.dim, params.dropout,
                            generator=torch.Generator().manual_seed(init_seed), pooling=params.pooling)
    if row_scale is not None:
        module.embedding.weight.data.mul_(torch.from_numpy(row_scale).unsqueeze(1))
    module = module.to(device)
    weight = module.embedding.weight
    weight.grad = torch.zeros_like(weight)  # persistent; _train_step fills and clears its rows
    optimizer = torch.optim.Adam(module.parameters(), lr=params.lr, fused=device.type in ("cpu", "cuda"))
    return _TrainingState(module, optimizer, rng)


def _latest_checkpoint(checkpoint_dir: Path, fingerprint: str, max_epoch: int) -> dict | None:
    """The newest checkpoint of this run with at most ``max_epoch`` epochs, if any."""
    found = sorted(
        (int(match.group(1)), path)
        for path in checkpoint_dir.glob("epoch-*.pt")
        if (match := _CHECKPOINT_NAME.fullmatch(path.name))
    )
    for epoch, path in reversed(found):
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file: train from an older state instead
            logger.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
            continue
        if (not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT
                or checkpoint.get("fingerprint") != fingerprint):
            logger.warning("ignoring checkpoint %s: made from other data or settings", path)
        elif epoch > max_epoch:
            logger.warning("ignoring checkpoint %s: %d epochs, more than the %d asked for",
                           path, epoch, max_epoch)
        else:
            return checkpoint
    return None


def _save_checkpoint(checkpoint: dict, checkpoint_dir: Path) -> None:
    """Write this epoch's checkpoint atomically, then remove older ones."""
    path = checkpoint_dir / f"epoch-{checkpoint['epoch']:04d}.pt"
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    for old in checkpoint_dir.glob("epoch-*.pt"):
        if old != path and _CHECKPOINT_NAME.fullmatch(old.name):
            old.unlink()


def _hardest_negatives(module: AveragingModel, first: Sequence[np.ndarray], second: Sequence[np.ndarray],
                       device: torch.device, autocast: torch.autocast) -> tuple[np.ndarray, np.ndarray]:
    """For each pair i, the most similar second side j != i to first side i, and vice versa."""
    with torch.no_grad(), autocast:
        a = F.normalize(module.pool(*_pack(first, device)).float(), dim=1)
        b = F.normalize(module.pool(*_pack(second, device)).float(), dim=1)
        similarity = a @ b.T
    similarity.fill_diagonal_(-2.0)
    return similarity.argmax(1).cpu().numpy(), similarity.argmax(0).cpu().numpy()


def _batch_loss(state: _TrainingState, first: np.ndarray, second: np.ndarray, mega: np.ndarray,
                start: int, size: int, neg_first: np.ndarray, neg_second: np.ndarray, delta: float,
                device: torch.device,
                autocast: torch.autocast) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Margin loss of the mini-batch ``mega[start:start + size]`` with its hardest negatives.

    ``neg_first``/``neg_second`` give, for each pair of the mega-batch, the mega-batch
    position of its negative second/first side. A negative that is a side of this
    mini-batch reuses that side's encoding (the reference re-encodes it, which gives the
    same vector without dropout); only negatives from other mini-batches are encoded anew.

    Returns the loss, the (sorted, distinct) table rows it uses and a leaf copy of those
    rows: after ``loss.backward()`` its ``.grad`` holds those rows' gradient.
    """
    stop = start + size
    batch = mega[start:stop]
    negatives_2, negatives_1 = neg_first[start:stop], neg_second[start:stop]
    outside_2 = np.unique(negatives_2[(negatives_2 < start) | (negatives_2 >= stop)])
    outside_1 = np.unique(negatives_1[(negatives_1 < start) | (negatives_1 >= stop)])
    ids, lengths = _pack([*first[batch], *second[batch], *second[mega[outside_2]], *first[mega[outside_1]]],
                         device)
    used, local_ids = torch.unique(ids, sorted=True, return_inverse=True)
    rows = state.module.embedding.weight.detach()[used].requires_grad_()
    rows_2 = _encoded_rows(negatives_2, start, stop, outside_2)
    rows_1 = _encoded_rows(negatives_1, start, stop, outside_1)
    dropout = state.module.dropout if state.module.training else 0.0
    with autocast:
        vectors = mean_pool(rows, local_ids, lengths, dropout, state.rng,
                            sublinear=state.module.sublinear).float()
        g1, g2 = vectors[:size], vectors[size:2 * size]
        e2 = vectors[2 * size:2 * size + len(outside_2)]
        e1 = vectors[2 * size + len(outside_2):]
        p1 = torch.cat([g2, e2])[torch.from_numpy(rows_2).to(device)]
        p2 = torch.cat([g1, e1])[torch.from_numpy(rows_1).to(device)]
        positive = AveragingModel.similarity(g1, g2)
        loss = (F.relu(delta - positive + AveragingModel.similarity(g1, p1)).mean()
                + F.relu(delta - positive + AveragingModel.similarity(g2, p2)).mean())
    return loss, used, rows


def _train_step(state: _TrainingState, loss: torch.Tensor, used: torch.Tensor, rows: torch.Tensor,
                grad_clip: float) -> None:
    """Back-propagate into ``rows``, clip, and take a dense Adam step on the whole table.

    The gradient of the table is zero outside ``used``, so its norm is that of ``rows.grad``
    and it is written into the persistent gradient buffer row by row (then cleared again).
    """
    loss.backward()
    nn.utils.clip_grad_norm_([rows], grad_clip)
    weight = state.module.embedding.weight
    weight.grad.index_copy_(0, used, rows.grad.to(weight.grad.dtype))
    state.optimizer.step()
    weight.grad.index_fill_(0, used, 0.0)


def _encoded_rows(positions: np.ndarray, start: int, stop: int, outside: np.ndarray) -> np.ndarray:
    """Rows of mega-batch ``positions`` in [this mini-batch's sides, then the sorted ``outside`` ones]."""
    inside = (positions >= start) & (positions < stop)
    return np.where(inside, positions - start, (stop - start) + np.searchsorted(outside, positions))


def _train_epoch(state: _TrainingState, sequences: list[np.ndarray], params: TrainParams,
                 device: torch.device, log_every: int, sources: PairSources | None = None) -> dict:
    """One pass over freshly made pairs; return the epoch's loss, tokens and time."""
    started = time.perf_counter()
    first, second = (np.fromiter(side, dtype=object, count=len(sequences))
                     for side in make_pairs(sequences, params.seg_length, state.rng,
                                            parse_pair_kinds(params.pairs), sources))
    order = state.rng.permutation(len(sequences))
    minibatches = [order[start:start + params.batch_size]
                   for start in range(0, len(order), params.batch_size)]
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    state.module.train()

    loss_sum = torch.zeros((), device=device)
    n_tokens = n_batches = n_skipped = 0
    group_start = group_end = 0
    for b in progress(range(len(minibatches)), desc=f"epoch {state.epoch + 1}", unit="batch"):
        if b == group_end:
            group_start, group_end = b, min(b + state.megabatch, len(minibatches))
            mega = np.concatenate(minibatches[group_start:group_end])
            if len(mega) > 1:
                neg_first, neg_second = _hardest_negatives(state.module, first[mega], second[mega],
                                                           device, autocast)
        batch = minibatches[b]
        if len(mega) < 2:
            n_skipped += 1
        else:
            start = (b - group_start) * params.batch_size
            loss, used, rows = _batch_loss(state, first, second, mega, start, len(batch), neg_first,
                                           neg_second, params.delta, device, autocast)
            _train_step(state, loss, used, rows, params.grad_clip)
            loss_sum += loss.detach()
            n_batches += 1
            n_tokens += sum(map(len, first[batch])) + sum(map(len, second[batch]))
            if log_every and n_batches % log_every == 0:
                logger.info("epoch %d batch %d/%d: mean loss %.4f", state.epoch + 1, b + 1,
                            len(minibatches), loss_sum.item() / n_batches)
        state.batches_done += 1
        if state.batches_done % params.megabatch_anneal == 0 and state.megabatch < params.megabatch_size:
            state.megabatch += 1
    if n_skipped:
        logger.warning("epoch %d: skipped %d mini-batch(es) of a single pair (no negative)",
                       state.epoch + 1, n_skipped)
    loss = loss_sum.item() / max(n_batches, 1)
    seconds = time.perf_counter() - started
    return {"epoch": state.epoch + 1, "loss": loss, "tokens": n_tokens, "seconds": seconds,
            "tokens_per_second": n_tokens / seconds, "megabatch": state.megabatch}


def train_model(
    piece_lines: list[list[str]],
    params: TrainParams,
    out_path: PathLike,
    sp_model_path: PathLike,
    device: str = "auto",
    checkpoint_dir: PathLike | None = None,
    log_every: int = 50,
    author_ids: Sequence[Sequence[str]] | None = None,
    titles: Sequence[Sequence[str]] | None = None,
) -> dict:
    """Train the averaging model on sentencepiece-encoded abstracts and save it to ``out_path``.

    ``author_ids`` (each line's authors) and ``titles`` (each line's title pieces), aligned
    with ``piece_lines``, are needed by ``params.pairs`` with ``coauthors`` or ``titles``.

    With ``checkpoint_dir``, a checkpoint (weights, optimiser, epoch, random states) is
    written after every epoch, and a later call with the same data and settings resumes
    from the newest one (a run of more epochs continues a shorter one); on CPU the result
    is bit-identical to an uninterrupted run. Mixed precision (bf16) is used on CUDA only.
    Returns the training statistics.
    """
    device = resolve_device(device)
    sp_bytes = Path(sp_model_path).read_bytes()
    sequences, vocab, lines = _training_sequences(piece_lines, params)
    kinds = parse_pair_kinds(params.pairs)
    sources = (None if kinds == ("halves",)
               else _pair_sources(kinds, sequences, vocab, lines, author_ids, titles))
    fingerprint = _fingerprint(sequences, vocab, params, sources)
    row_scale = inverse_document_frequency(sequences, len(vocab)) if params.init == "idf" else None
    state = _new_state(len(vocab), params, device, row_scale)
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = _latest_checkpoint(checkpoint_dir, fingerprint, params.epochs)
        if checkpoint is not None:
            state.restore(checkpoint)
            logger.info("resuming from the checkpoint after epoch %d in %s", state.epoch, checkpoint_dir)
    resumed_from = state.epoch
    logger.info("training on %s: %d sequences, vocabulary %d, %s", device, len(sequences), len(vocab), params)

    while state.epoch < params.epochs:
        record = _train_epoch(state, sequences, params, device, log_every, sources)
        state.epoch += 1
        state.history.append(record)
        logger.info("epoch %d/%d: loss %.4f, %.0f tokens/s, %.1f s, mega-batch %d",
                    state.epoch, params.epochs,
                    record["loss"], record["tokens_per_second"], record["seconds"], record["megabatch"])
        if checkpoint_dir is not None:
            _save_checkpoint(state.checkpoint(fingerprint), checkpoint_dir)

    seconds = sum(record["seconds"] for record in state.history)
    stats = {
        "epochs": state.epoch,
        "resumed_from_epoch": resumed_from,
        "final_loss": state.history[-1]["loss"],
        "loss_history": [record["loss"] for record in state.history],
        "tokens_per_second": sum(record["tokens"] for record in state.history) / seconds,
        "seconds": seconds,
        "sequences": len(sequences),
        "vocab_size": len(vocab),
        "device": str(device),
    }
    saved = {
        "format": MODEL_FORMAT,
        "weights": state.module.embedding.weight.detach().cpu().contiguous(),
        "vocab": list(vocab),
        "params": dataclasses.asdict(params),
        "sentencepiece": sp_bytes,
        "history": state.history,
    }
    with atomic_path(out_path) as tmp:
        torch.save(saved, tmp)
    logger.info("saved model to %s: %s", out_path, stats)
    return stats
