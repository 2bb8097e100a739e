"""Affinity jobs in the shape of OpenReview's Expertise API.

A job scores entity A (a group of committee members) against entity B (submissions, or
the members of a second group) with an expertise model: a member's expertise is the set
of their corpus papers, a member-submission score reduces the scores of the member's
papers against the submission (``max`` by default), and a member-member score reduces
over pairs of their papers. Modes:

- ``group_submissions``: a group (role, optional track, or explicit members) vs all
  submissions of the chosen ``submission_status`` (or the ``submissions`` listed);
- ``paper_subset``: a group vs the listed ``submissions``;
- ``user_subset``: the listed ``members`` vs all submissions (or the listed ones);
- ``group_group``: ``group`` vs ``alternate_group`` (OpenReview's ``alternate_match_group``).

Models: a job's ``model`` is any spec of ``revmatch.registry`` (``avg``, ``tfidf``,
``bm25``, a sentence-transformers name, or an ensemble ``a+b``: the mean of the members'
calibrated z-scores). ``avg`` alone scores with its cached embeddings
(``EmbeddingScorer``: cosine, nothing encoded); every other spec with
``registry.score_blocks`` on its corpus index(es) (``RegistryScorer``: submission texts
and, for ``group_group``, the members' corpus papers as queries).

Publications: a member's corpus papers (by Semantic Scholar author id); an expertise
selection table can ``include`` (only these papers) or ``exclude`` papers per member; then
``since_year`` and ``max_papers`` (most recent) apply.

Scores lie in [0, 1] and carry ``SCORE_DECIMALS`` decimals. With ``normalize`` (the
default) they are min-max scaled over the job, whatever the model (a constant job scores 0
everywhere). Without it a fixed map per model (``model_scale``, ``unit_scores``) keeps
scores comparable across jobs: cosine models (``avg``, sentence-transformers) give
(s + 1) / 2, ``tfidf`` (a cosine of non-negative vectors) its cosine as it is; ``bm25``
(unbounded sums) and ensembles (mean z-scores) have no fixed scale and need
``normalize``. The fixed maps need a reduction that stays within the model's range (not
the weighted sums ``weighted_top3``, ...). Members without corpus papers get no score: they
are left out of ``results`` and listed under ``metadata.no_publications``, as the
Expertise API does. Members and submissions that a job names but the conference does not
have are listed under ``no_profile`` and ``no_profile_submission`` (or, with
``on_unknown_member: error``, stop the job).

Status: the file-level job writes ``status.json`` (``STATES``): ``Initialized`` when it
starts, ``Running Expertise`` while scoring, then ``Completed``, ``Data Error`` (bad
input: the reason is the ``description``; no results are written) or ``Error`` (anything
else). ``Queued`` is what ``job_status`` reports for a configured job that has not
started yet.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp

from revmatch.model import AGGREGATORS, MAX_BLOCK_VALUES, aggregate_scores
from revmatch.io import InputError, PathLike, atomic_path, read_json, read_jsonl, write_json
from revmatch.log import progress
from revmatch.model import (
    CorpusIndex,
    Model,
    load_indexes,
    load_registry_model,
    parse_spec,
    score_blocks,
)
from revmatch.matching import (
    authorship_matrix,
    corpus_author_ids,
    normalize_rows,
    reviewer_paper_ids,
)
from revmatch.model import TEXT_FIELDS, read_paper_texts, submission_texts

logger = logging.getLogger(__name__)

JOB_MODES = ("group_submissions", "group_group", "paper_subset", "user_subset")
ROLES = ("reviewer", "area_chair", "senior_area_chair", "all")
SCHEMAS = ("legacy", "current")
SUBMISSION_STATUSES = ("active", "withdrawn", "desk_rejected")
# The reason ``softconf`` gives a set-aside submission -> its status here.
_REJECT_REASONS = {"withdrawn": "withdrawn", "desk reject": "desk_rejected"}
STATES = ("Initialized", "Queued", "Running Expertise", "Completed", "Data Error", "Error")
SCORE_DECIMALS = 7
DEFAULT_MODEL = "avg"
# Reductions whose value can leave [-1, 1]: (s + 1) / 2 would not map them into [0, 1].
_UNBOUNDED_REDUCERS = ("weighted_top3", "weighted_topk", "reference_weighted_top3")
# Reductions for which the member-member score is one over all pairs of papers (symmetric).
_PAIRWISE_REDUCERS = ("max", "mean")
# How ``normalize: false`` maps a model's scores into [0, 1] (``model_scale``).
SCALES = ("cosine", "unit", "relative")
_JOB_KEYS = {
    "mode", "model", "group", "alternate_group", "submissions", "submissions_file", "members",
    "members_file", "submission_status", "expertise_selection", "on_unknown_member",
    "reduce", "normalize", "max_papers", "since_year", "schema",
}
_GROUP_KEYS = {"role", "track", "members", "members_file"}


# ---------------------------------------------------------------- members and publications


def _member_id(member: dict) -> str:
    return str(member.get("id") or member.get("startUsername") or "")


def group_members(reviewers: Sequence[dict], group: dict) -> tuple[np.ndarray, list[str]]:
    """Indices (into ``reviewers``) of a group's members, and the listed ids not found.

    ``group`` is either ``{"members": [ids]}`` (matched against reviewer ``id``, then
    e-mail, case-insensitively for e-mail; order kept, repeats dropped) or
    ``{"role": ..., "track": optional}`` with role ``reviewer`` (neither AC nor SAC; track
    in ``tracks``), ``area_chair`` (track in ``ac_tracks``), ``senior_area_chair`` (track
    in ``sac_tracks``) or ``all`` (track in any of them).
    """
    if not isinstance(group, dict):
        raise ValueError(f"a group is a mapping with 'role' or 'members', got {group!r}")
    if "members" in group:
        if "role" in group or "track" in group:
            raise ValueError("a group gives either 'members' or 'role'/'track', not both")
        return _explicit_members(reviewers, group["members"])
    role = group.get("role")
    if role not in ROLES:
        raise ValueError(f"group role must be one of {ROLES}, got {role!r}")
    track = group.get("track")
    is_ac = np.array([bool(r.get("areaChair")) for r in reviewers], dtype=bool)
    is_sac = np.array([bool(r.get("seniorAreaChair")) for r in reviewers], dtype=bool)
    keys = {"reviewer": ("tracks",), "area_chair": ("ac_tracks",), "senior_area_chair": ("sac_tracks",)}
    keys["all"] = ("tracks", "ac_tracks", "sac_tracks")
    in_role = {"reviewer": ~is_ac & ~is_sac, "area_chair": is_ac, "senior_area_chair": is_sac}
    selected = in_role.get(role, np.ones(len(reviewers), dtype=bool))
    if track is not None:
        in_track = np.array(
            [any(track in (r.get(k) or ()) for k in keys[role]) for r in reviewers], dtype=bool
        )
        selected = selected & in_track
    return np.flatnonzero(selected), []


def _explicit_members(reviewers: Sequence[dict], ids: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    if isinstance(ids, str):
        raise ValueError("'members' must be a list of ids, not one string")
    by_key: dict[str, int] = {}
    for i, r in enumerate(reviewers):
        if _member_id(r):
            by_key.setdefault(_member_id(r), i)
    for i, r in enumerate(reviewers):
        if r.get("email"):
            by_key.setdefault(str(r["email"]).casefold(), i)
    found: dict[int, None] = {}
    missing: list[str] = []
    for member in dict.fromkeys(str(m) for m in ids):
        index = by_key.get(member, by_key.get(member.casefold()))
        if index is None:
            missing.append(member)
        else:
            found.setdefault(index)
    return np.fromiter(found, dtype=np.int64, count=len(found)), missing


def member_publications(
    members: list[dict],
    papers: pd.DataFrame,
    max_papers: int | None = None,
    since_year: int | None = None,
    selection: pd.DataFrame | None = None,
) -> tuple[sp.csr_matrix, list[str]]:
    """Member x corpus-paper incidence (M x D, bool) and the ids of members with no papers.

    Authorship is that of the matching stage (``similarity.authorship_matrix``: one of the
    member's ``ids`` is the ``id`` of one of the paper's ``authors``). ``selection``
    (columns ``member``: index into ``members``, ``paper``: corpus row, ``include``: bool;
    see ``selection_pairs``) then replaces the papers of a member with ``include`` rows by
    exactly those papers and drops the ``exclude`` pairs. ``since_year`` keeps papers from
    that year on (papers without a year are then left out); ``max_papers`` keeps each
    member's most recent papers (by year, papers without a year last, ties by corpus row).
    """
    if max_papers is not None and max_papers < 1:
        raise ValueError(f"max_papers must be at least 1, got {max_papers}")
    authored = authorship_matrix(reviewer_paper_ids(members), corpus_author_ids(papers)).tocoo()
    pairs = pd.DataFrame({"member": authored.row.astype(np.int64), "paper": authored.col.astype(np.int64)})
    if selection is not None and len(selection):
        pairs = _apply_selection(pairs, selection, len(papers))
    years = papers["year"].astype("Int64").to_numpy(dtype=np.float64, na_value=np.nan)
    pairs["year"] = years[pairs["paper"].to_numpy()]
    if since_year is not None:
        recent = pairs["year"] >= since_year
        logger.info("since_year %d: %d of %d publications kept", since_year, int(recent.sum()), len(pairs))
        pairs = pairs[recent]
    if max_papers is not None:
        pairs = pairs.assign(order=-pairs["year"].fillna(-np.inf))
        pairs = pairs.sort_values(["member", "order", "paper"], kind="stable")
        kept = pairs.groupby("member").cumcount() < max_papers
        logger.info("max_papers %d: %d of %d publications kept", max_papers, int(kept.sum()), len(pairs))
        pairs = pairs[kept]
    incidence = sp.csr_matrix(
        (np.ones(len(pairs), dtype=bool), (pairs["member"].to_numpy(), pairs["paper"].to_numpy())),
        shape=(len(members), len(papers)),
    )
    incidence.sort_indices()
    counts = np.diff(incidence.indptr)
    no_publications = [_member_id(members[i]) for i in np.flatnonzero(counts == 0)]
    return incidence, no_publications


def _apply_selection(pairs: pd.DataFrame, selection: pd.DataFrame, n_papers: int) -> pd.DataFrame:
    """Authorship ``pairs`` (member, paper) after an expertise selection's include/exclude rows."""
    include = selection.loc[selection["include"], ["member", "paper"]].astype(np.int64)
    exclude = selection.loc[~selection["include"], ["member", "paper"]].astype(np.int64)
    restricted = pairs["member"].isin(include["member"].unique())
    pairs = pd.concat([pairs[~restricted], include], ignore_index=True).drop_duplicates()
    key = pairs["member"].to_numpy() * n_papers + pairs["paper"].to_numpy()
    dropped = np.isin(key, exclude["member"].to_numpy() * n_papers + exclude["paper"].to_numpy())
    logger.info(
        "expertise selection: %d members restricted to %d included papers, %d publications excluded",
        include["member"].nunique(), len(include), int(dropped.sum()),
    )
    return pairs[~dropped].reset_index(drop=True)


