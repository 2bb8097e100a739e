"""Held-out retrieval evaluation of similarity models, and STS correlation.

Two tasks on the corpus, both for papers held out of training (``heldout_mask``):

- ``title_to_abstract``: a held-out paper's title is the query; the candidates are the
  abstracts of all corpus papers; the paper's own abstract is the one relevant item.
- ``author_papers``: a held-out paper's title + abstract is the query; the candidates are
  all other corpus papers; the relevant ones share an author id with it.

Metrics: ``mrr`` (mean reciprocal rank of the first relevant candidate) and
``recall@k`` (share of the relevant candidates in the top k, out of ``min(k, n_relevant)``,
so 1 is reachable for every k). Ties are ranked pessimistically (a query whose scores are
all equal gets the worst rank, not the best).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from revmatch.io import InputError, PathLike, write_json, write_text
from revmatch.model.corpus_index import Model
from revmatch.model.heldout import heldout_mask
from revmatch.model.pairs import coauthor_relevance, paper_author_ids
from revmatch.model.registry import Ensemble, load_registry_model, score_blocks
from revmatch.model.settings import EvaluationSettings
from revmatch.model.specs import parse_spec
from revmatch.model.text import paper_text

logger = logging.getLogger(__name__)

DEFAULT_KS = (1, 5, 10)


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of column ``targets[i]`` in row ``i`` of ``scores`` (ties counted against it)."""
    target = scores[np.arange(len(targets)), targets][:, None]
    return (scores >= target).sum(axis=1)


