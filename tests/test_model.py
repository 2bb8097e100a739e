import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from revmatch.io import InputError, read_lines
from revmatch.model.averaging import (
    UNKNOWN,
    AveragingModel,
    build_vocab,
    embed_piece_lines,
    embed_texts,
    length_batches,
    load_model,
    mean_pool,
    sublinear_weights,
)
from revmatch.model.averaging_files import (
    embed_papers_file,
    embed_pieces_file,
    embed_submissions_file,
    train_model_file,
)
from revmatch.model.averaging_training import (
    _batch_loss,
    _hardest_negatives,
    _new_state,
    _pack,
    _train_step,
    inverse_document_frequency,
    train_model,
)
from revmatch.model.heldout import heldout_mask
from revmatch.model.pairs import make_pairs
from revmatch.model.settings import HeldoutSettings, TrainingSettings, TrainParams
from revmatch.model.text import encode_file, paper_text, tokenize, train_sentencepiece

TOPICS = {
    "parsing": "syntax tree parser grammar dependency constituency treebank arc label projective "
               "transition chart span head",
    "translation": "translation bilingual source target alignment decoder beam bleu phrase reordering "
                   "lexicon parallel multilingual",
    "speech": "audio acoustic phoneme speaker recognition waveform prosody spectrogram utterance pitch "
              "noise microphone transcript",
    "sentiment": "sentiment opinion review polarity emotion positive negative aspect rating sarcasm "
                 "subjective stance customer",
}
COMMON = "the we a of model method results show propose our this paper in and to".split()
TERMS = ["".join(np.random.default_rng(i).choice(list("bcdfgklmnprstvz"), size=5)) for i in range(60)]

# Small but real settings: the whole suite trains in a few seconds.
FAST = TrainParams(dim=32, epochs=6, batch_size=16, lr=0.02, dropout=0.1, seed=5)


def training(params: dict, heldout_fraction: float = 0.0) -> TrainingSettings:
    """The file-level training settings of ``params`` on the CPU (held-out seed 1)."""
    return TrainingSettings(TrainParams.from_dict(params), "cpu", HeldoutSettings(heldout_fraction, 1))


def synthetic_abstracts(n: int, seed: int) -> list[str]:
    """Abstracts on four topics: topic words, common words and a few terms of their own."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    texts = []
    for i in range(n):
        words = TOPICS[names[i % len(names)]].split()
        own_terms = list(rng.choice(TERMS, size=3, replace=False))
        body = list(rng.choice(words, size=24)) + list(rng.choice(COMMON, size=10)) + own_terms * 3
        rng.shuffle(body)
        texts.append(" ".join(body).capitalize() + ".")
    return texts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Tokenised abstracts, a sentencepiece model and the pieces file, made by revmatch.text."""
    root = tmp_path_factory.mktemp("corpus")
    abstracts = synthetic_abstracts(200, seed=1)
    tokens = root / "tok.txt"
    tokens.write_text("\n".join(tokenize(abstracts)) + "\n")
    sp_model = root / "sp.model"
    train_sentencepiece(tokens, sp_model, vocab_size=300)
    pieces = root / "pieces.txt"
    encode_file(sp_model, tokens, pieces)
    return {"root": root, "sp_model": sp_model, "pieces": pieces,
            "piece_lines": [line.split() for line in read_lines(pieces)]}


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "similarity.pt"
    stats = train_model(corpus["piece_lines"], FAST, out, corpus["sp_model"], device="cpu")
    return out, stats


def test_train_params_defaults_are_the_acl_setting():
    params = TrainParams()
    assert (params.dim, params.epochs, params.batch_size, params.megabatch_size, params.megabatch_anneal,
            params.seg_length, params.delta, params.lr, params.dropout, params.grad_clip,
            params.max_vocab, params.seed) == (1024, 20, 64, 1, 10, 1, 0.4, 0.001, 0.0, 5.0, 200000, 1)
    assert TrainParams.from_dict({"dim": 8}).dim == 8
    with pytest.raises(ValueError, match="dimension"):
        TrainParams.from_dict({"dimension": 8})
    with pytest.raises(ValueError, match="dropout"):
        TrainParams(dropout=1.0)


