"""``revmatch.paper_similarity``: the paper-level scores of every registry model, the
default matching model when none is named, exactly the paper matrix's (shifted) scores."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import revmatch
from revmatch.matching import RegistryPaperMatrix
from revmatch.model.averaging_training import train_model
from revmatch.model.encoders import encoder_folder
from revmatch.model.registry import load_registry_model
from revmatch.model.settings import TrainParams
from revmatch.model.specs import DEFAULT_MATCHING_MODEL
from revmatch.model.text import encode_pieces, tokenize, train_sentencepiece

ROOT = Path(__file__).resolve().parents[1]
TOPICS = [
    "parsing syntax tree grammar dependency treebank parser",
    "translation bilingual alignment decoder bleu phrase source target",
    "speech audio acoustic phoneme speaker waveform recognition",
    "sentiment opinion polarity emotion review aspect product",
]


def _papers(n: int = 24, seed: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    words = "model method results data learning we propose show".split()
    return [" ".join(rng.choice(TOPICS[i % 4].split() + words, size=14)) for i in range(n)]


PAPERS = _papers()
QUERIES = [PAPERS[5], PAPERS[10], PAPERS[19]]  # exact copies: each ranks its own paper first


@pytest.fixture(scope="module")
def avg_model(tmp_path_factory) -> Path:
    """A tiny averaging model trained on the papers (sentencepiece and one epoch)."""
    folder = tmp_path_factory.mktemp("avg")
    tokens = folder / "corpus.tok.txt"
    tokens.write_text("\n".join(tokenize(PAPERS * 4)) + "\n")
    train_sentencepiece(tokens, folder / "sp.model", vocab_size=120)
    pieces = encode_pieces(folder / "sp.model", tokens.read_text().splitlines())
    train_model(pieces, TrainParams(dim=32, epochs=1, batch_size=16, lr=0.02, seed=1),
                folder / "similarity.pt", folder / "sp.model", device="cpu")
    return folder / "similarity.pt"


@pytest.fixture(scope="module")
def tuned_folder(tmp_path_factory) -> Path:
    """A local sentence-transformers folder (here a copy of the packaged encoder)."""
    folder = tmp_path_factory.mktemp("encoders") / "tuned"
    shutil.copytree(encoder_folder("minilm"), folder)
    return folder


@pytest.mark.parametrize("spec", ["tfidf", "bm25", "minilm", "avg", "tuned", "minilm+tfidf", "tuned+avg", "avg+bm25"])
def test_every_registry_model_scores_queries_against_papers(spec, avg_model, tuned_folder):
    scores = revmatch.paper_similarity(QUERIES, PAPERS, spec, avg_model=avg_model,
                                       encoders={"tuned": tuned_folder})
    assert scores.dtype == np.float32 and scores.shape == (3, len(PAPERS))
    assert np.isfinite(scores).all()
    assert scores.argmax(axis=1).tolist() == [5, 10, 19]


def test_ensemble_scores_are_the_paper_matrix_rows(avg_model):
    """The same shifted scores as the paper matrix: 0 means nothing in common."""
    spec = "minilm+tfidf"
    model = load_registry_model(spec)
    matrix = RegistryPaperMatrix(model, model.index(PAPERS), QUERIES, [f"p{i}" for i in range(len(PAPERS))], spec)
    expected = matrix.score(slice(None))
    assert np.array_equal(revmatch.paper_similarity(QUERIES, PAPERS, spec), expected)
    assert matrix.offset != 0  # an ensemble is shifted; its members are not
    assert RegistryPaperMatrix(load_registry_model("tfidf"), load_registry_model("tfidf").index(PAPERS),
                               QUERIES, [f"p{i}" for i in range(len(PAPERS))], "tfidf").offset == 0


def test_default_is_the_matching_default_of_the_config(avg_model, tuned_folder, tmp_path):
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    model_schema = schema["properties"]["model"]["properties"]
    assert model_schema["matching_model"]["default"] == DEFAULT_MATCHING_MODEL
    demo = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    assert demo["model"]["matching_model"] == DEFAULT_MATCHING_MODEL
    # The default needs what the workflow trains: its results/model folder, or each file.
    with pytest.raises(ValueError, match="model_dir="):
        revmatch.paper_similarity(QUERIES, PAPERS)
    model_dir = tmp_path / "model"
    (model_dir / "encoders").mkdir(parents=True)
    shutil.copy(avg_model, model_dir / "similarity.pt")
    (model_dir / "encoders" / "tuned").symlink_to(tuned_folder)
    default = revmatch.paper_similarity(QUERIES, PAPERS, model_dir=model_dir)
    explicit = revmatch.paper_similarity(QUERIES, PAPERS, DEFAULT_MATCHING_MODEL, avg_model=avg_model,
                                         encoders={"tuned": tuned_folder})
    assert np.array_equal(default, explicit) and default.argmax(axis=1).tolist() == [5, 10, 19]
    assert any((model_dir / "embedding_cache").rglob("*.keys.npy"))


def test_quiet_unless_asked_and_the_cache_encodes_once(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO, logger="revmatch")
    first = revmatch.paper_similarity(QUERIES, PAPERS, "minilm", embedding_cache=tmp_path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no progress bars, no prints
    assert f"encoded {len(PAPERS)} of {len(PAPERS)} new texts" in caplog.text  # the queries are among them
    caplog.clear()
    again = revmatch.paper_similarity(QUERIES, PAPERS, "minilm", embedding_cache=tmp_path)
    assert np.array_equal(first, again)
    assert f"all {len(PAPERS)} distinct texts cached" in caplog.text
    assert revmatch.paper_similarity([], PAPERS, "minilm").shape == (0, len(PAPERS))


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'specter'"):
        revmatch.paper_similarity(QUERIES, PAPERS, "specter")
