from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import write_manifest_file

write_manifest_file(snakemake.params.s2, list(snakemake.params.datasets), snakemake.output[0])
