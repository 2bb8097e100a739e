from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.aggregate import aggregate_scores_file, aggregate_uncached_file  # noqa: E402

if snakemake.params.cached:
    aggregate_scores_file(
        [snakemake.input.manifest],
        snakemake.input.columns,
        snakemake.input.authorship,
        snakemake.output[0],
        method=snakemake.params.method,
        k=snakemake.params.k,
    )
else:
    aggregate_uncached_file(
        snakemake.input.submissions,
        snakemake.input.submission_ids,
        snakemake.input.corpus,
        snakemake.input.papers,
        snakemake.input.columns,
        snakemake.input.authorship,
        snakemake.output[0],
        part=snakemake.params.part,
        parts=snakemake.params.parts,
        method=snakemake.params.method,
        k=snakemake.params.k,
        block_rows=snakemake.params.block_rows,
        memory_budget_mb=snakemake.params.memory_budget_mb,
    )
