"""The matching settings: built once from the validated config, carried through the rules'
params as plain dicts holding the settings the rules had before, one by one."""

import dataclasses

import pytest
import yaml

from revmatch.matching.settings import AggregateSettings, AssignmentSettings, MatchingSettings, PaperMatrixSettings
from tests.conftest import REPO

ASSIGNMENT_KEYS = [
    "reviews_per_paper", "max_papers_per_reviewer", "min_papers_per_reviewer", "by_track", "area_chairs",
    "emergency_penalty", "prune_above_pairs", "candidates_per_paper", "min_senior_per_paper", "senior_min_papers",
    "mip_rel_gap", "mip_time_limit", "objective", "fair_measure", "fair_by_track", "attribute_constraints",
    "change_penalty", "emergency_only", "max_probability", "random_seed",
]
REGISTRY_MODEL = {"spec": "tfidf+bm25", "fields": ["title", "abstract"], "sentence_transformers": {}}


def demo_config(**matching) -> dict:
    """``config/config.yaml`` with ``matching`` keys changed, as the rules see it: validated, the
    schema's defaults filled in."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["matching"].update(matching)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def builtins_only(value) -> bool:
    """Whether Snakemake can compare ``value`` as a param (builtins all the way down)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and builtins_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(builtins_only(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_settings_from_the_demo_config():
    settings = MatchingSettings.from_config(demo_config(), model={"spec": "avg"})
    assert settings.paper_matrix == PaperMatrixSettings(
        model={"spec": "avg"}, parts=2, block_rows=64, memory_budget_mb=512
    )
    assert settings.paper_matrix.spec == "avg"
    assert settings.aggregate == AggregateSettings(aggregator="weighted_top3", top_k=3, cache_paper_matrix=True)
    assert settings.assignment == AssignmentSettings(
        reviews_per_paper=3, max_papers_per_reviewer=6, min_papers_per_reviewer=0, by_track=True,
        area_chairs=False, emergency_penalty=0.5, prune_above_pairs=2_000_000, candidates_per_paper=50,
        min_senior_per_paper=1, senior_min_papers=5, mip_rel_gap=1e-4, mip_time_limit=600, objective="sum",
        fair_measure="total", fair_by_track=True, attribute_constraints=[], change_penalty=None,
        emergency_only=False, max_probability=None, random_seed=0,
    )


def test_params_hold_the_settings_the_rules_had():
    config = demo_config(emergency_penalty=0, area_chairs=True)
    settings = MatchingSettings.from_config(config, model=REGISTRY_MODEL)
    assignment = settings.assignment.as_params()
    assert list(assignment) == ASSIGNMENT_KEYS
    assert assignment == {key: config["matching"][key] for key in ASSIGNMENT_KEYS}
    assert type(assignment["emergency_penalty"]) is int  # as configured: the summary writes it back as given
    assert settings.aggregate.as_params() == {"aggregator": "weighted_top3", "top_k": 3, "cache_paper_matrix": True}
    assert settings.paper_matrix.as_params() == {
        "model": REGISTRY_MODEL, "parts": 2, "block_rows": 64, "memory_budget_mb": 512,
    }
    for part in (settings.paper_matrix, settings.aggregate, settings.assignment):
        assert builtins_only(part.as_params()), part


@pytest.mark.parametrize("part", ["paper_matrix", "aggregate", "assignment"])
def test_params_round_trip(part):
    settings = getattr(MatchingSettings.from_config(demo_config(top_k=5), model=REGISTRY_MODEL), part)
    assert type(settings).from_params(settings.as_params()) == settings


def test_registry_model_settings_are_read_from_the_model_part():
    settings = MatchingSettings.from_config(demo_config(), model=REGISTRY_MODEL).paper_matrix
    assert settings.spec == "tfidf+bm25"
    assert settings.text_fields == ("title", "abstract")
    assert settings.sentence_transformers == {} and settings.encoder is None


def test_params_of_another_shape_are_refused_by_name():
    params = MatchingSettings.from_config(demo_config(), model={"spec": "avg"}).assignment.as_params()
    del params["mip_rel_gap"]
    params["cached"] = True
    with pytest.raises(ValueError, match="AssignmentSettings params: missing mip_rel_gap, unknown cached"):
        AssignmentSettings.from_params(params)


def test_settings_are_frozen():
    settings = MatchingSettings.from_config(demo_config(), model={"spec": "avg"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.assignment.reviews_per_paper = 4


@pytest.mark.parametrize(
    ("matching", "message"),
    [
        ({"max_probability": 0.5}, "cannot be combined with .* min_senior_per_paper"),
        ({"max_probability": 0.5, "min_senior_per_paper": 0, "objective": "fair"}, "cannot be combined"),
        ({"objective": "fair", "previous_assignment": "a.jsonl"}, "fair and a previous assignment"),
        ({"emergency_only": True}, "need matching.previous_assignment"),
        ({"attribute_constraints": [{"attribute": "affiliation", "min": 1}]}, "needs the value that counts"),
        ({"attribute_constraints": [{"attribute": "affiliation"}]}, "neither min nor max"),
    ],
    ids=["random_senior", "random_fair", "fair_resolve", "emergency_alone", "min_without_value", "no_bound"],
)
def test_modes_that_cannot_be_combined_are_refused_by_name(matching, message):
    with pytest.raises(ValueError, match=message):
        MatchingSettings.from_config(demo_config(**matching), model={"spec": "avg"})


def test_attribute_constraints_pass_as_plain_params():
    constraints = [{"attribute": "affiliation", "max": 1}, {"attribute": "senior", "value": True, "min": 1}]
    settings = MatchingSettings.from_config(demo_config(attribute_constraints=constraints), model={"spec": "avg"})
    params = settings.assignment.as_params()
    assert builtins_only(params)
    assert params["attribute_constraints"][0]["attribute"] == "affiliation"
    assert AssignmentSettings.from_params(params) == settings.assignment


def test_counts_that_contradict_each_other_are_refused_from_params_too():
    """The assignment's invariants hold however the settings are built (config or a rule's params)."""
    params = MatchingSettings.from_config(demo_config(), model={"spec": "avg"}).assignment.as_params()
    with pytest.raises(ValueError, match=r"min_papers_per_reviewer \(7\) is above .*max_papers_per_reviewer \(6\)"):
        AssignmentSettings.from_params({**params, "min_papers_per_reviewer": 7})
    with pytest.raises(ValueError, match=r"min_senior_per_paper \(4\) is above matching.reviews_per_paper \(3\)"):
        AssignmentSettings.from_params({**params, "min_senior_per_paper": 4})
