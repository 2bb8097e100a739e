"""A job's model and how its scores map into [0, 1].

A job's ``model`` is any spec of the model registry (``avg``, ``tfidf``, ``bm25``, a
sentence-transformers name, or an ensemble ``a+b``: the mean of the members' calibrated
z-scores). ``avg`` alone scores with its cached embeddings (``EmbeddingScorer``: cosine,
nothing encoded); every other spec with ``score_blocks`` on its corpus index(es)
(``RegistryScorer``: submission texts and, for ``group_group``, the members' corpus papers
as queries).

With ``normalize`` (the default) a job's scores are min-max scaled over the job, whatever
the model (a constant job scores 0 everywhere). Without it a fixed map per model
(``model_scale``, ``unit_scores``) keeps scores comparable across jobs: cosine models
(``avg``, sentence-transformers) give (s + 1) / 2, ``tfidf`` (a cosine of non-negative
vectors) its cosine as it is, an ensemble of these its mean z-score placed linearly within
the bounds its members' ranges give it (``revmatch.model.score_bounds``; fixed by the corpus
index); ``bm25`` (unbounded sums), alone or in an ensemble, has no fixed scale and needs
``normalize``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from revmatch.affinity.reductions import cosine_blocks
from revmatch.affinity.settings import ScorerSettings
from revmatch.io import InputError, PathLike
from revmatch.model import (
    SPARSE_MODELS,
    CorpusIndex,
    Model,
    load_indexes,
    load_registry_model,
    parse_spec,
    score_blocks,
    score_bounds,
)

# How ``normalize: false`` maps a model's scores into [0, 1] (``model_scale``).
SCALES = ("cosine", "unit", "bounded", "relative")


def model_scale(spec: str) -> str:
    """How ``normalize: false`` maps the scores of model ``spec`` into [0, 1] (``SCALES``).

    ``cosine``: (s + 1) / 2 (``avg``, sentence-transformers: cosine in [-1, 1]); ``unit``:
    as they are (``tfidf``: cosine of non-negative vectors, in [0, 1]); ``bounded``: an
    ensemble of those, (s - low) / (high - low) within its ``score_bounds``; ``relative``:
    no fixed map (``bm25``: unbounded sums, alone or in an ensemble), only the job's min-max.
    """
    names = parse_spec(spec)
    if "bm25" in names:
        return "relative"
    if len(names) > 1:
        return "bounded"
    return "unit" if names[0] == "tfidf" else "cosine"


def unit_scores(scores: np.ndarray, scale: str, bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Scores mapped into [0, 1] (float64) by a fixed ``scale`` (``model_scale``; ``bounds``:
    the model's ``score_bounds``, for ``bounded``); NaN stays NaN."""
    if scale == "cosine":
        return cosine_to_unit(scores)
    if scale == "unit":
        return np.clip(np.array(scores, dtype=np.float64), 0.0, 1.0)
    if scale == "bounded" and bounds is not None:
        low, high = bounds
        out = np.array(scores, dtype=np.float64)
        out -= low
        out /= high - low
        return np.clip(out, 0.0, 1.0, out=out)
    raise ValueError(f"scale {scale!r} has no fixed map to [0, 1] here; use one of {SCALES[:3]} "
                     "(bounded with the model's bounds) or normalise_scores")


class EmbeddingScorer:
    """Cosine similarities of cached embeddings: the ``avg`` model's fast path (nothing encoded).

    ``corpus_embeddings`` rows follow the corpus; ``submission_embeddings`` rows the
    submissions, then the rejects.
    """

    def __init__(self, corpus_embeddings: np.ndarray, submission_embeddings: np.ndarray,
                 name: str = "avg") -> None:
        self.corpus_embeddings = corpus_embeddings
        self.submission_embeddings = submission_embeddings
        self.name = name
        self.n_papers, self.n_submissions = len(corpus_embeddings), len(submission_embeddings)

    def submission_blocks(self, rows: np.ndarray, columns: np.ndarray,
                          block_rows: int) -> Iterator[tuple[slice, np.ndarray]]:
        return cosine_blocks(self.submission_embeddings, rows, self.corpus_embeddings, columns, block_rows)

    def paper_blocks(self, rows: np.ndarray, columns: np.ndarray,
                     block_rows: int) -> Iterator[tuple[slice, np.ndarray]]:
        return cosine_blocks(self.corpus_embeddings, rows, self.corpus_embeddings, columns, block_rows)

    def to_unit(self, scores: np.ndarray) -> np.ndarray:
        return cosine_to_unit(scores)


