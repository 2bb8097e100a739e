"""The averaging paraphrastic similarity model (Wieting et al., ACL 2019) in torch: the module
and its pooling, the piece vocabulary, the model file and embedding.

A text is the mean of its sentencepiece pieces' embeddings; similarity is the cosine of
two such vectors. A model file (written by ``revmatch.model.averaging_training``) holds the
sentencepiece model too, so it is self-contained. Texts are embedded in batches of similar
length, packed without padding.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F
from torch import nn

from revmatch.io import InputError, PathLike
from revmatch.log import progress
from revmatch.model.device import resolve_device
from revmatch.model.settings import TrainParams
from revmatch.model.text import tokenize

logger = logging.getLogger(__name__)

UNKNOWN = "UUUNKKK"
MODEL_FORMAT = "revmatch-averaging-1"


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


# ---------------------------------------------------------------- vocabulary


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
