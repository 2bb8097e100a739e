"""The matching stage's settings, read once from the validated config (``matching`` and the
matching model), one part per rule.

A rule's ``params`` carry its part as a plain dict (``as_params``), so that Snakemake sees a
changed setting and re-runs the rule; its script rebuilds the part (``from_params``) and passes
it whole to the library's file function. Defaults live in the config schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def check_mode(objective: str, max_probability: float | None, has_previous: bool, has_groups: bool) -> None:
    """Raise ``ValueError`` for modes that cannot be combined."""
    if objective not in ("sum", "fair"):
        raise ValueError(f"matching.objective must be 'sum' or 'fair', not {objective!r}")
    if objective == "fair" and has_previous:
        raise ValueError("matching.objective fair and a previous assignment cannot be combined: a re-solve "
                         "keeps the previous pairs first")
    if max_probability is not None and (has_previous or objective == "fair" or has_groups):
        raise ValueError(
            "matching.max_probability (randomized assignment) cannot be combined with a previous assignment, "
            "objective fair, min_senior_per_paper or attribute_constraints: sampling keeps only the paper "
            "and reviewer counts"
        )


class _Params:
    """``as_params`` and ``from_params`` of a settings part: a plain dict in a rule's ``params``."""

    @classmethod
    def from_params(cls, params: Mapping) -> Any:
        """The part rebuilt from its ``as_params`` dict."""
        names = {field.name for field in dataclasses.fields(cls)}
        missing, unknown = sorted(names - set(params)), sorted(set(params) - names)
        if missing or unknown:
            raise ValueError(
                f"{cls.__name__} params: missing {', '.join(missing) or 'none'}, "
                f"unknown {', '.join(unknown) or 'none'}"
            )
        return cls(**params)

    def as_params(self) -> dict[str, Any]:
        """The settings as a plain dict, for a rule's ``params``."""
        return dataclasses.asdict(self)


class _MatchingPart(_Params):
    """A part whose every field is the ``matching`` config key of the same name."""

    @classmethod
    def from_config(cls, config: Mapping) -> Any:
        """The part from a config validated against the schema (defaults filled in)."""
        matching = config["matching"]
        return cls(**{field.name: matching[field.name] for field in dataclasses.fields(cls)})


@dataclass(frozen=True)
class PaperMatrixSettings(_Params):
    """What shapes the paper matrix besides its files (rules ``compute_paper_matrix`` and
    ``aggregate_scores``): the matching model (``matching_model_settings()`` of the workflow:
    ``spec``, and for a registry model the query ``fields``, ``sentence_transformers`` folders,
    ``encoder`` settings and package ``versions``), the number of ``parts``, the rows per block
    and the memory a block may take."""

    model: dict
    parts: int
    block_rows: int
    memory_budget_mb: float

    @classmethod
    def from_config(cls, config: Mapping, model: Mapping) -> PaperMatrixSettings:
        """The part from a validated config and the matching ``model`` settings."""
        matching = config["matching"]
        return cls(dict(model), matching["parts"], matching["block_rows"], matching["memory_budget_mb"])

    @property
    def spec(self) -> str:
        """The matching model spec (``avg``, ``tfidf``, ``a+b``, ...)."""
        return self.model["spec"]

    @property
    def text_fields(self) -> tuple[str, ...]:
        """Submission fields a registry model scores (absent for ``avg``)."""
        return tuple(self.model["fields"])

    @property
    def sentence_transformers(self) -> Mapping:
        """Folders of the registry model's sentence-transformers encoders, by name."""
        return self.model["sentence_transformers"]

    @property
    def encoder(self) -> Mapping | None:
        """Embedding settings of the registry model's encoders (None without one)."""
        return self.model.get("encoder")


@dataclass(frozen=True)
class AggregateSettings(_MatchingPart):
    """How the paper matrix becomes reviewer scores (rule ``aggregate_scores``): the reducer,
    its ``top_k``, and whether the paper matrix is read from the cache or computed on the fly."""

    aggregator: str
    top_k: int
    cache_paper_matrix: bool


@dataclass(frozen=True)
class AssignmentSettings(_MatchingPart):
    """What shapes the assignment (rule ``solve_assignment``): reviews per paper, reviewer loads,
    tracks and roles, the emergency penalty, pruning of large problems, senior reviewers and
    attribute constraints, and the mode (objective, re-solve, randomized). The season's files
    (forced, forbidden, previous pairs, pool, attributes) reach the rule as inputs."""

    reviews_per_paper: int
    max_papers_per_reviewer: int
    min_papers_per_reviewer: int
    by_track: bool
    area_chairs: bool
    emergency_penalty: float
    prune_above_pairs: int
    candidates_per_paper: int
    min_senior_per_paper: int
    senior_min_papers: int
    mip_rel_gap: float
    mip_time_limit: float | None
    objective: str
    fair_measure: str
    fair_by_track: bool
    attribute_constraints: list
    change_penalty: float | None
    emergency_only: bool
    max_probability: float | None
    random_seed: int

    def __post_init__(self) -> None:
        check_mode(self.objective, self.max_probability, has_previous=False,
                   has_groups=self.min_senior_per_paper > 0 or bool(self.attribute_constraints))
        for constraint in self.attribute_constraints:
            if constraint.get("min") and constraint.get("value") is None:
                raise ValueError(
                    f"matching.attribute_constraints: a minimum of {constraint['attribute']!r} needs the "
                    "value that counts (e.g. value: true)"
                )
            if constraint.get("min") is None and constraint.get("max") is None:
                raise ValueError(f"matching.attribute_constraints: {constraint['attribute']!r} has neither min nor max")

    @classmethod
    def from_config(cls, config: Mapping) -> AssignmentSettings:
        """The part from a validated config, its mode checked against the configured files."""
        settings = super().from_config(config)
        previous = bool(config["matching"].get("previous_assignment"))
        check_mode(settings.objective, settings.max_probability, previous, settings.min_senior_per_paper > 0)
        if (settings.emergency_only or config["matching"].get("emergency_pool")) and not previous:
            raise ValueError("matching.emergency_only and emergency_pool need matching.previous_assignment")
        return settings

    def solve_options(self) -> dict[str, Any]:
        """The keyword arguments of ``solve_conference`` these settings give."""
        names = [f.name for f in dataclasses.fields(self) if f.name != "senior_min_papers"]
        options = {name: getattr(self, name) for name in names}
        options["attribute_constraints"] = tuple(self.attribute_constraints)
        return options


@dataclass(frozen=True)
class MatchingSettings:
    """Every part of the matching stage's settings."""

    paper_matrix: PaperMatrixSettings
    aggregate: AggregateSettings
    assignment: AssignmentSettings

    @classmethod
    def from_config(cls, config: Mapping, model: Mapping) -> MatchingSettings:
        """The settings from a validated config and the matching ``model`` settings."""
        return cls(
            paper_matrix=PaperMatrixSettings.from_config(config, model),
            aggregate=AggregateSettings.from_config(config),
            assignment=AssignmentSettings.from_config(config),
        )
