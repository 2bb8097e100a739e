# Path helpers, input functions and config checks shared by every stage.

import hashlib
import json
import os
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from revmatch.matching.openreview_matcher import MATCHER_FILE_OPTIONS
from revmatch.model import BUILTIN_MODELS, PACKAGED_ENCODERS, is_encoder, parse_spec


validate(config, schema="../schemas/config.schema.yaml")


def apply_preset():
    """``model.preset``: the preset file's keys override the config's (then validated again)."""
    preset = config["model"].get("preset")
    if not preset:
        return
    path = Path(workflow.basedir).parent / "config" / "presets" / f"{preset}.yaml"
    with open(path, encoding="utf-8") as fh:
        update_config(config, yaml.safe_load(fh))
    validate(config, schema="../schemas/config.schema.yaml")


apply_preset()


def check_config_consistency():
    """Stop before any job when keys contradict each other (a minimum above its maximum, more
    senior reviewers than reviews, ...): each section's check names the keys and their values."""
    from revmatch.calibration.settings import check_calibration_config
    from revmatch.corpus.settings import check_corpus_config
    from revmatch.matching.settings import check_matching_config
    from revmatch.model.settings import check_model_config

    for check in (check_corpus_config, check_model_config, check_matching_config, check_calibration_config):
        try:
            check(config)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc


check_config_consistency()

CONF = config["conference"]


wildcard_constraints:
    shard=r"[A-Za-z0-9_.-]+",
    job=r"[A-Za-z0-9_-]+",
    match=r"[A-Za-z0-9_-]+",
    part=r"\d+",


# ---------------------------------------------------------------- OpenReview's matcher


def matcher_score_file(entry, match):
    """A score file of an ``openreview_matches`` entry: a path, or ``affinity:<job>``, that
    affinity job's results.csv (OpenReview's score file: the job must write OpenReview's output
    and score submissions)."""
    from revmatch.affinity import check_job, writes_openreview_files

    if not entry.startswith("affinity:"):
        return entry
    job = entry.split(":", 1)[1]
    where = f"config key openreview_matches.{match}.scores: {entry!r}"
    if job not in config["affinity_jobs"]:
        raise WorkflowError(f"{where} names no job of affinity_jobs (jobs: {sorted(config['affinity_jobs'])})")
    spec = config["affinity_jobs"][job]
    if not writes_openreview_files(spec):
        raise WorkflowError(f"{where}: the job writes the project's output (a header row); give it output: openreview")
    if check_job(spec)["mode"] == "group_group":
        raise WorkflowError(f"{where}: the job scores two groups, not submissions")
    return conf_path("affinity", job, "results.csv")


def openreview_match_inputs(wildcards):
    """The matcher's input files of an ``openreview_matches`` entry: its scores and the
    files its options name."""
    entry = config["openreview_matches"][wildcards.match]
    inputs = {"scores": [matcher_score_file(path, wildcards.match) for path in entry["scores"]]}
    inputs.update({key: entry[key] for key in MATCHER_FILE_OPTIONS if entry.get(key) is not None})
    return inputs


def openreview_match_options(wildcards):
    """The matcher's other options of an ``openreview_matches`` entry (values, as params)."""
    entry = config["openreview_matches"][wildcards.match]
    return {key: value for key, value in entry.items() if key != "scores" and key not in MATCHER_FILE_OPTIONS}


SEASON_FILES = {  # the season's files of the assignment, by their key in matching
    "forced": "forced",
    "forbidden": "forbidden",
    "previous": "previous_assignment",
    "emergency_pool": "emergency_pool",
    "reviewer_attributes": "reviewer_attributes",
}


def check_config_files():
    """Stop before any job when a configured input file or folder does not exist."""
    files = {
        "softconf.profiles": config["softconf"]["profiles"],
        "softconf.submissions": config["softconf"]["submissions"],
        "softconf.bids": config["softconf"].get("bids"),
        "softconf.quotas": config["softconf"].get("quotas"),
        **{f"coi.files[{k}]": path for k, path in enumerate(config["coi"]["files"])},
        **{f"matching.{key}": config["matching"][key] for key in SEASON_FILES.values()},
    }
    if "calibration" in config:
        files["calibration.reviews"] = config["calibration"]["reviews"]
    for name, entry in config["openreview_matches"].items():
        # score files the workflow makes (affinity:<job>, results/...) are checked by Snakemake
        files.update({f"openreview_matches.{name}.scores[{k}]": path for k, path in enumerate(entry["scores"])
                      if not path.startswith(("affinity:", "results/"))})
        files.update({f"openreview_matches.{name}.{key}": value for key, value in entry.items()
                      if key in MATCHER_FILE_OPTIONS})
    for key, path in files.items():
        if path and not os.path.isfile(path):
            raise WorkflowError(f"config key {key}: file not found: {path}")
    if config["corpus"]["source"] == "local":
        folder = config["corpus"].get("local_dir")
        if not folder or not os.path.isdir(folder):
            raise WorkflowError(f"config key corpus.local_dir: folder not found: {folder}")
    if config["corpus"]["source"] == "anthology":
        papers = (config["corpus"].get("anthology") or {}).get("papers")
        if not papers:
            raise WorkflowError(
                "config key corpus.anthology.papers: required with corpus.source: anthology "
                "(the ACL Anthology papers file, .jsonl.gz or .jsonl)"
            )
        if not os.path.isfile(papers):
            raise WorkflowError(f"config key corpus.anthology.papers: file not found: {papers}")


