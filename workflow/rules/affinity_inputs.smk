# Input functions of the affinity stage (workflow/rules/affinity.smk): the job's config entry,
# the embedding files of its model, and the list files it names.

# Embedding files of each model a job may name. Point `affinity_model_files` at the model
# registry to offer more models; an ensemble "a+b" averages the cosine similarities of its
# parts (`revmatch.affinity.ensemble_embeddings`).
AFFINITY_MODELS = {
    "avg": {
        "corpus": model_path("corpus_embeddings.npy"),
        "submissions": conf_path("matrices", "submission_embeddings.npy"),
        "rejects": conf_path("affinity", "embeddings", "avg", "rejects.npy"),
    },
}


def affinity_job(wildcards):
    """The config entry of an affinity job, defaults filled in by the schema."""
    return config["affinity_jobs"][wildcards.job]


def affinity_model_files(model):
    """Per part of ``model`` ("a" or "a+b+..."): its corpus, submission and reject embeddings."""
    parts = [part.strip() for part in str(model).split("+")]
    unknown = [part for part in parts if part not in AFFINITY_MODELS]
    if unknown:
        raise WorkflowError(
            f"affinity model {model!r}: unknown {unknown}; known models: {sorted(AFFINITY_MODELS)}"
        )
    return {
        kind: [AFFINITY_MODELS[part][kind] for part in parts]
        for kind in ("corpus", "submissions", "rejects")
    }


def affinity_needs_rejects(job):
    statuses = job.get("submission_status", "active")
    statuses = [statuses] if isinstance(statuses, str) else list(statuses)
    return job["mode"] != "group_group" and any(s != "active" for s in statuses)


def affinity_job_files(job):
    """The list files a job names (members, submissions, expertise selection)."""
    files = [job.get("members_file"), job.get("submissions_file"), job.get("expertise_selection")]
    files += [(job.get(key) or {}).get("members_file") for key in ("group", "alternate_group")]
    return [f for f in files if f]


def affinity_inputs(wildcards):
    job = affinity_job(wildcards)
    models = affinity_model_files(job.get("model", "avg"))
    inputs = {
        "reviewers": conf_path("reviewers.jsonl"),
        "submissions": conf_path("submissions.jsonl"),
        "papers": corpus_path("papers.parquet"),
        "corpus_embeddings": models["corpus"],
        "submission_embeddings": models["submissions"],
    }
    if affinity_needs_rejects(job):
        inputs["rejects"] = conf_path("rejects.jsonl")
        inputs["reject_embeddings"] = models["rejects"]
    # Existing list files are inputs (a changed file re-runs the job); a missing one is
    # reported by the job as a Data Error instead of stopping the whole DAG.
    inputs["job_files"] = [f for f in affinity_job_files(job) if os.path.isfile(f)]
    return inputs
