from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import (
    aggregate_computed_file,
    aggregate_scores_file,
    aggregate_uncached_file,
)
from revmatch.matching import registry_matrix_part

settings = snakemake.params.model
if snakemake.params.cached:
    aggregate_scores_file(
        [snakemake.input.manifest],
        snakemake.input.columns,
        snakemake.input.authorship,
        snakemake.output[0],
        method=snakemake.params.method,
        k=snakemake.params.k,
    )
elif settings["spec"] == "avg":
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
else:  # any other model: its paper matrix computed block by block inside the aggregation
    matrix, _, rows_per_block = registry_matrix_part(
        settings["spec"],
        list(snakemake.input.indexes),
        snakemake.input.submission_ids,
        snakemake.input.papers,
        snakemake.input.columns,
        fields=tuple(settings["fields"]),
        avg_model=snakemake.input.get("model"),
        sentence_transformers=settings["sentence_transformers"],
        encoder=settings.get("encoder"),
        part=snakemake.params.part,
        parts=snakemake.params.parts,
        block_rows=snakemake.params.block_rows,
        memory_budget_mb=snakemake.params.memory_budget_mb,
    )
    aggregate_computed_file(
        matrix, snakemake.input.authorship, snakemake.output[0], method=snakemake.params.method,
        k=snakemake.params.k, block_rows=rows_per_block,
    )
