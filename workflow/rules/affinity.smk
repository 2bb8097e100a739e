# Stage 6: affinity jobs in the shape of OpenReview's Expertise API, one per named entry
# of `affinity_jobs:` in the config. A job's `model` is any registry spec (avg, tfidf, bm25,
# a sentence-transformers name, an ensemble a+b; affinity_inputs.smk).
#
# Each job writes results.json / results.csv (declared outputs) and status.json beside them
# (not an output, so that it survives a failed job), in OpenReview's shape (results.csv
# without header, its number format, metadata with an integer archives_count, its status
# record) unless the job says output: project. A Data Error (unknown members with
# on_unknown_member: error, an empty group, no submission, a missing members/submissions/
# expertise-selection file) leaves status.json with the reason, writes no results, and fails
# the job (exit 1, one line in the log): `snakemake` stops with the rule's log named, and a
# chair polling `revmatch affinity status <job>` reads "Data Error" and the reason. A job
# that revmatch.affinity.check_job refuses (a bad key or value, a mode without the groups or
# lists it needs, normalize: false with bm25, an ensemble or a weighted reduction) stops the
# workflow before any job runs, naming the job.
#
# An entry may be an OpenReview expertise job config as it is (current form: entityA /
# entityB; legacy form: match_group, paper_invitation, ...; docs/affinity.md): the job
# writes OpenReview's files whatever its output; its OpenReview model name is scored with
# model.matching_model, and a field it cannot honour is a Data Error naming the field. A job
# with archives_dir reads its members' publications from OpenReview archives.

include: "affinity_inputs.smk"


rule embed_rejected_submissions:
    input:
        model=model_path("similarity.pt"),
        rejects=conf_path("rejects.jsonl"),
    output:
        conf_path("affinity", "embeddings", "avg", "rejects.npy"),
    params:
        fields=config["model"]["text_fields"],
        batch_size=config["model"]["batch_size_embed"],
    log:
        conf_log("embed_rejected_submissions"),
    benchmark:
        conf_benchmark("embed_rejected_submissions")
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/embed_rejected_submissions.py"


rule affinity_job:
    input:
        unpack(affinity_inputs),
    output:
        json=conf_path("affinity", "{job}", "results.json"),
        csv=conf_path("affinity", "{job}", "results.csv"),
    params:
        job=affinity_job,
        model=affinity_model_params,
        name=lambda wildcards: wildcards.job,
        default_model=config["model"]["matching_model"],
        status=lambda wildcards: conf_path("affinity", wildcards.job, "status.json"),
    log:
        conf_log("affinity_{job}"),
    benchmark:
        conf_benchmark("affinity_{job}")
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/affinity_job.py"
