# Stage 6: affinity jobs in the shape of OpenReview's Expertise API, one per named entry
# of `affinity_jobs:` in the config.


rule affinity_job:
    input:
        reviewers=conf_path("reviewers.jsonl"),
        submissions=conf_path("submissions.jsonl"),
        papers=corpus_path("papers.parquet"),
        corpus_embeddings=model_path("corpus_embeddings.npy"),
        submission_embeddings=conf_path("matrices", "submission_embeddings.npy"),
    output:
        json=conf_path("affinity", "{job}", "results.json"),
        csv=conf_path("affinity", "{job}", "results.csv"),
    params:
        job=lambda wildcards: config["affinity_jobs"][wildcards.job],
    log:
        conf_log("affinity_{job}"),
    benchmark:
        conf_benchmark("affinity_{job}")
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/matching.yaml"
    script:
        "../scripts/affinity_job.py"
