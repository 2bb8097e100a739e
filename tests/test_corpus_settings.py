"""The corpus settings: built from the validated config, carried through the rules' params as
the plain dicts the rules had before (so that Snakemake's params check sees the same values)."""

import pytest
import yaml

from revmatch.corpus.settings import CorpusSettings, FilterSpec, S2Settings, UpdateFrom
from tests.conftest import REPO


def validated_config(config: dict) -> dict:
    """``config`` as the rules see it: validated, the schema's defaults filled in."""
    from snakemake.utils import validate

    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def demo_config(**corpus) -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["corpus"].update(corpus)
    return validated_config(config)


def test_settings_from_the_demo_config():
    config = demo_config()
    settings = CorpusSettings.from_config(config)
    assert (settings.source, settings.max_bad_line_share) == ("local", 0.01)
    assert settings.filter == FilterSpec(acl=True, venues=[], min_year=2016, require_abstract=True)
    assert (settings.s2.release, settings.s2.api_key_env, settings.s2.retries) == ("latest", "S2_API_KEY", 6)
    assert settings.s2.update_from is None and settings.s2.datasets == ["papers", "abstracts"]
    # a local dump has its abstracts: none are joined, the shards check them
    assert not settings.join_abstracts and settings.shard_filter == settings.filter


def test_params_are_the_config_sections_as_they_were():
    """The same dicts, keys in the same order: a rule's params compare by repr."""
    config = demo_config()
    settings = CorpusSettings.from_config(config)
    assert repr(settings.s2.as_params()) == repr(dict(config["corpus"]["s2"]))
    assert repr(settings.filter.as_params()) == repr(dict(config["corpus"]["filter"]))


def test_s2_api_source_moves_the_abstract_check_to_the_merge():
    settings = CorpusSettings.from_config(demo_config(source="s2-api"))
    assert settings.join_abstracts and settings.filter.require_abstract
    assert settings.shard_filter.as_params() == {**settings.filter.as_params(), "require_abstract": False}
    without = CorpusSettings.from_config(demo_config(source="s2-api", s2={"abstracts": False}))
    assert not without.join_abstracts and without.shard_filter == without.filter
    assert without.s2.datasets == ["papers"]


def test_round_trip_through_params():
    update_from = {"release": "2024-01-02", "papers": "old.parquet"}
    config = demo_config(s2={"release": "2024-01-09", "update_from": update_from, "backoff_s": 1})
    s2 = CorpusSettings.from_config(config).s2
    assert s2.update_from == UpdateFrom(release="2024-01-02", papers="old.parquet")
    assert S2Settings.from_params(s2.as_params()) == s2
    assert s2.as_params()["update_from"] == {"release": "2024-01-02", "papers": "old.parquet"}
    assert s2.as_params()["backoff_s"] == 1 and isinstance(s2.as_params()["backoff_s"], int)  # as written
    spec = FilterSpec(acl=False, venues=["EMNLP"], min_year=2010)
    assert FilterSpec.from_params(spec.as_params()) == spec


def test_api_settings_read_the_key_from_the_environment_only():
    s2 = CorpusSettings.from_config(demo_config(s2={"api_key_env": "MY_KEY", "timeout_s": 5})).s2
    api = s2.api_settings(environ={"MY_KEY": "sekret"})
    assert api.api_key == "sekret" and api.timeout_s == 5.0 and api.retries == 6
    assert "sekret" not in repr(api) and "sekret" not in repr(s2.as_params())
    assert s2.api_settings(environ={}).api_key is None


def test_contradictions_are_refused():
    config = demo_config(filter={"min_year": 2020, "max_year": 2019})
    with pytest.raises(ValueError, match="min_year 2020 is after max_year 2019"):
        CorpusSettings.from_config(config)
    with pytest.raises(ValueError, match="unknown corpus filter keys"):
        FilterSpec.from_params({"acl": True, "min_yaer": 2016})
    with pytest.raises(ValueError, match="not one string"):
        FilterSpec(venues="ACL")
