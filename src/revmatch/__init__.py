"""revmatch: reviewer assignment and review calibration for large conferences."""

__version__ = "0.1.0"

__all__ = ["paper_similarity"]


def __getattr__(name: str):
    # the scoring API imports torch and the models lazily: ``import revmatch`` stays light
    if name == "paper_similarity":
        from revmatch.model import paper_similarity

        return paper_similarity
    raise AttributeError(f"module 'revmatch' has no attribute {name!r}")
