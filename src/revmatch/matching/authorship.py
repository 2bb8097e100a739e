"""Which reviewer wrote which corpus paper: the (reviewers x corpus papers) authorship matrix,
matched by Semantic Scholar author id, and the paper-matrix columns it selects."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.io import PathLike, atomic_path, read_jsonl, write_lines

logger = logging.getLogger(__name__)


def authorship_matrix(
    reviewer_ids: Sequence[Sequence[str]],
    paper_author_ids: Sequence[Sequence[str]],
) -> sp.csr_matrix:
    """Boolean (R, D) matrix: reviewer r authored paper d.

    A reviewer authored a paper when one of the reviewer's Semantic Scholar author ids is
    among the paper's author ids. Ids are compared as stripped strings; empty ids (reviewers
    without a Semantic Scholar profile) match nothing.
    """
    reviewers = _id_table(reviewer_ids, "reviewer")
    papers = _id_table(paper_author_ids, "paper")
    pairs = reviewers.merge(papers, on="author_id", how="inner")[["reviewer", "paper"]].drop_duplicates()
    shape = (len(reviewer_ids), len(paper_author_ids))
    data = np.ones(len(pairs), dtype=bool)
    matrix = sp.coo_matrix((data, (pairs["reviewer"].to_numpy(), pairs["paper"].to_numpy())), shape=shape)
    matrix = matrix.tocsr()
    matrix.sort_indices()
    return matrix


def _id_table(ids_per_owner: Sequence[Sequence[str]], owner: str) -> pd.DataFrame:
    """Long table (owner index, author id) without empty ids."""
    lengths = np.fromiter((len(ids) for ids in ids_per_owner), dtype=np.int64, count=len(ids_per_owner))
    owners = np.repeat(np.arange(len(ids_per_owner), dtype=np.int64), lengths)
    flat = [str(i).strip() if i is not None else "" for ids in ids_per_owner for i in ids]
    table = pd.DataFrame({owner: owners, "author_id": flat})
    return table[table["author_id"] != ""]


def papers_per_reviewer(authorship: sp.csr_matrix) -> np.ndarray:
    """Number of corpus papers of each reviewer, (R,) int."""
    return np.diff(authorship.indptr).astype(np.int64)


def authored_papers(authorship: sp.csr_matrix) -> np.ndarray:
    """Sorted indices of the corpus papers with at least one reviewer among their authors."""
    return np.unique(authorship.indices).astype(np.int64)


def reviewer_paper_ids(reviewers: list[dict]) -> list[list[str]]:
    """Semantic Scholar author ids of each reviewer record (key ``ids``)."""
    return [[str(i) for i in (rec.get("ids") or [])] for rec in reviewers]


def corpus_author_ids(papers: pd.DataFrame) -> list[list[str]]:
    """Author ids of each corpus paper (column ``authors``: list of ``{id, name}``)."""
    return [
        [str(author.get("id") or "") for author in (authors if authors is not None else [])]
        for authors in papers["authors"]
    ]


def save_authorship(authorship: sp.csr_matrix, path: PathLike) -> None:
    """Save an authorship matrix as a compressed ``.npz`` atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        sp.save_npz(tmp, sp.csr_matrix(authorship, dtype=bool))


def load_authorship(path: PathLike) -> sp.csr_matrix:
    """Load an authorship matrix saved by ``save_authorship``."""
    matrix = sp.load_npz(path).tocsr().astype(bool)
    matrix.sort_indices()
    return matrix


def reviewer_authorship(reviewers: list[dict], papers: pd.DataFrame) -> sp.csr_matrix:
    """Authorship matrix (R, D) of ``reviewers`` over the corpus ``papers``, with its counts logged.

    Reviewers without any corpus paper are counted and named in the log (they will score 0).
    """
    authorship = authorship_matrix(reviewer_paper_ids(reviewers), corpus_author_ids(papers))
    without = np.flatnonzero(papers_per_reviewer(authorship) == 0)
    logger.info(
        "%d reviewers, %d corpus papers, %d reviewer-paper links; %d papers have a reviewer author",
        authorship.shape[0],
        authorship.shape[1],
        authorship.nnz,
        len(authored_papers(authorship)),
    )
    if len(without):
        ids = [str(rec.get("id") or rec.get("startUsername")) for rec in reviewers]
        names = ", ".join(ids[i] for i in without[:20])
        more = f" and {len(without) - 20} more" if len(without) > 20 else ""
        logger.warning(
            "%d reviewers have no paper in the corpus and will score 0: %s%s", len(without), names, more
        )
    return authorship


def reviewer_papers_file(
    reviewers_jsonl: PathLike,
    papers_parquet: PathLike,
    out_authorship: PathLike,
    out_papers: PathLike,
) -> sp.csr_matrix:
    """Columns of the paper matrix (corpus papers with a reviewer author) and the authorship over them.

    Only corpus papers written by at least one reviewer become columns (the others can never
    count towards a reviewer's score). ``out_papers`` lists their ``paper_id`` one a line, in
    column order; ``out_authorship`` is the (R, columns) authorship matrix.
    """
    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "authors"])
    authorship = reviewer_authorship(read_jsonl(reviewers_jsonl), papers)
    columns = authored_papers(authorship)
    write_lines(papers["paper_id"].to_numpy()[columns].astype(str).tolist(), out_papers)
    save_authorship(authorship[:, columns].tocsr(), out_authorship)
    return authorship
