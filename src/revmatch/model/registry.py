"""The model registry: one interface for every text similarity model, and their ensembles.

Models, by name (``revmatch.model.specs``):

- ``avg``: the trained averaging paraphrastic model (``revmatch.model.averaging``), cosine similarity;
- ``tfidf``: TF-IDF (sublinear term frequency, smoothed IDF fitted on the corpus), cosine;
- ``bm25``: Okapi BM25 of the query's terms against each corpus paper (``k1``, ``b``);
- ``minilm`` and the other packaged encoders of ``revmatch.model.encoders.PACKAGED_ENCODERS``,
  and any name configured as a sentence-transformers model folder (loaded offline), cosine;
- ``a+b+...``: an ensemble, the mean of its members' normalised scores (``Calibration``).

A model indexes the corpus once (``revmatch.model.corpus_index``) and scores query texts
against (a subset of) it block by block: ``score_blocks`` yields ``(row slice, float32
block)`` so a paper x corpus matrix never has to exist whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import InputError, PathLike
from revmatch.model.corpus_index import CorpusIndex, Model, load_index, save_index
from revmatch.model.dense_models import DenseModel, averaging_model, encoder_model
from revmatch.model.encoders import PACKAGED_ENCODERS, encoder_folder
from revmatch.model.sparse_models import BM25Model, TfidfModel
from revmatch.model.specs import BUILTIN_MODELS, NON_ENCODER_MODELS, parse_spec

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- ensembles


class Ensemble:
    """Mean of the members' scores, each z-scored with its index's ``Calibration``."""

    def __init__(self, members: Sequence[Model]) -> None:
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two models")
        self.members = list(members)
        self.name = "+".join(member.name for member in members)

    def index(self, texts: Sequence[str]) -> list[CorpusIndex]:
        return [member.index(texts) for member in self.members]

    def queries(self, index: Sequence[CorpusIndex], texts: Sequence[str]) -> list:
        return [member.queries(part, texts) for member, part in zip(self.members, index, strict=True)]

    def score(self, index: Sequence[CorpusIndex], queries: Sequence, rows: slice,
              columns: np.ndarray | None) -> np.ndarray:
        total = None
        for member, part, member_queries in zip(self.members, index, queries, strict=True):
            normalised = part.calibration.normalise(member.score(part, member_queries, rows, columns))
            total = normalised if total is None else total + normalised
        return total / np.float32(len(self.members))


def unrelated_score(model: Model, index: CorpusIndex | Sequence[CorpusIndex]) -> np.float32:
    """Score of a pair with nothing in common (every member scores 0): 0 for a single model.

    For an ensemble it is the mean of the members' calibrated zeros, computed as
    ``Ensemble.score`` computes (same float32 operations, same order), so that subtracting
    it maps such a pair to exactly 0.
    """
    if not isinstance(model, Ensemble):
        return np.float32(0.0)
    zero = np.zeros((1, 1), dtype=np.float32)
    total = None
    for part in index:
        normalised = part.calibration.normalise(zero)
        total = normalised if total is None else total + normalised
    return np.float32((total / np.float32(len(index)))[0, 0])


def score_bounds(model: Model, index: CorpusIndex | Sequence[CorpusIndex]) -> tuple[float, float] | None:
    """The range a model's scores can take, or None when unbounded (``bm25``): [-1, 1] for
    cosine models (``avg``, the encoders), [0, 1] for ``tfidf``; for an ensemble the mean of
    its members' bounds, each z-scored with its calibration as ``Ensemble.score`` does (a
    fixed linear image of the members' ranges, set by the corpus index)."""
    if isinstance(model, Ensemble):
        bounds = [score_bounds(member, part) for member, part in zip(model.members, index, strict=True)]
        if any(b is None for b in bounds):
            return None
        ends = [part.calibration.normalise(np.asarray([b], dtype=np.float32))[0]
                for b, part in zip(bounds, index, strict=True)]
        low, high = np.mean(ends, axis=0, dtype=np.float64)
        return float(low), float(high)
    if isinstance(model, BM25Model):
        return None
    return (0.0, 1.0) if isinstance(model, TfidfModel) else (-1.0, 1.0)


# ---------------------------------------------------------------- the registry


def load_registry_model(
    spec: str,
    avg_model: PathLike | None = None,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    bm25: Mapping[str, float] | None = None,
    device: str = "cpu",
    processes: int = 1,
    encoder: Mapping | None = None,
) -> Model:
    """The model of ``spec`` (a name or ``a+b+...``).

    ``avg_model`` is the trained averaging model file (needed for ``avg``);
    ``sentence_transformers`` maps further encoder names to local model folders (a name of
    ``PACKAGED_ENCODERS`` may be pointed at another folder); ``bm25`` holds ``k1`` and ``b``;
    ``encoder`` the encoders' settings (``encoder_model``'s ``batch_size``, ``max_seq_length``,
    ``runtime`` and ``embedding_cache``, the folder of cached embeddings).
    """
    sentence_transformers = dict(sentence_transformers or {})
    clash = sorted(set(sentence_transformers) & set(NON_ENCODER_MODELS))
    if clash:
        raise ValueError(f"sentence-transformers model names {clash} clash with built-in models")
    members: list[Model] = []
    for name in parse_spec(spec):
        if name == "avg":
            if avg_model is None:
                raise ValueError("model 'avg' needs the trained model file (avg_model)")
            members.append(averaging_model(avg_model, device=device, processes=processes))
        elif name == "tfidf":
            members.append(TfidfModel())
        elif name == "bm25":
            members.append(BM25Model(**dict(bm25 or {})))
        elif name in sentence_transformers or name in PACKAGED_ENCODERS:
            members.append(encoder_model(name, encoder_folder(name, sentence_transformers), device=device,
                                         **dict(encoder or {})))
        else:
            known = [*BUILTIN_MODELS, *sorted(set(sentence_transformers) - set(BUILTIN_MODELS))]
            raise ValueError(f"unknown model {name!r} in {spec!r}; known: {known}")
    return members[0] if len(members) == 1 else Ensemble(members)


