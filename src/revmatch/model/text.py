"""Text preparation: paper text, Moses tokenisation, sentencepiece training and encoding.

The steps follow the reference tool: Moses tokens (English, no escaping), lower-cased, one
text a line; a unigram sentencepiece model with a soft vocabulary limit; every line
encoded as pieces joined by spaces.
"""

from __future__ import annotations

import functools
import io
import logging
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import sentencepiece as spm
from sacremoses import MosesTokenizer

from revmatch.io import InputError, PathLike, atomic_path, read_lines, write_lines
from revmatch.log import progress

logger = logging.getLogger(__name__)

TEXT_FIELDS = ("title", "abstract")
# Longest line (bytes) sentencepiece trains on; its default (4192) would silently skip long
# title + abstract lines.
MAX_SENTENCE_BYTES = 1 << 16


def paper_text(title: str | None, abstract: str | None) -> str:
    """The text that represents a paper: ``"title. abstract"``, missing or empty parts skipped.

    Whitespace is normalised to single spaces (so a text is always one line). No full stop
    is added after a title that already ends in ``.``, ``?`` or ``!``.
    """
    title, abstract = _clean_part(title), _clean_part(abstract)
    if title and abstract:
        separator = " " if title[-1] in ".?!" else ". "
        return title + separator + abstract
    return title or abstract


def _clean_part(part: object) -> str:
    if part is None or (not isinstance(part, str) and pd.isna(part)):
        return ""
    if not isinstance(part, str):
        raise TypeError(f"expected a string or a missing value, got {type(part).__name__}")
    return " ".join(part.split())


@functools.cache
def _moses() -> MosesTokenizer:
    return MosesTokenizer(lang="en")


def tokenize_text(text: str) -> str:
    """Moses tokens (English, no escaping) of one text, joined by spaces and lower-cased."""
    text = text.strip()
    return " ".join(_moses().tokenize(text, escape=False)).lower() if text else ""


def tokenize(texts: Iterable[str], processes: int = 1, chunk_size: int = 256) -> list[str]:
    """``tokenize_text`` of every text (same order), with a progress bar.

    With ``processes > 1`` chunks of ``chunk_size`` texts are tokenised in that many
    worker processes (Moses tokenisation is pure Python and the slow step of encoding).
    """
    texts = list(texts)
    if processes <= 1 or len(texts) <= chunk_size:
        return [tokenize_text(text) for text in progress(texts, desc="tokenize", unit="text")]
    chunks = [texts[start:start + chunk_size] for start in range(0, len(texts), chunk_size)]
    # fork: workers need no re-import of the main module (a Snakemake script or a REPL)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(processes) as pool:
        done = pool.imap(_tokenize_chunk, chunks)
        return [line for chunk in progress(done, desc="tokenize", total=len(chunks), unit="chunk")
                for line in chunk]


def _tokenize_chunk(texts: list[str]) -> list[str]:
    return [tokenize_text(text) for text in texts]


def train_sentencepiece(
    lines_path: PathLike,
    model_path: PathLike,
    vocab_size: int = 20000,
    character_coverage: float = 0.9995,
    seed: int = 1,
    threads: int = 1,
) -> None:
    """Train a unigram sentencepiece model on a text file, one sentence a line.

    The vocabulary limit is soft (``hard_vocab_limit=false``), as in the reference tool;
    blank lines are skipped (and counted). Writes ``model_path`` and the ``.vocab`` file
    (``piece<TAB>score``) beside it atomically. For a given input, settings and thread
    count the model file is byte-identical: the random generator is seeded and no path is
    stored in it.
    """
    model_path = Path(model_path)
    counts = {"lines": 0, "blank": 0}

    def sentences() -> Iterator[str]:
        with open(lines_path, encoding="utf-8") as fh:
            for line in fh:
                counts["lines"] += 1
                if line.strip():
                    yield line.rstrip("\n")
                else:
                    counts["blank"] += 1

    model_proto = io.BytesIO()
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences(),
            model_writer=model_proto,
            vocab_size=vocab_size,
            character_coverage=character_coverage,
            model_type="unigram",
            hard_vocab_limit=False,
            num_threads=threads,
            max_sentence_length=MAX_SENTENCE_BYTES,
            minloglevel=1,
        )
    except RuntimeError as exc:
        raise InputError(lines_path, f"sentencepiece training failed: {exc}") from exc
    logger.info(
        "trained sentencepiece on %d lines of %s (%d blank lines skipped), vocab_size=%d",
        counts["lines"] - counts["blank"], lines_path, counts["blank"], vocab_size,
    )
    sp = spm.SentencePieceProcessor(model_proto=model_proto.getvalue())
    vocab_lines = (f"{sp.id_to_piece(i)}\t{sp.get_score(i):.6g}" for i in range(sp.get_piece_size()))
    write_lines(vocab_lines, model_path.with_suffix(".vocab"))
    with atomic_path(model_path) as tmp:
        tmp.write_bytes(model_proto.getvalue())
    logger.info("sentencepiece model %s: %d pieces", model_path, sp.get_piece_size())


