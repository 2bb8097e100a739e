import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from revmatch.io import InputError
from revmatch.model.corpus_index import Calibration, load_index, save_index
from revmatch.model.dense_models import DenseModel
from revmatch.model.registry import (
    Ensemble,
    index_corpus_file,
    load_indexes,
    load_registry_model,
    paper_scores,
    score_blocks,
)
from revmatch.model.sparse_models import BM25Model, TfidfModel, analyse, term_counts
from revmatch.model.specs import BUILTIN_MODELS, SPARSE_MODELS, is_encoder, parse_spec

WORDS = ("parser grammar treebank translation bilingual decoder speech acoustic phoneme sentiment "
         "opinion polarity summarisation extractive coreference entity graph neural attention corpus "
         "annotation lexicon morphology dialogue question answering retrieval embedding").split()


def texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(6, 20))) + f" term{i}" for i in range(n)]


def hashed_embedding(texts: list[str]) -> np.ndarray:
    """A fixed bag-of-words embedding (word -> seeded random vector), for registry plumbing tests."""
    out = np.zeros((len(texts), 16), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in analyse(text):
            out[row] += np.random.default_rng(abs(hash(word)) % 2**32).standard_normal(16)
    return out


CORPUS = texts(60)


def test_parse_spec():
    assert parse_spec("avg") == ["avg"]
    assert parse_spec("specter2 + scincl") == ["specter2", "scincl"]
    for bad in ["", "a+", "+b", "a++b", "a+a"]:
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_builtin_models_and_encoder_names():
    assert BUILTIN_MODELS == ("avg", "tfidf", "bm25", "minilm") and SPARSE_MODELS == ("tfidf", "bm25")
    assert [is_encoder(name) for name in ("avg", "tfidf", "bm25", "minilm", "tuned", "specter")] == [
        False, False, False, True, True, True]


def test_term_counts_with_and_without_vocabulary():
    counts, terms = term_counts(["The parser, the PARSER and a tree", ""])
    assert terms == ["and", "parser", "the", "tree"]
    assert counts.toarray().tolist() == [[1, 2, 2, 1], [0, 0, 0, 0]]
    known, _ = term_counts(["tree unknown parser"], {"parser": 0, "tree": 1})
    assert known.toarray().tolist() == [[1, 1]]


@pytest.mark.parametrize("model", [TfidfModel(), BM25Model(), BM25Model(k1=2.0, b=0.3)])
def test_sparse_models_rank_an_exact_duplicate_first(model):
    index = model.index(CORPUS)
    scores = paper_scores(model, index, CORPUS, block_rows=7)
    assert scores.dtype == np.float32 and scores.shape == (60, 60)
    assert np.array_equal(scores.argmax(axis=1), np.arange(60))
    assert np.all(scores[np.arange(60), np.arange(60)] > np.sort(scores, axis=1)[:, -2])


def test_tfidf_is_cosine_and_bm25_matches_its_formula():
    corpus = ["parser grammar parser", "speech acoustic", "parser speech speech speech"]
    tfidf = TfidfModel()
    index = tfidf.index(corpus)
    assert np.allclose(paper_scores(tfidf, index, corpus).diagonal(), 1, atol=1e-6)
    assert paper_scores(tfidf, index, ["nothing known"]).tolist() == [[0, 0, 0]]

    bm25 = BM25Model(k1=1.2, b=0.75)
    index = bm25.index(corpus)
    n, avg_len, lengths = 3, 3.0, np.array([3, 2, 4])
    df = {"parser": 2, "speech": 2}
    tf = {"parser": np.array([2, 0, 1]), "speech": np.array([0, 1, 3])}
    expected = sum(np.log1p((n - df[t] + 0.5) / (df[t] + 0.5)) * tf[t] * 2.2
                   / (tf[t] + 1.2 * (0.25 + 0.75 * lengths / avg_len)) for t in ("parser", "speech"))
    assert np.allclose(paper_scores(bm25, index, ["parser speech"])[0], expected, atol=1e-5)
    with pytest.raises(ValueError):
        BM25Model(b=2)


def test_score_blocks_are_block_size_invariant_and_select_columns():
    model = Ensemble([TfidfModel(), BM25Model()])
    index = model.index(CORPUS)
    queries = texts(25, seed=3)
    whole = paper_scores(model, index, queries, block_rows=1000)
    for block_rows in (1, 4, 25):
        blocks = list(score_blocks(model, index, queries, block_rows=block_rows))
        assert [rows.start for rows, _ in blocks] == list(range(0, 25, block_rows))
        assert np.array_equal(np.vstack([block for _, block in blocks]), whole)
    columns = np.array([5, 0, 33])
    assert np.array_equal(paper_scores(model, index, queries, columns=columns), whole[:, columns])
    with pytest.raises(ValueError):
        next(score_blocks(model, index, queries, block_rows=0))


def test_ensemble_is_the_mean_of_calibrated_z_scores():
    members = [TfidfModel(), BM25Model(), DenseModel("hashed", hashed_embedding)]
    ensemble = Ensemble(members)
    assert ensemble.name == "tfidf+bm25+hashed"
    indexes = ensemble.index(CORPUS)
    queries = texts(10, seed=5)
    expected = np.mean([(paper_scores(m, i, queries) - i.calibration.mean) / i.calibration.std
                        for m, i in zip(members, indexes, strict=True)], axis=0)
    assert np.allclose(paper_scores(ensemble, indexes, queries), expected, atol=1e-5)
    # the calibration z-scores the model's corpus x corpus scores (self-pairs excluded)
    for member, index in zip(members, indexes, strict=True):
        scores = paper_scores(member, index, CORPUS)[~np.eye(60, dtype=bool)]
        assert abs((scores.mean() - index.calibration.mean) / index.calibration.std) < 1e-3
        assert scores.std() == pytest.approx(index.calibration.std, rel=1e-3)
    # z-scoring puts every member in units of its own spread
    assert np.allclose(Calibration(1.0, 2.0).normalise(np.array([1.0, 5.0])), [0.0, 2.0])
    with pytest.raises(ValueError, match="at least two"):
        Ensemble([TfidfModel()])


def test_index_files_round_trip(tmp_path):
    for model in (TfidfModel(), BM25Model(), DenseModel("hashed", hashed_embedding)):
        index = model.index(CORPUS)
        path = tmp_path / f"{model.name}.npz"
        save_index(index, path)
        loaded = load_index(path, model.name)
        assert loaded.calibration == index.calibration
        assert sp.issparse(loaded.vectors) == sp.issparse(index.vectors)
        queries = texts(5, seed=8)
        assert np.array_equal(paper_scores(model, loaded, queries), paper_scores(model, index, queries))
    with pytest.raises(InputError, match="expected 'bm25'"):
        load_index(tmp_path / "tfidf.npz", "bm25")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError):
        load_index(tmp_path / "junk.npz")
    ensemble = load_registry_model("tfidf+bm25")
    both = load_indexes(ensemble, [tmp_path / "tfidf.npz", tmp_path / "bm25.npz"])
    assert [i.model for i in both] == ["tfidf", "bm25"]
    with pytest.raises(ValueError, match="needs 2"):
        load_indexes(ensemble, [tmp_path / "tfidf.npz"])


