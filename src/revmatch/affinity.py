"""Affinity jobs in the shape of OpenReview's Expertise API.

A job scores entity A (a group of committee members) against entity B (submissions, or
the members of a second group) from embeddings: a member's expertise is the set of their
corpus papers, a member-submission score reduces the cosine similarities of the member's
papers to the submission (``max`` by default), and a member-member score reduces over
pairs of their papers. Modes:

- ``group_submissions``: a group (role, optional track, or explicit members) vs all
  submissions (or the ``submissions`` listed);
- ``paper_subset``: a group vs the listed ``submissions``;
- ``user_subset``: the listed ``members`` vs all submissions (or the listed ones);
- ``group_group``: ``group`` vs ``alternate_group``.

Scores lie in [0, 1]: with ``normalize`` they are min-max scaled over the job (a constant
job scores 0 everywhere); without it cosine similarity s becomes (s + 1) / 2, which needs a
reduction that stays in [-1, 1] (not the weighted sums ``weighted_top3``, ...). Members
without corpus papers get no score: they are left out of ``results`` and listed under
``metadata.no_publications``, as the Expertise API does. Members and submissions that a
job names but the conference does not have are listed under ``no_profile`` and
``no_profile_submission``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp

from revmatch.aggregate import AGGREGATORS, MAX_BLOCK_VALUES, aggregate_scores
from revmatch.io import InputError, PathLike, atomic_path, read_jsonl
from revmatch.log import progress
from revmatch.similarity import authorship_matrix, corpus_author_ids, normalize_rows, reviewer_paper_ids

logger = logging.getLogger(__name__)

JOB_MODES = ("group_submissions", "group_group", "paper_subset", "user_subset")
ROLES = ("reviewer", "area_chair", "senior_area_chair", "all")
SCHEMAS = ("legacy", "current")
# Reductions whose value can leave [-1, 1]: (s + 1) / 2 would not map them into [0, 1].
_UNBOUNDED_REDUCERS = ("weighted_top3", "weighted_topk", "reference_weighted_top3")
_JOB_KEYS = {
    "mode", "group", "alternate_group", "submissions", "members", "submission_status",
    "reduce", "normalize", "max_papers", "since_year", "schema",
}


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
) -> tuple[sp.csr_matrix, list[str]]:
    """Member x corpus-paper authorship (M x D, bool) and the ids of members with no papers.

    Authorship is that of the matching stage (``similarity.authorship_matrix``: one of the
    member's ``ids`` is the ``id`` of one of the paper's ``authors``). ``since_year`` keeps
    papers from that year on (papers without a year are then left out); ``max_papers``
    keeps each member's most recent papers (by year, papers without a year last, ties by
    corpus row).
    """
    if max_papers is not None and max_papers < 1:
        raise ValueError(f"max_papers must be at least 1, got {max_papers}")
    authored = authorship_matrix(reviewer_paper_ids(members), corpus_author_ids(papers)).tocoo()
    pairs = pd.DataFrame({"member": authored.row.astype(np.int64), "paper": authored.col.astype(np.int64)})
    years = papers["year"].astype("Int64").to_numpy(dtype=np.float64, na_value=np.nan)
    pairs["year"] = years[pairs["paper"].to_numpy()]
    if since_year is not None:
        recent = pairs["year"] >= since_year
        logger.info("since_year %d: %d of %d authorships kept", since_year, int(recent.sum()), len(pairs))
        pairs = pairs[recent]
    if max_papers is not None:
        pairs = pairs.assign(order=-pairs["year"].fillna(-np.inf))
        pairs = pairs.sort_values(["member", "order", "paper"], kind="stable")
        pairs = pairs[pairs.groupby("member").cumcount() < max_papers]
    incidence = sp.csr_matrix(
        (np.ones(len(pairs), dtype=bool), (pairs["member"].to_numpy(), pairs["paper"].to_numpy())),
        shape=authored.shape,
    )
    incidence.sort_indices()
    counts = np.diff(incidence.indptr)
    no_publications = [_member_id(members[i]) for i in np.flatnonzero(counts == 0)]
    return incidence, no_publications


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


def _reduce_blockwise(
    block_scores: Callable[[int, int], np.ndarray],
    n_rows: int,
    incidence: sp.csr_matrix,
    reduce: str,
    block_rows: int,
    desc: str,
) -> np.ndarray:
    """(n_rows x M) float32: ``group_submission_scores`` of the score rows ``block_scores(lo, hi)``
    (each ``hi - lo`` x D) against ``incidence`` (M x D), a block of rows at a time.

    Blocks shrink so that a block's scores and gathered values stay near
    ``aggregate.MAX_BLOCK_VALUES`` each.
    """
    rows = max(1, min(int(block_rows), MAX_BLOCK_VALUES // max(1, incidence.shape[1], incidence.nnz)))
    out = np.full((n_rows, incidence.shape[0]), np.nan, dtype=np.float32)
    starts = range(0, n_rows, rows)
    for lo in progress(starts, desc=desc, total=len(starts), unit="block"):
        hi = min(lo + rows, n_rows)
        out[lo:hi] = group_submission_scores(block_scores(lo, hi), incidence, reduce)
    return out


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
    used, local = _used_columns(incidence)
    pubs_t = normalize_rows(np.asarray(pub_embeddings[used]).reshape(len(used), -1)).T.copy()
    subs = normalize_rows(submission_embeddings)
    return _reduce_blockwise(
        lambda lo, hi: subs[lo:hi] @ pubs_t, len(subs), local, reduce, block_rows, "submission scores"
    )


def group_group_scores(
    emb_a_pubs: np.ndarray,
    inc_a: sp.spmatrix,
    emb_b_pubs: np.ndarray,
    inc_b: sp.spmatrix,
    reduce: str = "max",
    block_rows: int = 1024,
) -> np.ndarray:
    """Cosine member-member scores (A x B): ``reduce`` over pairs of the two members' papers.

    ``emb_a_pubs`` / ``emb_b_pubs`` are aligned with the columns of ``inc_a`` / ``inc_b``
    (both may be the whole corpus). The reduction runs over B's papers first, then over
    A's, block-wise; for ``max`` and ``mean`` this equals the max (mean) over all pairs.
    Members of either side without papers get NaN.
    """
    used_a, local_a = _used_columns(inc_a)
    used_b, local_b = _used_columns(inc_b)
    pubs_a = normalize_rows(np.asarray(emb_a_pubs[used_a]).reshape(len(used_a), -1))
    pubs_b_t = normalize_rows(np.asarray(emb_b_pubs[used_b]).reshape(len(used_b), -1)).T.copy()
    paper_member = _reduce_blockwise(
        lambda lo, hi: pubs_a[lo:hi] @ pubs_b_t,
        len(pubs_a), local_b, reduce, block_rows, "paper-member scores",
    )
    out = np.full((local_a.shape[0], local_b.shape[0]), np.nan)
    has_papers = np.flatnonzero(np.diff(local_b.indptr) > 0)
    member_paper = paper_member[:, has_papers].T
    out[:, has_papers] = _reduce_blockwise(
        lambda lo, hi: member_paper[lo:hi],
        len(has_papers), local_a, reduce, block_rows, "member-member scores",
    ).T
    return out


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


def write_results(
    scores: np.ndarray,
    row_ids: Sequence[str],
    col_ids: Sequence[str],
    mode: str,
    metadata: dict,
    schema: str,
    out_json: PathLike,
    out_csv: PathLike,
    block_entries: int = 1 << 18,
) -> int:
    """Write ``results_document(...)`` as JSON and its entries as CSV, a block of rows at a time.

    The document is never held in memory as Python objects (an ACL-sized job has 10^8
    entries); JSON and CSV are built from the score matrix with vectorised string
    operations, one entry a line, about ``block_entries`` matrix cells at a time. Returns
    the number of entries.
    """
    scores = np.asarray(scores)
    if scores.shape != (len(row_ids), len(col_ids)):
        raise ValueError(f"scores {scores.shape} do not match {len(row_ids)} rows x {len(col_ids)} columns")
    columns = results_columns(mode, schema)
    a_key, b_key = _entry_keys(mode, schema)
    ids = {
        a_key: np.asarray([str(r) for r in row_ids], dtype=object),
        b_key: np.asarray([str(c) for c in col_ids], dtype=object),
    }
    as_json = {
        k: np.asarray([json.dumps(v, ensure_ascii=False) for v in a], dtype=object) for k, a in ids.items()
    }
    as_csv = {k: np.asarray([_csv_field(v) for v in a], dtype=object) for k, a in ids.items()}
    head = json.dumps({"metadata": results_metadata(metadata, schema)}, ensure_ascii=False)[:-1]
    n_entries = 0
    with (
        atomic_path(out_json) as tmp_json,
        atomic_path(out_csv) as tmp_csv,
        open(tmp_json, "w", encoding="utf-8") as js,
        open(tmp_csv, "w", encoding="utf-8", newline="") as cs,
    ):
        js.write(head + ', "results": [')
        cs.write(",".join(columns) + "\n")
        block_rows = max(1, block_entries // max(1, scores.shape[1]))
        starts = range(0, scores.shape[0], block_rows)
        for lo in progress(starts, desc="write results", total=len(starts), unit="block"):
            block = np.asarray(scores[lo : lo + block_rows], dtype=np.float64)
            rows, cols = np.nonzero(np.isfinite(block))
            if rows.size == 0:
                continue
            picked = {a_key: lo + rows, b_key: cols}
            value = block[rows, cols].astype(str).astype(object)
            json_parts = {k: as_json[k][picked[k]] for k in picked} | {"score": value}
            csv_parts = {k: as_csv[k][picked[k]] for k in picked} | {"score": value}
            entry = "{" + f'"{columns[0]}": ' + json_parts[columns[0]]
            line = csv_parts[columns[0]]
            for name in columns[1:]:
                entry = entry + f', "{name}": ' + json_parts[name]
                line = line + "," + csv_parts[name]
            js.write(("\n" if n_entries == 0 else ",\n") + ",\n".join(entry + "}"))
            cs.write("\n".join(line) + "\n")
            n_entries += rows.size
        js.write("\n]}\n")
    return n_entries


# ---------------------------------------------------------------- jobs


def _check_job(job: dict) -> dict:
    """The job with defaults filled in; bad keys or values raise ``ValueError``."""
    unknown = sorted(set(job) - _JOB_KEYS)
    if unknown:
        raise ValueError(f"unknown affinity job keys: {unknown}")
    mode = job.get("mode")
    if mode not in JOB_MODES:
        raise ValueError(f"job mode must be one of {JOB_MODES}, got {mode!r}")
    checked = {
        "reduce": "max", "normalize": True, "max_papers": None, "since_year": None,
        "schema": "legacy", "submission_status": "active", **job,
    }
    if checked["schema"] not in SCHEMAS:
        raise ValueError(f"job schema must be one of {SCHEMAS}, got {checked['schema']!r}")
    if checked["submission_status"] != "active":
        raise ValueError(
            f"submission_status {checked['submission_status']!r}: only active submissions are scored "
            "(rejected and withdrawn ones are not in submissions.jsonl)"
        )
    how = _parse_reduce(checked["reduce"])
    if not checked["normalize"] and how in _UNBOUNDED_REDUCERS:
        raise ValueError(
            f"reduce {how!r} sums similarities beyond [-1, 1]; use it with normalize: true"
        )
    if mode in ("group_submissions", "paper_subset", "group_group") and not checked.get("group"):
        raise ValueError(f"mode {mode} needs a 'group'")
    if mode == "group_group" and not checked.get("alternate_group"):
        raise ValueError("mode group_group needs an 'alternate_group'")
    if mode == "paper_subset" and not checked.get("submissions"):
        raise ValueError("mode paper_subset needs a list of 'submissions'")
    if mode == "user_subset" and not (checked.get("members") or (checked.get("group") or {}).get("members")):
        raise ValueError("mode user_subset needs a list of 'members'")
    return checked


def _select_submissions(
    submissions: Sequence[dict], wanted: Sequence[str] | None
) -> tuple[np.ndarray, list[str]]:
    """Indices of the wanted submission ids (all when None) and the ids not found."""
    if wanted is None:
        return np.arange(len(submissions)), []
    if isinstance(wanted, str):
        raise ValueError("'submissions' must be a list of ids, not one string")
    index = {str(s.get("id", s.get("startSubmissionId"))): i for i, s in enumerate(submissions)}
    wanted = list(dict.fromkeys(str(w) for w in wanted))
    found = np.asarray([index[w] for w in wanted if w in index], dtype=np.int64)
    return found, [w for w in wanted if w not in index]


def affinity_scores(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    corpus_embeddings: np.ndarray,
    submission_embeddings: np.ndarray,
) -> tuple[np.ndarray, list[str], list[str], dict]:
    """Score one affinity job: (scores A x B in [0, 1], NaN = no score; entity A ids;
    entity B ids; metadata for ``results_document``). See ``run_affinity_job``."""
    job = _check_job(job)
    mode = job["mode"]
    if len(corpus_embeddings) != len(papers):
        raise ValueError(f"{len(corpus_embeddings)} corpus embeddings for {len(papers)} papers")
    if len(submission_embeddings) != len(submissions):
        raise ValueError(
            f"{len(submission_embeddings)} submission embeddings for {len(submissions)} submissions"
        )
    group = {"members": job["members"]} if mode == "user_subset" and job.get("members") else job["group"]
    a_index, no_profile = group_members(reviewers, group)
    a_members = [reviewers[i] for i in a_index]
    inc_a, no_pubs = member_publications(a_members, papers, job["max_papers"], job["since_year"])
    archives = dict(zip(map(_member_id, a_members), np.diff(inc_a.indptr).tolist(), strict=True))
    no_profile_submission: list[str] = []
    if mode == "group_group":
        b_index, missing_b = group_members(reviewers, job["alternate_group"])
        b_members = [reviewers[i] for i in b_index]
        inc_b, no_pubs_b = member_publications(b_members, papers, job["max_papers"], job["since_year"])
        archives.update(zip(map(_member_id, b_members), np.diff(inc_b.indptr).tolist(), strict=True))
        no_profile += [m for m in missing_b if m not in no_profile]
        no_pubs += [m for m in no_pubs_b if m not in no_pubs]
        raw = group_group_scores(corpus_embeddings, inc_a, corpus_embeddings, inc_b, job["reduce"])
        col_ids = [_member_id(m) for m in b_members]
    else:
        b_index, no_profile_submission = _select_submissions(submissions, job.get("submissions"))
        raw = submission_member_scores(
            np.asarray(submission_embeddings)[b_index], corpus_embeddings, inc_a, job["reduce"]
        ).T
        col_ids = [str(submissions[i].get("id", submissions[i].get("startSubmissionId"))) for i in b_index]
    scores = normalise_scores(raw) if job["normalize"] else cosine_to_unit(raw)
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
    return scores, [_member_id(m) for m in a_members], col_ids, metadata


def run_affinity_job(
    job: dict,
    reviewers: list[dict],
    submissions: list[dict],
    papers: pd.DataFrame,
    corpus_embeddings: np.ndarray,
    submission_embeddings: np.ndarray,
) -> dict:
    """Run one affinity job; return the Expertise API results document.

    ``corpus_embeddings`` rows follow ``papers`` rows, ``submission_embeddings`` rows follow
    ``submissions``. Job keys: ``mode``; ``group`` / ``alternate_group`` (``role`` and
    optional ``track``, or ``members``); ``submissions`` and ``members`` (id lists);
    ``submission_status`` (only ``active``); ``reduce``; ``normalize``; ``max_papers``;
    ``since_year``; ``schema`` (``legacy`` or ``current``).
    """
    scores, row_ids, col_ids, metadata = affinity_scores(
        job, reviewers, submissions, papers, corpus_embeddings, submission_embeddings
    )
    return results_document(scores, row_ids, col_ids, job["mode"], metadata, job.get("schema", "legacy"))


# ---------------------------------------------------------------- files


def _load_embeddings(path: PathLike, rows: int, what: str) -> np.ndarray:
    array = np.load(path, mmap_mode="r")
    if array.ndim != 2 or array.shape[0] != rows:
        raise InputError(path, f"expected {rows} rows of {what} embeddings, got shape {array.shape}")
    return array


def affinity_job_file(
    job: dict,
    reviewers_jsonl: PathLike,
    submissions_jsonl: PathLike,
    papers_parquet: PathLike,
    corpus_embeddings_npy: PathLike,
    submission_embeddings_npy: PathLike,
    out_json: PathLike,
    out_csv: PathLike,
) -> dict:
    """Run one affinity job on files; write the results document (JSON) and its entries (CSV).

    Returns the document's ``metadata`` block.
    """
    reviewers = read_jsonl(reviewers_jsonl)
    submissions = read_jsonl(submissions_jsonl)
    missing = [c for c in ("year", "authors") if c not in pq.read_schema(papers_parquet).names]
    if missing:
        raise InputError(papers_parquet, f"missing corpus columns {missing}")
    papers = pd.read_parquet(papers_parquet, columns=["year", "authors"])
    corpus_embeddings = _load_embeddings(corpus_embeddings_npy, len(papers), "corpus")
    submission_embeddings = _load_embeddings(submission_embeddings_npy, len(submissions), "submission")
    if corpus_embeddings.shape[1] != submission_embeddings.shape[1]:
        raise InputError(
            submission_embeddings_npy,
            f"dimension {submission_embeddings.shape[1]} differs "
            f"from the corpus's {corpus_embeddings.shape[1]}",
        )
    scores, row_ids, col_ids, metadata = affinity_scores(
        job, reviewers, submissions, papers, corpus_embeddings, submission_embeddings
    )
    schema = job.get("schema", "legacy")
    n_entries = write_results(scores, row_ids, col_ids, job["mode"], metadata, schema, out_json, out_csv)
    logger.info("wrote %d results to %s and %s", n_entries, out_json, out_csv)
    return results_metadata(metadata, schema)