def encode_pieces(sp_model_path: PathLike, lines: Iterable[str]) -> list[list[str]]:
    """Encode each line (stripped, lower-cased) as sentencepiece pieces."""
    sp = spm.SentencePieceProcessor(model_file=str(sp_model_path))
    return sp.encode([line.strip().lower() for line in lines], out_type=str)


# ---------------------------------------------------------------- files


def read_paper_texts(papers_parquet: PathLike, fields: Sequence[str] = TEXT_FIELDS) -> list[str]:
    """The text of every corpus paper (``paper_text`` of the chosen fields), in row order."""
    fields = tuple(fields)
    unknown = sorted(set(fields) - set(TEXT_FIELDS))
    if unknown or not fields:
        raise ValueError(f"text fields must be a non-empty subset of {TEXT_FIELDS}, got {fields}")
    papers = pd.read_parquet(papers_parquet)
    for field in fields:
        if field not in papers.columns:
            raise InputError(papers_parquet, "missing column", column=field)
    titles = papers["title"].tolist() if "title" in fields else [None] * len(papers)
    abstracts = papers["abstract"].tolist() if "abstract" in fields else [None] * len(papers)
    texts = []
    for row, (title, abstract) in enumerate(zip(titles, abstracts, strict=True)):
        try:
            texts.append(paper_text(title, abstract))
        except TypeError as exc:
            raise InputError(papers_parquet, str(exc), row=row) from exc
    return texts


def submission_texts(records: Sequence[dict], fields: Sequence[str] = TEXT_FIELDS,
                     source: PathLike = "submissions") -> list[str]:
    """The text of each submission record (``title`` / ``paperAbstract`` of ``fields``), as
    the avg model's submission embeddings are made; a non-text value raises ``InputError``
    naming ``source`` and the record's line."""
    fields = tuple(fields)
    if not fields or set(fields) - set(TEXT_FIELDS):
        raise ValueError(f"text fields must be a non-empty subset of {TEXT_FIELDS}, got {fields}")
    keys = {"title": "title", "abstract": "paperAbstract"}
    texts = []
    for row, record in enumerate(records, start=1):
        parts = {field: record.get(keys[field]) if field in fields else None for field in TEXT_FIELDS}
        try:
            texts.append(paper_text(parts["title"], parts["abstract"]))
        except TypeError as exc:
            raise InputError(source, str(exc), row=row) from exc
    empty = sum(not text for text in texts)
    if empty:
        logger.warning("%s: %d of %d records have no text (%s); they score as empty texts",
                       source, empty, len(texts), "/".join(fields))
    return texts


def tokenize_papers_file(
    papers_parquet: PathLike, out_txt: PathLike, fields: Sequence[str] = TEXT_FIELDS, processes: int = 1
) -> None:
    """Write one tokenised, lower-cased line per corpus paper (same order; no text -> empty line)."""
    texts = read_paper_texts(papers_parquet, fields)
    n_empty = sum(not text for text in texts)
    if n_empty:
        logger.warning("%d of %d papers have no text in %s (empty lines)", n_empty, len(texts), fields)
    n = write_lines(tokenize(texts, processes=processes), out_txt)
    logger.info("tokenised %d papers into %s", n, out_txt)


def encode_file(sp_model_path: PathLike, in_txt: PathLike, out_txt: PathLike) -> None:
    """Encode every line of ``in_txt`` as sentencepiece pieces joined by spaces (same order)."""
    pieces = encode_pieces(sp_model_path, read_lines(in_txt))
    n = write_lines((" ".join(line) for line in pieces), out_txt)
    logger.info("encoded %d lines (%d pieces) into %s", n, sum(map(len, pieces)), out_txt)