def selection_pairs(
    selection: pd.DataFrame, reviewers: Sequence[dict], paper_ids: Sequence[str]
) -> pd.DataFrame:
    """An expertise-selection table as (reviewer index, corpus row, include) pairs.

    ``selection`` has columns ``member`` (reviewer id or e-mail), ``paper_id`` (corpus
    ``paper_id``, the Semantic Scholar paper id), ``action`` (``include`` or ``exclude``)
    and ``line`` (its line in the file, for errors); ``selection.attrs["path"]`` names the
    file. A member or paper the conference does not have raises ``InputError``.
    """
    path = selection.attrs.get("path", "expertise selection")
    columns = ["reviewer", "paper", "include"]
    if selection.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(columns, ("int64", "int64", "bool"))})
    by_key: dict[str, int] = {}
    for i, r in enumerate(reviewers):
        for key in (_member_id(r), str(r.get("email") or "").casefold()):
            if key:
                by_key.setdefault(key, i)
    members = selection["member"].astype(str)
    reviewer = members.map(lambda m: by_key.get(m, by_key.get(m.casefold(), -1)))
    paper_index = pd.Series(np.arange(len(paper_ids)), index=pd.Index([str(p) for p in paper_ids]))
    paper_index = paper_index[~paper_index.index.duplicated()]
    paper = selection["paper_id"].astype(str).map(paper_index).fillna(-1).astype(np.int64)
    for column, found, what in (("member", reviewer, "member"), ("paper_id", paper, "corpus paper")):
        bad = np.flatnonzero(found.to_numpy() < 0)
        if bad.size:
            first = selection.iloc[bad[0]]
            raise InputError(
                path, f"unknown {what} {first[column]!r} ({bad.size} such rows)",
                row=int(first["line"]), column=column,
            )
    return pd.DataFrame(
        {"reviewer": reviewer.to_numpy(np.int64), "paper": paper.to_numpy(np.int64),
         "include": (selection["action"] == "include").to_numpy()}
    )


# ---------------------------------------------------------------- reductions


def _parse_reduce(reduce: str) -> str | float:
    """An aggregator of ``revmatch.aggregate`` (max, mean, weighted_top3, ...) by name, or
    the percentile (0..100) that ``reduce`` names: min, median or ``pNN``."""
    name = str(reduce).strip().lower()
    if name in AGGREGATORS:
        return name
    named = {"min": 0.0, "median": 50.0}
    if name in named:
        return named[name]
    if name.startswith("p"):
        try:
            q = float(name[1:])
        except ValueError:
            q = -1.0
        if 0.0 <= q <= 100.0:
            return q
    raise ValueError(
        f"unknown reduce {reduce!r}: use {', '.join(AGGREGATORS)}, min, median or a percentile such as p75"
    )


def _segment_percentile(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, q: float) -> np.ndarray:
    """Percentile ``q`` (linear interpolation, as ``np.percentile``) of each column segment.

    ``values`` is (S, N); segment k is ``values[:, starts[k]:starts[k] + lengths[k]]``,
    segments are contiguous, in order, and non-empty. Returns (S, K) float64.
    """
    values = values.astype(np.float64)
    if q == 100.0:
        return np.maximum.reduceat(values, starts, axis=1)
    if q == 0.0:
        return np.minimum.reduceat(values, starts, axis=1)
    # Sort within segments in one pass: lift each segment above the previous one.
    segment = np.repeat(np.arange(len(starts)), lengths)
    lift = segment * (float(values.max() - values.min()) + 1.0)
    ordered = np.sort(values + lift, axis=1) - lift
    position = q / 100.0 * (lengths - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, lengths - 1)
    weight = position - below
    return ordered[:, starts + below] * (1.0 - weight) + ordered[:, starts + above] * weight


