"""The averaging paraphrastic similarity model (Wieting et al., ACL 2019) in torch.

A text is the mean of its sentencepiece pieces' embeddings; similarity is the cosine of
two such vectors. The model is trained on abstracts alone: each abstract's pieces are cut
into segments, shuffled and split into two halves that form a positive pair; negatives
are the hardest non-partners in a mega-batch, and the loss is a margin ranking loss in
both directions. Other positive pairs (a paper with a co-authored paper, a title with its
abstract) are options of ``TrainParams.pairs`` (``revmatch.pairs``).

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
import itertools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import sentencepiece as spm
import torch
import torch.nn.functional as F
from torch import nn

from revmatch.io import InputError, PathLike, atomic_path, read_jsonl, read_lines, save_npy
from revmatch.log import progress
from revmatch.model.pairs import (
    PairSources,
    make_pairs,
    pair_kind_counts,
    paper_author_ids,
    parse_pair_kinds,
)
from revmatch.model.text import (
    TEXT_FIELDS,
    encode_pieces,
    paper_text,
    read_paper_texts,
    submission_texts,
    tokenize,
)

logger = logging.getLogger(__name__)

UNKNOWN = "UUUNKKK"
MODEL_FORMAT = "revmatch-averaging-1"
CHECKPOINT_FORMAT = "revmatch-averaging-checkpoint-1"
_CHECKPOINT_NAME = re.compile(r"epoch-(\d+)\.pt")
INITIALISATIONS = ("normal", "idf")
POOLINGS = ("mean", "sublinear")


@dataclasses.dataclass(frozen=True)
class TrainParams:
    """Training settings; the defaults are the ACL setting of the reference tool.

    ``dropout`` defaults to 0: the reference is run with ``--dropout 0.3`` but its dropout
    has no effect (the result of the call is discarded). ``init`` is the reference's
    ``"normal"`` (N(0, 1) rows) or ``"idf"``: those rows scaled by each piece's smoothed IDF
    over the training lines, so the untrained model already weighs rare pieces up.
    ``pooling`` is the reference's ``"mean"`` or ``"sublinear"`` (``sublinear_weights``), used
    in training and embedding alike. ``pairs`` is the reference's ``"halves"`` or other kinds
    of positive pair, joined with ``+`` (``revmatch.pairs``: ``"coauthors+titles"``).
    """

    dim: int = 1024
    epochs: int = 20
    batch_size: int = 64
    megabatch_size: int = 1
    megabatch_anneal: int = 10
    seg_length: int = 1
    delta: float = 0.4
    lr: float = 0.001
    dropout: float = 0.0
    grad_clip: float = 5.0
    max_vocab: int = 200000
    seed: int = 1
    init: str = "normal"
    pooling: str = "mean"
    pairs: str = "halves"

    def __post_init__(self) -> None:
        at_least = {"dim": 1, "epochs": 1, "batch_size": 2, "megabatch_size": 1, "megabatch_anneal": 1,
                    "seg_length": 1, "max_vocab": 1}
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        parse_pair_kinds(self.pairs)
        if self.init not in INITIALISATIONS:
            raise ValueError(f"init must be one of {INITIALISATIONS}, got {self.init!r}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError(f"lr and grad_clip must be positive, got {self.lr} and {self.grad_clip}")

    @classmethod
    def from_dict(cls, params: Mapping[str, object]) -> TrainParams:
        """Settings from a mapping of field names (missing ones default); unknown keys raise."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ValueError(f"unknown training parameter(s) {unknown}; known: {sorted(names)}")
        return cls(**params)


