import numpy as np
import pandas as pd
import pytest

from revmatch.io import InputError, read_lines
from revmatch.model.text import (
    encode_file,
    encode_pieces,
    paper_text,
    read_paper_texts,
    tokenize,
    tokenize_papers_file,
    tokenize_text,
    train_sentencepiece,
)

WORDS = (
    "parsing syntax tree grammar dependency translation bilingual alignment decoder speech "
    "acoustic phoneme speaker sentiment opinion polarity review the of a model method results"
).split()


def synthetic_corpus(n_lines: int = 300, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(5, 25))) for _ in range(n_lines)]


def test_paper_text_joins_title_and_abstract():
    assert paper_text("A Title", "An  abstract\nover lines.") == "A Title. An abstract over lines."
    assert paper_text("Why not?", "Because.") == "Why not? Because."
    assert paper_text(None, "Only abstract.") == "Only abstract."
    assert paper_text("Only title", "") == "Only title"
    assert paper_text("  ", float("nan")) == ""
    assert paper_text(pd.NA, None) == ""
    with pytest.raises(TypeError):
        paper_text(3, "x")


def test_tokenize_matches_moses_lowercased():
    texts = [
        "Hello, World! It's a test (with parentheses) & \"quotes\" for BERT-based models in 2019.",
        "   ",
        "We don't use <tags>.",
    ]
    assert tokenize(texts) == [
        "hello , world ! it 's a test ( with parentheses ) & \" quotes \" for bert-based models in 2019 .",
        "",
        "we don 't use < tags > .",
    ]
    assert [tokenize_text(text) for text in texts] == tokenize(texts)
    many = [text.capitalize() + "." for text in synthetic_corpus(40)] + texts
    assert tokenize(many, processes=2, chunk_size=7) == tokenize(many)  # same lines, same order


def test_train_sentencepiece_is_deterministic(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(synthetic_corpus()[:150] + [""] + synthetic_corpus()[150:]) + "\n")
    first, second = tmp_path / "a" / "sp.model", tmp_path / "b" / "sp.model"
    train_sentencepiece(lines, first, vocab_size=60, seed=3)
    train_sentencepiece(lines, second, vocab_size=60, seed=3)
    assert first.read_bytes() == second.read_bytes()
    assert (tmp_path / "a" / "sp.vocab").read_bytes() == (tmp_path / "b" / "sp.vocab").read_bytes()
    vocab = read_lines(tmp_path / "a" / "sp.vocab")
    assert vocab[0].split("\t")[0] == "<unk>" and all(len(line.split("\t")) == 2 for line in vocab)
    assert not list(tmp_path.glob("*/.*tmp*")), "temporary files left behind"

    corpus = synthetic_corpus(5, seed=9)
    pieces = encode_pieces(first, [text.upper() for text in corpus])
    assert ["".join(p).replace("\u2581", " ").strip() for p in pieces] == corpus


def test_train_sentencepiece_rejects_empty_input(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("\n\n")
    with pytest.raises(InputError, match="lines.txt"):
        train_sentencepiece(lines, tmp_path / "sp.model", vocab_size=50)
    assert not (tmp_path / "sp.model").exists()


def test_papers_file_to_tokens_to_pieces(tmp_path):
    papers = pd.DataFrame({
        "paper_id": ["p1", "p2", "p3", "p4"],
        "title": ["Neural Parsing", None, "", "Speech, Again"],
        "abstract": ["We parse trees (fast).", "Only an abstract.", None, None],
        "year": pd.array([2020, 2021, 2019, 2018], dtype="Int64"),
        "venue": ["acl"] * 4,
        "authors": [[{"id": "a", "name": "A"}]] * 4,
        "acl_id": ["x"] * 4,
    })
    parquet = tmp_path / "papers.parquet"
    papers.to_parquet(parquet, index=False)

    tokens = tmp_path / "tok.txt"
    tokenize_papers_file(parquet, tokens)
    assert read_lines(tokens) == [
        "neural parsing . we parse trees ( fast ) .",
        "only an abstract .",
        "",
        "speech , again",
    ]
    tokenize_papers_file(parquet, tmp_path / "titles.txt", fields=("title",))
    assert read_lines(tmp_path / "titles.txt") == ["neural parsing", "", "", "speech , again"]

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(synthetic_corpus() + read_lines(tokens)) + "\n")
    sp_model = tmp_path / "sp.model"
    train_sentencepiece(corpus, sp_model, vocab_size=80)
    pieces = tmp_path / "pieces.txt"
    encode_file(sp_model, tokens, pieces)
    encoded = read_lines(pieces)
    assert len(encoded) == 4 and encoded[2] == ""
    assert encoded[1].replace(" ", "").replace("\u2581", " ").strip() == "only an abstract ."


def test_read_paper_texts_errors(tmp_path):
    parquet = tmp_path / "papers.parquet"
    pd.DataFrame({"paper_id": ["p1"], "title": ["T"]}).to_parquet(parquet, index=False)
    with pytest.raises(InputError, match="abstract"):
        read_paper_texts(parquet)
    with pytest.raises(ValueError, match="subset"):
        read_paper_texts(parquet, fields=("body",))
    assert read_paper_texts(parquet, fields=("title",)) == ["T"]
