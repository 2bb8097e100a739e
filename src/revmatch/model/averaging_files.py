"""The averaging model's file functions: train on a pieces file (papers held out), embed a
corpus from its pieces, embed papers or submissions from their texts."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike, read_jsonl, read_lines, save_npy
from revmatch.model.averaging import embed_piece_lines, embed_texts, load_model
from revmatch.model.averaging_training import train_model
from revmatch.model.heldout import heldout_mask
from revmatch.model.pairs import paper_author_ids, parse_pair_kinds
from revmatch.model.settings import TrainingSettings
from revmatch.model.text import (
    TEXT_FIELDS,
    encode_pieces,
    paper_text,
    read_paper_texts,
    submission_texts,
    tokenize,
)

logger = logging.getLogger(__name__)


def train_model_file(
    pieces_txt: PathLike,
    sp_model_path: PathLike,
    out_path: PathLike,
    settings: TrainingSettings,
    checkpoint_dir: PathLike | None = None,
    papers_parquet: PathLike | None = None,
) -> dict:
    """Train on a pieces file (one abstract a line, pieces joined by spaces); save the model.

    With ``papers_parquet`` (the corpus the pieces file is aligned with) and a positive
    held-out fraction (``settings.heldout``), the papers of ``heldout_mask`` are left out of
    training (counted), so that the retrieval evaluation ranks papers the model has not seen.
    """
    train_params, device = settings.params, settings.device
    heldout_fraction, heldout_seed = settings.heldout.fraction, settings.heldout.seed
    kinds = parse_pair_kinds(train_params.pairs)
    lines = read_lines(pieces_txt)
    columns = [column for kind, column in (("coauthors", "authors"), ("titles", "title")) if kind in kinds]
    papers = None
    if columns or (papers_parquet is not None and heldout_fraction > 0):
        if papers_parquet is None:
            raise ValueError(f"pairs {train_params.pairs!r} need the corpus papers (papers_parquet)")
        papers = pd.read_parquet(papers_parquet, columns=["paper_id", *columns])
        if len(papers) != len(lines):
            raise InputError(pieces_txt, f"{len(lines)} lines for {len(papers)} papers in {papers_parquet}")
    rows = np.arange(len(lines))
    if papers is not None and heldout_fraction > 0:
        held = heldout_mask(papers["paper_id"].astype(str).tolist(), heldout_fraction, heldout_seed)
        rows = np.flatnonzero(~held)
        logger.info("held out %d of %d papers for evaluation (fraction %g, seed %d)",
                    int(held.sum()), len(held), heldout_fraction, heldout_seed)
    piece_lines = [lines[i].split() for i in rows]
    author_ids = titles = None
    if "coauthors" in kinds:
        author_ids = [paper_author_ids(authors) for authors in papers["authors"].iloc[rows]]
    if "titles" in kinds:
        title_texts = [paper_text(title, None) for title in papers["title"].iloc[rows]]
        titles = encode_pieces(sp_model_path, tokenize(title_texts))
    return train_model(piece_lines, train_params, out_path, sp_model_path, device=device,
                       checkpoint_dir=checkpoint_dir, author_ids=author_ids, titles=titles)


def embed_pieces_file(
    model_path: PathLike,
    pieces_txt: PathLike,
    sp_model_path: PathLike,
    out_npy: PathLike,
    batch_size: int = 512,
    device: str = "cpu",
) -> None:
    """Embed a corpus from its encoded pieces file (no second tokenisation) into an (n, dim) ``.npy``.

    ``sp_model_path`` is the sentencepiece model the pieces were made with; it must be the
    one stored in the model file, else the pieces would be looked up in a foreign vocabulary.
    """
    model = load_model(model_path, device=device)
    if Path(sp_model_path).read_bytes() != model.sentencepiece.serialized_model_proto():
        raise InputError(model_path,
                         f"the model was trained with another sentencepiece model than {sp_model_path}")
    piece_lines = [line.split() for line in read_lines(pieces_txt)]
    n_empty = sum(not line for line in piece_lines)
    if n_empty:
        logger.warning("%d of %d lines of %s are empty; they get the unknown-token vector",
                       n_empty, len(piece_lines), pieces_txt)
    started = time.perf_counter()
    embeddings = embed_piece_lines(model, piece_lines, batch_size=batch_size)
    logger.info("embedded %d lines in %.1f s", len(piece_lines), time.perf_counter() - started)
    save_npy(embeddings, out_npy)


def embed_papers_file(
    model_path: PathLike,
    papers_parquet: PathLike,
    out_npy: PathLike,
    fields: Sequence[str] = TEXT_FIELDS,
    batch_size: int = 512,
    device: str = "cpu",
) -> None:
    """Embed every corpus paper (rows of ``papers_parquet``) into an (n, dim) float32 ``.npy``."""
    texts = read_paper_texts(papers_parquet, fields)
    _embed_and_save(model_path, texts, out_npy, batch_size, device)


def embed_submissions_file(
    model_path: PathLike,
    submissions_jsonl: PathLike,
    out_npy: PathLike,
    fields: Sequence[str] = TEXT_FIELDS,
    batch_size: int = 512,
    device: str = "cpu",
) -> None:
    """Embed every submission (lines of ``submissions.jsonl``) into an (n, dim) float32 ``.npy``."""
    texts = submission_texts(read_jsonl(submissions_jsonl), fields, submissions_jsonl)
    _embed_and_save(model_path, texts, out_npy, batch_size, device)


def _embed_and_save(model_path: PathLike, texts: list[str], out_npy: PathLike, batch_size: int,
                    device: str) -> None:
    n_empty = sum(not text for text in texts)
    if n_empty:
        logger.warning("%d of %d texts are empty; they get the unknown-token vector", n_empty, len(texts))
    model = load_model(model_path, device=device)
    started = time.perf_counter()
    embeddings = embed_texts(model, texts, batch_size=batch_size)
    logger.info("embedded %d texts in %.1f s", len(texts), time.perf_counter() - started)
    save_npy(embeddings, out_npy)