class AveragingModel(nn.Module):
    """Embedding table over the piece vocabulary; a sequence is the mean of its embeddings.

    Sequences come packed: ``ids`` holds all of them end to end and ``lengths`` the length
    of each (every length at least 1). In training mode dropout is applied to the word
    embeddings before pooling.
    """

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.0,
                 generator: torch.Generator | None = None, pooling: str = "mean") -> None:
        super().__init__()
        self.dropout = dropout
        self.sublinear = pooling == "sublinear"
        weight = torch.randn(vocab_size, dim, generator=generator)
        self.embedding = nn.Embedding.from_pretrained(weight, freeze=False)

    def pool(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean embedding of each packed sequence, without dropout."""
        return mean_pool(self.embedding.weight, ids, lengths, sublinear=self.sublinear)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                rng: np.random.Generator | None = None) -> torch.Tensor:
        """Mean embedding of each packed sequence, shape (n_sequences, dim).

        In training mode with ``dropout > 0``, each coordinate of each word embedding is
        zeroed with probability ``dropout`` (drawn from ``rng``) and the rest rescaled.
        """
        dropout = self.dropout if self.training else 0.0
        return mean_pool(self.embedding.weight, ids, lengths, dropout, rng, sublinear=self.sublinear)

    @staticmethod
    def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Row-wise cosine similarity."""
        return F.cosine_similarity(a, b, dim=-1)


def sublinear_weights(ids: torch.Tensor, lengths: torch.Tensor, n_ids: int) -> torch.Tensor:
    """Weight of every packed token (ids below ``n_ids``): ``(1 + log c) / c`` with ``c`` its
    count in its sequence, so that a piece occurring ``c`` times contributes ``1 + log c``
    times its row (as the sublinear term frequency of TF-IDF), not ``c`` times."""
    sequence = torch.repeat_interleave(torch.arange(len(lengths), device=ids.device), lengths,
                                       output_size=ids.numel())
    key = sequence * n_ids + ids
    _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    count = counts[inverse].to(torch.float32)
    return (1.0 + torch.log(count)) / count


def mean_pool(table: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor, dropout: float = 0.0,
              rng: np.random.Generator | None = None, sublinear: bool = False) -> torch.Tensor:
    """Mean of the ``table`` rows of each packed sequence, shape (n_sequences, dim).

    Without dropout this is one ``embedding_bag`` call (no (tokens, dim) tensor is made).
    With ``dropout > 0`` each coordinate of each word vector is zeroed with probability
    ``dropout`` (drawn from ``rng``) and the rest rescaled. With ``sublinear`` each token is
    weighted by ``sublinear_weights`` (the result is then a weighted sum; its direction, all
    a cosine sees, is that of the weighted mean).
    """
    weights = sublinear_weights(ids, lengths, table.shape[0]).to(table.dtype) if sublinear else None
    if dropout == 0:
        offsets = torch.cumsum(lengths, 0) - lengths
        if weights is not None:
            return F.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=weights)
        return F.embedding_bag(ids, table, offsets, mode="mean")
    if rng is None:
        raise ValueError("dropout in training mode needs a random generator")
    words = F.embedding(ids, table)
    keep, keep_probability = _keep_mask(words.shape, dropout, rng, words.device)
    sequence = torch.repeat_interleave(
        torch.arange(len(lengths), device=ids.device), lengths, output_size=ids.numel()
    )
    words = words.mul_(keep) if weights is None else words.mul_(keep).mul_(weights.unsqueeze(1))
    sums = words.new_zeros(len(lengths), words.shape[1]).index_add_(0, sequence, words)
    return sums / (lengths.unsqueeze(1).to(sums.dtype) * keep_probability)


def _keep_mask(shape: torch.Size, dropout: float, rng: np.random.Generator,
               device: torch.device) -> tuple[torch.Tensor, float]:
    """Dropout keep-mask (float32 zeros and ones) and the probability of keeping.

    On CPU the mask comes from 16-bit uniform numbers drawn with numpy (several times
    faster than torch's CPU generator), so ``dropout`` is rounded to a multiple of 1/65536.
    On other devices a torch generator, seeded from ``rng``, draws it there.
    """
    if device.type == "cpu":
        threshold = round(dropout * 65536)
        uniform = rng.integers(0, 65536, size=tuple(shape), dtype=np.uint16)
        keep = np.greater_equal(uniform, threshold, out=np.empty(uniform.shape, dtype=np.float32))
        return torch.from_numpy(keep), 1.0 - threshold / 65536
    generator = torch.Generator(device=device).manual_seed(int(rng.integers(0, 2**63)))
    keep = torch.rand(shape, generator=generator, device=device) >= dropout
    return keep.float(), 1.0 - dropout