check_config_files()


def previous_exports(wildcards=None):
    """What describes an assignment: the outputs of export_assignments and evaluate_assignment.
    solve_assignment removes them before it solves, so that a failed solve leaves none of an
    assignment that no longer exists (export.smk; the exports' fingerprints are in exports.json)."""
    describing = (rules.export_assignments, rules.evaluate_assignment)
    return [str(path) for step in describing for path in step.output]


def check_season_files():
    """Stop before any job when a season file (matching.previous_assignment, forced, ...) is an
    output of the assignment or of its exports: solving again replaces it (the exports are removed
    first), so the re-solve would read what it writes. Called once those outputs are defined."""
    outputs = {os.path.normpath(path) for path in [*map(str, rules.solve_assignment.output), *previous_exports()]}
    for name, path in season_inputs().items():
        if os.path.normpath(path) in outputs:
            raise WorkflowError(
                f"config key matching.{SEASON_FILES[name]}: {path} is an output of this workflow, replaced when "
                "the assignment is solved again; copy it elsewhere first and name the copy"
            )


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


# ---------------------------------------------------------------- models

# Encoders the workflow makes: name -> folder (the fine-tuned encoder, rule finetune_encoder).
WORKFLOW_ENCODERS = {"tuned": model_path("encoders", "tuned")}


def encoder_folders():
    """Encoder name -> local folder: the configured ones and the workflow's own."""
    return {**config["model"]["sentence_transformers"], **WORKFLOW_ENCODERS}


def known_models():
    """Every model name a spec may use: the registry's built-ins and the encoder folders."""
    return sorted({*BUILTIN_MODELS, *encoder_folders()})


def spec_members(spec, key):
    """Member names of a model spec; a malformed or unknown one stops the DAG naming ``key``."""
    try:
        members = parse_spec(str(spec))
    except ValueError as exc:
        raise WorkflowError(f"config key {key}: {exc}") from exc
    unknown = [name for name in members if name not in known_models()]
    if unknown:
        raise WorkflowError(f"config key {key}: {spec!r} names unknown model(s) {', '.join(unknown)}; "
                            f"known: {known_models()}")
    return members


def encoder_settings():
    """How encoders embed (``registry.encoder_model``): batch size, word pieces kept, the cache."""
    how = {key: value for key, value in config["model"]["encoder"].items() if key != "parts"}
    return {**how, "embedding_cache": model_path("embedding_cache")}


def finetune_mem_mb():
    """Memory of the fine-tuning job: a base plus the activations of a batch."""
    finetune = config["model"]["finetune"]
    return 4000 + 125 * finetune["batch_size"] * finetune["max_seq_length"] // 128


def encoder_versions(members):
    """The installed package version of each packaged encoder among ``members`` (its weights)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in members:
        if name in PACKAGED_ENCODERS and name not in config["model"]["sentence_transformers"]:
            package = PACKAGED_ENCODERS[name].package
            try:
                versions[name] = f"{package}=={version(package)}"
            except PackageNotFoundError:
                versions[name] = f"{package} (not installed)"
    return versions


def registry_model_settings(members):
    """What shapes a registry model's scores besides its input files: the folders and
    settings of its encoders (and their package versions)."""
    encoders = [name for name in members if is_encoder(name)]
    if not encoders:
        return {}
    sources = [encoder_source(name) for name in encoders]
    return {
        "sentence_transformers": {k: v for source in sources for k, v in source["sentence_transformers"].items()},
        "encoder": encoder_settings(),
        "versions": {k: v for source in sources for k, v in source["versions"].items()},
    }


def encoder_source(name):
    """Where an encoder's weights come from (its folder or package version), without the
    settings of embedding: what shapes a model fine-tuned from it."""
    folders = encoder_folders()
    return {
        "sentence_transformers": {name: folders[name]} if name in folders else {},
        "versions": encoder_versions([name]),
    }


def encoder_inputs(members):
    """The workflow-made encoder folders a model's members read."""
    return [WORKFLOW_ENCODERS[name] for name in members if name in WORKFLOW_ENCODERS]


