"""How a job's registry model scores texts (``ScorerSettings``): built once from the config's
``model`` section, narrowed to a job's model, and carried through the rule ``affinity_job``'s
``params.model`` as a plain dict."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from revmatch.model import TEXT_FIELDS


@dataclass(frozen=True)
class ScorerSettings:
    """The settings of a registry model (every model but ``avg`` alone, whose cached
    embeddings carry them): the submissions' ``text_fields`` it scores, the encoder members'
    folders (``sentence_transformers``: name -> folder) and settings (``encoder``: batch
    size, word pieces kept, the embedding cache; None without an encoder member), ``bm25``'s
    ``k1`` and ``b``, and the ``device`` (``auto`` picks CUDA when present)."""

    text_fields: tuple[str, ...] = TEXT_FIELDS
    sentence_transformers: Mapping[str, str] = field(default_factory=dict)
    bm25: Mapping[str, float] = field(default_factory=dict)
    device: str = "cpu"
    encoder: Mapping[str, Any] | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ScorerSettings:
        """The settings of a validated config (schema defaults filled): ``model.text_fields``,
        ``model.bm25`` and ``model.gpu``; the encoders come with a job's model (``for_model``)."""
        model = config["model"]
        return cls(text_fields=tuple(model["text_fields"]), bm25=dict(model["bm25"]), device=model["gpu"])

    def for_model(self, members: Sequence[str], encoders: Mapping[str, Any] | None = None) -> ScorerSettings:
        """These settings for a model of ``members``: ``bm25``'s only with a bm25 member, and
        the encoder members' ``sentence_transformers`` folders and ``encoder`` settings
        (``encoders``; none without an encoder member)."""
        encoders = encoders or {}
        return dataclasses.replace(
            self,
            sentence_transformers=dict(encoders.get("sentence_transformers") or {}),
            bm25=dict(self.bm25) if "bm25" in members else {},
            encoder=encoders.get("encoder"),
        )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ScorerSettings:
        """The settings from a rule's params (``as_params``; other keys, such as the encoders'
        package versions that only mark the outputs stale, are left out). ``{}`` (the params
        of ``avg`` alone) gives the defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in params.items() if key in known}
        if "text_fields" in values:
            values["text_fields"] = tuple(values["text_fields"])
        return cls(**values)

    def as_params(self) -> dict[str, Any]:
        """The settings as plain values for a rule's params (Snakemake compares only
        builtins): ``text_fields`` a list, no ``encoder`` key without an encoder member."""
        params = dataclasses.asdict(self)
        params["text_fields"] = list(self.text_fields)
        if self.encoder is None:
            del params["encoder"]
        return params