def group_submission_scores(
    pub_scores: np.ndarray, incidence: sp.spmatrix, reduce: str = "max"
) -> np.ndarray:
    """Reduce publication scores (S x D) to member scores (S x M) over each member's papers.

    ``incidence`` (M x D) marks each member's papers. ``reduce`` is an aggregator of
    ``revmatch.aggregate`` (``max``, ``mean``, ``weighted_top3``, ``topk_mean``, ...; k = 3)
    or ``min``, ``median`` or a percentile ``pNN``. Members without papers get NaN.
    """
    pub_scores = np.asarray(pub_scores)
    incidence = sp.csr_matrix(incidence, dtype=bool)
    if pub_scores.ndim != 2 or pub_scores.shape[1] != incidence.shape[1]:
        raise ValueError(f"scores {pub_scores.shape} do not match incidence {incidence.shape}")
    incidence.sum_duplicates()
    incidence.sort_indices()
    how = _parse_reduce(reduce)
    lengths = np.diff(incidence.indptr)
    present = np.flatnonzero(lengths > 0)
    out = np.full((pub_scores.shape[0], incidence.shape[0]), np.nan)
    if present.size == 0 or pub_scores.shape[0] == 0:
        return out
    if isinstance(how, str):
        out[:, present] = aggregate_scores(pub_scores, incidence[present], method=how)
    else:
        gathered = pub_scores[:, incidence.indices]
        out[:, present] = _segment_percentile(gathered, incidence.indptr[present], lengths[present], how)
    return out


def _used_columns(incidence: sp.spmatrix) -> tuple[np.ndarray, sp.csr_matrix]:
    """The columns any row uses, and the incidence restricted to them."""
    incidence = sp.csr_matrix(incidence)
    used = np.unique(incidence.indices)
    return used, sp.csr_matrix(incidence[:, used])


BlockScores = Callable[[np.ndarray, np.ndarray, int], Iterable[tuple[slice, np.ndarray]]]
"""``blocks(rows, columns, block_rows)``: scores of the queries ``rows`` against the corpus
papers ``columns``, as ``(slice into rows, float32 block)`` pairs of at most ``block_rows``
queries (the shape of ``registry.score_blocks``)."""


