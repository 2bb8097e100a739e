"""Keys that contradict each other are refused at config validation, before any job, with the
keys and their values named: each section's check directly, and the workflow's dry run."""

import pytest
import yaml

from revmatch.calibration.settings import check_calibration_config
from revmatch.corpus.settings import check_corpus_config
from revmatch.matching.settings import check_matching_config
from revmatch.model.settings import check_model_config
from tests.conftest import REPO, copy_workflow, run_snakemake

CHECKS = (check_corpus_config, check_model_config, check_matching_config, check_calibration_config)


def merged(base: dict, override: dict) -> dict:
    """``base`` with ``override`` merged in, section by section (as a second --configfile)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def demo_config(override: dict | None = None) -> dict:
    """``config/config.yaml`` with ``override`` merged in, validated, the schema's defaults filled."""
    from snakemake.utils import validate

    config = merged(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), override or {})
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def check(config: dict) -> None:
    for section_check in CHECKS:
        section_check(config)


def test_the_demo_and_its_overlays_are_consistent():
    check(demo_config())
    fast = yaml.safe_load((REPO / ".test" / "fast.yaml").read_text())
    check(demo_config(fast))
    preset = yaml.safe_load((REPO / "config" / "presets" / "acl-reference.yaml").read_text())
    check(demo_config(preset))


CONTRADICTIONS = {
    # matching
    "min_load_above_max": (
        {"matching": {"min_papers_per_reviewer": 7, "max_papers_per_reviewer": 6}},
        r"matching.min_papers_per_reviewer \(7\) is above matching.max_papers_per_reviewer \(6\)"),
    "senior_above_reviews": (
        {"matching": {"min_senior_per_paper": 4, "reviews_per_paper": 3}},
        r"matching.min_senior_per_paper \(4\) is above matching.reviews_per_paper \(3\)"),
    "attribute_min_above_max": (
        {"matching": {"attribute_constraints": [{"attribute": "affiliation", "max": 1},
                                                {"attribute": "country", "value": "us", "min": 2, "max": 1}]}},
        r"matching.attribute_constraints\[1\] \('country'\): min \(2\) is above max \(1\)"),
    "attribute_min_above_reviews": (
        {"matching": {"attribute_constraints": [{"attribute": "country", "value": "us", "min": 4}]}},
        r"matching.attribute_constraints\[0\] \('country'\): min \(4\) is above matching.reviews_per_paper \(3\)"),
    "senior_max_below_senior_min": (
        {"matching": {"min_senior_per_paper": 2,
                      "attribute_constraints": [{"attribute": "senior", "value": True, "max": 1}]}},
        r"\('senior'\): max \(1\) senior reviewers is below matching.min_senior_per_paper \(2\)"),
    "attribute_min_without_value": (
        {"matching": {"attribute_constraints": [{"attribute": "affiliation", "min": 1}]}},
        r"matching.attribute_constraints\[0\] \('affiliation'\): a minimum needs the value that counts"),
    "attribute_without_bounds": (
        {"matching": {"attribute_constraints": [{"attribute": "affiliation"}]}},
        r"matching.attribute_constraints\[0\] \('affiliation'\) has neither min nor max"),
    "change_penalty_without_previous": (
        {"matching": {"change_penalty": 0.5}},
        r"matching.change_penalty \(0.5\) needs matching.previous_assignment"),
    "change_penalty_with_emergency_only": (
        {"matching": {"change_penalty": 0.5, "emergency_only": True,
                      "previous_assignment": "resources/demo/season/previous_start_upload.txt"}},
        r"matching.change_penalty \(0.5\) cannot be combined with matching.emergency_only"),
    "emergency_only_without_previous": (
        {"matching": {"emergency_only": True}}, r"matching.emergency_only and emergency_pool need"),
    "fair_with_previous": (
        {"matching": {"objective": "fair", "previous_assignment": "a.jsonl"}},
        r"matching.objective fair and a previous assignment cannot be combined"),
    "randomized_with_senior": (
        {"matching": {"max_probability": 0.5}},
        r"matching.max_probability \(randomized assignment\) cannot be combined with .*min_senior_per_paper"),
    "randomized_with_fair": (
        {"matching": {"max_probability": 0.5, "min_senior_per_paper": 0, "objective": "fair"}},
        r"matching.max_probability .* cannot be combined with .*objective fair"),
    "area_chairs_per_paper": (
        {"matching": {"area_chairs": True, "min_senior_per_paper": 0}},
        r"matching.area_chairs assigns area chairs with matching.reviews_per_paper \(3\), but the viability "
        r"check counts viability.ac_papers_per_submission \(1\)"),
    "area_chair_loads": (
        {"matching": {"area_chairs": True, "min_senior_per_paper": 0, "reviews_per_paper": 1}},
        r"matching.max_papers_per_reviewer \(6\), but the viability check counts viability.ac_max_papers \(15\)"),
    # model
    "finetune_base_not_an_encoder": (
        {"model": {"finetune": {"base": "tfidf"}}},
        r"model.finetune.base: 'tfidf' is not an encoder to fine-tune.*minilm"),
    "finetune_base_unknown": (
        {"model": {"finetune": {"base": "specter"}}}, r"model.finetune.base: 'specter' is not an encoder"),
    "finetune_base_tuned": (
        {"model": {"finetune": {"base": "tuned"}}}, r"model.finetune: the fine-tuned encoder 'tuned' cannot be"),
    # corpus
    "years_reversed": (
        {"corpus": {"filter": {"min_year": 2020, "max_year": 2010}}},
        r"corpus.filter: min_year 2020 is after max_year 2010"),
    "backoff_above_max": (
        {"corpus": {"s2": {"backoff_s": 30, "max_backoff_s": 10}}},
        r"corpus.s2.backoff_s \(30\) is above corpus.s2.max_backoff_s \(10\)"),
    "update_without_api": (
        {"corpus": {"s2": {"update_from": {"release": "2024-01-02", "papers": "old.parquet"}}}},
        r"corpus.s2.update_from needs corpus.source: s2-api \(it is 'local'\)"),
    "abstracts_required_but_not_joined": (
        {"corpus": {"source": "s2-api", "s2": {"abstracts": False}}},
        r"corpus.filter.require_abstract \(true\) with corpus.s2.abstracts \(false\) would drop every paper"),
    # calibration
    "score_map_off_the_scale": (
        {"calibration": {"score_map": {"accept": 4, "strong accept": 5}}},
        r"calibration.score_map maps onto levels outside 0..4 \(calibration.n_levels: 5\): \{'strong accept': 5\}"),
    "expertise_map_off_the_scale": (
        {"calibration": {"expertise_map": {"Expert": 3, "Novice": 0}}},
        r"calibration.expertise_map maps onto levels outside 1..3 \(calibration.n_expertise: 3\): \{'Novice': 0\}"),
    "quality_mean_off_the_scale": (
        {"calibration": {"hyper": {"quality_mean": 7}}},
        r"calibration.hyper.quality_mean \(7\) lies outside the score scale 0..4"),
    "min_ess_above_the_draws": (
        {"calibration": {"draws": 20, "chains": 2, "min_ess": 50}},
        r"calibration.min_ess \(50\) is above the draws of all chains \(calibration.draws x chains = 40\)"),
}


