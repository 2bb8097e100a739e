"""The model registry: one interface for every text similarity model, and their ensembles.

Models, by name:

- ``avg``: the trained averaging paraphrastic model (``revmatch.model``), cosine similarity;
- ``tfidf``: TF-IDF (sublinear term frequency, smoothed IDF fitted on the corpus), cosine;
- ``bm25``: Okapi BM25 of the query's terms against each corpus paper (``k1``, ``b``);
- ``minilm`` and the other packaged encoders of ``revmatch.encoders.PACKAGED_ENCODERS``, and
  any name configured as a sentence-transformers model folder (loaded offline), cosine;
- ``a+b+...``: an ensemble, the mean of its members' normalised scores.

A model turns the corpus into a ``CorpusIndex`` once (vectors plus what queries need: the
vocabulary and IDF of the sparse models) which can be saved and reused by every later
conference, and scores query texts against (a subset of) it block by block:
``score_blocks`` yields ``(row slice, float32 block)`` so a paper x corpus matrix never has
to exist whole.

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
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.model.encoders import PACKAGED_ENCODERS, encoder_folder
from revmatch.io import InputError, PathLike, atomic_path

logger = logging.getLogger(__name__)

BUILTIN_MODELS = ("avg", "tfidf", "bm25", *PACKAGED_ENCODERS)
# The default matching model (``model.matching_model``, affinity jobs, ``paper_similarity``):
# the best on the held-out evaluation (README, "The expertise models").
DEFAULT_MATCHING_MODEL = "tuned+avg"
INDEX_FORMAT = "revmatch-corpus-index-1"
_WORD = re.compile(r"(?u)\b\w\w+\b")
CALIBRATION_QUERIES = 256
CALIBRATION_COLUMNS = 4096


def parse_spec(spec: str) -> list[str]:
    """Member names of a model spec: ``"avg"`` -> ``["avg"]``, ``"avg+bm25"`` -> ``["avg", "bm25"]``."""
    names = [name.strip() for name in spec.split("+")]
    if not spec.strip() or any(not name for name in names):
        raise ValueError(f"malformed model spec {spec!r}: names joined by '+' expected")
    if len(set(names)) != len(names):
        raise ValueError(f"model spec {spec!r} names a model twice")
    return names


# ---------------------------------------------------------------- corpus index


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


def _columns(vectors, columns: np.ndarray | None):
    return vectors if columns is None else vectors[columns]


def _calibrate(model: Model, index: CorpusIndex, texts: Sequence[str] | None, seed: int = 0) -> Calibration:
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


# ---------------------------------------------------------------- dense models


class DenseModel:
    """An embedding model: unit vectors, cosine similarity. ``embed`` maps texts to (n, dim)."""

    def __init__(self, name: str, embed) -> None:
        self.name = name
        self.embed = embed

    def index(self, texts: Sequence[str]) -> CorpusIndex:
        return self.index_from_embeddings(self.embed(list(texts)))

    def index_from_embeddings(self, embeddings: np.ndarray) -> CorpusIndex:
        """A corpus index from embeddings already computed (e.g. ``corpus_embeddings.npy``)."""
        vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32))
        index = CorpusIndex(self.name, vectors, Calibration(0.0, 1.0))
        index.calibration = _calibrate(self, index, None)
        return index

    def queries(self, index: CorpusIndex, texts: Sequence[str]) -> np.ndarray:
        return _unit_rows(self.embed(list(texts)))

    def score(self, index: CorpusIndex, queries: np.ndarray, rows: slice,
              columns: np.ndarray | None) -> np.ndarray:
        return np.ascontiguousarray(queries[rows] @ _columns(index.vectors, columns).T, dtype=np.float32)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def averaging_model(model_path: PathLike, device: str = "cpu", processes: int = 1,
                    batch_size: int = 512) -> DenseModel:
    """The trained averaging model of ``model_path`` as a registry model named ``avg``."""
    from revmatch.model.averaging import embed_texts, load_model

    model = load_model(model_path, device=device)
    return DenseModel("avg", lambda texts: embed_texts(model, texts, batch_size=batch_size,
                                                       processes=processes))


def encoder_model(name: str, folder: PathLike, device: str = "cpu", batch_size: int = 32,
                  max_seq_length: int | None = None, embedding_cache: PathLike | None = None,
                  runtime: str | None = None) -> DenseModel:
    """A pretrained transformer encoder (``revmatch.encoders``) as a cosine registry model.

    With ``embedding_cache`` every text's embedding is computed once per encoder and reused;
    ``runtime`` is the CPU runtime (torch, onnx, onnx-int8; default ``DEFAULT_CPU_RUNTIME``)."""
    from revmatch.model.encoders import DEFAULT_CPU_RUNTIME, TransformerEncoder
    from revmatch.model.averaging import resolve_device

    return DenseModel(name, TransformerEncoder(name, folder, device=str(resolve_device(device)),
                                               batch_size=batch_size, max_seq_length=max_seq_length,
                                               cache_dir=embedding_cache,
                                               runtime=runtime or DEFAULT_CPU_RUNTIME))


# ---------------------------------------------------------------- sparse models


def analyse(text: str) -> list[str]:
    """Lower-cased words of two or more word characters (the TF-IDF/BM25 terms)."""
    return _WORD.findall(text.lower())


def term_counts(texts: Sequence[str], vocabulary: Mapping[str, int] | None = None
                ) -> tuple[sp.csr_matrix, list[str]]:
    """(n, V) term-count matrix of ``texts`` and its vocabulary (sorted terms).

    Without ``vocabulary`` it is built from the texts; with one, unknown terms are ignored.
    """
    docs = [Counter(analyse(text)) for text in texts]
    if vocabulary is None:
        terms = sorted(set().union(*docs)) if docs else []
        vocabulary = {term: column for column, term in enumerate(terms)}
    else:
        terms = list(vocabulary)
    lengths = np.fromiter((sum(1 for t in doc if t in vocabulary) for doc in docs), dtype=np.int64,
                          count=len(docs))
    columns = np.fromiter((vocabulary[t] for doc in docs for t in doc if t in vocabulary),
                          dtype=np.int64, count=int(lengths.sum()))
    counts = np.fromiter((n for doc in docs for t, n in doc.items() if t in vocabulary),
                         dtype=np.float32, count=int(lengths.sum()))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    matrix = sp.csr_matrix((counts, columns, indptr), shape=(len(docs), len(vocabulary)))
    matrix.sort_indices()
    return matrix, terms


def _sparse_score(queries: sp.csr_matrix, vectors: sp.csr_matrix, rows: slice,
                  columns: np.ndarray | None) -> np.ndarray:
    return np.asarray((queries[rows] @ _columns(vectors, columns).T).toarray(), dtype=np.float32)


class TfidfModel:
    """TF-IDF cosine: weights ``(1 + log tf) * idf`` with ``idf = log((1 + n) / (1 + df)) + 1``."""

    name = "tfidf"

    def index(self, texts: Sequence[str]) -> CorpusIndex:
        counts, terms = term_counts(texts)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)
        index = CorpusIndex(self.name, self._weigh(counts, idf), Calibration(0.0, 1.0),
                            np.array(terms, dtype=str), idf)
        index.calibration = _calibrate(self, index, texts)
        return index

    @staticmethod
    def _weigh(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        weighted = counts.copy()
        weighted.data = (1 + np.log(weighted.data)) * idf[weighted.indices]
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(inverse) @ weighted, dtype=np.float32)

    def queries(self, index: CorpusIndex, texts: Sequence[str]) -> sp.csr_matrix:
        vocabulary = {term: column for column, term in enumerate(index.vocabulary.tolist())}
        counts, _ = term_counts(texts, vocabulary)
        return self._weigh(counts, index.weights)

    def score(self, index: CorpusIndex, queries: sp.csr_matrix, rows: slice,
              columns: np.ndarray | None) -> np.ndarray:
        return _sparse_score(queries, index.vectors, rows, columns)


class BM25Model:
    """Okapi BM25: the sum over query terms (with their counts) of
    ``idf * tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen))``.

    ``idf = log(1 + (n - df + 0.5) / (df + 0.5))`` (never negative). The corpus side is
    precomputed as a sparse matrix of term weights, so scoring is one sparse product.
    """

    name = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b

    def index(self, texts: Sequence[str]) -> CorpusIndex:
        counts, terms = term_counts(texts)
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        doc_length = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * doc_length / max(doc_length.mean(), 1e-12))
        weights = counts.copy()
        tf = weights.data
        weights.data = (idf[weights.indices] * tf * (self.k1 + 1)
                        / (tf + np.repeat(norm, np.diff(weights.indptr)))).astype(np.float32)
        index = CorpusIndex(self.name, weights, Calibration(0.0, 1.0), np.array(terms, dtype=str), idf)
        index.calibration = _calibrate(self, index, texts)
        return index

    def queries(self, index: CorpusIndex, texts: Sequence[str]) -> sp.csr_matrix:
        vocabulary = {term: column for column, term in enumerate(index.vocabulary.tolist())}
        return term_counts(texts, vocabulary)[0]

    def score(self, index: CorpusIndex, queries: sp.csr_matrix, rows: slice,
              columns: np.ndarray | None) -> np.ndarray:
        return _sparse_score(queries, index.vectors, rows, columns)


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
    clash = sorted(set(sentence_transformers) & {"avg", "tfidf", "bm25"})
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
