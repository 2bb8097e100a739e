from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import download_shard_file

download_shard_file(
    snakemake.input[0], snakemake.wildcards.dataset, snakemake.wildcards.shard, snakemake.output[0], snakemake.params.s2
)
