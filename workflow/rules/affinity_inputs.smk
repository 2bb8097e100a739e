# Input functions of the affinity stage (workflow/rules/affinity.smk): the job's config entry,
# the files of its model, and the list files it names.
#
# A job's `model` is any spec of the model registry (revmatch.registry): avg, tfidf, bm25,
# an encoder (minilm, tuned, a name of `model.sentence_transformers`), or an ensemble "a+b"
# (the mean of the members' calibrated z-scores, as for `model.matching_model`, which is
# also a job's default model). avg alone reads its cached embeddings (nothing is encoded);
# every other spec reads its members' corpus indexes (rule index_corpus) and, when avg is a
# member, the trained model that encodes the submissions.


def affinity_job(wildcards):
    """The config entry of an affinity job, defaults filled in by the schema; its model
    defaults to ``model.matching_model``."""
    return {"model": config["model"]["matching_model"], **config["affinity_jobs"][wildcards.job]}


def affinity_model_members(name, job):
    """Members of the job's model spec; an unknown one stops the DAG naming the job."""
    spec = str(job["model"])
    members = spec_members(spec, f"affinity_jobs.{name}.model")
    if not job.get("normalize", True) and (len(members) > 1 or members == ["bm25"]):
        raise WorkflowError(
            f"affinity job {name!r}: model {spec!r} has no fixed [0, 1] scale (bm25: unbounded sums; "
            "ensembles: mean z-scores); use it with normalize: true"
        )
    return members


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
    members = affinity_model_members(wildcards.job, job)
    inputs = {
        "reviewers": conf_path("reviewers.jsonl"),
        "submissions": conf_path("submissions.jsonl"),
        "papers": corpus_path("papers.parquet"),
    }
    if affinity_needs_rejects(job):
        inputs["rejects"] = conf_path("rejects.jsonl")
    if members == ["avg"]:
        inputs["corpus_embeddings"] = model_path("corpus_embeddings.npy")
        inputs["submission_embeddings"] = conf_path("matrices", "submission_embeddings.npy")
        if affinity_needs_rejects(job):
            inputs["reject_embeddings"] = conf_path("affinity", "embeddings", "avg", "rejects.npy")
    else:
        inputs["indexes"] = model_index_paths("+".join(members))
        if "avg" in members:
            inputs["avg_model"] = model_path("similarity.pt")
        inputs["encoders"] = encoder_inputs(members)
    # Existing list files are inputs (a changed file re-runs the job); a missing one is
    # reported by the job as a Data Error instead of stopping the whole DAG.
    inputs["job_files"] = [f for f in affinity_job_files(job) if os.path.isfile(f)]
    return inputs


def affinity_model_params(wildcards):
    """The model settings that shape a registry job's scores ({} for avg alone, whose
    embeddings carry them)."""
    job = affinity_job(wildcards)
    members = affinity_model_members(wildcards.job, job)
    if members == ["avg"]:
        return {}
    model = config["model"]
    return {
        "text_fields": list(model["text_fields"]),
        "sentence_transformers": {},
        "bm25": dict(model["bm25"]) if "bm25" in members else {},
        "device": model["gpu"],
        **registry_model_settings(members),
    }
