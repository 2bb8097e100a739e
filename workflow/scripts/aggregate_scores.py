from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.aggregate import aggregate_scores_file  # noqa: E402

aggregate_scores_file(
    [snakemake.input.manifest],
    snakemake.input.columns,
    snakemake.input.authorship,
    snakemake.output[0],
    method=snakemake.params.method,
    k=snakemake.params.k,
)
