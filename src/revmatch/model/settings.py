"""The model stage's settings: the averaging model's training (``TrainParams``), the encoder's
fine-tuning (``FinetuneParams``), and ``ModelSettings``, built and checked once from the
config's ``model`` section, whose per-rule parts travel through the rules' params as plain
dicts (``as_params``) and are rebuilt by the scripts (``from_params``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from revmatch.model.encoders import PACKAGED_ENCODERS
from revmatch.model.pairs import pair_kinds, parse_pair_kinds
from revmatch.model.specs import TUNED_ENCODER

INITIALISATIONS = ("normal", "idf")
POOLINGS = ("mean", "sublinear")
FINETUNE_PAIR_KINDS = ("coauthors", "titles")


@dataclass(frozen=True)
class TrainParams:
    """Training settings; the defaults are the ACL setting of the reference tool.

    ``dropout`` defaults to 0: the reference is run with ``--dropout 0.3`` but its dropout
    has no effect (the result of the call is discarded). ``init`` is the reference's
    ``"normal"`` (N(0, 1) rows) or ``"idf"``: those rows scaled by each piece's smoothed IDF
    over the training lines, so the untrained model already weighs rare pieces up.
    ``pooling`` is the reference's ``"mean"`` or ``"sublinear"`` (``sublinear_weights``), used
    in training and embedding alike. ``pairs`` is the reference's ``"halves"`` or other kinds
    of positive pair, joined with ``+`` (``revmatch.model.pairs``: ``"coauthors+titles"``).
    """

    dim: int = 1024
    epochs: int = 20
    batch_size: int = 64
    megabatch_size: int = 1
    megabatch_anneal: int = 10
    seg_length: int = 1
    delta: float = 0.4
    lr: float = 0.001
    dropout: float = 0.0
    grad_clip: float = 5.0
    max_vocab: int = 200000
    seed: int = 1
    init: str = "normal"
    pooling: str = "mean"
    pairs: str = "halves"

    def __post_init__(self) -> None:
        at_least = {"dim": 1, "epochs": 1, "batch_size": 2, "megabatch_size": 1, "megabatch_anneal": 1,
                    "seg_length": 1, "max_vocab": 1}
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        parse_pair_kinds(self.pairs)
        if self.init not in INITIALISATIONS:
            raise ValueError(f"init must be one of {INITIALISATIONS}, got {self.init!r}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError(f"lr and grad_clip must be positive, got {self.lr} and {self.grad_clip}")

    @classmethod
    def from_dict(cls, params: Mapping[str, object]) -> TrainParams:
        """Settings from a mapping of field names (missing ones default); unknown keys raise."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ValueError(f"unknown training parameter(s) {unknown}; known: {sorted(names)}")
        return cls(**params)


@dataclass(frozen=True)
class FinetuneParams:
    """Settings of a fine-tuning run (``model.finetune`` in the config)."""

    base: str = "minilm"
    pairs: str = "coauthors"
    epochs: int = 1
    max_pairs: int | None = 6400  # pairs per epoch (a seeded sample of the papers); None: every paper
    batch_size: int = 64
    lr: float = 5e-5
    warmup: float = 0.1  # share of the steps with a linearly rising learning rate
    scale: float = 20.0  # cosines are multiplied by this before the softmax
    max_seq_length: int = 128
    seed: int = 1
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        kinds = self.kinds
        if not kinds or set(kinds) - set(FINETUNE_PAIR_KINDS):
            raise ValueError(f"fine-tuning pairs {self.pairs!r}: kinds joined by '+' from "
                             f"{FINETUNE_PAIR_KINDS}")
        if self.batch_size < 2:
            raise ValueError("fine-tuning needs batch_size >= 2 (in-batch negatives)")

    @property
    def kinds(self) -> tuple[str, ...]:
        return pair_kinds(self.pairs)

    @classmethod
    def from_dict(cls, values: dict) -> FinetuneParams:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fine-tuning setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


# ---------------------------------------------------------------- the rules' settings


@dataclass(frozen=True)
class HeldoutSettings:
    """The papers held out of training for the evaluation (``heldout_mask``'s ``fraction`` and
    ``seed``; config ``model.evaluation.heldout_fraction`` and ``seed``)."""

    fraction: float
    seed: int


