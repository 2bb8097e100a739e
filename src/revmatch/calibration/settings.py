"""The settings of the calibrate_reviews rule, built and checked once from the config's
``calibration`` section, and carried through the rule's params as a plain dict."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from revmatch.calibration.data import DUPLICATE_RULES, MISSING_EXPERTISE_RULES, check_rule
from revmatch.calibration.fit import ADVI_ITERATIONS, check_method, check_sampler
from revmatch.calibration.model import resolve_hyper
from revmatch.calibration.summary import SAVE_POSTERIOR


@dataclass(frozen=True)
class CalibrationSettings:
    """How reviews are read (``columns``, the maps, the scale, what a missing expertise and a
    repeated review do), fitted (``method``, ``sampler``, draws, priors ``hyper``), checked for
    convergence and saved (``save_posterior``: ``summary`` or every draw, ``full``); the
    defaults are the library's, the config's defaults are in the workflow's schema. A bad
    method, sampler, rule or prior raises ``ValueError``."""

    columns: dict[str, str] | None = None
    score_map: dict | None = None
    expertise_map: dict | None = None
    n_levels: int = 5
    n_expertise: int = 3
    method: str = "nuts"
    sampler: str = "auto"
    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    seed: int = 0
    advi_iterations: int = ADVI_ITERATIONS
    fail_on_bad_convergence: bool = True
    max_rhat: float = 1.05
    min_ess: float = 100
    hyper: dict | None = None
    duplicate_reviews: str = "error"
    missing_expertise: str = "error"
    save_posterior: str = "summary"

    def __post_init__(self) -> None:
        check_method(self.method)
        check_sampler(self.sampler)
        check_rule("duplicate_reviews", self.duplicate_reviews, DUPLICATE_RULES)
        check_rule("missing_expertise", self.missing_expertise, MISSING_EXPERTISE_RULES)
        check_rule("save_posterior", self.save_posterior, SAVE_POSTERIOR)
        resolve_hyper(self.hyper, self.n_levels)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CalibrationSettings:
        """The settings of a validated config (schema defaults filled) with a ``calibration``
        section."""
        section = config["calibration"]
        return cls(**{field.name: section[field.name] for field in dataclasses.fields(cls)})

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CalibrationSettings:
        """The settings from ``as_params`` output (a rule's params)."""
        return cls(**params)

    def as_params(self) -> dict[str, Any]:
        """The settings as a plain dict, for a rule's params (Snakemake compares only builtins)."""
        return dataclasses.asdict(self)


def _map_outside(mapping: Mapping | None, low: int, high: int) -> dict:
    """The entries of a raw -> level map whose level is no integer in [low, high]."""
    return {key: level for key, level in (mapping or {}).items()
            if isinstance(level, bool) or not isinstance(level, int) or not low <= level <= high}


def check_calibration_config(config: Mapping[str, Any]) -> None:
    """Refuse a validated config whose ``calibration`` keys contradict each other, naming the
    keys and their values (``ValueError``): a score or expertise map onto levels the scale does
    not have, a prior mean of quality outside the scale, and a convergence check that no run
    of the configured draws can pass (``min_ess`` above the draws of all chains, with NUTS
    and ``fail_on_bad_convergence``). Nothing without a ``calibration`` section."""
    if "calibration" not in config:
        return
    settings = CalibrationSettings.from_config(config)  # methods, rules and priors
    top = settings.n_levels - 1
    wrong = _map_outside(settings.score_map, 0, top)
    if wrong:
        raise ValueError(f"calibration.score_map maps onto levels outside 0..{top} (calibration.n_levels: "
                         f"{settings.n_levels}): {wrong}")
    wrong = _map_outside(settings.expertise_map, 1, settings.n_expertise)
    if wrong:
        raise ValueError(f"calibration.expertise_map maps onto levels outside 1..{settings.n_expertise} "
                         f"(calibration.n_expertise: {settings.n_expertise}): {wrong}")
    quality_mean = resolve_hyper(settings.hyper, settings.n_levels)["quality_mean"]
    if not 0 <= quality_mean <= top:
        raise ValueError(f"calibration.hyper.quality_mean ({quality_mean:g}) lies outside the score scale "
                         f"0..{top} (calibration.n_levels: {settings.n_levels})")
    total = settings.draws * settings.chains
    if settings.method == "nuts" and settings.fail_on_bad_convergence and settings.min_ess > total:
        raise ValueError(f"calibration.min_ess ({settings.min_ess:g}) is above the draws of all chains "
                         f"(calibration.draws x chains = {total}): the convergence check could never pass")

