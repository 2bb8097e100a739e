from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.aggregate import gather_rows_file  # noqa: E402

gather_rows_file(list(snakemake.input), snakemake.output[0])