def test_build_vocab_orders_by_frequency_and_caps():
    lines = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    assert build_vocab(lines, max_vocab=10) == {"b": 0, "a": 1, "c": 2, "d": 3, UNKNOWN: 4}
    assert build_vocab(lines, max_vocab=2) == {"b": 0, "a": 1, UNKNOWN: 2}


def test_averaging_model_pools_means_and_drops_out():
    module = AveragingModel(10, 6, dropout=0.5, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([1, 2, 3, 4, 4])
    lengths = torch.tensor([3, 1, 1])
    weight = module.embedding.weight.detach()
    expected = torch.stack([weight[[1, 2, 3]].mean(0), weight[4], weight[4]])
    module.eval()
    assert torch.allclose(module(ids, lengths), expected)
    module.train()
    dropped = module(ids, lengths, rng=np.random.default_rng(0))
    assert not torch.allclose(dropped, expected)
    assert torch.equal(dropped, module(ids, lengths, rng=np.random.default_rng(0)))
    single = module(torch.tensor([4]), torch.tensor([1]), rng=np.random.default_rng(1))
    zeroed = single == 0
    assert zeroed.any() and torch.allclose(single[~zeroed], 2 * weight[4][~zeroed[0]])
    with pytest.raises(ValueError, match="random generator"):
        module(ids, lengths)


def reference_loss(table: torch.Tensor, first: np.ndarray, second: np.ndarray, rows: slice,
                   neg_first: np.ndarray, neg_second: np.ndarray, delta: float = 0.4) -> torch.Tensor:
    """The reference's loss of mini-batch ``rows``: the whole mega-batch encoded through the table."""
    h1, h2 = (mean_pool(table, *_pack(list(sides), torch.device("cpu"))) for sides in (first, second))
    positive = AveragingModel.similarity(h1[rows], h2[rows])
    p1, p2 = h2[neg_first[rows]], h1[neg_second[rows]]
    return (torch.relu(delta - positive + AveragingModel.similarity(h1[rows], p1)).mean()
            + torch.relu(delta - positive + AveragingModel.similarity(h2[rows], p2)).mean())


def test_megabatch_negatives_are_the_hardest_non_partners():
    """Hardest negatives; the loss, and its gradient equals the dense table gradient."""
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 50, size=rng.integers(3, 20)) for _ in range(40)]
    params = TrainParams(dim=8, dropout=0.0, batch_size=8)
    state = _new_state(50, params, torch.device("cpu"))
    first, second = (np.fromiter(side, dtype=object, count=40) for side in make_pairs(sequences, 1, rng))
    mega = rng.permutation(40)[:24]  # a mega-batch of three mini-batches
    no_autocast = torch.autocast("cpu", enabled=False)
    neg_first, neg_second = _hardest_negatives(state.module, first[mega], second[mega], torch.device("cpu"),
                                               no_autocast)

    def encode(sides):
        return state.module.pool(*_pack(list(sides), torch.device("cpu"))).detach()

    g1, g2 = encode(first[mega]), encode(second[mega])
    cosine = torch.nn.functional.normalize(g1, dim=1) @ torch.nn.functional.normalize(g2, dim=1).T
    cosine.fill_diagonal_(-2.0)
    assert np.array_equal(cosine.argmax(1).numpy(), neg_first)
    assert np.array_equal(cosine.argmax(0).numpy(), neg_second)
    for start in (0, 8, 16):
        rows = slice(start, start + 8)
        loss, used, table_rows = _batch_loss(state, first, second, mega, start, 8, neg_first, neg_second,
                                             0.4, torch.device("cpu"), no_autocast)
        table = state.module.embedding.weight.detach().clone().requires_grad_()
        expected = reference_loss(table, first[mega], second[mega], rows, neg_first, neg_second)
        assert torch.allclose(loss.detach(), expected.detach(), atol=1e-6)
        loss.backward()
        expected.backward()
        outside = torch.ones(len(table), dtype=torch.bool)
        outside[used] = False
        assert torch.allclose(table_rows.grad, table.grad[used], atol=1e-7)
        assert not table.grad[outside].any()