def test_index_corpus_file(tmp_path):
    papers = pd.DataFrame({"paper_id": [f"p{i}" for i in range(60)], "title": CORPUS,
                           "abstract": [None] * 60})
    parquet = tmp_path / "papers.parquet"
    papers.to_parquet(parquet, index=False)
    index = index_corpus_file("bm25", parquet, tmp_path / "bm25.npz", bm25={"k1": 1.5, "b": 0.5})
    assert len(load_index(tmp_path / "bm25.npz", "bm25")) == 60 == len(index)

    embeddings = hashed_embedding(CORPUS)
    np.save(tmp_path / "emb.npy", embeddings)
    index_corpus_file("avg", parquet, tmp_path / "avg.npz", corpus_embeddings=tmp_path / "emb.npy")
    avg = load_index(tmp_path / "avg.npz", "avg")
    assert np.allclose(np.linalg.norm(avg.vectors, axis=1), 1, atol=1e-5)
    np.save(tmp_path / "short.npy", embeddings[:10])
    with pytest.raises(InputError, match="10 embeddings for 60"):
        index_corpus_file("avg", parquet, tmp_path / "x.npz", corpus_embeddings=tmp_path / "short.npy")


def test_registry_names():
    assert isinstance(load_registry_model("tfidf"), TfidfModel)
    assert load_registry_model("bm25", bm25={"k1": 0.9, "b": 0.4}).k1 == 0.9
    with pytest.raises(ValueError, match="unknown model 'specter'"):
        load_registry_model("tfidf+specter")
    with pytest.raises(ValueError, match="avg_model"):
        load_registry_model("avg")
    with pytest.raises(ValueError, match="clash"):
        load_registry_model("tfidf", sentence_transformers={"bm25": "/x"})


def test_local_encoder_folder_and_packaged_name(tmp_path):
    """A configured folder serves under any name (here the packaged weights, copied)."""
    import shutil

    from revmatch.model.encoders import encoder_folder

    folder = shutil.copytree(encoder_folder("minilm"), tmp_path / "local-minilm")
    model = load_registry_model("mine+bm25", sentence_transformers={"mine": folder})
    corpus = ["Neural machine translation with attention.", "Speech recognition from raw audio.",
              "Sentiment analysis of product reviews.", "Dependency parsing with a transition system."]
    scores = paper_scores(model, model.index(corpus), ["Sentiment analysis of product reviews."])
    assert scores.argmax(axis=1).tolist() == [2]
    vectors = model.members[0].embed(corpus)
    assert vectors.shape == (4, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
