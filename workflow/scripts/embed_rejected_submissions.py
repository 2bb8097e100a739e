from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.model import embed_submissions_file

# Set-aside (withdrawn, desk-rejected) submissions, embedded for affinity jobs that score
# them; their records carry what START gives for them (the title at least).
embed_submissions_file(
    snakemake.input.model,
    snakemake.input.rejects,
    snakemake.output[0],
    fields=tuple(snakemake.params.fields),
    batch_size=snakemake.params.batch_size,
)