def test_train_step_is_the_reference_dense_adam_step():
    """Row-gathered gradient + persistent buffer = dense gradient, clipping and dense Adam."""
    rng = np.random.default_rng(3)
    sequences = [rng.integers(0, 40, size=rng.integers(3, 12)) for _ in range(16)]  # rows 40-59 unused
    params = TrainParams(dim=8, batch_size=8, lr=0.01, grad_clip=0.02)  # small clip: clipping acts
    cpu, no_autocast = torch.device("cpu"), torch.autocast("cpu", enabled=False)
    state = _new_state(60, params, cpu)
    reference = AveragingModel(60, 8)
    reference.load_state_dict(state.module.state_dict())
    reference_adam = torch.optim.Adam(reference.parameters(), lr=params.lr)
    first, second = (np.fromiter(side, dtype=object, count=16) for side in make_pairs(sequences, 1, rng))
    for _ in range(4):
        mega = rng.permutation(16)[:8]
        neg_first, neg_second = _hardest_negatives(state.module, first[mega], second[mega], cpu, no_autocast)
        loss, used, rows = _batch_loss(state, first, second, mega, 0, 8, neg_first, neg_second, params.delta,
                                       cpu, no_autocast)
        _train_step(state, loss, used, rows, params.grad_clip)

        reference_adam.zero_grad()
        reference_loss(reference.embedding.weight, first[mega], second[mega], slice(0, 8), neg_first,
                       neg_second).backward()
        assert torch.nn.utils.clip_grad_norm_(reference.parameters(), params.grad_clip) > params.grad_clip
        reference_adam.step()
        assert torch.allclose(state.module.embedding.weight, reference.embedding.weight, atol=1e-6)
        assert not state.module.embedding.weight.grad.any()  # the buffer is cleared after each step
    assert torch.equal(state.module.embedding.weight[40:], reference.embedding.weight[40:])


def test_training_lowers_the_loss(trained):
    _, stats = trained
    losses = stats["loss_history"]
    assert stats["epochs"] == FAST.epochs and len(losses) == FAST.epochs
    assert losses[-1] < 0.8 * losses[0]
    assert stats["tokens_per_second"] > 0 and stats["sequences"] == 200


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_resume_after_interruption_is_bit_identical(corpus, tmp_path, dropout):
    params = dataclasses.replace(FAST, epochs=4, megabatch_size=3, megabatch_anneal=5, dropout=dropout)
    uninterrupted = tmp_path / "full.pt"
    train_model(corpus["piece_lines"], params, uninterrupted, corpus["sp_model"], device="cpu")

    checkpoints = tmp_path / "checkpoints"
    resumed = tmp_path / "resumed.pt"
    two_epochs = dataclasses.replace(params, epochs=2)
    train_model(corpus["piece_lines"], two_epochs, tmp_path / "two.pt", corpus["sp_model"], device="cpu",
                checkpoint_dir=checkpoints)
    assert [p.name for p in checkpoints.iterdir()] == ["epoch-0002.pt"]
    (checkpoints / "epoch-0003.pt").write_bytes(b"damaged")  # skipped with a warning
    stats = train_model(corpus["piece_lines"], params, resumed, corpus["sp_model"], device="cpu",
                        checkpoint_dir=checkpoints)
    assert stats["resumed_from_epoch"] == 2
    assert [p.name for p in checkpoints.iterdir()] == ["epoch-0004.pt"]

    a = torch.load(uninterrupted, weights_only=True)
    b = torch.load(resumed, weights_only=True)
    assert torch.equal(a["weights"], b["weights"])
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]

    # A checkpoint of other settings is not resumed from.
    other = dataclasses.replace(params, lr=2 * params.lr)
    stats = train_model(corpus["piece_lines"], other, tmp_path / "other.pt", corpus["sp_model"],
                        device="cpu", checkpoint_dir=checkpoints)
    assert stats["resumed_from_epoch"] == 0


