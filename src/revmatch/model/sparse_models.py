"""Sparse registry models: TF-IDF cosine and Okapi BM25 over the corpus's word counts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from revmatch.model.corpus_index import Calibration, CorpusIndex, calibrate, select_columns

_WORD = re.compile(r"(?u)\b\w\w+\b")


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
    return np.asarray((queries[rows] @ select_columns(vectors, columns).T).toarray(), dtype=np.float32)


class TfidfModel:
    """TF-IDF cosine: weights ``(1 + log tf) * idf`` with ``idf = log((1 + n) / (1 + df)) + 1``."""

    name = "tfidf"

    def index(self, texts: Sequence[str]) -> CorpusIndex:
        counts, terms = term_counts(texts)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)
        index = CorpusIndex(self.name, self._weigh(counts, idf), Calibration(0.0, 1.0),
                            np.array(terms, dtype=str), idf)
        index.calibration = calibrate(self, index, texts)
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
        index.calibration = calibrate(self, index, texts)
        return index

    def queries(self, index: CorpusIndex, texts: Sequence[str]) -> sp.csr_matrix:
        vocabulary = {term: column for column, term in enumerate(index.vocabulary.tolist())}
        return term_counts(texts, vocabulary)[0]

    def score(self, index: CorpusIndex, queries: sp.csr_matrix, rows: slice,
              columns: np.ndarray | None) -> np.ndarray:
        return _sparse_score(queries, index.vectors, rows, columns)