def top_k_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` highest scores of each row, best first."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def summarise(first_ranks: np.ndarray, recalls: Mapping[int, np.ndarray]) -> dict:
    """Mean reciprocal rank and mean recall@k over the queries."""
    out = {"queries": len(first_ranks), "mrr": float(np.mean(1.0 / first_ranks)) if len(first_ranks) else 0.0}
    out |= {f"recall@{k}": float(np.mean(values)) if len(values) else 0.0 for k, values in recalls.items()}
    return out


def paired_bootstrap(values: np.ndarray, baseline: np.ndarray, n_resamples: int = 2000, seed: int = 0,
                     level: float = 0.9) -> dict:
    """Mean of ``values - baseline`` (paired per query) and its bootstrap ``level`` interval."""
    difference = np.asarray(values, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    if not len(difference):
        return {"difference": 0.0, "interval": [0.0, 0.0]}
    rng = np.random.default_rng(seed)
    means = difference[rng.integers(0, len(difference), size=(n_resamples, len(difference)))].mean(axis=1)
    tail = (1.0 - level) / 2
    return {"difference": float(difference.mean()),
            "interval": [float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))]}


def title_to_abstract(model: Model, index, titles: Sequence[str], targets: np.ndarray,
                      ks: Sequence[int] = DEFAULT_KS, block_rows: int = 1024,
                      return_ranks: bool = False) -> dict | tuple[dict, np.ndarray]:
    """Rank each title against the indexed abstracts; ``targets[i]`` is its own abstract's row.

    With ``return_ranks`` also the rank of each query's abstract."""
    ranks = np.empty(len(titles), dtype=np.int64)
    for rows, block in score_blocks(model, index, titles, block_rows=block_rows):
        ranks[rows] = target_ranks(block, targets[rows])
    metrics = summarise(ranks, {k: (ranks <= k).astype(float) for k in ks})
    return (metrics, ranks) if return_ranks else metrics


def author_papers(model: Model, index, texts: Sequence[str], query_rows: np.ndarray,
                  relevant: sp.csr_matrix, ks: Sequence[int] = DEFAULT_KS, block_rows: int = 1024,
                  return_ranks: bool = False) -> dict | tuple[dict, np.ndarray]:
    """Rank all other corpus papers for each query paper; ``relevant`` is (queries, corpus) bool.

    With ``return_ranks`` also the rank of each query's first relevant paper."""
    n_relevant = np.diff(relevant.indptr)
    first = np.empty(len(query_rows), dtype=np.int64)
    recalls = {k: np.empty(len(query_rows)) for k in ks}
    for rows, block in score_blocks(model, index, [texts[i] for i in query_rows], block_rows=block_rows):
        block[np.arange(block.shape[0]), query_rows[rows]] = -np.inf
        _rank_block(block, relevant[rows].toarray(), n_relevant[rows], rows, first, recalls)
    metrics = summarise(first, recalls)
    return (metrics, first) if return_ranks else metrics


def _rank_block(scores: np.ndarray, is_relevant: np.ndarray, n_relevant: np.ndarray, rows: slice,
                first: np.ndarray, recalls: dict[int, np.ndarray]) -> None:
    """Fill ``first`` (rank of the best relevant column, ties pessimistic) and ``recalls[k]``
    for a block of query rows."""
    best = np.where(is_relevant, scores, -np.inf).max(axis=1, keepdims=True)
    first[rows] = (scores >= best).sum(axis=1)
    hits = np.take_along_axis(is_relevant, top_k_columns(scores, max(recalls)), axis=1)
    for k, recall in recalls.items():
        recall[rows] = hits[:, :k].sum(axis=1) / np.minimum(k, n_relevant)


def author_ranking(model: Model, index, texts: Sequence[str], query_rows: np.ndarray,
                   authorship: sp.csr_matrix, relevant: sp.csr_matrix, method: str = "weighted_top3",
                   k: int = 3, ks: Sequence[int] = DEFAULT_KS, block_rows: int = 256,
                   return_ranks: bool = False) -> dict | tuple[dict, np.ndarray]:
    """Rank every author as a reviewer of each query paper, as matching does: the author's
    score is the ``method`` aggregation (``aggregate_scores``) of the query's scores
    against the author's corpus papers, the query paper itself counting 0 ("nothing in
    common"). ``authorship`` is (authors, corpus) bool, ``relevant`` (queries, authors) the
    query's own authors."""
    from revmatch.model.aggregation import aggregate_scores

    n_relevant = np.diff(relevant.indptr)
    first = np.empty(len(query_rows), dtype=np.int64)
    recalls = {kk: np.empty(len(query_rows)) for kk in ks}
    for rows, block in score_blocks(model, index, [texts[i] for i in query_rows], block_rows=block_rows,
                                    shift=True):
        block[np.arange(block.shape[0]), query_rows[rows]] = 0.0
        scores = aggregate_scores(block, authorship, method=method, k=k)
        _rank_block(scores, relevant[rows].toarray(), n_relevant[rows], rows, first, recalls)
    metrics = summarise(first, recalls)
    return (metrics, first) if return_ranks else metrics


def author_incidence(author_ids: Sequence[Sequence[str]], query_rows: np.ndarray
                     ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(authors, papers) authorship of every author id, and (queries, authors): the query
    paper's authors who wrote another corpus paper (the reviewers it should find)."""
    codes, uniques = pd.factorize(pd.Series([a for ids in author_ids for a in ids], dtype=object))
    owners = np.repeat(np.arange(len(author_ids)), [len(ids) for ids in author_ids])
    authorship = sp.csr_matrix((np.ones(len(codes), dtype=bool), (codes, owners)),
                               shape=(len(uniques), len(author_ids)))
    authorship.sum_duplicates()
    papers_of = np.diff(authorship.indptr)
    own = authorship.T.tocsr()[query_rows].tocoo()
    keep = papers_of[own.col] > 1
    relevant = sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool), (own.row[keep], own.col[keep])),
                             shape=(len(query_rows), len(uniques)))
    return authorship, relevant


def sts_correlation(model: Model, first: Sequence[str], second: Sequence[str], gold: np.ndarray) -> dict:
    """Pearson and Spearman correlation (x 100) of the model's pair scores with gold scores."""
    index = model.index(second)
    predicted = np.empty(len(first), dtype=np.float64)
    for rows, block in score_blocks(model, index, first, block_rows=512):
        predicted[rows] = block[np.arange(block.shape[0]), np.arange(rows.start, rows.stop)]
    return {"pairs": len(first), "pearson": 100 * float(stats.pearsonr(predicted, gold)[0]),
            "spearman": 100 * float(stats.spearmanr(predicted, gold)[0])}


def evaluate(
    models: Mapping[str, Model],
    papers: pd.DataFrame,
    heldout: np.ndarray,
    max_queries: int = 2000,
    ks: Sequence[int] = DEFAULT_KS,
    seed: int = 1,
    sts: pd.DataFrame | None = None,
    baseline: str | Sequence[str] | None = "tfidf",
    aggregators: Sequence[str] = (),
) -> dict:
    """Metrics of every model (spec -> model) on both retrieval tasks, and STS when given.

    For each ``baseline`` (a spec or a list) among the models, every other model's task metrics get
    ``mrr_minus_<baseline>`` and ``mrr_minus_<baseline>_90``: the MRR difference over the same
    queries and its paired bootstrap 90% interval (``paired_bootstrap``), so that a
    difference inside the query sample's noise is seen as such.

    With ``aggregators``, a task ``reviewers_<method>`` per method (``author_ranking``): the
    query paper's authors ranked among all authors by their aggregated scores, as the
    matching step ranks reviewers, on the ``author_papers`` queries.

    Query papers are the held-out ones with the needed text (and, for ``author_papers``, at
    least one co-authored paper), at most ``max_queries`` of them drawn with ``seed``.
    Corpus indexes are built once per member model and shared by the ensembles.
    """
    rng = np.random.default_rng(seed)
    titles = [paper_text(t, None) for t in papers["title"]]
    abstracts = [paper_text(None, a) for a in papers["abstract"]]
    texts = [paper_text(t, a) for t, a in zip(papers["title"], papers["abstract"], strict=True)]
    author_ids = [paper_author_ids(authors) for authors in papers["authors"]]

    candidates = np.flatnonzero(heldout & np.array([bool(t) and bool(a) for t, a in zip(titles, abstracts)]))
    title_rows = np.sort(rng.choice(candidates, size=min(max_queries, len(candidates)), replace=False))
    relevant_all = coauthor_relevance(author_ids, np.flatnonzero(heldout))
    with_coauthored = np.flatnonzero(heldout)[np.diff(relevant_all.indptr) > 0]
    author_rows = np.sort(rng.choice(with_coauthored, size=min(max_queries, len(with_coauthored)),
                                     replace=False))
    relevant = coauthor_relevance(author_ids, author_rows)
    if aggregators:
        authorship, own_authors = author_incidence(author_ids, author_rows)
    logger.info("evaluation: %d held-out papers; %d title queries; %d author queries (%d held-out papers "
                "without a co-authored paper skipped)", int(heldout.sum()), len(title_rows), len(author_rows),
                int(heldout.sum()) - len(with_coauthored))

    results, reciprocal = {}, {}
    abstract_indexes = _member_indexes(models, abstracts)
    text_indexes = _member_indexes(models, texts)
    for spec, model in models.items():
        title_metrics, title_ranks = title_to_abstract(
            model, _spec_index(model, abstract_indexes), [titles[i] for i in title_rows], title_rows, ks,
            return_ranks=True)
        author_metrics, author_ranks = author_papers(
            model, _spec_index(model, text_indexes), texts, author_rows, relevant, ks, return_ranks=True)
        results[spec] = {"title_to_abstract": title_metrics, "author_papers": author_metrics}
        reciprocal[spec] = {"title_to_abstract": 1.0 / title_ranks, "author_papers": 1.0 / author_ranks}
        for method in aggregators:
            metrics, ranks = author_ranking(model, _spec_index(model, text_indexes), texts, author_rows,
                                            authorship, own_authors, method=method, ks=ks, return_ranks=True)
            results[spec][f"reviewers_{method}"] = metrics
            reciprocal[spec][f"reviewers_{method}"] = 1.0 / ranks
        if sts is not None:
            results[spec]["sts"] = sts_correlation(model, sts["sentence1"].tolist(),
                                                   sts["sentence2"].tolist(),
                                                   sts["score"].to_numpy(dtype=float))
        logger.info("%s: %s", spec, results[spec])
    baselines = [baseline] if isinstance(baseline, str) else list(baseline or [])
    for base in baselines:
        if base not in reciprocal:
            logger.warning("baseline %r is not among the evaluated models %s: no comparison", base,
                           list(reciprocal))
            continue
        for spec in results:
            for task in reciprocal[spec] if spec != base else ():
                compared = paired_bootstrap(reciprocal[spec][task], reciprocal[base][task], seed=seed)
                results[spec][task][f"mrr_minus_{base}"] = compared["difference"]
                results[spec][task][f"mrr_minus_{base}_90"] = compared["interval"]
    return results


def _members(model: Model) -> list[Model]:
    return model.members if isinstance(model, Ensemble) else [model]


def _member_indexes(models: Mapping[str, Model], texts: Sequence[str]) -> dict:
    indexes = {}
    for model in models.values():
        for member in _members(model):
            if member.name not in indexes:
                indexes[member.name] = member.index(texts)
    return indexes


def _spec_index(model: Model, indexes: Mapping):
    return [indexes[m.name] for m in model.members] if isinstance(model, Ensemble) else indexes[model.name]


def load_models(specs: Sequence[str], loader: Callable[[str], Model]) -> dict[str, Model]:
    """Model of each spec, loading each member name once (``loader(name)``) and sharing it."""
    members: dict[str, Model] = {}
    models = {}
    for spec in specs:
        names = parse_spec(spec)
        for name in names:
            if name not in members:
                members[name] = loader(name)
        models[spec] = members[names[0]] if len(names) == 1 else Ensemble([members[n] for n in names])
    return models


def _format_value(key: str, value) -> str:
    if isinstance(value, float):
        return f"{key} {value:+.4f}" if key.startswith("mrr_minus_") else f"{key} {value:.4f}"
    if isinstance(value, list):
        return f"{key} [{', '.join(f'{v:+.4f}' for v in value)}]"
    return f"{key} {value}"


def format_report(results: Mapping[str, dict]) -> str:
    """A readable table: one line per model and task."""
    lines = []
    for spec, tasks in results.items():
        for task, metrics in tasks.items():
            values = "  ".join(_format_value(key, value) for key, value in metrics.items())
            lines.append(f"{spec:<24} {task:<18} {values}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def read_sts(path: PathLike) -> pd.DataFrame:
    """An STS file: tab-separated with a header naming ``sentence1``, ``sentence2`` and ``score``."""
    frame = pd.read_csv(path, sep="\t", quoting=3, dtype={"sentence1": str, "sentence2": str},
                        keep_default_na=False)
    for column in ("sentence1", "sentence2", "score"):
        if column not in frame.columns:
            raise InputError(path, "missing column", column=column)
    scores = pd.to_numeric(frame["score"], errors="coerce")
    bad = np.flatnonzero(scores.isna().to_numpy())
    if len(bad):
        raise InputError(path, f"score is not a number: {frame['score'].iloc[bad[0]]!r}", row=int(bad[0]) + 2,
                         column="score")
    return frame.assign(score=scores)


def evaluate_models_file(
    papers_parquet: PathLike,
    out_json: PathLike,
    out_txt: PathLike,
    settings: EvaluationSettings,
    avg_model: PathLike | None = None,
    sentence_transformers: Mapping[str, PathLike] | None = None,
    encoder: Mapping | None = None,
    sts_tsv: PathLike | None = None,
    processes: int = 1,
) -> dict:
    """Evaluate the models of ``settings.models`` on the corpus; write the metrics as JSON and a table.

    ``sentence_transformers`` maps encoder names to folders and ``encoder`` holds the encoders'
    settings (``encoder_model``)."""
    specs, baseline, bm25, device = settings.models, settings.baseline, settings.bm25, settings.device
    heldout_fraction, heldout_seed = settings.heldout.fraction, settings.heldout.seed
    max_queries, ks, aggregators = settings.max_queries, settings.ks, settings.aggregators
    papers = pd.read_parquet(papers_parquet, columns=["paper_id", "title", "abstract", "authors"])
    heldout = heldout_mask(papers["paper_id"].astype(str).tolist(), heldout_fraction, heldout_seed)
    sts = read_sts(sts_tsv) if sts_tsv else None
    baselines = [baseline] if isinstance(baseline, str) else list(baseline or [])
    specs = list(dict.fromkeys([*specs, *baselines]))  # a baseline is evaluated too
    models = load_models(specs, lambda name: load_registry_model(
        name, avg_model=avg_model, sentence_transformers=sentence_transformers, bm25=bm25,
        processes=processes, encoder=encoder, device=device))
    results = evaluate(models, papers, heldout, max_queries=max_queries, ks=ks, seed=heldout_seed, sts=sts,
                       baseline=baseline, aggregators=aggregators)
    write_json({"heldout_fraction": heldout_fraction, "heldout_seed": heldout_seed,
                "heldout_papers": int(heldout.sum()), "corpus_papers": len(papers), "models": results},
               out_json)
    write_text(format_report(results), out_txt)
    return results
