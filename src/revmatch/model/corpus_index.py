"""Corpus indexes: a model's representation of the corpus, its score calibration, its file.

A model turns the corpus into a ``CorpusIndex`` once (vectors plus what queries need: the
vocabulary and IDF of the sparse models) which can be saved and reused by every later
conference.

Ensemble normalisation (``Calibration``): each member's scores are z-scored with a mean
and standard deviation fixed per corpus index, estimated when the index is built from a
seeded sample of corpus papers used as queries against a seeded sample of other corpus
papers (self-pairs excluded). A fixed per-model mapping, rather than statistics of the
submissions at hand, makes the normalisation exact block by block (any block size gives
the same matrix), needs one pass, and keeps a submission's scores independent of the other
submissions; corpus papers and submissions are the same kind of text (title + abstract),
so the sample describes the score distribution the matching step sees.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from revmatch.io import InputError, PathLike, atomic_path

logger = logging.getLogger(__name__)

INDEX_FORMAT = "revmatch-corpus-index-1"
CALIBRATION_QUERIES = 256
CALIBRATION_COLUMNS = 4096


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Mean and standard deviation of a model's scores; ``normalise`` z-scores with them."""

    mean: float
    std: float

    def normalise(self, scores: np.ndarray) -> np.ndarray:
        return ((scores - np.float32(self.mean)) / np.float32(self.std)).astype(np.float32, copy=False)


@dataclasses.dataclass
class CorpusIndex:
    """A model's representation of a corpus: one row of ``vectors`` per paper, in corpus order.

    ``vectors`` is dense (unit rows) for embedding models, CSR for the sparse ones;
    ``vocabulary`` and ``weights`` (IDF) are what the sparse models need to turn queries
    into vectors; ``calibration`` is the model's score normalisation for ensembles.
    """

    model: str
    vectors: np.ndarray | sp.csr_matrix
    calibration: Calibration
    vocabulary: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=str))
    weights: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.float32))

    def __len__(self) -> int:
        return self.vectors.shape[0]


class Model(Protocol):
    """What every model offers (ensembles included)."""

    name: str

    def index(self, texts: Sequence[str]) -> CorpusIndex | list[CorpusIndex]: ...

    def queries(self, index, texts: Sequence[str]): ...

    def score(self, index, queries, rows: slice, columns: np.ndarray | None) -> np.ndarray: ...


def select_columns(vectors, columns: np.ndarray | None):
    """The rows ``columns`` of a corpus index's ``vectors`` (all of them when None)."""
    return vectors if columns is None else vectors[columns]


def calibrate(model: Model, index: CorpusIndex, texts: Sequence[str] | None, seed: int = 0) -> Calibration:
    """Score mean and standard deviation over a seeded sample of corpus x corpus pairs (no self-pairs)."""
    n = len(index)
    if n < 2:
        return Calibration(0.0, 1.0)
    rng = np.random.default_rng(seed)
    query_rows = np.sort(rng.choice(n, size=min(CALIBRATION_QUERIES, n), replace=False))
    columns = np.sort(rng.choice(n, size=min(CALIBRATION_COLUMNS, n), replace=False))
    if texts is None:
        queries = index.vectors[query_rows]
    else:
        queries = model.queries(index, [texts[i] for i in query_rows])
    scores = model.score(index, queries, slice(0, len(query_rows)), columns)
    other = query_rows[:, None] != columns[None, :]
    sample = scores[other].astype(np.float64)
    std = float(sample.std())
    calibration = Calibration(float(sample.mean()), std if std > 1e-12 else 1.0)
    logger.info("%s: score mean %.4f, std %.4f on %d corpus pairs", model.name, calibration.mean,
                calibration.std, sample.size)
    return calibration


# ---------------------------------------------------------------- files


def save_index(index: CorpusIndex, path: PathLike) -> None:
    """Write a corpus index as one ``.npz`` atomically (no pickled objects)."""
    arrays = {"format": np.array(INDEX_FORMAT), "model": np.array(index.model),
              "calibration": np.array([index.calibration.mean, index.calibration.std]),
              "vocabulary": index.vocabulary, "weights": index.weights}
    if sp.issparse(index.vectors):
        vectors = index.vectors.tocsr()
        arrays |= {"data": vectors.data, "indices": vectors.indices, "indptr": vectors.indptr,
                   "shape": np.array(vectors.shape)}
    else:
        arrays["dense"] = index.vectors
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def load_index(path: PathLike, model: str | None = None) -> CorpusIndex:
    """Read a corpus index written by ``save_index``; with ``model``, check it is that model's."""
    try:
        saved = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable corpus index ({exc})") from exc
    with saved:
        if "format" not in saved or str(saved["format"]) != INDEX_FORMAT:
            raise InputError(path, f"not a {INDEX_FORMAT} file")
        name = str(saved["model"])
        if model is not None and name != model:
            raise InputError(path, f"corpus index of model {name!r}, expected {model!r}")
        if "dense" in saved:
            vectors = saved["dense"]
        else:
            vectors = sp.csr_matrix((saved["data"], saved["indices"], saved["indptr"]),
                                    shape=tuple(saved["shape"]))
        mean, std = saved["calibration"].tolist()
        return CorpusIndex(name, vectors, Calibration(mean, std), saved["vocabulary"], saved["weights"])