def matching_members():
    """Member names of ``model.matching_model`` (``a+b`` -> ``["a", "b"]``), checked."""
    return spec_members(config["model"]["matching_model"], "model.matching_model")


matching_members()


def matching_model_settings():
    """What shapes the paper matrix besides its input files: the spec, and for any model but
    ``avg`` the text fields of the queries and its encoders' folders and settings."""
    spec = "+".join(matching_members())
    if spec == "avg":
        return {"spec": spec}
    return {
        "spec": spec,
        "fields": list(config["model"]["text_fields"]),
        "sentence_transformers": {},
        **registry_model_settings(matching_members()),
    }


def paper_matrix_sources(wildcards):
    """What the paper matrix is computed from: ``avg``, the submission and corpus embeddings
    (cosine); any other spec, the submissions' texts and the members' corpus indexes (plus the
    trained model when ``avg`` is a member, to embed the submissions). Never a training input
    besides ``similarity.pt``, so a changed spec re-runs the matrix, not the model."""
    inputs = {"submission_ids": conf_path("submissions.jsonl"), "papers": corpus_path("papers.parquet")}
    if matching_members() == ["avg"]:
        inputs["submissions"] = conf_path("matrices", "submission_embeddings.npy")
        inputs["corpus"] = model_path("corpus_embeddings.npy")
        return inputs
    inputs["indexes"] = model_index_paths(config["model"]["matching_model"])
    if "avg" in matching_members():
        inputs["model"] = model_path("similarity.pt")
    inputs["encoders"] = encoder_inputs(matching_members())
    return inputs


def aggregate_inputs(wildcards):
    """The part's paper-matrix manifest (cached), or what it is computed from on the fly."""
    if config["matching"]["cache_paper_matrix"]:
        return {"manifest": conf_path("matrices", "paper_matrix", f"part{wildcards.part}.parquet")}
    return paper_matrix_sources(wildcards)


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


# s2-api shards are listed by the corpus_manifest checkpoint (workflow/rules/corpus.smk)
SHARDS = local_shards() if config["corpus"]["source"] == "local" else {}

CORPUS = config["corpus"]
S2_API = CORPUS["source"] == "s2-api"
S2_ABSTRACTS = S2_API and CORPUS["s2"]["abstracts"]
# corpus.s2.update_from: move an older corpus to the release through the diffs endpoint
S2_UPDATE = S2_API and bool(CORPUS["s2"].get("update_from"))
# corpus.source = anthology: one file of ACL Anthology metadata, no shards
ANTHOLOGY = CORPUS["source"] == "anthology"


def check_update_from():
    """The older corpus of corpus.s2.update_from must exist and not be the output itself."""
    if not S2_UPDATE:
        return
    previous = CORPUS["s2"]["update_from"]["papers"]
    if not os.path.isfile(previous):
        raise WorkflowError(f"config key corpus.s2.update_from.papers: file not found: {previous}")
    if os.path.abspath(previous) == os.path.abspath(corpus_path("papers.parquet")):
        raise WorkflowError(
            "config key corpus.s2.update_from.papers: the older corpus cannot be "
            f"{corpus_path('papers.parquet')} (the output); copy it elsewhere first"
        )


check_update_from()


def shard_file(wildcards):
    return SHARDS[wildcards.shard]


def corpus_manifest():
    with open(checkpoints.corpus_manifest.get().output[0], encoding="utf-8") as fh:
        return json.load(fh)


def manifest_shard_names(dataset, kind="files"):
    """Shard names of ``dataset`` from the manifest checkpoint (s2-api) or the local dump:
    ``files`` (a whole release), or ``update``/``delete`` (diff files, in diff order)."""
    if not S2_API:
        return list(SHARDS) if dataset == "papers" and kind == "files" else []
    manifest = corpus_manifest()
    if kind == "files":
        return [entry["shard"] for entry in manifest.get("datasets", {}).get(dataset, [])]
    return [entry["shard"] for diff in manifest.get("diffs", {}).get(dataset, []) for entry in diff[kind]]


def papers_parts(wildcards=None):
    return expand(corpus_path("shards", "{shard}.parquet"), shard=manifest_shard_names("papers"))


def papers_summaries(wildcards=None):
    return expand(corpus_path("shards", "{shard}.summary.json"), shard=manifest_shard_names("papers"))


def abstracts_parts(wildcards=None):
    kind = "update" if S2_UPDATE else "files"
    return expand(corpus_path("abstracts", "{shard}.parquet"), shard=manifest_shard_names("abstracts", kind))


def papers_shard_input(wildcards):
    if S2_API:
        return corpus_path("raw", "papers", f"{wildcards.shard}.gz")
    return SHARDS[wildcards.shard]


def previous_corpus():
    """The older corpus that corpus.s2.update_from moves to the release."""
    return CORPUS["s2"]["update_from"]["papers"]


