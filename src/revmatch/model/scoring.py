"""The public scoring API: paper-level similarity of query texts to paper texts.

``paper_similarity`` gives the scores the paper matrix is made of, for scripts and
experiments outside the workflow: the default matching model when no model is named, any
registry spec otherwise. The candidate ``papers`` play the corpus: TF-IDF and BM25 fit
their term weights on them, and an ensemble calibrates each member on them, then shifts
its scores so that 0 means "nothing in common" (``unrelated_score``), exactly as
the paper matrix does with the corpus index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from revmatch.io import PathLike
from revmatch.model.registry import load_registry_model, paper_scores
from revmatch.model.specs import DEFAULT_MATCHING_MODEL, TUNED_ENCODER, parse_spec


def paper_similarity(
    queries: Sequence[str],
    papers: Sequence[str],
    model: str | None = None,
    *,
    model_dir: PathLike | None = None,
    avg_model: PathLike | None = None,
    encoders: Mapping[str, PathLike] | None = None,
    embedding_cache: PathLike | None = None,
    device: str = "cpu",
    batch_size: int = 32,
) -> np.ndarray:
    """(len(queries), len(papers)) float32 scores of ``model`` (default: the matching default).

    ``model`` is any registry spec (``tuned``, ``minilm``, ``tfidf``, ``bm25``, ``avg``,
    ``a+b``). The models a workflow trains come from ``model_dir`` (its ``results/model``
    folder: ``similarity.pt``, ``encoders/tuned``, ``embedding_cache``) or one by one:
    ``avg_model`` (the averaging model file), ``encoders`` (encoder names -> local
    sentence-transformers folders) and ``embedding_cache`` (a folder where embeddings are
    kept for the next call). Quiet: progress goes to the ``revmatch`` loggers only.
    """
    spec = model or DEFAULT_MATCHING_MODEL
    encoders = dict(encoders or {})
    if model_dir is not None:
        model_dir = Path(model_dir)
        avg_model = avg_model or model_dir / "similarity.pt"
        encoders = {TUNED_ENCODER: model_dir / "encoders" / TUNED_ENCODER, **encoders}
        embedding_cache = embedding_cache or model_dir / "embedding_cache"
    members = parse_spec(spec)
    if "avg" in members and avg_model is None or TUNED_ENCODER in members and TUNED_ENCODER not in encoders:
        raise ValueError(f"model {spec!r} needs what the workflow trains: pass model_dir='results/model' "
                         "(or avg_model= and encoders={'tuned': folder}), or name a model that needs no "
                         "training such as 'minilm+tfidf'")
    queries, papers = [str(q) for q in queries], [str(p) for p in papers]
    if not queries or not papers:
        return np.zeros((len(queries), len(papers)), dtype=np.float32)
    scorer = load_registry_model(spec, avg_model=avg_model, sentence_transformers=encoders, device=device,
                                 encoder={"batch_size": batch_size, "embedding_cache": embedding_cache})
    return paper_scores(scorer, scorer.index(papers), queries, shift=True)
