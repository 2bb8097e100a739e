"""The conference stage's settings, built once from the validated config: the COI sources that
``merge_cois`` adds, and what the viability check counts. A rule's params carry a part as a
plain dict (``as_params``), which its script turns back into the part (``from_params``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def coauthor_since(
    since_year: int | None, years: int | None, conference_year: int | None
) -> int | None:
    """First corpus year whose co-authorship counts: ``since_year``, or ``conference_year - years``.

    ``None`` when co-authorship is not checked; giving both ways, or ``years`` without
    ``conference_year``, is a ``ValueError``.
    """
    if years is None:
        return since_year
    if since_year is not None:
        raise ValueError("give coi.coauthor_since_year or coi.coauthor_years, not both")
    if conference_year is None:
        raise ValueError("coi.coauthor_years needs coi.conference_year")
    return int(conference_year) - int(years)


class _Part:
    """A rule's part of the settings, passed through a rule's params as a plain dict."""

    def as_params(self) -> dict[str, Any]:
        """The settings as builtins, which Snakemake compares to re-run a rule whose settings changed."""
        return dataclasses.asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]):
        """The part back from :meth:`as_params`."""
        return cls(**params)


@dataclasses.dataclass(frozen=True)
class CoiSettings(_Part):
    """Config ``coi`` but its ``files`` (rule inputs): the co-authorship window and the
    same-organisation sources. A window given both ways, or in years without the
    conference's year, is refused (``ValueError``)."""

    coauthor_since_year: int | None
    coauthor_years: int | None
    conference_year: int | None
    same_email_domain: bool
    public_email_domains: tuple[str, ...]
    same_affiliation: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_email_domains", tuple(self.public_email_domains))
        coauthor_since(self.coauthor_since_year, self.coauthor_years, self.conference_year)  # or refuse

    @property
    def coauthor_window(self) -> int | None:
        """First corpus year whose co-authorship counts (:func:`coauthor_since`); ``None``: all years."""
        return coauthor_since(self.coauthor_since_year, self.coauthor_years, self.conference_year)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CoiSettings:
        return cls(**{field.name: config["coi"][field.name] for field in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class ViabilitySettings(_Part):
    """What the capacity check counts: reviews per paper, reviewer loads and tracks (config
    ``matching``, as the assignment uses them) and area chairs' loads (config ``viability``)."""

    reviews_per_paper: int
    max_papers_per_reviewer: int
    by_track: bool
    ac_max_papers: int
    ac_papers_per_submission: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ViabilitySettings:
        matching, viability = config["matching"], config["viability"]
        return cls(
            reviews_per_paper=matching["reviews_per_paper"],
            max_papers_per_reviewer=matching["max_papers_per_reviewer"],
            by_track=matching["by_track"],
            ac_max_papers=viability["ac_max_papers"],
            ac_papers_per_submission=viability["ac_papers_per_submission"],
        )


@dataclasses.dataclass(frozen=True)
class ConferenceSettings:
    """The stage's settings by rule: ``merge_cois`` (``coi``) and ``check_viability``
    (``viability``); ``extract_softconf`` has none."""

    coi: CoiSettings
    viability: ViabilitySettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConferenceSettings:
        return cls(coi=CoiSettings.from_config(config), viability=ViabilitySettings.from_config(config))
