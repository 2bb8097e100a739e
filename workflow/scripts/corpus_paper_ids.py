from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import write_paper_ids_file

write_paper_ids_file(list(snakemake.input), snakemake.output[0])
