from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import (
    AggregateSettings,
    PaperMatrixSettings,
    aggregate_registry_file,
    aggregate_scores_file,
    aggregate_uncached_file,
)

paper_matrix = PaperMatrixSettings.from_params(snakemake.params.paper_matrix)
settings = AggregateSettings.from_params(snakemake.params.aggregate)
if settings.cache_paper_matrix:
    aggregate_scores_file(
        [snakemake.input.manifest],
        snakemake.input.columns,
        snakemake.input.authorship,
        snakemake.output[0],
        settings,
    )
elif paper_matrix.spec == "avg":
    aggregate_uncached_file(
        snakemake.input.submissions,
        snakemake.input.submission_ids,
        snakemake.input.corpus,
        snakemake.input.papers,
        snakemake.input.columns,
        snakemake.input.authorship,
        snakemake.output[0],
        paper_matrix,
        settings,
        part=snakemake.params.part,
    )
else:  # any other model: its paper matrix computed block by block inside the aggregation
    aggregate_registry_file(
        list(snakemake.input.indexes),
        snakemake.input.submission_ids,
        snakemake.input.papers,
        snakemake.input.columns,
        snakemake.input.authorship,
        snakemake.output[0],
        paper_matrix,
        settings,
        part=snakemake.params.part,
        avg_model=snakemake.input.get("model"),
    )
