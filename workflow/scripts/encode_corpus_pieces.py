from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.model import encode_file

encode_file(snakemake.input.model, snakemake.input.tokens, snakemake.output[0])
