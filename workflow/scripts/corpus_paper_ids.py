from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import write_paper_ids_file  # noqa: E402

write_paper_ids_file(list(snakemake.input), snakemake.output[0])