def test_idf_initialisation_scales_each_row_by_its_idf(corpus, tmp_path):
    sequences = [np.array([0, 1, 1]), np.array([0, 2]), np.array([0, 1])]
    idf = inverse_document_frequency(sequences, 4)
    expected = np.log(4 / (np.array([3, 2, 1, 0]) + 1.0)) + 1
    assert np.allclose(idf, expected)
    normal = _new_state(4, dataclasses.replace(FAST, dim=8), torch.device("cpu"))
    scaled = _new_state(4, dataclasses.replace(FAST, dim=8, init="idf"), torch.device("cpu"), idf)
    assert torch.allclose(scaled.module.embedding.weight,
                          normal.module.embedding.weight * torch.from_numpy(idf)[:, None])
    with pytest.raises(ValueError, match="init"):
        TrainParams(init="xavier")
    # A whole run with it trains and lowers its loss as well.
    stats = train_model(corpus["piece_lines"], dataclasses.replace(FAST, init="idf"), tmp_path / "idf.pt",
                        corpus["sp_model"], device="cpu")
    assert stats["loss_history"][-1] < stats["loss_history"][0]


def test_sublinear_pooling_weighs_repeats_by_one_plus_log_count():
    table = torch.randn(5, 6, dtype=torch.float64)
    ids = torch.tensor([1, 1, 1, 2, 3, 3, 4])
    lengths = torch.tensor([4, 3])
    weights = sublinear_weights(ids, lengths, len(table))
    c3, c2 = 1 + np.log(3), 1 + np.log(2)
    assert torch.allclose(weights, torch.tensor([c3 / 3] * 3 + [1.0, c2 / 2, c2 / 2, 1.0], dtype=torch.float32))
    pooled = mean_pool(table, ids, lengths, sublinear=True)
    expected = torch.stack([c3 * table[1] + table[2], c2 * table[3] + table[4]])
    assert torch.allclose(pooled, expected)
    # The dropout path weighs alike (no coordinate dropped at a vanishing rate).
    dropped = mean_pool(table, ids, lengths, dropout=1e-9, rng=np.random.default_rng(0), sublinear=True)
    assert torch.allclose(dropped * lengths[:, None], expected)
    with pytest.raises(ValueError, match="pooling"):
        TrainParams(pooling="max")


def test_sublinear_model_round_trips(corpus, tmp_path):
    params = dataclasses.replace(FAST, pooling="sublinear", epochs=2)
    path = tmp_path / "sub.pt"
    stats = train_model(corpus["piece_lines"], params, path, corpus["sp_model"], device="cpu")
    assert stats["loss_history"][-1] < stats["loss_history"][0]
    model = load_model(path)
    assert model.params.pooling == "sublinear" and model.module.sublinear
    lines = corpus["piece_lines"][:5]
    vectors = embed_piece_lines(model, lines)
    ids, lengths = torch.from_numpy(np.concatenate([[model.vocab[p] for p in line] for line in lines])), \
        torch.tensor([len(line) for line in lines])
    expected = torch.nn.functional.normalize(mean_pool(model.module.embedding.weight.detach(), ids, lengths,
                                                       sublinear=True), dim=1)
    assert np.allclose(vectors, expected.numpy(), atol=1e-6)