def score_blocks(
    model: Model,
    index: CorpusIndex | Sequence[CorpusIndex],
    query_texts: Sequence[str],
    columns: np.ndarray | None = None,
    block_rows: int = 2048,
    shift: bool = False,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Scores of query texts against the corpus papers ``columns`` (all when None), block by block.

    Queries are encoded once; then each block of ``block_rows`` queries yields
    ``(rows, scores)`` with ``scores`` float32 of shape (rows, len(columns)). Single models
    give their raw scores (cosine for ``avg`` and the encoders, TF-IDF cosine, BM25 sums);
    ensembles the mean of calibrated z-scores, identical for any ``block_rows``, and with
    ``shift`` minus ``unrelated_score``, so that 0 means "nothing in common" as for the
    single models (the scores of the paper matrix).
    """
    if block_rows < 1:
        raise ValueError(f"block_rows must be positive, got {block_rows}")
    queries = model.queries(index, query_texts)
    offset = unrelated_score(model, index) if shift else np.float32(0.0)
    for start in range(0, len(query_texts), block_rows):
        rows = slice(start, min(start + block_rows, len(query_texts)))
        scores = model.score(index, queries, rows, columns)
        yield rows, scores - offset if offset != 0 else scores


def paper_scores(
    model: Model,
    index: CorpusIndex | Sequence[CorpusIndex],
    query_texts: Sequence[str],
    columns: np.ndarray | None = None,
    block_rows: int = 2048,
    shift: bool = False,
) -> np.ndarray:
    """The whole (queries, columns) float32 score matrix, filled from ``score_blocks``."""
    n_corpus = len(index) if isinstance(index, CorpusIndex) else len(index[0])
    n_columns = n_corpus if columns is None else len(columns)
    out = np.empty((len(query_texts), n_columns), dtype=np.float32)
    for rows, block in score_blocks(model, index, query_texts, columns, block_rows, shift=shift):
        out[rows] = block
    return out


# ---------------------------------------------------------------- files


def load_indexes(model: Model, paths: Sequence[PathLike]) -> CorpusIndex | list[CorpusIndex]:
    """The corpus index(es) of ``model`` from one file per member, in member order."""
    names = [member.name for member in model.members] if isinstance(model, Ensemble) else [model.name]
    if len(paths) != len(names):
        raise ValueError(f"model {model.name!r} needs {len(names)} index file(s), got {len(paths)}")
    indexes = [load_index(path, name) for path, name in zip(paths, names, strict=True)]
    sizes = {len(index) for index in indexes}
    if len(sizes) > 1:
        raise ValueError(f"index files {list(map(str, paths))} cover different numbers of papers: "
                         f"{sorted(sizes)}")
    return indexes if isinstance(model, Ensemble) else indexes[0]


def index_corpus_file(
    name: str,
    papers_parquet: PathLike,
    out_npz: PathLike,
    fields: Sequence[str] = ("title", "abstract"),
    corpus_embeddings: PathLike | None = None,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    bm25: Mapping[str, float] | None = None,
    device: str = "cpu",
    encoder: Mapping | None = None,
) -> CorpusIndex:
    """Build the corpus index of one model (not an ensemble) and save it to ``out_npz``.

    ``avg`` is indexed from ``corpus_embeddings`` (the ``.npy`` of the embedding step, so
    the corpus is not encoded twice); the other models from the papers' texts.
    """
    from revmatch.model.text import read_paper_texts

    if len(parse_spec(name)) != 1:
        raise ValueError(f"index one model at a time, got {name!r}")
    if name == "avg":
        if corpus_embeddings is None:
            raise ValueError("the avg index is built from corpus_embeddings")
        embeddings = np.load(corpus_embeddings)
        n_papers = len(pd.read_parquet(papers_parquet, columns=["paper_id"]))
        if embeddings.shape[0] != n_papers:
            raise InputError(corpus_embeddings, f"{embeddings.shape[0]} embeddings for {n_papers} papers "
                                                f"in {papers_parquet}")
        index = DenseModel("avg", embed=None).index_from_embeddings(embeddings)
    else:
        model = load_registry_model(name, sentence_transformers=sentence_transformers, bm25=bm25,
                                    device=device, encoder=encoder)
        index = model.index(read_paper_texts(papers_parquet, fields))
    save_index(index, out_npz)
    logger.info("corpus index of %s: %d papers, %s vectors %s", name, len(index),
                "sparse" if sp.issparse(index.vectors) else "dense", index.vectors.shape)
    return index
