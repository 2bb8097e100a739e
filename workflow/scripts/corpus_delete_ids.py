from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import delete_ids_file

delete_ids_file(
    snakemake.input[0], snakemake.output.ids, snakemake.output.summary, max_bad_share=snakemake.params.max_bad_share
)