def _block_rows(incidence: sp.csr_matrix, block_rows: int) -> int:
    """Rows a block may have so that its scores and gathered values stay near
    ``aggregate.MAX_BLOCK_VALUES`` each."""
    return max(1, min(int(block_rows), MAX_BLOCK_VALUES // max(1, incidence.shape[1], incidence.nnz)))


def _reduce_blockwise(
    block_scores: Callable[[int, int], np.ndarray],
    n_rows: int,
    incidence: sp.csr_matrix,
    reduce: str,
    block_rows: int,
    desc: str,
) -> np.ndarray:
    """(n_rows x M) float32: ``group_submission_scores`` of the score rows ``block_scores(lo, hi)``
    (each ``hi - lo`` x D) against ``incidence`` (M x D), a block of rows at a time."""
    rows = _block_rows(incidence, block_rows)
    starts = range(0, n_rows, rows)
    blocks = ((slice(lo, min(lo + rows, n_rows)), block_scores(lo, min(lo + rows, n_rows))) for lo in starts)
    return member_scores_from_blocks(
        progress(blocks, desc=desc, total=len(starts), unit="block"), n_rows, incidence, reduce
    )


def member_scores_from_blocks(
    blocks: Iterable[tuple[slice, np.ndarray]], n_rows: int, incidence: sp.spmatrix, reduce: str = "max"
) -> np.ndarray:
    """Member scores (n_rows x M, float32) from blocks of publication scores.

    ``blocks`` yields ``(rows, scores)`` with ``scores`` (rows x C) against the C corpus
    papers that the columns of ``incidence`` (M x C) stand for, the shape of
    ``registry.score_blocks(model, index, texts, columns=used)``. Members without papers
    get NaN.
    """
    incidence = sp.csr_matrix(incidence, dtype=bool)
    out = np.full((n_rows, incidence.shape[0]), np.nan, dtype=np.float32)
    for rows, scores in blocks:
        out[rows] = group_submission_scores(scores, incidence, reduce)
    return out


def member_scores(
    blocks: BlockScores,
    queries: np.ndarray,
    incidence: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
    desc: str = "submission scores",
) -> np.ndarray:
    """Query-member scores (len(queries) x M, float32): ``reduce`` of each query's scores
    over each member's papers (``incidence``, M x D over the corpus).

    ``blocks`` scores the queries (submissions, or corpus papers) against the papers some
    member has, and nothing else; blocks shrink as ``_block_rows`` says. Members without
    papers get NaN.
    """
    used, local = _used_columns(incidence)
    queries = np.asarray(queries, dtype=np.int64)
    rows = _block_rows(local, block_rows)
    n_blocks = -(-len(queries) // rows)
    scored = progress(blocks(queries, used, rows), desc=desc, total=n_blocks, unit="block")
    return member_scores_from_blocks(scored, len(queries), local, reduce)


def member_member_scores(
    paper_blocks: BlockScores,
    inc_a: sp.spmatrix,
    inc_b: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Member-member scores (A x B): ``reduce`` over pairs of the two members' papers.

    ``paper_blocks`` scores corpus papers (as queries) against corpus papers. The
    reduction runs over B's papers first (A's papers as queries), then over A's,
    block-wise; for ``max`` and ``mean`` this equals the max (mean) over all pairs.
    Members of either side without papers get NaN.
    """
    used_a, local_a = _used_columns(inc_a)
    inc_b = sp.csr_matrix(inc_b)
    paper_member = member_scores(paper_blocks, used_a, inc_b, reduce, block_rows, "paper-member scores")
    out = np.full((local_a.shape[0], inc_b.shape[0]), np.nan)
    has_papers = np.flatnonzero(np.diff(inc_b.indptr) > 0)
    member_paper = paper_member[:, has_papers].T
    out[:, has_papers] = _reduce_blockwise(
        lambda lo, hi: member_paper[lo:hi],
        len(has_papers), local_a, reduce, block_rows, "member-member scores",
    ).T
    return out


def cosine_blocks(
    queries: np.ndarray, rows: np.ndarray, papers: np.ndarray, columns: np.ndarray, block_rows: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """Cosine similarities (float32) of ``queries[rows]`` to ``papers[columns]``, in blocks of rows."""
    left = normalize_rows(np.asarray(queries[rows]).reshape(len(rows), -1))
    right_t = normalize_rows(np.asarray(papers[columns]).reshape(len(columns), -1)).T.copy()
    for lo in range(0, len(rows), block_rows):
        hi = min(lo + block_rows, len(rows))
        yield slice(lo, hi), left[lo:hi] @ right_t


def submission_member_scores(
    submission_embeddings: np.ndarray,
    pub_embeddings: np.ndarray,
    incidence: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Cosine member-submission scores (S x M), block-wise over submissions.

    ``pub_embeddings`` (D x d) is aligned with the columns of ``incidence`` (M x D); only
    papers some member authored are read. Members without papers get NaN.
    """
    def blocks(rows: np.ndarray, columns: np.ndarray, size: int) -> Iterator[tuple[slice, np.ndarray]]:
        return cosine_blocks(submission_embeddings, rows, pub_embeddings, columns, size)

    return member_scores(blocks, np.arange(len(submission_embeddings)), incidence, reduce, block_rows)


def group_group_scores(
    emb_a_pubs: np.ndarray,
    inc_a: sp.spmatrix,
    emb_b_pubs: np.ndarray,
    inc_b: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Cosine member-member scores (A x B) (``member_member_scores`` of embeddings).

    ``emb_a_pubs`` / ``emb_b_pubs`` are aligned with the columns of ``inc_a`` / ``inc_b``
    (both may be the whole corpus).
    """
    def blocks(rows: np.ndarray, columns: np.ndarray, size: int) -> Iterator[tuple[slice, np.ndarray]]:
        return cosine_blocks(emb_a_pubs, rows, emb_b_pubs, columns, size)

    return member_member_scores(blocks, inc_a, inc_b, reduce, block_rows)


# ---------------------------------------------------------------- models


def model_scale(spec: str) -> str:
    """How ``normalize: false`` maps the scores of model ``spec`` into [0, 1] (``SCALES``).

    ``cosine``: (s + 1) / 2 (``avg``, sentence-transformers: cosine in [-1, 1]); ``unit``:
    as they are (``tfidf``: cosine of non-negative vectors, in [0, 1]); ``relative``: no
    fixed map (``bm25``: unbounded sums; ensembles: mean z-scores), only the job's min-max.
    """
    names = parse_spec(spec)
    if len(names) > 1 or names[0] == "bm25":
        return "relative"
    return "unit" if names[0] == "tfidf" else "cosine"


def unit_scores(scores: np.ndarray, scale: str) -> np.ndarray:
    """Scores mapped into [0, 1] (float64) by a fixed ``scale`` (``model_scale``); NaN stays NaN."""
    if scale == "cosine":
        return cosine_to_unit(scores)
    if scale == "unit":
        return np.clip(np.array(scores, dtype=np.float64), 0.0, 1.0)
    raise ValueError(f"scale {scale!r} has no fixed map to [0, 1]; use one of {SCALES[:2]} or normalise_scores")


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
    """Scores of a registry model (``registry.score_blocks``) against its corpus index(es).

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
        return unit_scores(scores, self.scale)


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


# ---------------------------------------------------------------- results


def _entry_keys(mode: str, schema: str) -> tuple[str, str]:
    """Names of entity A and entity B in a result entry."""
    if schema == "current":
        return "entityA", "entityB"
    if schema != "legacy":
        raise ValueError(f"schema must be one of {SCHEMAS}, got {schema!r}")
    if mode not in JOB_MODES:
        raise ValueError(f"mode must be one of {JOB_MODES}, got {mode!r}")
    return ("match_member", "submission_member") if mode == "group_group" else ("user", "submission")


def results_columns(mode: str, schema: str = "legacy") -> list[str]:
    """Column order of the results CSV (the keys of one result entry)."""
    a_key, b_key = _entry_keys(mode, schema)
    if schema == "legacy" and mode != "group_group":
        return [b_key, a_key, "score"]
    return [a_key, b_key, "score"]


def results_document(
    scores: np.ndarray,
    row_ids: Sequence[str],
    col_ids: Sequence[str],
    mode: str,
    metadata: dict,
    schema: str = "legacy",
) -> dict:
    """The Expertise API results document for a score matrix.

    ``scores`` is (A x B): rows are entity A (group members: ``user`` / ``match_member`` /
    ``entityA``), columns entity B (submissions: ``submission``, or the other group's
    members: ``submission_member``; ``entityB``). NaN entries (no publications) are left
    out; entries run row by row. ``metadata`` must give ``no_profile``,
    ``no_profile_submission``, ``no_publications`` and ``submission_count``, and for the
    current schema ``archives_count``; ``no_publications_count`` is derived.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(row_ids), len(col_ids)):
        raise ValueError(f"scores {scores.shape} do not match {len(row_ids)} rows x {len(col_ids)} columns")
    columns = results_columns(mode, schema)
    a_key, b_key = _entry_keys(mode, schema)
    rows, cols = np.nonzero(np.isfinite(scores))
    row_ids = np.asarray([str(r) for r in row_ids], dtype=object)
    col_ids = np.asarray([str(c) for c in col_ids], dtype=object)
    values = {
        a_key: row_ids[rows].tolist(), b_key: col_ids[cols].tolist(), "score": scores[rows, cols].tolist()
    }
    entries = zip(*(values[c] for c in columns), strict=True)
    results = [dict(zip(columns, entry, strict=True)) for entry in entries]
    return {"metadata": results_metadata(metadata, schema), "results": results}


def results_metadata(metadata: dict, schema: str = "legacy") -> dict:
    """The ``metadata`` block of a results document, keys in the Expertise API's order.

    ``metadata`` gives ``no_profile``, ``no_profile_submission``, ``no_publications``,
    ``submission_count`` and, for the current schema, ``archives_count`` (papers a member's
    scores rest on); ``no_publications_count`` is derived.
    """
    no_publications = [str(m) for m in metadata["no_publications"]]
    meta = {
        "no_profile": [str(m) for m in metadata["no_profile"]],
        "no_profile_submission": [str(s) for s in metadata["no_profile_submission"]],
        "no_publications": no_publications,
        "no_publications_count": len(no_publications),
        "submission_count": int(metadata["submission_count"]),
    }
    if schema == "current":
        meta["archives_count"] = {str(k): int(v) for k, v in metadata["archives_count"].items()}
    return meta


def _csv_field(text: str) -> str:
    """``text`` as one CSV field (quoted only when it must be, as the csv module does)."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _byte_table(texts: Sequence[str]) -> np.ndarray:
    """UTF-8 ``texts`` as a (n, width) uint8 table, NUL-padded on the right."""
    encoded = np.array([t.encode("utf-8") for t in texts], dtype=bytes)
    if encoded.itemsize == 0 or len(encoded) == 0:
        return np.zeros((len(encoded), 0), dtype=np.uint8)
    return encoded.view(np.uint8).reshape(len(encoded), encoded.itemsize)


def score_digits(scores: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] as ``d.ddddddd`` text (SCORE_DECIMALS decimals): (..., 2 + SCORE_DECIMALS) uint8.

    The same digits as ``f"{round(s, SCORE_DECIMALS):.{SCORE_DECIMALS}f}"``, computed on the
    whole array at once.
    """
    units = np.rint(np.asarray(scores, dtype=np.float64) * 10**SCORE_DECIMALS).astype(np.int32)
    out = np.empty((*units.shape, 2 + SCORE_DECIMALS), dtype=np.uint8)
    out[..., 0] = 48 + units // 10**SCORE_DECIMALS
    out[..., 1] = ord(".")
    rest = units % 10**SCORE_DECIMALS
    for position in range(1 + SCORE_DECIMALS, 1, -1):
        quotient = rest // 10
        out[..., position] = 48 + (rest - quotient * 10)
        rest = quotient
    return out


def _entry_bytes(
    digits: np.ndarray, finite: np.ndarray, a_text: np.ndarray, b_text: np.ndarray, a_first: bool,
    separators: Sequence[bytes],
) -> bytes | np.ndarray:
    """The entries of a block of the score matrix as bytes, NaN cells left out.

    An entry is ``s0 X s1 Y s2 score s3`` with (X, Y) = (A, B) when ``a_first`` else (B, A);
    ``digits`` (rows x cols x width) are the formatted scores (``score_digits``), ``finite``
    marks the cells with a score, ``a_text`` (rows x wa) and ``b_text`` (cols x wb) are
    NUL-padded byte tables. Built in one (rows, cols, width) byte array; NUL padding (of
    shorter ids and of NaN cells) is then removed.
    """
    widths = [len(separators[0]), 0, len(separators[1]), 0, len(separators[2]), digits.shape[2],
              len(separators[3])]
    first, second = (a_text, b_text) if a_first else (b_text, a_text)
    widths[1], widths[3] = first.shape[1], second.shape[1]
    ends = np.cumsum(widths)
    slot = [slice(int(e - w), int(e)) for e, w in zip(ends, widths, strict=True)]
    n_rows, n_cols = finite.shape
    buf = np.empty((n_rows, n_cols, int(ends[-1])), dtype=np.uint8)
    for k, sep in zip((0, 2, 4, 6), separators, strict=True):
        buf[:, :, slot[k]] = np.frombuffer(sep, dtype=np.uint8)
    a_slot, b_slot = (slot[1], slot[3]) if a_first else (slot[3], slot[1])
    buf[:, :, a_slot] = a_text[:, None, :]
    buf[:, :, b_slot] = b_text[None, :, :]
    buf[:, :, slot[5]] = digits
    padded = not (finite.all() and a_text.all() and b_text.all())
    if not padded:
        return buf.reshape(-1)
    buf[~finite] = 0
    return buf.tobytes().replace(b"\0", b"")


def write_results(
    scores: np.ndarray,
    row_ids: Sequence[str],
    col_ids: Sequence[str],
    mode: str,
    metadata: dict,
    schema: str,
    out_json: PathLike,
    out_csv: PathLike,
    block_entries: int = 1 << 21,
) -> int:
    """Write ``results_document(...)`` as JSON and its entries as CSV, a block of rows at a time.

    The document is never held in memory as Python objects (an ACL-sized job has 5 x 10^7
    entries): each block of rows becomes bytes in one vectorised pass (``score_digits``
    formats the scores with ``SCORE_DECIMALS`` decimals), one entry a line, about
    ``block_entries`` matrix cells at a time. Scores must be NaN or in [0, 1]. Returns the
    number of entries.
    """
    scores = np.asarray(scores)
    if scores.shape != (len(row_ids), len(col_ids)):
        raise ValueError(f"scores {scores.shape} do not match {len(row_ids)} rows x {len(col_ids)} columns")
    columns = results_columns(mode, schema)
    a_first = columns[0] == _entry_keys(mode, schema)[0]
    rows_txt, cols_txt = [str(r) for r in row_ids], [str(c) for c in col_ids]
    json_a = _byte_table([json.dumps(v, ensure_ascii=False) for v in rows_txt])
    json_b = _byte_table([json.dumps(v, ensure_ascii=False) for v in cols_txt])
    csv_a = _byte_table([_csv_field(v) for v in rows_txt])
    csv_b = _byte_table([_csv_field(v) for v in cols_txt])
    json_separators = [
        f',\n{{"{columns[0]}": '.encode(), f', "{columns[1]}": '.encode(), b', "score": ', b"}"
    ]
    csv_separators = [b"", b",", b",", b"\n"]
    head = json.dumps({"metadata": results_metadata(metadata, schema)}, ensure_ascii=False)[:-1]
    n_entries = 0
    with (
        atomic_path(out_json) as tmp_json,
        atomic_path(out_csv) as tmp_csv,
        open(tmp_json, "wb") as js,
        open(tmp_csv, "wb") as cs,
    ):
        js.write((head + ', "results": [').encode("utf-8"))
        cs.write((",".join(columns) + "\n").encode("utf-8"))
        block_rows = max(1, block_entries // max(1, scores.shape[1]))
        starts = range(0, scores.shape[0], block_rows)
        for lo in progress(starts, desc="write results", total=len(starts), unit="block"):
            block = np.asarray(scores[lo : lo + block_rows], dtype=np.float64)
            finite = np.isfinite(block)
            count = int(finite.sum())
            if count == 0:
                continue
            if block[finite].min() < 0.0 or block[finite].max() > 1.0:
                raise ValueError("scores must lie in [0, 1] to be written")
            rows = slice(lo, lo + block_rows)
            digits = score_digits(np.where(finite, block, 0.0))
            text = _entry_bytes(digits, finite, json_a[rows], json_b, a_first, json_separators)
            js.write(text[1:] if n_entries == 0 else text)
            cs.write(_entry_bytes(digits, finite, csv_a[rows], csv_b, a_first, csv_separators))
            n_entries += count
        js.write(b"\n]}\n")
    return n_entries


# ---------------------------------------------------------------- jobs


def _check_group(group: object, what: str) -> dict:
    if not isinstance(group, dict) or not group:
        raise ValueError(f"{what} is a mapping with 'role' (and 'track') or 'members', got {group!r}")
    unknown = sorted(set(group) - _GROUP_KEYS)
    if unknown:
        raise ValueError(f"unknown keys in {what}: {unknown}")
    return group


def _statuses(value: str | Sequence[str]) -> tuple[str, ...]:
    statuses = (value,) if isinstance(value, str) else tuple(value)
    bad = [s for s in statuses if s not in SUBMISSION_STATUSES]
    if bad or not statuses:
        raise ValueError(f"submission_status must be some of {SUBMISSION_STATUSES}, got {value!r}")
    return tuple(dict.fromkeys(statuses))


def check_job(job: dict) -> dict:
    """The job with defaults filled in; bad keys or values raise ``ValueError``.

    File keys (``members_file``, ``submissions_file``, ``expertise_selection``) must have
    been read already (``read_job_files``) for the job to be scored.
    """
    if not isinstance(job, dict):
        raise ValueError(f"an affinity job is a mapping, got {job!r}")
    unknown = sorted(set(job) - _JOB_KEYS)
    if unknown:
        raise ValueError(f"unknown affinity job keys: {unknown}")
    mode = job.get("mode")
    if mode not in JOB_MODES:
        raise ValueError(f"job mode must be one of {JOB_MODES}, got {mode!r}")
    checked = {
        "model": DEFAULT_MODEL, "reduce": "max", "normalize": True, "max_papers": None, "since_year": None,
        "schema": "legacy", "submission_status": "active", "on_unknown_member": "report", **job,
    }
    if checked["schema"] not in SCHEMAS:
        raise ValueError(f"job schema must be one of {SCHEMAS}, got {checked['schema']!r}")
    if checked["on_unknown_member"] not in ("report", "error"):
        raise ValueError(f"on_unknown_member must be report or error, got {checked['on_unknown_member']!r}")
    checked["submission_status"] = _statuses(checked["submission_status"])
    how = _parse_reduce(checked["reduce"])
    if not checked["normalize"] and how in _UNBOUNDED_REDUCERS:
        raise ValueError(f"reduce {how!r} sums similarities beyond [-1, 1]; use it with normalize: true")
    scale = model_scale(str(checked["model"]))  # a malformed spec raises here
    if not checked["normalize"] and scale == "relative":
        raise ValueError(
            f"model {checked['model']!r} has no fixed [0, 1] scale (bm25: unbounded sums; ensembles: mean "
            "z-scores); use it with normalize: true"
        )
    for key in ("group", "alternate_group"):
        if checked.get(key) is not None:
            _check_group(checked[key], key)
    has_members = bool(checked.get("members") or checked.get("members_file"))
    if mode in ("group_submissions", "paper_subset", "group_group") and not checked.get("group"):
        raise ValueError(f"mode {mode} needs a 'group'")
    if mode == "group_group" and not checked.get("alternate_group"):
        raise ValueError("mode group_group needs an 'alternate_group'")
    if mode == "paper_subset" and not (checked.get("submissions") or checked.get("submissions_file")):
        raise ValueError("mode paper_subset needs 'submissions' (a list of ids) or a 'submissions_file'")
    if mode == "user_subset" and not (has_members or (checked.get("group") or {}).get("members")):
        raise ValueError("mode user_subset needs 'members' (a list of ids) or a 'members_file'")
    for key in ("submissions", "members"):
        if isinstance(checked.get(key), str):
            raise ValueError(f"'{key}' must be a list of ids, not one string")
    return checked


def submission_pool(
    submissions: Sequence[dict], rejects: Sequence[dict], statuses: Sequence[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """The submissions of the wanted ``statuses``: (rows into submissions + rejects, their ids,
    the ids of the other submissions).

    ``submissions`` (``id``) are active; ``rejects`` (``startSubmissionId``, ``reason``
    ``withdrawn`` or ``desk reject``, as ``softconf`` writes them) are withdrawn or
    desk-rejected. Rows index the concatenation ``submissions + rejects``.
    """
    status = ["active"] * len(submissions)
    for row, record in enumerate(rejects, start=1):
        reason = str(record.get("reason") or "").strip().lower()
        if reason not in _REJECT_REASONS:
            raise ValueError(f"rejected submission {row}: unknown reason {record.get('reason')!r}")
        status.append(_REJECT_REASONS[reason])
    ids = [str(s.get("id", s.get("startSubmissionId"))) for s in submissions]
    ids += [str(r.get("startSubmissionId", r.get("id"))) for r in rejects]
    wanted = np.isin(np.asarray(status, dtype=object), list(statuses))
    rows = np.flatnonzero(wanted)
    return rows, [ids[i] for i in rows], [ids[i] for i in np.flatnonzero(~wanted)]


def select_submissions(
    pool_ids: Sequence[str], wanted: Sequence[str] | None, other_ids: Sequence[str] = ()
) -> tuple[np.ndarray, list[str]]:
    """Positions in ``pool_ids`` of the wanted ids (all when None, order of ``wanted``,
    repeats dropped) and the wanted ids not in the pool (``no_profile_submission``).

    Ids found among ``other_ids`` (submissions of a status the job does not score) are
    reported as not found too, with a warning.
    """
    if wanted is None:
        return np.arange(len(pool_ids)), []
    index = {sid: i for i, sid in enumerate(pool_ids)}
    wanted = list(dict.fromkeys(str(w) for w in wanted))
    found = np.asarray([index[w] for w in wanted if w in index], dtype=np.int64)
    missing = [w for w in wanted if w not in index]
    other = set(other_ids).intersection(missing)
    if other:
        logger.warning(
            "%d listed submissions have another submission_status than the job's: %s",
            len(other), sorted(other)[:10],
        )
    return found, missing


def _group_for(job: dict, key: str) -> dict:
    """The group of ``key`` (``group`` / ``alternate_group``) with listed members merged in."""
    if key == "group" and job["mode"] == "user_subset" and (job.get("members") or job.get("members_file")):
        return {"members": job.get("members") or []}
    return job[key]


def _job_members(
    reviewers: list[dict], group: dict, job: dict, what: str
) -> tuple[list[dict], list[str], np.ndarray]:
    """Members of a group (records, unknown ids, reviewer rows); Data Errors as ValueError."""
    if "members" not in group and "role" not in group:
        raise ValueError(f"{what} names no members (give 'role', 'members' or 'members_file')")
    index, unknown = group_members(reviewers, {k: v for k, v in group.items() if k != "members_file"})
    if unknown and job["on_unknown_member"] == "error":
        raise ValueError(f"{what}: {len(unknown)} members are not in the conference: {unknown[:10]}")
    if len(index) == 0:
        raise ValueError(f"{what} is empty ({len(unknown)} listed ids unknown: {unknown[:10]})")
    return [reviewers[i] for i in index], unknown, index


def _member_selection(selection: pd.DataFrame | None, rows: np.ndarray) -> pd.DataFrame | None:
    """Selection pairs of the reviewers at ``rows``, renumbered to their position there."""
    if selection is None:
        return None
    position = pd.Series(np.arange(len(rows)), index=rows)
    kept = selection[selection["reviewer"].isin(rows)]
    return kept.assign(member=position[kept["reviewer"]].to_numpy())[["member", "paper", "include"]]


def affinity_scores(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    scorer: Scorer,
    rejects: Sequence[dict] = (),
    selection: pd.DataFrame | None = None,
) -> tuple[np.ndarray, list[str], list[str], dict]:
    """Score one affinity job: (scores A x B in [0, 1], NaN = no score; entity A ids;
    entity B ids; metadata for ``results_document``). See ``run_affinity_job``.

    ``scorer`` (``EmbeddingScorer`` or ``RegistryScorer``) is the job's model: its
    submission side has one row per submission, then one per reject. ``selection`` is the
    output of ``selection_pairs``. Bad input (an empty group, no submission, no member
    with publications) raises ``ValueError``.
    """
    job = check_job(job)
    mode = job["mode"]
    if parse_spec(scorer.name) != parse_spec(job["model"]):
        raise ValueError(f"the job's model is {job['model']!r}, the scores given are {scorer.name!r}'s")
    if scorer.n_papers != len(papers):
        raise ValueError(f"{scorer.n_papers} corpus papers scored by {scorer.name!r} for {len(papers)} papers")
    if scorer.n_submissions != len(submissions) + len(rejects):
        raise ValueError(
            f"{scorer.n_submissions} submissions scored by {scorer.name!r} for "
            f"{len(submissions)} submissions and {len(rejects)} rejects"
        )
    limits = {"max_papers": job["max_papers"], "since_year": job["since_year"]}
    a_members, no_profile, a_rows = _job_members(reviewers, _group_for(job, "group"), job, "group")
    inc_a, no_pubs = member_publications(
        a_members, papers, **limits, selection=_member_selection(selection, a_rows)
    )
    archives = dict(zip(map(_member_id, a_members), np.diff(inc_a.indptr).tolist(), strict=True))
    row_ids = [_member_id(m) for m in a_members]
    no_profile_submission: list[str] = []
    if mode == "group_group":
        b_members, missing_b, b_rows = _job_members(reviewers, job["alternate_group"], job, "alternate_group")
        inc_b, no_pubs_b = member_publications(
            b_members, papers, **limits, selection=_member_selection(selection, b_rows)
        )
        archives.update(zip(map(_member_id, b_members), np.diff(inc_b.indptr).tolist(), strict=True))
        no_profile += [m for m in missing_b if m not in no_profile]
        no_pubs += [m for m in no_pubs_b if m not in no_pubs]
        col_ids = [_member_id(m) for m in b_members]
        if inc_b.nnz == 0:
            raise ValueError(f"no member of the alternate group has publications ({len(b_members)} members)")
        if inc_a.nnz:
            raw = member_member_scores(scorer.paper_blocks, inc_a, inc_b, job["reduce"])
        if inc_a.nnz and row_ids == col_ids and _parse_reduce(job["reduce"]) in _PAIRWISE_REDUCERS:
            # The same value either way round for symmetric scores (cosine), up to rounding:
            # exact symmetry; the symmetric mean of both directions for BM25.
            raw = (raw + raw.T) / 2.0
    else:
        pool_rows, pool_ids, other_ids = submission_pool(submissions, rejects, job["submission_status"])
        picked, no_profile_submission = select_submissions(pool_ids, job.get("submissions"), other_ids)
        if len(picked) == 0:
            raise ValueError(
                f"no submission to score (status {list(job['submission_status'])}, "
                f"{len(no_profile_submission)} listed ids not found: {no_profile_submission[:10]})"
            )
        rows = pool_rows[picked]
        col_ids = [pool_ids[i] for i in picked]
        if inc_a.nnz:
            raw = member_scores(scorer.submission_blocks, rows, inc_a, job["reduce"]).T
    if inc_a.nnz == 0:
        raise ValueError(f"no member of the group has publications in the corpus ({len(a_members)} members)")
    scores = normalise_scores(raw) if job["normalize"] else scorer.to_unit(raw)
    scores = np.round(scores, SCORE_DECIMALS, out=scores)
    logger.info(
        "affinity %s: %d x %d scores, %d without profile, %d without publications, %d submissions not found",
        mode, scores.shape[0], scores.shape[1], len(no_profile), len(no_pubs), len(no_profile_submission),
    )
    metadata = {
        "no_profile": no_profile,
        "no_profile_submission": no_profile_submission,
        "no_publications": no_pubs,
        "submission_count": len(col_ids),
        "archives_count": archives,
    }
    return scores, row_ids, col_ids, metadata


def run_affinity_job(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    scorer: Scorer,
    rejects: Sequence[dict] = (),
    selection: pd.DataFrame | None = None,
) -> dict:
    """Run one affinity job; return the Expertise API results document.

    ``scorer`` scores the job's model: ``EmbeddingScorer(corpus_embeddings,
    submission_embeddings)`` for ``avg``, a ``RegistryScorer`` for any model; its corpus
    side follows ``papers`` rows, its submission side ``submissions`` and then ``rejects``.
    Job keys: ``mode``; ``model`` (a registry spec, the scorer's); ``group`` /
    ``alternate_group`` (``role`` and optional ``track``,
    or ``members``); ``submissions`` and ``members`` (id lists); ``submission_status``
    (``active``, ``withdrawn``, ``desk_rejected`` or a list of them); ``on_unknown_member``
    (``report`` or ``error``); ``reduce``; ``normalize``; ``max_papers``; ``since_year``;
    ``schema`` (``legacy`` or ``current``).
    """
    scores, row_ids, col_ids, metadata = affinity_scores(
        job, reviewers, submissions, papers, scorer, rejects, selection
    )
    return results_document(scores, row_ids, col_ids, job["mode"], metadata, job.get("schema", "legacy"))


# ---------------------------------------------------------------- status


def status_record(
    name: str, state: str, description: str, request: dict, created_ms: int | None = None
) -> dict:
    """A job status in the Expertise API's shape: name, status, description, cdate, mdate, request."""
    if state not in STATES:
        raise ValueError(f"status must be one of {STATES}, got {state!r}")
    now = int(time.time() * 1000)
    return {
        "name": name, "status": state, "description": description,
        "cdate": now if created_ms is None else int(created_ms), "mdate": now, "request": request,
    }


def write_status(path: PathLike, name: str, state: str, description: str, request: dict) -> dict:
    """Write (atomically) and return the status of job ``name``; ``cdate`` kept from the file."""
    created = None
    if os.path.isfile(path):
        try:
            previous = read_json(path)
            if previous.get("status") not in ("Completed", "Data Error", "Error"):
                created = previous.get("cdate")
        except (ValueError, OSError, AttributeError):
            created = None
    record = status_record(name, state, description, request, created)
    write_json(record, path)
    return record


def job_status(status_json: PathLike, name: str, request: dict | None = None) -> dict:
    """The status of job ``name``: its ``status.json``, else ``Queued`` when the job is
    configured (``request``: its config entry) but has not started; else FileNotFoundError."""
    if os.path.isfile(status_json):
        return read_json(status_json)
    if request is None:
        raise FileNotFoundError(f"no affinity job {name!r}: no {status_json} and not in the config")
    return status_record(name, "Queued", "configured; waits for the workflow to run it", request)


# ---------------------------------------------------------------- files


def _load_embeddings(path: PathLike, rows: int, what: str) -> np.ndarray:
    array = np.load(path, mmap_mode="r")
    if array.ndim != 2 or array.shape[0] != rows:
        raise InputError(path, f"expected {rows} rows of {what} embeddings, got shape {array.shape}")
    return array


def read_id_list(path: PathLike) -> list[str]:
    """Ids one a line; blank lines and lines starting with ``#`` are skipped."""
    if not os.path.isfile(path):
        raise InputError(path, "id list file not found")
    with open(path, encoding="utf-8-sig") as fh:
        lines = [line.strip() for line in fh]
    ids = [line for line in lines if line and not line.startswith("#")]
    if not ids:
        raise InputError(path, "lists no ids")
    return ids


def read_expertise_selection(path: PathLike) -> pd.DataFrame:
    """An expertise-selection CSV (``member``, ``paper_id``, ``action`` = include / exclude)
    with each row's file ``line``; ``attrs["path"]`` names the file."""
    if not os.path.isfile(path):
        raise InputError(path, "expertise selection file not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    missing = [c for c in ("member", "paper_id", "action") if c not in frame.columns]
    if missing:
        raise InputError(path, f"missing columns {missing} (have {list(frame.columns)})")
    frame = frame[["member", "paper_id", "action"]].apply(lambda c: c.str.strip())
    frame["action"] = frame["action"].str.lower()
    frame["line"] = np.arange(len(frame)) + 2
    for column in ("member", "paper_id", "action"):
        wrong = frame[column] == ""
        if column == "action":
            wrong |= ~frame[column].isin(["include", "exclude"])
        bad = frame.index[wrong]
        if len(bad):
            row = frame.loc[bad[0]]
            raise InputError(path, f"expected {'include or exclude' if column == 'action' else 'a value'}, "
                             f"got {row[column]!r}", row=int(row["line"]), column=column)
    frame.attrs["path"] = str(path)
    return frame


def read_job_files(job: dict) -> tuple[dict, pd.DataFrame | None]:
    """The job with ``members_file`` / ``submissions_file`` read into id lists, and its
    expertise selection table (or None)."""
    job = check_job(job)
    resolved = dict(job)
    for key in ("group", "alternate_group"):
        group = job.get(key)
        if group and group.get("members_file"):
            listed = read_id_list(group["members_file"])
            resolved[key] = {"members": [*group.get("members", []), *listed]}
    if job.get("members_file"):
        resolved["members"] = [*(job.get("members") or []), *read_id_list(job["members_file"])]
    if job.get("submissions_file"):
        resolved["submissions"] = [*(job.get("submissions") or []), *read_id_list(job["submissions_file"])]
    selection = None
    if job.get("expertise_selection"):
        selection = read_expertise_selection(job["expertise_selection"])
    return resolved, selection


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


def load_registry_scorer(
    spec: str,
    index_npzs: Sequence[PathLike],
    n_papers: int,
    submission_texts: Sequence[str],
    corpus_texts: Sequence[str] | None = None,
    avg_model: PathLike | None = None,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    bm25: Mapping[str, float] | None = None,
    device: str = "cpu",
    encoder: Mapping | None = None,
) -> RegistryScorer:
    """A registry model (``load_registry_model``) with its corpus indexes (one file per
    member, member order), checked to cover the ``n_papers`` corpus papers. ``device``
    ``auto`` picks CUDA when present (for ``avg`` and sentence-transformers members)."""
    if device == "auto" and set(parse_spec(spec)) - {"tfidf", "bm25"}:
        from revmatch.model import resolve_device

        device = str(resolve_device(device))
    model = load_registry_model(spec, avg_model=avg_model, sentence_transformers=sentence_transformers,
                                bm25=bm25, device=device, encoder=encoder)
    index = load_indexes(model, index_npzs)
    indexed = len(index) if isinstance(index, CorpusIndex) else len(index[0])
    if indexed != n_papers:
        raise InputError(index_npzs[0], f"corpus index of {indexed} papers, the corpus has {n_papers}")
    return RegistryScorer(model, index, submission_texts, corpus_texts)


def affinity_job_file(
    job: dict,
    reviewers_jsonl: PathLike,
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    out_json: PathLike,
    out_csv: PathLike,
    *,
    corpus_embeddings_npy: PathLike | None = None,
    submission_embeddings_npy: PathLike | None = None,
    reject_embeddings_npy: PathLike | None = None,
    index_npzs: Sequence[PathLike] = (),
    avg_model: PathLike | None = None,
    text_fields: Sequence[str] = TEXT_FIELDS,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    bm25: Mapping[str, float] | None = None,
    device: str = "cpu",
    encoder: Mapping | None = None,
    status_json: PathLike | None = None,
    name: str | None = None,
    rejects_jsonl: PathLike | None = None,
) -> dict:
    """Run one affinity job on files; write the results (JSON and CSV) and ``status.json``.

    The job's ``model``: ``avg`` alone reads the cached embeddings (``corpus_embeddings_npy``,
    ``submission_embeddings_npy`` and, for rejects, ``reject_embeddings_npy``); any other
    spec reads its members' corpus indexes (``index_npzs``, member order) and scores the
    submissions' ``text_fields`` (and, for ``group_group``, the corpus papers' texts) with
    the registry model (``avg_model``: the trained model file when ``avg`` is a member;
    ``sentence_transformers``: name -> folder; ``bm25``: ``k1``, ``b``). Rejects are needed
    when the job scores withdrawn or desk-rejected submissions. Returns the final status
    record: ``Completed`` (description: counts), or ``Data Error`` with the reason when the
    input is bad (no results are written then). Other failures write ``Error`` and raise.
    """
    status_json = Path(status_json) if status_json else Path(out_json).with_name("status.json")
    name = name or Path(out_json).parent.name
    request = dict(job)
    write_status(status_json, name, "Initialized", "reading the job's inputs", request)
    try:
        job, selection = read_job_files(job)
        reviewers = read_jsonl(reviewers_jsonl)
        submissions = read_jsonl(submissions_jsonl)
        statuses = job["submission_status"]
        needs_rejects = job["mode"] != "group_group" and set(statuses) - {"active"}
        rejects = read_jsonl(rejects_jsonl) if needs_rejects and rejects_jsonl else []
        if needs_rejects and not rejects_jsonl:
            raise ValueError(f"submission_status {list(statuses)} needs the rejects file")
        if not os.path.isfile(papers_parquet):
            raise InputError(papers_parquet, "publications (corpus) file not found")
        columns = pq.read_schema(papers_parquet).names
        missing = [c for c in ("paper_id", "year", "authors") if c not in columns]
        if missing:
            raise InputError(papers_parquet, f"missing corpus columns {missing}")
        papers = pd.read_parquet(papers_parquet, columns=["paper_id", "year", "authors"])
        if parse_spec(job["model"]) == ["avg"]:
            if corpus_embeddings_npy is None or submission_embeddings_npy is None:
                raise ValueError("model avg reads the corpus and submission embeddings; none given")
            if rejects and reject_embeddings_npy is None:
                raise ValueError(f"submission_status {list(statuses)} needs the rejects' embeddings")
            files = [submission_embeddings_npy, *([reject_embeddings_npy] if rejects else [])]
            scorer = load_embedding_scorer(
                corpus_embeddings_npy, files, len(papers), [len(submissions), len(rejects)][: len(files)]
            )
        else:
            texts = submission_texts(submissions, text_fields, submissions_jsonl)
            texts += submission_texts(rejects, text_fields, rejects_jsonl or "rejects")
            corpus_texts = None
            if job["mode"] == "group_group":
                corpus_texts = read_paper_texts(papers_parquet, text_fields)
            scorer = load_registry_scorer(
                job["model"], index_npzs, len(papers), texts, corpus_texts, avg_model=avg_model,
                sentence_transformers=sentence_transformers, bm25=bm25, device=device, encoder=encoder,
            )
        pairs = selection_pairs(selection, reviewers, papers["paper_id"].astype(str).tolist()) if (
            selection is not None) else None
        write_status(status_json, name, "Running Expertise", "scoring", request)
        scores, row_ids, col_ids, metadata = affinity_scores(
            job, reviewers, submissions, papers, scorer, rejects, pairs
        )
    except (InputError, ValueError, FileNotFoundError, KeyError) as exc:
        reason = str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}"
        logger.error("Data Error: %s", reason)
        return write_status(status_json, name, "Data Error", reason, request)
    except BaseException as exc:
        write_status(status_json, name, "Error", f"{type(exc).__name__}: {exc}", request)
        raise
    try:
        n_entries = write_results(
            scores, row_ids, col_ids, job["mode"], metadata, job["schema"], out_json, out_csv
        )
    except BaseException as exc:
        write_status(status_json, name, "Error", f"{type(exc).__name__}: {exc}", request)
        raise
    meta = results_metadata(metadata, job["schema"])
    description = (
        f"{n_entries} scores: {len(row_ids)} x {len(col_ids)}, {meta['no_publications_count']} members "
        f"without publications, {len(meta['no_profile'])} without profile, "
        f"{len(meta['no_profile_submission'])} submissions not found"
    )
    logger.info("wrote %d results to %s and %s", n_entries, out_json, out_csv)
    return write_status(status_json, name, "Completed", description, request)