@dataclass(frozen=True)
class TrainingSettings:
    """Rule train_similarity_model: the averaging model's ``params``, the ``device``
    (``auto``: CUDA when present) and the papers ``heldout`` of training."""

    params: TrainParams
    device: str
    heldout: HeldoutSettings

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainingSettings:
        """The settings from ``as_params`` output (a rule's params)."""
        return cls(TrainParams.from_dict(params["params"]), params["device"],
                   HeldoutSettings(**params["heldout"]))

    def as_params(self) -> dict[str, Any]:
        """The settings as a plain dict, for a rule's params (Snakemake compares only builtins)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FinetuningSettings:
    """Rule finetune_encoder: the fine-tuning ``params``, the ``device`` and the papers
    ``heldout`` of training. The base cannot be ``tuned``, the encoder the rule makes."""

    params: FinetuneParams
    device: str
    heldout: HeldoutSettings

    def __post_init__(self) -> None:
        if self.params.base == TUNED_ENCODER:
            raise ValueError("the fine-tuned encoder 'tuned' cannot be its own base: name a pretrained "
                             "encoder (minilm or a model.sentence_transformers name)")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FinetuningSettings:
        """The settings from ``as_params`` output (a rule's params)."""
        return cls(FinetuneParams.from_dict(params["params"]), params["device"],
                   HeldoutSettings(**params["heldout"]))

    def as_params(self) -> dict[str, Any]:
        """The settings as a plain dict, for a rule's params (Snakemake compares only builtins)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EvaluationSettings:
    """Rule evaluate_models: the model specs evaluated and compared with the ``baseline``
    spec(s), the ``aggregators`` of the reviewer-ranking tasks, the ``heldout`` query papers
    (at most ``max_queries`` a task), the ``ks`` of recall@k, BM25's ``k1`` and ``b``, and the
    ``device``."""

    models: tuple[str, ...]
    baseline: str | tuple[str, ...] | None
    aggregators: tuple[str, ...]
    heldout: HeldoutSettings
    max_queries: int
    ks: tuple[int, ...]
    bm25: dict[str, float]
    device: str

    @classmethod
    def build(cls, models: Sequence[str], baseline: str | Sequence[str] | None, aggregators: Sequence[str],
              heldout: HeldoutSettings, max_queries: int, ks: Sequence[int], bm25: Mapping[str, float],
              device: str) -> EvaluationSettings:
        """The settings from plain values (lists become tuples)."""
        baseline = baseline if baseline is None or isinstance(baseline, str) else tuple(baseline)
        return cls(tuple(models), baseline, tuple(aggregators), heldout, max_queries, tuple(ks), dict(bm25),
                   device)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EvaluationSettings:
        """The settings from ``as_params`` output (a rule's params)."""
        return cls.build(**{**params, "heldout": HeldoutSettings(**params["heldout"])})

    def as_params(self) -> dict[str, Any]:
        """The settings as a plain dict, for a rule's params (Snakemake compares only builtins)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelSettings:
    """The settings of the model stage's rules that take many: ``training``
    (train_similarity_model), ``finetuning`` (finetune_encoder), ``evaluation`` (evaluate_models)."""

    training: TrainingSettings
    finetuning: FinetuningSettings
    evaluation: EvaluationSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelSettings:
        """The settings of a validated config (schema defaults filled); a bad setting raises
        ``ValueError`` naming its config key."""
        model = config["model"]
        evaluation = model["evaluation"]
        heldout = HeldoutSettings(evaluation["heldout_fraction"], evaluation["seed"])
        try:
            train = TrainParams.from_dict(model["train"])
        except ValueError as exc:
            raise ValueError(f"config key model.train: {exc}") from exc
        try:
            finetune = FinetuneParams.from_dict(model["finetune"])
            finetuning = FinetuningSettings(finetune, model["gpu"], heldout)
        except ValueError as exc:
            raise ValueError(f"config key model.finetune: {exc}") from exc
        return cls(
            training=TrainingSettings(train, model["gpu"], heldout),
            finetuning=finetuning,
            evaluation=EvaluationSettings.build(
                models=evaluation["models"], baseline=evaluation["baseline"],
                aggregators=evaluation["aggregators"], heldout=heldout, max_queries=evaluation["max_queries"],
                ks=evaluation["ks"], bm25=model["bm25"], device=model["gpu"],
            ),
        )


def check_model_config(config: Mapping[str, Any]) -> None:
    """Refuse a validated config whose ``model`` keys contradict each other, naming the keys and
    their values (``ValueError``): the settings of ``ModelSettings.from_config``, and a
    fine-tuning base (``model.finetune.base``) that is neither a packaged encoder nor a
    ``model.sentence_transformers`` name (avg, tfidf and bm25 are no encoders)."""
    ModelSettings.from_config(config)
    model = config["model"]
    base, folders = model["finetune"]["base"], model["sentence_transformers"]
    encoders = sorted({*PACKAGED_ENCODERS, *folders})
    if base not in encoders:
        raise ValueError(
            f"config key model.finetune.base: {base!r} is not an encoder to fine-tune; name a packaged encoder "
            f"or a model.sentence_transformers entry ({', '.join(encoders)})"
        )
