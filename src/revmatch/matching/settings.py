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


def _counts_true(value: Any) -> bool:
    """Whether an attribute constraint's ``value`` counts the value ``true`` (``None``: every value,
    each its own group), compared as ``attributes.attribute_groups`` does (case-folded text)."""
    if value is None:
        return True
    values = value if isinstance(value, list) else [value]
    return "true" in {str(v).casefold() for v in values}


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
        self._check_counts()
        for k, constraint in enumerate(self.attribute_constraints):
            self._check_attribute_constraint(k, constraint)

    def _check_counts(self) -> None:
        """Refuse counts that contradict each other: a reviewer's minimum above the maximum, more
        senior reviewers than reviews a paper, a change penalty the emergency re-solve ignores."""
        reviews = self.reviews_per_paper
        if self.min_papers_per_reviewer > self.max_papers_per_reviewer:
            raise ValueError(
                f"matching.min_papers_per_reviewer ({self.min_papers_per_reviewer}) is above "
                f"matching.max_papers_per_reviewer ({self.max_papers_per_reviewer})"
            )
        if self.min_senior_per_paper > reviews:
            raise ValueError(
                f"matching.min_senior_per_paper ({self.min_senior_per_paper}) is above "
                f"matching.reviews_per_paper ({reviews}): a paper has no more senior reviewers than reviewers"
            )
        if self.emergency_only and self.change_penalty is not None:
            raise ValueError(
                f"matching.change_penalty ({self.change_penalty}) cannot be combined with matching.emergency_only: "
                "the emergency re-solve keeps every still-valid pair, so no pair is traded (set change_penalty: null)"
            )

    def _check_attribute_constraint(self, k: int, constraint: Mapping) -> None:
        """Refuse ``matching.attribute_constraints[k]`` when its bounds contradict each other,
        ``reviews_per_paper`` or ``min_senior_per_paper``."""
        where = f"matching.attribute_constraints[{k}] ({constraint['attribute']!r})"
        low, high = constraint.get("min"), constraint.get("max")
        if low is None and high is None:
            raise ValueError(f"{where} has neither min nor max")
        if low and constraint.get("value") is None:
            raise ValueError(f"{where}: a minimum needs the value that counts (e.g. value: true)")
        if low is not None and high is not None and low > high:
            raise ValueError(f"{where}: min ({low}) is above max ({high})")
        if low is not None and low > self.reviews_per_paper:
            raise ValueError(f"{where}: min ({low}) is above matching.reviews_per_paper ({self.reviews_per_paper})")
        if (constraint["attribute"] == "senior" and high is not None and high < self.min_senior_per_paper
                and _counts_true(constraint.get("value"))):
            raise ValueError(
                f"{where}: max ({high}) senior reviewers is below matching.min_senior_per_paper "
                f"({self.min_senior_per_paper})"
            )

    @classmethod
    def from_config(cls, config: Mapping) -> AssignmentSettings:
        """The part from a validated config, its mode checked against the configured files."""
        settings = super().from_config(config)
        previous = bool(config["matching"].get("previous_assignment"))
        check_mode(settings.objective, settings.max_probability, previous, settings.min_senior_per_paper > 0)
        if (settings.emergency_only or config["matching"].get("emergency_pool")) and not previous:
            raise ValueError("matching.emergency_only and emergency_pool need matching.previous_assignment")
        if settings.change_penalty is not None and not previous:
            raise ValueError(
                f"matching.change_penalty ({settings.change_penalty}) needs matching.previous_assignment: "
                "without a previous assignment no pair moves"
            )
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


def check_matching_config(config: Mapping) -> None:
    """Refuse a validated config whose matching keys contradict each other or the keys of another
    section they share a quantity with, naming the keys and their values (``ValueError``): the
    assignment's settings (``AssignmentSettings.from_config``) and, for an area-chair assignment,
    the area chairs a paper gets and their loads, which the viability check reads from
    ``viability``."""
    AssignmentSettings.from_config(config)
    matching, viability = config["matching"], config["viability"]
    if not matching["area_chairs"]:
        return
    for key, viability_key in (("reviews_per_paper", "ac_papers_per_submission"),
                               ("max_papers_per_reviewer", "ac_max_papers")):
        if matching[key] != viability[viability_key]:
            raise ValueError(
                f"matching.area_chairs assigns area chairs with matching.{key} ({matching[key]}), but the "
                f"viability check counts viability.{viability_key} ({viability[viability_key]}): give both "
                "the same value"
            )
