from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import gather_rows_file

gather_rows_file(list(snakemake.input), snakemake.output[0])
