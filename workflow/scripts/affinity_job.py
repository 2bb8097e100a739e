import sys

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.affinity import affinity_job_file  # noqa: E402

status = affinity_job_file(
    dict(snakemake.params.job),
    snakemake.input.reviewers,
    snakemake.input.submissions,
    snakemake.input.papers,
    list(snakemake.input.corpus_embeddings),
    list(snakemake.input.submission_embeddings),
    snakemake.output.json,
    snakemake.output.csv,
    status_json=snakemake.params.status,
    name=snakemake.params.name,
    rejects_jsonl=snakemake.input.get("rejects"),
    reject_embeddings_npy=list(snakemake.input.get("reject_embeddings", [])),
)
if status["status"] != "Completed":
    print(f"affinity job {snakemake.params.name}: {status['status']}: {status['description']}", file=sys.stderr)
    sys.exit(1)
