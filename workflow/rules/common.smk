# Path helpers, input functions and config checks shared by every stage.

import hashlib
import json
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


validate(config, schema="../../config/schema.yaml")

CONF = config["conference"]


wildcard_constraints:
    shard=r"[A-Za-z0-9_.-]+",
    job=r"[A-Za-z0-9_-]+",
    part=r"\d+",


def check_config_files():
    """Stop before any job when a configured input file or folder does not exist."""
    files = {
        "softconf.profiles": config["softconf"]["profiles"],
        "softconf.submissions": config["softconf"]["submissions"],
        "softconf.bids": config["softconf"].get("bids"),
        "softconf.quotas": config["softconf"].get("quotas"),
    }
    if "calibration" in config:
        files["calibration.reviews"] = config["calibration"]["reviews"]
    for key, path in files.items():
        if path and not os.path.isfile(path):
            raise WorkflowError(f"config key {key}: file not found: {path}")
    if config["corpus"]["source"] == "local":
        folder = config["corpus"].get("local_dir")
        if not folder or not os.path.isdir(folder):
            raise WorkflowError(f"config key corpus.local_dir: folder not found: {folder}")


check_config_files()


# ---------------------------------------------------------------- paths


def conf_path(*parts):
    """Path of a conference output: results/<conference>/..."""
    return os.path.join("results", CONF, *parts)


def conf_log(name):
    return os.path.join("logs", CONF, f"{name}.log")


def conf_benchmark(name):
    return os.path.join("results", "benchmarks", CONF, f"{name}.tsv")


def corpus_path(*parts):
    return os.path.join("results", "corpus", *parts)


def model_path(*parts):
    return os.path.join("results", "model", *parts)


def matrix_parts(name, suffix):
    """Paths of the per-part row blocks ``matrices/<name>/part<k><suffix>`` (``matching.parts`` parts)."""
    return [conf_path("matrices", name, f"part{k}{suffix}") for k in range(config["matching"]["parts"])]


# ---------------------------------------------------------------- corpus shards

SHARD_SUFFIXES = (".jsonl.gz", ".json.gz", ".gz")


def local_shards():
    """Shard name -> file of the local dump, sorted by name."""
    folder = config["corpus"]["local_dir"]
    shards = {}
    for name in sorted(os.listdir(folder)):
        for suffix in SHARD_SUFFIXES:
            if name.endswith(suffix):
                shards[name[: -len(suffix)]] = os.path.join(folder, name)
                break
    if not shards:
        raise WorkflowError(f"config key corpus.local_dir: no .gz shards in {folder}")
    return shards


SHARDS = local_shards()


def shard_file(wildcards):
    return SHARDS[wildcards.shard]


# ---------------------------------------------------------------- optional inputs


def optional_input(key):
    """The configured softconf file for ``key``, or [] when not configured."""
    path = config["softconf"].get(key)
    return [path] if path else []


def coauthor_inputs(wildcards):
    return [corpus_path("papers.parquet")] if config["coi"]["coauthor_since_year"] is not None else []


def train_params():
    return dict(config["model"]["train"])


def checkpoint_dir():
    """Per-settings checkpoint folder, so a changed setting never resumes an old run."""
    key = json.dumps(
        {"train": train_params(), "vocab": config["model"]["vocab_size"]}, sort_keys=True
    )
    return model_path("checkpoints", hashlib.sha256(key.encode()).hexdigest()[:12])


# ---------------------------------------------------------------- targets


def all_outputs():
    outputs = [
        corpus_path("papers.parquet"),
        model_path("similarity.pt"),
        conf_path("reviewers.jsonl"),
        conf_path("submissions.jsonl"),
        conf_path("coi_report.txt"),
        conf_path("viability.txt"),
        conf_path("assignments.jsonl"),
        conf_path("assignments.csv"),
        conf_path("assignments.txt"),
        conf_path("start_upload.txt"),
        conf_path("evaluation.txt"),
    ]
    if "calibration" in config:
        outputs += [
            conf_path("calibration", "submissions.csv"),
            conf_path("calibration", "plots", "quality.png"),
        ]
    outputs += expand(conf_path("affinity", "{job}", "results.json"), job=list(config["affinity_jobs"]))
    return outputs
