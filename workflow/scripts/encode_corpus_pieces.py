from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.text import encode_file  # noqa: E402

encode_file(snakemake.input.model, snakemake.input.tokens, snakemake.output[0])
