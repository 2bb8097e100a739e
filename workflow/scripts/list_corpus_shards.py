from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import S2Settings, write_manifest_file

write_manifest_file(
    S2Settings.from_params(snakemake.params.s2), list(snakemake.params.datasets), snakemake.output[0]
)
