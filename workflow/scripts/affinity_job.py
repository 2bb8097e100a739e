from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.affinity import affinity_job_file  # noqa: E402

affinity_job_file(
    dict(snakemake.params.job),
    snakemake.input.reviewers,
    snakemake.input.submissions,
    snakemake.input.papers,
    snakemake.input.corpus_embeddings,
    snakemake.input.submission_embeddings,
    snakemake.output.json,
    snakemake.output.csv,
)