@dataclasses.dataclass
class SimilarityModel:
    """A trained model ready to embed texts: module, vocabulary, sentencepiece processor."""

    module: AveragingModel
    vocab: dict[str, int]
    sentencepiece: spm.SentencePieceProcessor
    params: TrainParams

    @property
    def device(self) -> torch.device:
        return self.module.embedding.weight.device

    @property
    def dim(self) -> int:
        return self.module.embedding.embedding_dim


# ---------------------------------------------------------------- data


def build_vocab(lines: list[list[str]], max_vocab: int) -> dict[str, int]:
    """Pieces by decreasing frequency (ties by piece), at most ``max_vocab``, then ``UNKNOWN``."""
    counts = Counter(piece for line in lines for piece in line)
    counts.pop(UNKNOWN, None)
    pieces = sorted(counts, key=lambda piece: (-counts[piece], piece))[:max_vocab]
    vocab = {piece: index for index, piece in enumerate(pieces)}
    vocab[UNKNOWN] = len(pieces)
    return vocab


def pieces_to_ids(lines: Sequence[Sequence[str]], vocab: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Packed ids of the lines' known pieces and each line's length (unknown pieces dropped)."""
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    pieces = list(itertools.chain.from_iterable(lines))
    ids = np.fromiter(map(vocab.get, pieces, itertools.repeat(-1, len(pieces))), dtype=np.int64,
                      count=len(pieces))
    line_of_piece = np.repeat(np.arange(len(lines)), lengths)
    known = ids >= 0
    return ids[known], np.bincount(line_of_piece[known], minlength=len(lines))


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


def resolve_device(device: str) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; anything else as torch reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


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


# ---------------------------------------------------------------- embedding


def load_model(path: PathLike, device: str = "cpu") -> SimilarityModel:
    """Load a model file written by ``train_model`` (no other file needed)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or corrupt files
        raise InputError(path, f"not a readable model file ({exc})") from exc
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise InputError(path, f"not a {MODEL_FORMAT} model file")
    weights = saved["weights"]
    params = TrainParams.from_dict(saved["params"])
    vocab = {piece: index for index, piece in enumerate(saved["vocab"])}
    if len(vocab) != weights.shape[0] or vocab.get(UNKNOWN) != len(vocab) - 1:
        raise InputError(path, "vocabulary and weights disagree")
    module = AveragingModel(weights.shape[0], weights.shape[1], params.dropout, pooling=params.pooling)
    module.load_state_dict({"embedding.weight": weights})
    module.to(resolve_device(device)).eval()
    sp = spm.SentencePieceProcessor(model_proto=saved["sentencepiece"])
    return SimilarityModel(module, vocab, sp, params)


def length_batches(lengths: np.ndarray, max_tokens: int, max_texts: int) -> list[np.ndarray]:
    """Indices of texts grouped into batches of similar length (length bucketing).

    Texts are sorted by length (stable) and cut into consecutive batches of at most
    ``max_texts`` texts and, where a batch has more than one text, at most ``max_tokens``
    tokens, so that every batch has a bounded size whatever the lengths.
    """
    if max_tokens < 1 or max_texts < 1:
        raise ValueError(f"max_tokens and max_texts must be positive, got {max_tokens} and {max_texts}")
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = np.maximum(np.asarray(lengths, dtype=np.int64)[order], 1)
    batches, start = [], 0
    while start < len(order):
        budget = np.searchsorted(np.cumsum(sorted_lengths[start:start + max_texts]), max_tokens, side="right")
        stop = start + max(int(budget), 1)
        batches.append(order[start:stop])
        start = stop
    return batches


def _ids_with_unknown(model: SimilarityModel,
                      piece_lines: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, int]:
    """Packed piece ids and lengths; a line with no known piece becomes ``[UNKNOWN]`` (counted)."""
    ids, lengths = pieces_to_ids(piece_lines, model.vocab)
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        line_of_id = np.repeat(np.arange(len(piece_lines)), lengths)
        order = np.argsort(np.concatenate([line_of_id, empty]), kind="stable")
        ids = np.concatenate([ids, np.full(len(empty), model.vocab[UNKNOWN])])[order]
        lengths[empty] = 1
    return ids, lengths, len(empty)


def embed_piece_lines(model: SimilarityModel, piece_lines: Sequence[Sequence[str]],
                      batch_size: int = 512, max_tokens: int = 262144) -> np.ndarray:
    """L2-normalised float32 embeddings of sentencepiece-encoded lines, shape (n, dim), in input order.

    Lines are embedded in length buckets (``length_batches``) under ``torch.inference_mode``;
    a batch is packed without padding and mean-pooled in one ``embedding_bag`` call. Unknown
    pieces are dropped; a line with no known piece gets the unknown-token vector (counted).
    """
    out = np.empty((len(piece_lines), model.dim), dtype=np.float32)
    lengths = np.fromiter(map(len, piece_lines), dtype=np.int64, count=len(piece_lines))
    batches = length_batches(lengths, max_tokens, batch_size)
    n_without_piece = 0
    model.module.eval()
    with torch.inference_mode():
        for rows in progress(batches, desc="embed", unit="batch"):
            ids, batch_lengths, n_empty = _ids_with_unknown(model, [piece_lines[i] for i in rows])
            vectors = model.module.pool(torch.from_numpy(ids).to(model.device),
                                        torch.from_numpy(batch_lengths).to(model.device))
            out[rows] = F.normalize(vectors.float(), dim=1).cpu().numpy()
            n_without_piece += n_empty
    if n_without_piece:
        logger.info("%d of %d texts have no known piece; they get the unknown-token vector",
                    n_without_piece, len(piece_lines))
    return out


def embed_texts(model: SimilarityModel, texts: Sequence[str], batch_size: int = 512,
                processes: int = 1) -> np.ndarray:
    """L2-normalised float32 embeddings of raw texts, shape (n, dim), in input order.

    Texts go through Moses tokenisation (in ``processes`` worker processes), the model's
    sentencepiece and vocabulary, then ``embed_piece_lines`` (length-bucketed batches).
    """
    tokens = tokenize(texts, processes=processes)
    pieces = model.sentencepiece.encode(tokens, out_type=str)
    return embed_piece_lines(model, pieces, batch_size=batch_size)


# ---------------------------------------------------------------- files


def heldout_mask(paper_ids: Sequence[str], fraction: float, seed: int = 1) -> np.ndarray:
    """Boolean mask of the papers held out of training for evaluation.

    A paper is held out when the first 8 bytes of ``sha256(f"{seed}:{paper_id}")`` read as
    a fraction of 2**64 fall below ``fraction``: the split depends on the id alone, not on
    the corpus order or size, so a paper stays held out when the corpus grows.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction}")
    hashes = np.fromiter(
        (int.from_bytes(hashlib.sha256(f"{seed}:{pid}".encode()).digest()[:8], "big") for pid in paper_ids),
        dtype=np.uint64, count=len(paper_ids),
    )
    return hashes < np.uint64(min(int(fraction * 2**64), 2**64 - 1))


def train_model_file(
    pieces_txt: PathLike,
    sp_model_path: PathLike,
    out_path: PathLike,
    params: dict,
    device: str = "auto",
    checkpoint_dir: PathLike | None = None,
    papers_parquet: PathLike | None = None,
    heldout_fraction: float = 0.0,
    heldout_seed: int = 1,
) -> dict:
    """Train on a pieces file (one abstract a line, pieces joined by spaces); save the model.

    With ``papers_parquet`` (the corpus the pieces file is aligned with) and a positive
    ``heldout_fraction``, the papers of ``heldout_mask`` are left out of training (counted),
    so that the retrieval evaluation ranks papers the model has not seen.
    """
    train_params = TrainParams.from_dict(params)
    kinds = parse_pair_kinds(train_params.pairs)
    lines = read_lines(pieces_txt)
    columns = [column for kind, column in (("coauthors", "authors"), ("titles", "title")) if kind in kinds]
    papers = None
    if columns or (papers_parquet is not None and heldout_fraction > 0):
        if papers_parquet is None:
            raise ValueError(f"pairs {train_params.pairs!r} need the corpus papers (papers_parquet)")
        papers = pd.read_parquet(papers_parquet, columns=["paper_id", *columns])
        if len(papers) != len(lines):
            raise InputError(pieces_txt, f"{len(lines)} lines for {len(papers)} papers in {papers_parquet}")
    rows = np.arange(len(lines))
    if papers is not None and heldout_fraction > 0:
        held = heldout_mask(papers["paper_id"].astype(str).tolist(), heldout_fraction, heldout_seed)
        rows = np.flatnonzero(~held)
        logger.info("held out %d of %d papers for evaluation (fraction %g, seed %d)",
                    int(held.sum()), len(held), heldout_fraction, heldout_seed)
    piece_lines = [lines[i].split() for i in rows]
    author_ids = titles = None
    if "coauthors" in kinds:
        author_ids = [paper_author_ids(authors) for authors in papers["authors"].iloc[rows]]
    if "titles" in kinds:
        title_texts = [paper_text(title, None) for title in papers["title"].iloc[rows]]
        titles = encode_pieces(sp_model_path, tokenize(title_texts))
    return train_model(piece_lines, train_params, out_path, sp_model_path, device=device,
                       checkpoint_dir=checkpoint_dir, author_ids=author_ids, titles=titles)


def embed_pieces_file(
    model_path: PathLike,
    pieces_txt: PathLike,
    sp_model_path: PathLike,
    out_npy: PathLike,
    batch_size: int = 512,
    device: str = "cpu",
) -> None:
    """Embed a corpus from its encoded pieces file (no second tokenisation) into an (n, dim) ``.npy``.

    ``sp_model_path`` is the sentencepiece model the pieces were made with; it must be the
    one stored in the model file, else the pieces would be looked up in a foreign vocabulary.
    """
    model = load_model(model_path, device=device)
    if Path(sp_model_path).read_bytes() != model.sentencepiece.serialized_model_proto():
        raise InputError(model_path,
                         f"the model was trained with another sentencepiece model than {sp_model_path}")
    piece_lines = [line.split() for line in read_lines(pieces_txt)]
    n_empty = sum(not line for line in piece_lines)
    if n_empty:
        logger.warning("%d of %d lines of %s are empty; they get the unknown-token vector",
                       n_empty, len(piece_lines), pieces_txt)
    started = time.perf_counter()
    embeddings = embed_piece_lines(model, piece_lines, batch_size=batch_size)
    logger.info("embedded %d lines in %.1f s", len(piece_lines), time.perf_counter() - started)
    save_npy(embeddings, out_npy)


def embed_papers_file(
    model_path: PathLike,
    papers_parquet: PathLike,
    out_npy: PathLike,
    fields: Sequence[str] = TEXT_FIELDS,
    batch_size: int = 512,
    device: str = "cpu",
) -> None:
    """Embed every corpus paper (rows of ``papers_parquet``) into an (n, dim) float32 ``.npy``."""
    texts = read_paper_texts(papers_parquet, fields)
    _embed_and_save(model_path, texts, out_npy, batch_size, device)


def embed_submissions_file(
    model_path: PathLike,
    submissions_jsonl: PathLike,
    out_npy: PathLike,
    fields: Sequence[str] = TEXT_FIELDS,
    batch_size: int = 512,
    device: str = "cpu",
) -> None:
    """Embed every submission (lines of ``submissions.jsonl``) into an (n, dim) float32 ``.npy``."""
    texts = submission_texts(read_jsonl(submissions_jsonl), fields, submissions_jsonl)
    _embed_and_save(model_path, texts, out_npy, batch_size, device)


def _embed_and_save(model_path: PathLike, texts: list[str], out_npy: PathLike, batch_size: int,
                    device: str) -> None:
    n_empty = sum(not text for text in texts)
    if n_empty:
        logger.warning("%d of %d texts are empty; they get the unknown-token vector", n_empty, len(texts))
    model = load_model(model_path, device=device)
    started = time.perf_counter()
    embeddings = embed_texts(model, texts, batch_size=batch_size)
    logger.info("embedded %d texts in %.1f s", len(texts), time.perf_counter() - started)
    save_npy(embeddings, out_npy)
