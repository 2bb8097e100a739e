# Input functions of the affinity stage (workflow/rules/affinity.smk): the job's config entry,
# checked by revmatch.affinity.check_job, the files of its model, and the list files it names.
#
# A job's `model` is any spec of the model registry (revmatch.model): avg, tfidf, bm25,
# an encoder (minilm, tuned, a name of `model.sentence_transformers`), or an ensemble "a+b"
# (the mean of the members' calibrated z-scores, as for `model.matching_model`, which is
# also a job's default model). avg alone reads its cached embeddings (nothing is encoded);
# every other spec reads its members' corpus indexes (rule index_corpus) and, when avg is a
# member, the trained model that encodes the submissions.
#
# An entry may be an OpenReview expertise job config as it is (current or legacy form): it
# is translated (revmatch.affinity.resolve_job) to find its inputs and passed on untranslated,
# so that the job writes OpenReview's files. A job with `archives_dir` (OpenReview archives,
# <member id>.jsonl) reads them instead of the corpus: its model indexes their texts (avg:
# with the trained model), so neither the corpus nor its indexes are inputs.

import glob

from revmatch.affinity import ScorerSettings, check_job, is_openreview_config, needs_rejects, resolve_job

# How registry models score the jobs' texts (model.text_fields, bm25, gpu), read once.
AFFINITY_SCORER = ScorerSettings.from_config(config)


def affinity_job(wildcards):
    """The config entry of an affinity job: an OpenReview config as it is, a project job with
    its model defaulting to ``model.matching_model``."""
    entry = config["affinity_jobs"][wildcards.job]
    if is_openreview_config(entry):
        return dict(entry)
    return {"model": config["model"]["matching_model"], **entry}


def affinity_checked_job(wildcards):
    """The job checked by ``revmatch.affinity.check_job`` (its defaults filled in) and the
    members of its model; an unknown model or a bad job stops the DAG naming the job. An
    OpenReview config the job cannot honour gives (None, []): the job reports its Data Error."""
    entry = config["affinity_jobs"][wildcards.job]
    try:
        job, _ = resolve_job(entry, default_model=config["model"]["matching_model"])
    except ValueError:
        return None, []
    members = spec_members(str(job["model"]), f"affinity_jobs.{wildcards.job}.model")
    try:
        return check_job(job), members
    except ValueError as exc:
        if is_openreview_config(entry):
            return None, []
        raise WorkflowError(f"affinity job {wildcards.job!r}: {exc}") from exc


def affinity_job_files(job):
    """The list files a job names (members, submissions, expertise selection)."""
    files = [job.get("members_file"), job.get("submissions_file"), job.get("expertise_selection")]
    files += [(job.get(key) or {}).get("members_file") for key in ("group", "alternate_group")]
    return [f for f in files if f]


def affinity_model_inputs(job, members):
    """The files of a job's model: cached embeddings (avg alone on the corpus), corpus indexes
    (other models on the corpus), the trained avg model and the encoders it uses."""
    if job.get("archives_dir"):
        inputs = {"archives": sorted(glob.glob(os.path.join(job["archives_dir"], "*.jsonl")))}
    elif members == ["avg"]:
        inputs = {
            "corpus_embeddings": model_path("corpus_embeddings.npy"),
            "submission_embeddings": conf_path("matrices", "submission_embeddings.npy"),
        }
        if needs_rejects(job):
            inputs["reject_embeddings"] = conf_path("affinity", "embeddings", "avg", "rejects.npy")
        return inputs
    else:
        inputs = {"indexes": model_index_paths(job["model"])}
    if "avg" in members:
        inputs["avg_model"] = model_path("similarity.pt")
    inputs["encoders"] = encoder_inputs(members)
    return inputs


def affinity_inputs(wildcards):
    job, members = affinity_checked_job(wildcards)
    inputs = {
        "reviewers": conf_path("reviewers.jsonl"),
        "submissions": conf_path("submissions.jsonl"),
    }
    if job is None:  # an OpenReview config the job cannot honour: it reports the Data Error
        return inputs
    if not job.get("archives_dir"):
        inputs["papers"] = corpus_path("papers.parquet")
    if needs_rejects(job):
        inputs["rejects"] = conf_path("rejects.jsonl")
    inputs.update(affinity_model_inputs(job, members))
    # Existing list files are inputs (a changed file re-runs the job); a missing one is
    # reported by the job as a Data Error instead of stopping the whole DAG.
    inputs["job_files"] = [f for f in affinity_job_files(job) if os.path.isfile(f)]
    return inputs


def affinity_model_params(wildcards):
    """The model settings that shape a registry job's scores, and its encoders' package
    versions ({} for avg alone on the corpus, whose embeddings carry them)."""
    job, members = affinity_checked_job(wildcards)
    if job is None or (members == ["avg"] and not job.get("archives_dir")):
        return {}
    encoders = registry_model_settings(members)
    params = AFFINITY_SCORER.for_model(members, encoders).as_params()
    if encoders:
        params["versions"] = encoders["versions"]
    return params
