from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.model import embed_submissions_file

embed_submissions_file(
    snakemake.input.model,
    snakemake.input.submissions,
    snakemake.output[0],
    fields=tuple(snakemake.params.fields),
    batch_size=snakemake.params.batch_size,
)
