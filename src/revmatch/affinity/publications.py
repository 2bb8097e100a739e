"""A member's publications: their corpus papers (by Semantic Scholar author id) or their
OpenReview archive (``archives``), as an expertise selection table can restrict them
(``include`` only these papers, or ``exclude`` papers per member); then ``since_year`` and
``max_papers`` (most recent) apply."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.affinity.groups import member_id
from revmatch.io import InputError, PathLike
from revmatch.matching import authorship_matrix, corpus_author_ids, reviewer_paper_ids

logger = logging.getLogger(__name__)


def member_publications(
    members: list[dict],
    papers: pd.DataFrame,
    max_papers: int | None = None,
    since_year: int | None = None,
    selection: pd.DataFrame | None = None,
    authored: sp.spmatrix | None = None,
) -> tuple[sp.csr_matrix, list[str]]:
    """Member x corpus-paper incidence (M x D, bool) and the ids of members with no papers.

    Authorship is that of the matching stage (``authorship_matrix``: one of the
    member's ``ids`` is the ``id`` of one of the paper's ``authors``), or ``authored`` (M x D)
    when given (an archive's: ``Archive.authorship``). ``selection``
    (columns ``member``: index into ``members``, ``paper``: corpus row, ``include``: bool;
    see ``selection_pairs``) then replaces the papers of a member with ``include`` rows by
    exactly those papers and drops the ``exclude`` pairs. ``since_year`` keeps papers from
    that year on (papers without a year are then left out); ``max_papers`` keeps each
    member's most recent papers (by ``date`` when ``papers`` has one, else by year; papers
    without either last, ties by corpus row).
    """
    if max_papers is not None and max_papers < 1:
        raise ValueError(f"max_papers must be at least 1, got {max_papers}")
    if authored is None:
        authored = authorship_matrix(reviewer_paper_ids(members), corpus_author_ids(papers))
    authored = sp.coo_matrix(authored)
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
        recency = pairs["year"]
        if "date" in papers.columns:
            recency = pd.Series(papers["date"].to_numpy(dtype=np.float64)[pairs["paper"].to_numpy()],
                                index=pairs.index)
        pairs = pairs.assign(order=-recency.fillna(-np.inf))
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
    no_publications = [member_id(members[i]) for i in np.flatnonzero(counts == 0)]
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
        for key in (member_id(r), str(r.get("email") or "").casefold()):
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