class RegistryScorer:
    """Scores of a registry model (``revmatch.model.score_blocks``) against its corpus index(es).

    ``submission_texts`` follow the submissions, then the rejects; ``corpus_texts`` the
    corpus, needed only to score corpus papers against each other (``group_group``).
    """

    def __init__(self, model: Model, index: CorpusIndex | Sequence[CorpusIndex],
                 submission_texts: Sequence[str], corpus_texts: Sequence[str] | None = None) -> None:
        self.model, self.index = model, index
        self.name = model.name
        self.submission_texts, self.corpus_texts = list(submission_texts), corpus_texts
        self.n_papers = len(index) if isinstance(index, CorpusIndex) else len(index[0])
        self.n_submissions = len(self.submission_texts)
        self.scale = model_scale(model.name)
        self.bounds = score_bounds(model, index) if self.scale == "bounded" else None

    def submission_blocks(self, rows: np.ndarray, columns: np.ndarray,
                          block_rows: int) -> Iterator[tuple[slice, np.ndarray]]:
        texts = [self.submission_texts[i] for i in rows]
        return score_blocks(self.model, self.index, texts, columns, block_rows)

    def paper_blocks(self, rows: np.ndarray, columns: np.ndarray,
                     block_rows: int) -> Iterator[tuple[slice, np.ndarray]]:
        if self.corpus_texts is None:
            raise ValueError(f"model {self.name!r}: scoring corpus papers needs the corpus texts")
        texts = [self.corpus_texts[i] for i in rows]
        return score_blocks(self.model, self.index, texts, columns, block_rows)

    def to_unit(self, scores: np.ndarray) -> np.ndarray:
        return unit_scores(scores, self.scale, self.bounds)


Scorer = EmbeddingScorer | RegistryScorer


def normalise_scores(scores: np.ndarray) -> np.ndarray:
    """Min-max scale the finite scores of a job to [0, 1] (float64); NaN stays NaN.

    A job whose scores are all equal scores 0 everywhere (there is nothing to rank).
    """
    out = np.array(scores, dtype=np.float64)
    finite = np.isfinite(out)
    if not finite.any():
        return out
    low, high = np.nanmin(out), np.nanmax(out)
    if high <= low:
        out[finite] = 0.0
        return out
    out -= low
    out /= high - low
    return out


def cosine_to_unit(scores: np.ndarray) -> np.ndarray:
    """Map cosine similarities from [-1, 1] to [0, 1] as (s + 1) / 2, clipped; NaN stays NaN."""
    out = np.array(scores, dtype=np.float64)
    out += 1.0
    out /= 2.0
    return np.clip(out, 0.0, 1.0, out=out)


def _load_embeddings(path: PathLike, rows: int, what: str) -> np.ndarray:
    array = np.load(path, mmap_mode="r")
    if array.ndim != 2 or array.shape[0] != rows:
        raise InputError(path, f"expected {rows} rows of {what} embeddings, got shape {array.shape}")
    return array


def load_embedding_scorer(
    corpus_embeddings_npy: PathLike,
    submission_embeddings_npys: Sequence[PathLike],
    n_papers: int,
    n_submissions: Sequence[int],
) -> EmbeddingScorer:
    """The ``avg`` fast path: corpus embeddings, and the submission embeddings of each file
    (submissions, then rejects) stacked. Rows and dimensions are checked against the counts."""
    corpus_embeddings = _load_embeddings(corpus_embeddings_npy, n_papers, "corpus")
    parts = []
    for path, rows in zip(submission_embeddings_npys, n_submissions, strict=True):
        part = _load_embeddings(path, rows, "submission")
        if part.shape[1] != corpus_embeddings.shape[1]:
            raise InputError(path, f"dimension {part.shape[1]} differs from the corpus's {corpus_embeddings.shape[1]}")
        parts.append(part)
    submission_embeddings = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return EmbeddingScorer(corpus_embeddings, submission_embeddings)


def registry_model(
    spec: str, avg_model: PathLike | None = None, settings: ScorerSettings | None = None
) -> Model:
    """The registry model of ``spec`` with the encoders, ``bm25`` and device of ``settings``;
    device ``auto`` picks CUDA when present (for ``avg`` and sentence-transformers members)."""
    settings = settings or ScorerSettings()
    device = settings.device
    if device == "auto" and set(parse_spec(spec)) - set(SPARSE_MODELS):
        from revmatch.model import resolve_device

        device = str(resolve_device(device))
    return load_registry_model(
        spec, avg_model=avg_model, sentence_transformers=settings.sentence_transformers, bm25=settings.bm25,
        device=device, encoder=settings.encoder,
    )


def load_registry_scorer(
    spec: str,
    index_npzs: Sequence[PathLike],
    n_papers: int,
    submission_texts: Sequence[str],
    corpus_texts: Sequence[str] | None = None,
    avg_model: PathLike | None = None,
    settings: ScorerSettings | None = None,
) -> RegistryScorer:
    """A registry model (``load_registry_model``, with the encoders, ``bm25`` and device of
    ``settings``) with its corpus indexes (one file per member, member order), checked to
    cover the ``n_papers`` corpus papers. Device ``auto`` picks CUDA when present (for
    ``avg`` and sentence-transformers members)."""
    model = registry_model(spec, avg_model, settings)
    index = load_indexes(model, index_npzs)
    indexed = len(index) if isinstance(index, CorpusIndex) else len(index[0])
    if indexed != n_papers:
        raise InputError(index_npzs[0], f"corpus index of {indexed} papers, the corpus has {n_papers}")
    return RegistryScorer(model, index, submission_texts, corpus_texts)