@pytest.mark.parametrize(("override", "message"), CONTRADICTIONS.values(), ids=CONTRADICTIONS.keys())
def test_keys_that_contradict_each_other_are_refused_by_name(override, message):
    with pytest.raises(ValueError, match=message):
        check(demo_config(override))


@pytest.mark.parametrize(
    "override",
    [
        {"matching": {"min_papers_per_reviewer": 6, "max_papers_per_reviewer": 6, "candidates_per_paper": 1}},
        {"matching": {"min_senior_per_paper": 3,
                      "attribute_constraints": [{"attribute": "senior", "value": False, "max": 0},
                                                {"attribute": "country", "value": "us", "min": 3, "max": 3}]}},
        {"matching": {"area_chairs": True, "min_senior_per_paper": 0, "reviews_per_paper": 1,
                      "max_papers_per_reviewer": 15}},
        {"matching": {"change_penalty": 0.5, "previous_assignment": "resources/demo/season/previous_start_upload.txt"}},
        {"corpus": {"source": "s2-api", "s2": {"abstracts": False}, "filter": {"require_abstract": False},
                    "max_bad_line_share": 0.1}},
        {"corpus": {"filter": {"min_year": 2016, "max_year": 2016}, "s2": {"backoff_s": 5, "max_backoff_s": 5}}},
        {"model": {"sentence_transformers": {"specter": "/models/specter2"}, "finetune": {"base": "specter"}}},
        {"calibration": {"score_map": {"reject": 0, "accept": 4}, "expertise_map": {"Novice": 1, "Expert": 3},
                         "hyper": {"quality_mean": 4}, "draws": 25, "chains": 2, "min_ess": 50}},
        {"calibration": {"method": "advi", "draws": 20, "min_ess": 50}},
    ],
    ids=["bounds_equal", "senior_and_attributes_agree", "area_chairs_agree", "resolve_with_penalty",
         "api_without_abstracts", "one_year_one_pause", "configured_base", "calibration_at_its_limits",
         "advi_has_no_ess_check"],
)
def test_keys_at_their_limits_pass(override):
    check(demo_config(override))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("matching:\n  min_papers_per_reviewer: 7\n",
         "matching.min_papers_per_reviewer (7) is above matching.max_papers_per_reviewer (6)"),
        ("model:\n  finetune:\n    base: bm25\n", "model.finetune.base: 'bm25' is not an encoder"),
        ("corpus:\n  filter:\n    min_year: 2020\n    max_year: 2010\n",
         "corpus.filter: min_year 2020 is after max_year 2010"),
    ],
    ids=["matching", "model", "corpus"],
)
def test_a_contradiction_stops_the_workflow_before_any_job(tmp_path, override, expected):
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(override)
    proc = run_snakemake(workdir, "-n", "--configfile", "config/config.yaml", "bad.yaml")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "WorkflowError" in output and expected in output, output[-3000:]
    assert not (workdir / "results").exists()


def test_a_season_file_that_the_workflow_writes_is_refused(tmp_path):
    """A re-solve from the workflow's own assignments.jsonl would read what solve_assignment
    removes and export_assignments rewrites: the config must name a copy."""
    workdir = copy_workflow(tmp_path)
    (workdir / "results" / "demo").mkdir(parents=True)
    (workdir / "results" / "demo" / "assignments.jsonl").write_text("")
    (workdir / "resolve.yaml").write_text("matching:\n  previous_assignment: results/demo/assignments.jsonl\n")
    proc = run_snakemake(workdir, "-n", "--configfile", "config/config.yaml", "resolve.yaml")
    assert proc.returncode != 0
    assert ("config key matching.previous_assignment: results/demo/assignments.jsonl is an output of this "
            "workflow") in proc.stdout + proc.stderr
