from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.model import tokenize_papers_file

tokenize_papers_file(
    snakemake.input[0], snakemake.output[0], fields=tuple(snakemake.params.fields), processes=snakemake.threads
)
