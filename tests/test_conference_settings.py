"""The conference settings: built once from the validated config, carried through the rules'
params as plain dicts holding the settings the rules had before, one by one."""

import pytest
import yaml

from revmatch.conference.settings import ConferenceSettings, CoiSettings, ViabilitySettings, coauthor_since
from tests.conftest import REPO

COI_KEYS = [
    "coauthor_since_year", "coauthor_years", "conference_year", "same_email_domain", "public_email_domains",
    "same_affiliation",
]


def demo_config(**sections) -> dict:
    """``config/config.yaml`` with ``sections`` merged in, as the rules see it: validated, the
    schema's defaults filled in."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name, values in sections.items():
        config[name].update(values)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_settings_from_the_demo_config():
    settings = ConferenceSettings.from_config(demo_config())
    assert settings.coi == CoiSettings(
        coauthor_since_year=2016, coauthor_years=None, conference_year=None, same_email_domain=False,
        public_email_domains=(), same_affiliation=True,
    )
    assert settings.coi.coauthor_window == 2016
    assert settings.viability == ViabilitySettings(
        reviews_per_paper=3, max_papers_per_reviewer=6, by_track=True, ac_max_papers=15,
        ac_papers_per_submission=1,
    )


def test_params_hold_the_settings_the_rules_had():
    """merge_cois: config ``coi`` but its files; check_viability: three ``matching`` keys and
    the ``viability`` section."""
    config = demo_config(coi={"public_email_domains": ["uni.example"]})
    settings = ConferenceSettings.from_config(config)
    assert settings.coi.as_params() == {
        **{key: config["coi"][key] for key in COI_KEYS}, "public_email_domains": ("uni.example",)
    }
    matching_keys = ["reviews_per_paper", "max_papers_per_reviewer", "by_track"]
    assert settings.viability.as_params() == {
        **{key: config["matching"][key] for key in matching_keys},
        **config["viability"],
    }


def test_round_trip_through_params():
    config = demo_config(
        coi={"coauthor_since_year": None, "coauthor_years": 5, "conference_year": 2022,
             "public_email_domains": ["a.example", "b.example"]},
        matching={"by_track": False, "reviews_per_paper": 4},
        viability={"ac_max_papers": 9, "ac_papers_per_submission": 2},
    )
    settings = ConferenceSettings.from_config(config)
    assert CoiSettings.from_params(settings.coi.as_params()) == settings.coi
    assert ViabilitySettings.from_params(settings.viability.as_params()) == settings.viability
    assert settings.coi.coauthor_window == 2017
    assert settings.viability.as_params()["ac_papers_per_submission"] == 2


def test_a_contradictory_coauthorship_window_is_refused():
    with pytest.raises(ValueError, match="give coi.coauthor_since_year or coi.coauthor_years, not both"):
        ConferenceSettings.from_config(demo_config(coi={"coauthor_years": 5, "conference_year": 2022}))
    with pytest.raises(ValueError, match="coi.coauthor_years needs coi.conference_year"):
        CoiSettings.from_config(demo_config(coi={"coauthor_since_year": None, "coauthor_years": 5}))


def test_coauthor_since():
    assert coauthor_since(2016, None, None) == 2016
    assert coauthor_since(None, 5, 2022) == 2017
    assert coauthor_since(None, None, 2022) is None
    with pytest.raises(ValueError, match="not both"):
        coauthor_since(2016, 5, 2022)
    with pytest.raises(ValueError, match="conference_year"):
        coauthor_since(None, 5, None)
