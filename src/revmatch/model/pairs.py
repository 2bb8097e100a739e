"""Training pairs of the averaging model: which two texts a positive pair is made of.

The reference (Wieting et al.) pairs two random halves of one abstract (``"halves"``).
Two other kinds use what a corpus record holds besides its text:

- ``"coauthors"``: a paper with another paper by one of its authors (drawn anew every
  epoch) forms a pair, which teaches the model what one person's papers have in common:
  the signal a reviewer's expertise is read from;
- ``"titles"``: a paper's title with the rest of its text (the abstract), the pair that
  sentence-embedding training sets draw from S2ORC.

A spec joins kinds with ``+`` (``"coauthors+titles"``): every epoch, each paper draws one
of the listed kinds it has (a paper without a co-authored paper or a title cannot form
such a pair), uniformly; a paper with none of them is cut into halves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)

PAIR_KINDS = ("halves", "coauthors", "titles")


def pair_kinds(spec: str) -> tuple[str, ...]:
    """The kinds of a spec such as ``"coauthors+titles"`` (distinct, in order), unchecked."""
    return tuple(dict.fromkeys(part.strip() for part in spec.split("+")))


def parse_pair_kinds(spec: str) -> tuple[str, ...]:
    """The kinds of a spec such as ``"coauthors+titles"`` (distinct, in order); unknown ones raise."""
    kinds = pair_kinds(spec)
    unknown = [kind for kind in kinds if kind not in PAIR_KINDS]
    if not kinds or unknown:
        raise ValueError(f"unknown training pair kind(s) {unknown or [spec]} in {spec!r}; "
                         f"known: {PAIR_KINDS}")
    return kinds


def paper_author_ids(authors: Sequence[Mapping] | None) -> list[str]:
    """The author ids of one corpus paper's ``authors`` list (authors without an id skipped)."""
    return [str(author.get("id")) for author in (authors if authors is not None else []) if author.get("id")]


def coauthor_relevance(author_ids: Sequence[Sequence[str]], query_rows: np.ndarray) -> sp.csr_matrix:
    """(queries, papers) bool: the paper shares an author id with the query paper (itself excluded)."""
    codes, uniques = pd.factorize(pd.Series([a for ids in author_ids for a in ids], dtype=object))
    owners = np.repeat(np.arange(len(author_ids)), [len(ids) for ids in author_ids])
    papers_authors = sp.csr_matrix((np.ones(len(codes), dtype=np.float32), (owners, codes)),
                                   shape=(len(author_ids), len(uniques)))
    shared = (papers_authors[query_rows] @ papers_authors.T).tocoo()
    other = shared.col != query_rows[shared.row]
    return sp.csr_matrix((np.ones(int(other.sum()), dtype=bool), (shared.row[other], shared.col[other])),
                         shape=shared.shape)


