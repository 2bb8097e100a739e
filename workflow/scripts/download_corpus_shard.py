from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import S2Settings, download_shard_file

download_shard_file(
    snakemake.input[0],
    snakemake.wildcards.dataset,
    snakemake.wildcards.shard,
    snakemake.output[0],
    S2Settings.from_params(snakemake.params.s2),
)
