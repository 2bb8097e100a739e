from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import merge_shards_file

merge_shards_file(
    list(snakemake.input.papers),
    list(snakemake.input.summaries),
    snakemake.output.papers,
    snakemake.output.summary,
    abstract_parquets=list(snakemake.input.abstracts) if snakemake.params.join_abstracts else None,
    require_abstract=snakemake.params.require_abstract,
)
