"""The corpus stage's settings, built and checked once from the config's ``corpus`` section:
the paper filter (``corpus.filter``), the Semantic Scholar download (``corpus.s2``) and the
bad-line limit. Rules carry the parts as plain dicts (``as_params``) and scripts rebuild them
(``from_params``); the config's defaults are in the workflow's schema."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from revmatch.corpus.s2_api import ApiSettings


@dataclasses.dataclass(frozen=True)
class FilterSpec:
    """Which papers a corpus keeps.

    ``acl`` keeps papers with an ACL Anthology id or an aclweb.org/aclanthology.org URL;
    ``venues`` keeps papers whose venue equals one of these names (case-insensitive),
    OR-ed with ``acl``. With ``acl`` off and no ``venues``, every venue is kept. The year
    bounds are inclusive; a paper without a year fails any bound.
    """

    acl: bool = True
    venues: list[str] = dataclasses.field(default_factory=list)
    min_year: int | None = None
    max_year: int | None = None
    require_abstract: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.venues, str):
            raise ValueError("venues must be a list of venue names, not one string")
        object.__setattr__(self, "venues", [str(v) for v in self.venues])
        if self.min_year is not None and self.max_year is not None and self.min_year > self.max_year:
            raise ValueError(f"min_year {self.min_year} is after max_year {self.max_year}")

    @classmethod
    def from_config(cls, config: dict | None) -> FilterSpec:
        """Build from the ``corpus.filter`` config mapping; unknown keys raise ``ValueError``."""
        config = dict(config or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown corpus filter keys: {unknown} (known: {sorted(known)})")
        return cls(**config)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FilterSpec:
        """The spec from ``as_params`` output (a rule's params)."""
        return cls.from_config(dict(params))

    def as_params(self) -> dict[str, Any]:
        """The spec as a plain dict, for a rule's params (Snakemake compares only builtins)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class UpdateFrom:
    """``corpus.s2.update_from``: the older corpus (``papers``, a Parquet file) and its release."""

    release: str
    papers: str


@dataclasses.dataclass(frozen=True)
class S2Settings:
    """``corpus.s2``: the release and datasets to list, the diffs' older release, where the API
    is and how requests are retried. It names the API key's environment variable, never the
    key (``api_settings`` reads it). The field order is the demo config's, so that
    ``as_params`` gives the params the rules had before these settings existed."""

    release: str
    api_key_env: str
    abstracts: bool
    update_from: UpdateFrom | None
    base_url: str
    retries: int
    backoff_s: float
    max_backoff_s: float
    timeout_s: float

    @classmethod
    def from_config(cls, s2_config: Mapping[str, Any]) -> S2Settings:
        """Build from a validated ``corpus.s2`` section (schema defaults filled)."""
        values = {field.name: s2_config[field.name] for field in dataclasses.fields(cls)}
        update_from = values["update_from"]
        values["update_from"] = None if update_from is None else UpdateFrom(**update_from)
        return cls(**values)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> S2Settings:
        """The settings from ``as_params`` output (a rule's params)."""
        return cls.from_config(params)

    def as_params(self) -> dict[str, Any]:
        """The settings as a plain dict, for a rule's params (Snakemake compares only builtins)."""
        return dataclasses.asdict(self)

    @property
    def datasets(self) -> list[str]:
        """The Datasets API datasets listed: ``papers``, and ``abstracts`` when joined."""
        return ["papers", "abstracts"] if self.abstracts else ["papers"]

    def api_settings(self, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """The API client's settings, with the key read from ``environ[api_key_env]``."""
        return ApiSettings.from_config(self.as_params(), environ)


@dataclasses.dataclass(frozen=True)
class CorpusSettings:
    """``corpus``: where the papers come from (``source``: local, s2-api or anthology), which
    ones are kept, the Semantic Scholar download, and the share of malformed lines a shard
    may have."""

    source: str
    max_bad_line_share: float
    filter: FilterSpec
    s2: S2Settings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CorpusSettings:
        """The settings of a validated config (schema defaults filled) with a ``corpus`` section."""
        corpus = config["corpus"]
        return cls(
            source=corpus["source"],
            max_bad_line_share=corpus["max_bad_line_share"],
            filter=FilterSpec.from_config(corpus["filter"]),
            s2=S2Settings.from_config(corpus["s2"]),
        )

    @property
    def join_abstracts(self) -> bool:
        """Whether the Datasets API ``abstracts`` are downloaded and joined by corpus id."""
        return self.source == "s2-api" and self.s2.abstracts

    @property
    def shard_filter(self) -> FilterSpec:
        """The filter of one shard: with abstracts joined later, the no-abstract check moves
        to the merge."""
        if self.join_abstracts:
            return dataclasses.replace(self.filter, require_abstract=False)
        return self.filter


def check_corpus_config(config: Mapping[str, Any]) -> None:
    """Refuse a validated config whose ``corpus`` keys contradict each other, naming the keys and
    their values (``ValueError``): a year range that is empty, a first retry pause above the
    longest, an update from an older release without the API that serves its diffs, and papers
    required to have an abstract from a download that joins none."""
    corpus = config["corpus"]
    try:
        FilterSpec.from_config(corpus["filter"])
    except ValueError as exc:
        raise ValueError(f"config key corpus.filter: {exc}") from exc
    s2 = corpus["s2"]
    if s2["backoff_s"] > s2["max_backoff_s"]:
        raise ValueError(
            f"corpus.s2.backoff_s ({s2['backoff_s']}) is above corpus.s2.max_backoff_s ({s2['max_backoff_s']}): "
            "the first retry pause would be longer than the longest"
        )
    if corpus["source"] != "s2-api":
        if s2.get("update_from"):
            raise ValueError(
                f"corpus.s2.update_from needs corpus.source: s2-api (it is {corpus['source']!r}): the diffs "
                "come from the Datasets API"
            )
        return
    if not s2["abstracts"] and corpus["filter"]["require_abstract"]:
        raise ValueError(
            "corpus.filter.require_abstract (true) with corpus.s2.abstracts (false) would drop every paper: "
            "the Datasets API's papers have no abstract unless the abstracts dataset is joined"
        )