def test_embed_texts_normalised_ordered_and_similar(trained):
    path, _ = trained
    model = load_model(path)
    texts = synthetic_abstracts(8, seed=99) + ["", "  "]
    embeddings = embed_texts(model, texts, batch_size=3)
    assert embeddings.shape == (10, FAST.dim) and embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    order = np.random.default_rng(0).permutation(len(texts))
    assert np.allclose(embed_texts(model, [texts[i] for i in order]), embeddings[order], atol=1e-6)
    # Texts without a piece get the unknown token's vector.
    assert np.allclose(embeddings[8], embeddings[9])
    unknown = model.module.embedding.weight[model.vocab[UNKNOWN]].detach().numpy()
    assert np.allclose(embeddings[8], unknown / np.linalg.norm(unknown), atol=1e-6)

    # Texts i and j share a topic iff i % 4 == j % 4: each text is closer, on average, to
    # texts of its own topic than to those of any other.
    topical = embed_texts(model, synthetic_abstracts(24, seed=98))
    similarity = topical @ topical.T
    np.fill_diagonal(similarity, np.nan)
    topic = np.arange(24) % 4
    mean_by_topic = np.stack([np.nanmean(similarity[:, topic == t], axis=1) for t in range(4)], axis=1)
    assert np.array_equal(mean_by_topic.argmax(axis=1), topic)


def test_model_file_is_self_contained(corpus, tmp_path):
    sp_copy = tmp_path / "sp.model"
    sp_copy.write_bytes(corpus["sp_model"].read_bytes())
    out = tmp_path / "model.pt"
    train_model(corpus["piece_lines"], dataclasses.replace(FAST, epochs=1), out, sp_copy, device="cpu")
    texts = synthetic_abstracts(4, seed=7)
    before = embed_texts(load_model(out), texts)
    sp_copy.unlink()
    saved = torch.load(out, weights_only=True)
    assert set(saved) >= {"weights", "vocab", "params", "sentencepiece"}
    assert saved["params"] == dataclasses.asdict(dataclasses.replace(FAST, epochs=1))
    assert np.array_equal(embed_texts(load_model(out), texts), before)
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_load_model_rejects_other_files(tmp_path):
    path = tmp_path / "not-a-model.pt"
    torch.save({"weights": torch.zeros(2, 2)}, path)
    with pytest.raises(InputError, match="not-a-model.pt"):
        load_model(path)
    path.write_text("text")
    with pytest.raises(InputError):
        load_model(path)


def test_file_level_training_and_embedding(corpus, trained, tmp_path):
    with pytest.raises(ValueError, match="epoch"):
        training({"epoch": 2})
    stats = train_model_file(corpus["pieces"], corpus["sp_model"], tmp_path / "m.pt",
                             training({"dim": 8, "epochs": 1, "batch_size": 32}))
    assert stats["epochs"] == 1 and load_model(tmp_path / "m.pt").dim == 8

    model_path, _ = trained
    abstracts = synthetic_abstracts(5, seed=3)
    titles = ["Parsing trees", None, "Speech", "", "Opinions"]
    papers = pd.DataFrame({"paper_id": [f"p{i}" for i in range(5)], "title": titles, "abstract": abstracts})
    papers.loc[3, "abstract"] = None
    parquet = tmp_path / "papers.parquet"
    papers.to_parquet(parquet, index=False)
    out = tmp_path / "corpus_embeddings.npy"
    embed_papers_file(model_path, parquet, out, batch_size=2)
    expected = embed_texts(load_model(model_path), [paper_text(t, a) for t, a in
                                                    zip(papers["title"], papers["abstract"], strict=True)])
    assert np.allclose(np.load(out), expected, atol=1e-6)

    submissions = tmp_path / "submissions.jsonl"
    submissions.write_text("".join(json.dumps({"id": str(i), "title": t, "paperAbstract": a}) + "\n"
                                   for i, (t, a) in enumerate(zip(titles, abstracts, strict=True))))
    out = tmp_path / "submission_embeddings.npy"
    embed_submissions_file(model_path, submissions, out, fields=("abstract",))
    assert np.allclose(np.load(out), embed_texts(load_model(model_path), abstracts), atol=1e-6)


