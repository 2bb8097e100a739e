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
