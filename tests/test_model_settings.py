"""The model stage's settings: built once from the validated config, carried through the rules'
params as plain dicts and rebuilt by the scripts."""

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from revmatch.model import (
    EvaluationSettings,
    FinetuneParams,
    FinetuningSettings,
    HeldoutSettings,
    ModelSettings,
    TrainingSettings,
    TrainParams,
)

REPO = Path(__file__).resolve().parents[1]


def validated_config(config: dict) -> dict:
    """``config`` as the rules see it: validated, the schema's defaults filled in."""
    from snakemake.utils import validate

    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


@pytest.fixture(scope="module")
def demo_config() -> dict:
    return validated_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def test_settings_from_the_demo_config(demo_config):
    settings = ModelSettings.from_config(demo_config)
    model = demo_config["model"]
    heldout = HeldoutSettings(0.05, 1)
    assert settings.training == TrainingSettings(TrainParams.from_dict(model["train"]), "auto", heldout)
    assert (settings.training.params.dim, settings.training.params.pairs) == (4096, "coauthors")
    finetune = FinetuneParams.from_dict(model["finetune"])
    assert settings.finetuning == FinetuningSettings(finetune, "auto", heldout)
    assert (settings.finetuning.params.max_pairs, settings.finetuning.params.warmup) == (256, 0.1)
    evaluation = settings.evaluation
    assert evaluation.models == ("tuned+avg", "avg+tfidf", "tuned", "avg", "tfidf", "bm25")
    assert evaluation.baseline == ("tfidf", "avg+tfidf") and evaluation.ks == (1, 5, 10)
    assert evaluation.aggregators == ("weighted_top3", "topk_mean", "max")
    assert (evaluation.heldout, evaluation.max_queries, evaluation.device) == (heldout, 2000, "auto")
    assert evaluation.bm25 == {"k1": 1.2, "b": 0.75}


def test_params_carry_what_the_rules_carried(demo_config):
    """Each rule's params hold the settings it held before, key by key (``max_vocab``, a
    training setting outside the config, besides)."""
    settings = ModelSettings.from_config(demo_config)
    model, evaluation = demo_config["model"], demo_config["model"]["evaluation"]
    heldout = {"fraction": evaluation["heldout_fraction"], "seed": evaluation["seed"]}
    assert settings.training.as_params() == {
        "params": {**model["train"], "max_vocab": 200000}, "device": model["gpu"], "heldout": heldout}
    assert settings.finetuning.as_params() == {"params": model["finetune"], "device": model["gpu"],
                                               "heldout": heldout}
    params = settings.evaluation.as_params()
    assert params.pop("heldout") == heldout and params.pop("device") == model["gpu"]
    assert params.pop("bm25") == model["bm25"]
    assert {key: list(value) if isinstance(value, tuple) else value for key, value in params.items()} == {
        key: evaluation[key] for key in ("models", "baseline", "aggregators", "max_queries", "ks")}


def test_settings_round_trip_through_params(demo_config):
    settings = ModelSettings.from_config(demo_config)
    parts = {TrainingSettings: settings.training, FinetuningSettings: settings.finetuning,
             EvaluationSettings: settings.evaluation}
    for cls, part in parts.items():
        params = part.as_params()
        assert all(value is None or isinstance(value, (dict, tuple, str, int, float))
                   for value in params.values())
        assert cls.from_params(params) == part
        assert cls.from_params(copy.deepcopy(params)) == part
    single = dataclasses.replace(settings.evaluation, baseline="tfidf")
    assert EvaluationSettings.from_params(single.as_params()) == single
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.training.device = "cpu"


def test_a_bad_setting_names_its_config_key(demo_config):
    config = copy.deepcopy(demo_config)
    config["model"]["train"]["dropout"] = 1.0
    with pytest.raises(ValueError, match=r"config key model.train: dropout must be in \[0, 1\), got 1.0"):
        ModelSettings.from_config(config)
    config = copy.deepcopy(demo_config)
    config["model"]["finetune"]["base"] = "tuned"
    with pytest.raises(ValueError, match="config key model.finetune: the fine-tuned encoder 'tuned' "
                                         "cannot be its own base"):
        ModelSettings.from_config(config)