def test_length_batches_cover_every_text_once_within_budget():
    lengths = np.array([5, 1, 40, 3, 3, 0, 100, 7, 2, 9])
    batches = length_batches(lengths, max_tokens=12, max_texts=3)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or np.maximum(lengths[batch], 1).sum() <= 12
    flat = np.concatenate(batches)
    assert np.all(np.diff(lengths[flat]) >= 0)  # sorted by length: similar lengths share a batch
    with pytest.raises(ValueError):
        length_batches(lengths, max_tokens=0, max_texts=3)


def test_embedding_from_pieces_matches_embedding_from_text(corpus, trained, tmp_path):
    model_path, _ = trained
    model = load_model(model_path)
    lines = corpus["piece_lines"][:50] + [[]]
    from_pieces = embed_piece_lines(model, lines, batch_size=7, max_tokens=64)
    assert np.allclose(np.linalg.norm(from_pieces, axis=1), 1, atol=1e-5)
    whole = embed_piece_lines(model, lines, batch_size=1000)
    assert np.allclose(from_pieces, whole, atol=1e-6)  # bucketing keeps the input order

    abstracts = synthetic_abstracts(200, seed=1)[:20]
    assert np.allclose(embed_texts(model, abstracts), from_pieces[:20], atol=1e-6)

    out = tmp_path / "corpus_embeddings.npy"
    pieces = tmp_path / "pieces.txt"
    pieces.write_text("\n".join(" ".join(line) for line in lines) + "\n")
    embed_pieces_file(model_path, pieces, corpus["sp_model"], out, batch_size=16)
    assert np.allclose(np.load(out), from_pieces, atol=1e-6)

    other_sp, other_tokens = tmp_path / "other.model", tmp_path / "other.txt"
    other_tokens.write_text("\n".join(tokenize(synthetic_abstracts(40, seed=9)[::-1] + ["zzz qqq"])) + "\n")
    train_sentencepiece(other_tokens, other_sp, vocab_size=150)
    with pytest.raises(InputError, match="another sentencepiece"):
        embed_pieces_file(model_path, pieces, other_sp, tmp_path / "x.npy")


def test_heldout_mask_depends_on_the_id_only():
    ids = [f"2020.acl-main.{i}" for i in range(4000)]
    mask = heldout_mask(ids, 0.1, seed=3)
    assert 300 < mask.sum() < 500
    shuffled = np.random.default_rng(0).permutation(len(ids))
    assert np.array_equal(heldout_mask([ids[i] for i in shuffled], 0.1, seed=3), mask[shuffled])
    assert not np.array_equal(heldout_mask(ids, 0.1, seed=4), mask)
    assert not heldout_mask(ids, 0.0).any()


def test_training_leaves_heldout_papers_out(corpus, tmp_path):
    n = len(corpus["piece_lines"])
    ids = [f"p{i}" for i in range(n)]
    parquet = tmp_path / "papers.parquet"
    pd.DataFrame({"paper_id": ids}).to_parquet(parquet, index=False)
    params = {"dim": 8, "epochs": 1, "batch_size": 32}
    everything = train_model_file(corpus["pieces"], corpus["sp_model"], tmp_path / "a.pt", training(params))
    held = heldout_mask(ids, 0.2, seed=1)
    fewer = train_model_file(corpus["pieces"], corpus["sp_model"], tmp_path / "b.pt", training(params, 0.2),
                             papers_parquet=parquet)
    assert fewer["sequences"] == everything["sequences"] - int(held.sum()) > 0
    pd.DataFrame({"paper_id": ids[:-1]}).to_parquet(parquet, index=False)
    with pytest.raises(InputError, match="lines for"):
        train_model_file(corpus["pieces"], corpus["sp_model"], tmp_path / "c.pt", training(params, 0.2),
                         papers_parquet=parquet)


