import sys

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.affinity import ScorerSettings, affinity_job_file

indexes = snakemake.input.get("indexes", [])
status = affinity_job_file(
    dict(snakemake.params.job),
    snakemake.input.reviewers,
    snakemake.input.submissions,
    snakemake.input.get("papers"),  # none for a job that reads OpenReview archives
    snakemake.output.json,
    snakemake.output.csv,
    corpus_embeddings_npy=snakemake.input.get("corpus_embeddings"),
    submission_embeddings_npy=snakemake.input.get("submission_embeddings"),
    reject_embeddings_npy=snakemake.input.get("reject_embeddings"),
    index_npzs=[indexes] if isinstance(indexes, str) else list(indexes),
    avg_model=snakemake.input.get("avg_model"),
    scorer_settings=ScorerSettings.from_params(snakemake.params.model),  # {} for avg alone (embeddings)
    status_json=snakemake.params.status,
    name=snakemake.params.name,
    rejects_jsonl=snakemake.input.get("rejects"),
    default_model=snakemake.params.default_model,  # the model of an OpenReview config's job
)
if status["status"] != "Completed":
    print(f"affinity job {snakemake.params.name}: {status['status']}: {status['description']}", file=sys.stderr)
    sys.exit(1)