def update_parts(suffix):
    """Input function: the filtered update files of the papers diffs (``.parquet``,
    ``.summary.json`` or ``.ids.npy``)."""

    def parts(wildcards=None):
        return expand(corpus_path("updates", f"{{shard}}{suffix}"), shard=manifest_shard_names("papers", "update"))

    return parts


def delete_ids(dataset):
    """Input function: the corpus ids of the delete files of ``dataset``'s diffs."""

    def ids(wildcards=None):
        return expand(corpus_path("deletes", dataset, "{shard}.npy"), shard=manifest_shard_names(dataset, "delete"))

    return ids


def paper_id_sources(wildcards=None):
    """Corpus parts whose paper ids select abstracts: the filtered shards, or with an update
    the filtered update files plus the older corpus."""
    if S2_UPDATE:
        return update_parts(".parquet")() + [previous_corpus()]
    return papers_parts()


# ---------------------------------------------------------------- model inputs


def index_corpus_inputs(wildcards):
    """avg is indexed from the corpus embeddings; every other model from the papers' texts
    (the fine-tuned encoder with its folder)."""
    inputs = {"papers": corpus_path("papers.parquet"), "encoders": encoder_inputs([wildcards.scorer])}
    if wildcards.scorer == "avg":
        inputs["embeddings"] = model_path("corpus_embeddings.npy")
    parts = config["model"]["encoder"]["parts"]
    if is_encoder(wildcards.scorer) and parts > 1:
        inputs["parts"] = [model_path("encoded", wildcards.scorer, f"part{k}.json") for k in range(parts)]
    return inputs


def encode_part_inputs(wildcards):
    """The corpus and, for the fine-tuned encoder, its folder."""
    return {"papers": corpus_path("papers.parquet"), "encoders": encoder_inputs([wildcards.encoder])}


def index_model_settings(wildcards):
    return registry_model_settings([wildcards.scorer])


def model_index_paths(spec):
    """The corpus index files of the members of a model spec (``a+b`` -> two files)."""
    return [model_path("index", f"{name}.npz") for name in parse_spec(spec)]


def evaluation_members():
    """Every member name of ``model.evaluation.models`` (and of the baselines), checked."""
    evaluation = config["model"]["evaluation"]
    baselines = evaluation["baseline"] or []
    specs = [*evaluation["models"], *([baselines] if isinstance(baselines, str) else baselines)]
    return sorted({name for spec in specs for name in spec_members(spec, "model.evaluation.models")})


def evaluation_inputs(wildcards):
    names = evaluation_members()
    inputs = {"papers": corpus_path("papers.parquet"), "encoders": encoder_inputs(names)}
    if "avg" in names:
        inputs["model"] = model_path("similarity.pt")
    sts = config["model"]["evaluation"].get("sts")
    if sts:
        inputs["sts"] = sts
    return inputs


# ---------------------------------------------------------------- optional inputs


def optional_input(key):
    """The configured softconf file for ``key``, or [] when not configured."""
    path = config["softconf"].get(key)
    return [path] if path else []


def season_inputs():
    """The configured season files of the assignment (forced, forbidden, previous pairs, ...), by name."""
    return {name: config["matching"][key] for name, key in SEASON_FILES.items() if config["matching"][key]}


def changes_outputs():
    """The re-solve's change files, when a previous assignment is configured."""
    if not config["matching"]["previous_assignment"]:
        return {}
    return {
        "changes": conf_path("changes", "changes.csv"),
        "changes_by_paper": conf_path("changes", "by_paper.csv"),
        "changes_by_reviewer": conf_path("changes", "by_reviewer.csv"),
        "changes_start": conf_path("changes", "start_upload_changes.txt"),
    }


def coauthor_inputs(wildcards):
    coi = config["coi"]
    checked = coi["coauthor_since_year"] is not None or coi["coauthor_years"] is not None
    return [corpus_path("papers.parquet")] if checked else []


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
        model_path("evaluation", "retrieval.txt"),
        conf_path("reviewers.jsonl"),
        conf_path("submissions.jsonl"),
        conf_path("coi_report.txt"),
        conf_path("viability.txt"),
        conf_path("assignments.jsonl"),
        conf_path("assignments.csv"),
        conf_path("assignments.txt"),
        conf_path("start_upload.txt"),
        conf_path("evaluation.txt"),
        conf_path("openreview", "assignments.json"),
        *changes_outputs().values(),
    ]
    if "calibration" in config:
        outputs += [
            conf_path("calibration", "submissions.csv"),
            conf_path("calibration", "plots", "quality.png"),
        ]
    outputs += expand(conf_path("affinity", "{job}", "results.json"), job=list(config["affinity_jobs"]))
    outputs += expand(conf_path("openreview_match", "{match}", "assignments.json"),
                      match=list(config["openreview_matches"]))
    return outputs
