"""Model specs: the names of the registry's built-in models and the ``a+b`` ensemble syntax."""

from __future__ import annotations

from revmatch.model.encoders import PACKAGED_ENCODERS

#: the registry's models over word counts (no embedding: no GPU, no model file)
SPARSE_MODELS = ("tfidf", "bm25")
#: the registry's models that are not transformer encoders (every other name is an encoder)
NON_ENCODER_MODELS = ("avg", *SPARSE_MODELS)
BUILTIN_MODELS = (*NON_ENCODER_MODELS, *PACKAGED_ENCODERS)
#: the encoder the workflow fine-tunes on the corpus (its folder: ``results/model/encoders/tuned``)
TUNED_ENCODER = "tuned"
# The default matching model (``model.matching_model``, affinity jobs, ``paper_similarity``):
# the best on the held-out evaluation (README, "The expertise models").
DEFAULT_MATCHING_MODEL = "tuned+avg"


def parse_spec(spec: str) -> list[str]:
    """Member names of a model spec: ``"avg"`` -> ``["avg"]``, ``"avg+bm25"`` -> ``["avg", "bm25"]``."""
    names = [name.strip() for name in spec.split("+")]
    if not spec.strip() or any(not name for name in names):
        raise ValueError(f"malformed model spec {spec!r}: names joined by '+' expected")
    if len(set(names)) != len(names):
        raise ValueError(f"model spec {spec!r} names a model twice")
    return names


def is_encoder(name: str) -> bool:
    """Whether the model ``name`` is a transformer encoder (packaged, configured or fine-tuned)."""
    return name not in NON_ENCODER_MODELS