def split_halves(token_ids: Sequence[np.ndarray], seg_length: int,
                 rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split every sequence into two random halves of its segments (the reference's pairs).

    A sequence is cut into consecutive segments of ``seg_length`` tokens (the last may be
    shorter); the segments are shuffled and the first ``n_segments // 2`` form the first
    side, the others the second. Each side keeps its tokens in their original order. Every
    sequence needs at least two segments.
    """
    first_sides, second_sides = [], []
    for index, ids in enumerate(token_ids):
        n_segments = -(-len(ids) // seg_length)
        if n_segments < 2:
            raise ValueError(f"sequence {index} has {len(ids)} tokens, fewer than two segments")
        in_first = np.zeros(n_segments, dtype=bool)
        in_first[rng.permutation(n_segments)[: n_segments // 2]] = True
        mask = np.repeat(in_first, seg_length)[: len(ids)]
        first_sides.append(ids[mask])
        second_sides.append(ids[~mask])
    return first_sides, second_sides


def title_rests(token_ids: Sequence[np.ndarray], titles: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """The text each title is paired with; ``None`` where a sequence has no title pair.

    When a sequence starts with its title's tokens (the corpus text is ``"title. abstract"``)
    the title is paired with the rest; otherwise (a text without its title) with the whole
    sequence. A sequence without title tokens, or with nothing beyond its title, has no pair.
    """
    rests: list[np.ndarray | None] = []
    for ids, title in zip(token_ids, titles, strict=True):
        prefix = len(title) <= len(ids) and np.array_equal(ids[:len(title)], title)
        rest = ids[len(title):] if prefix else ids
        rests.append(rest if len(title) and len(rest) else None)
    return rests


@dataclasses.dataclass(frozen=True)
class PairSources:
    """What pairs other than halves are made of, aligned with the training sequences.

    ``partners`` (sequences x sequences, bool): the sequences that share an author;
    ``titles``: each sequence's title tokens and ``rests`` what each is paired with
    (``title_rests``).
    """

    partners: sp.csr_matrix | None = None
    titles: Sequence[np.ndarray] | None = None
    rests: Sequence[np.ndarray | None] | None = None

    @classmethod
    def build(cls, token_ids: Sequence[np.ndarray], author_ids: Sequence[Sequence[str]] | None = None,
              titles: Sequence[np.ndarray] | None = None) -> PairSources:
        """Sources from each sequence's author ids and title tokens (either may be missing)."""
        partners = (coauthor_relevance(author_ids, np.arange(len(author_ids)))
                    if author_ids is not None else None)
        rests = title_rests(token_ids, titles) if titles is not None else None
        return cls(partners, titles, rests)

    def available(self, kinds: Sequence[str], n: int) -> np.ndarray:
        """(n, kinds) bool: which kinds of pair each of the ``n`` sequences can form."""
        columns = []
        for kind in kinds:
            if kind == "halves":
                columns.append(np.ones(n, dtype=bool))
            elif kind == "coauthors":
                if self.partners is None:
                    raise ValueError("coauthors pairs need the author ids of the training texts")
                columns.append(np.diff(self.partners.indptr) > 0)
            elif kind == "titles":
                if self.rests is None:
                    raise ValueError("titles pairs need the titles of the training texts")
                columns.append(np.array([rest is not None for rest in self.rests], dtype=bool))
            else:
                raise ValueError(f"unknown training pair kind {kind!r}; known: {PAIR_KINDS}")
        return np.column_stack(columns) if columns else np.zeros((n, 0), dtype=bool)


def choose_kinds(available: np.ndarray, kinds: Sequence[str], rng: np.random.Generator,
                 fallback: str | None = None) -> np.ndarray:
    """(n,) object: for each row of ``available`` (n, kinds) one of its available kinds,
    drawn uniformly; ``fallback`` (or None) where none is available."""
    n = available.shape[0]
    n_available = available.sum(axis=1)
    nth = np.minimum((rng.random(n) * n_available).astype(np.int64), np.maximum(n_available - 1, 0))
    chosen = np.where(n_available > 0, (np.cumsum(available, axis=1) <= nth[:, None]).sum(axis=1), -1)
    return np.array([*kinds, fallback], dtype=object)[chosen]


def draw_partners(partners: sp.csr_matrix, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each of ``rows`` (each with at least one partner) one partner column, drawn uniformly."""
    degree = np.diff(partners.indptr)[rows]
    return partners.indices[partners.indptr[rows] + (rng.random(len(rows)) * degree).astype(np.int64)]


def make_pairs(token_ids: Sequence[np.ndarray], seg_length: int, rng: np.random.Generator,
               kinds: Sequence[str] = ("halves",),
               sources: PairSources | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One positive pair per sequence, of one of the ``kinds`` it can form (module docstring).

    With the reference's ``("halves",)`` this is ``split_halves`` (same random stream).
    Otherwise every sequence draws one of its available kinds uniformly; a co-authored
    pair is the sequence and one of its ``sources.partners`` drawn uniformly.
    """
    if tuple(kinds) == ("halves",):
        return split_halves(token_ids, seg_length, rng)
    n = len(token_ids)
    chosen_kind = choose_kinds((sources or PairSources()).available(kinds, n), kinds, rng, fallback="halves")

    first, second = list(token_ids), list(token_ids)
    halves = np.flatnonzero(chosen_kind == "halves")
    for i, a, b in zip(halves, *split_halves([token_ids[i] for i in halves], seg_length, rng), strict=True):
        first[i], second[i] = a, b
    coauthored = np.flatnonzero(chosen_kind == "coauthors")
    if len(coauthored):
        for i, j in zip(coauthored, draw_partners(sources.partners, coauthored, rng), strict=True):
            second[i] = token_ids[j]
    for i in np.flatnonzero(chosen_kind == "titles"):
        first[i], second[i] = sources.titles[i], sources.rests[i]
    return first, second


def pair_kind_counts(kinds: Sequence[str], sources: PairSources, n: int) -> dict[str, int]:
    """How many of ``n`` sequences can form each kind of pair."""
    return dict(zip(kinds, map(int, sources.available(kinds, n).sum(axis=0)), strict=True))
