from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import paper_matrix_file, registry_paper_matrix_file

settings = snakemake.params.model
common = dict(
    out_manifest=snakemake.output[0],
    cache_root=snakemake.params.cache,
    part=snakemake.params.part,
    parts=snakemake.params.parts,
    block_rows=snakemake.params.block_rows,
    memory_budget_mb=snakemake.params.memory_budget_mb,
)
if settings["spec"] == "avg":
    paper_matrix_file(
        snakemake.input.submissions,
        snakemake.input.submission_ids,
        snakemake.input.corpus,
        snakemake.input.papers,
        snakemake.input.columns,
        **common,
    )
else:
    registry_paper_matrix_file(
        settings["spec"],
        list(snakemake.input.indexes),
        snakemake.input.submission_ids,
        snakemake.input.papers,
        snakemake.input.columns,
        fields=tuple(settings["fields"]),
        avg_model=snakemake.input.get("model"),
        sentence_transformers=settings["sentence_transformers"],
        encoder=settings.get("encoder"),
        **common,
    )