def test_coauthor_and_title_pairs_train_and_resume_identically(corpus, tmp_path):
    lines, sp_model = corpus["piece_lines"], corpus["sp_model"]
    authors = [[f"a{i % 4}-{i % 5}"] for i in range(len(lines))]  # co-authors share a topic
    titles = [line[:4] for line in lines]
    params = dataclasses.replace(FAST, epochs=3, pairs="coauthors+titles")
    full = train_model(lines, params, tmp_path / "full.pt", sp_model, device="cpu", author_ids=authors,
                       titles=titles)
    assert full["loss_history"][-1] < full["loss_history"][0]

    checkpoints = tmp_path / "checkpoints"
    train_model(lines, dataclasses.replace(params, epochs=1), tmp_path / "one.pt", sp_model, device="cpu",
                checkpoint_dir=checkpoints, author_ids=authors, titles=titles)
    resumed = train_model(lines, params, tmp_path / "resumed.pt", sp_model, device="cpu",
                          checkpoint_dir=checkpoints, author_ids=authors, titles=titles)
    assert resumed["resumed_from_epoch"] == 1
    assert torch.equal(torch.load(tmp_path / "full.pt", weights_only=True)["weights"],
                       torch.load(tmp_path / "resumed.pt", weights_only=True)["weights"])
    # Other co-authorship is another run: no resuming from its checkpoints.
    other = train_model(lines, params, tmp_path / "other.pt", sp_model, device="cpu",
                        checkpoint_dir=checkpoints, author_ids=[[f"b{i % 3}"] for i in range(len(lines))],
                        titles=titles)
    assert other["resumed_from_epoch"] == 0
    with pytest.raises(ValueError, match="author ids"):
        train_model(lines, params, tmp_path / "x.pt", sp_model, device="cpu", titles=titles)


def test_file_level_training_reads_authors_and_titles_of_the_kept_papers(corpus, tmp_path, caplog):
    n = len(corpus["piece_lines"])
    ids = [f"p{i}" for i in range(n)]
    papers = pd.DataFrame({
        "paper_id": ids,
        "title": [" ".join(line.split()[:3]) for line in read_lines(corpus["root"] / "tok.txt")],
        "authors": [[{"id": f"a{i % 4}-{i % 5}", "name": "A"}] + ([{"name": "no id"}] if i % 2 else [])
                    for i in range(n)],
    })
    parquet = tmp_path / "papers.parquet"
    papers.to_parquet(parquet, index=False)
    params = {"dim": 8, "epochs": 1, "batch_size": 32, "pairs": "coauthors+titles"}
    with caplog.at_level("INFO", logger="revmatch.model.averaging_training"):
        stats = train_model_file(corpus["pieces"], corpus["sp_model"], tmp_path / "m.pt",
                                 training(params, 0.2), papers_parquet=parquet)
    kept = n - int(heldout_mask(ids, 0.2, seed=1).sum())
    assert stats["sequences"] == kept
    # every kept paper has co-authored ones and a title that starts its text
    assert f"{{'coauthors': {kept}, 'titles': {kept}}}" in caplog.text
    with pytest.raises(ValueError, match="need the corpus papers"):
        train_model_file(corpus["pieces"], corpus["sp_model"], tmp_path / "n.pt", training(params))


def test_pairs_no_paper_can_form_are_reported(corpus, tmp_path, caplog):
    lines = corpus["piece_lines"]
    params = dataclasses.replace(FAST, epochs=1, pairs="coauthors")
    with caplog.at_level("INFO", logger="revmatch.model.averaging_training"):
        stats = train_model(lines, params, tmp_path / "m.pt", corpus["sp_model"], device="cpu",
                            author_ids=[[f"solo{i}"] for i in range(len(lines))])
    assert stats["epochs"] == 1
    assert "{'coauthors': 0}" in caplog.text
    assert "no training sequence can form a 'coauthors' pair" in caplog.text
