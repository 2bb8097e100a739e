from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import merge_shards_file  # noqa: E402

merge_shards_file(
    list(snakemake.input.papers),
    list(snakemake.input.summaries),
    snakemake.output.papers,
    snakemake.output.summary,
)
