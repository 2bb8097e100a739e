from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import select_abstracts_file

select_abstracts_file(
    snakemake.input.shard,
    snakemake.input.ids,
    snakemake.output.abstracts,
    snakemake.output.summary,
    max_bad_share=snakemake.params.max_bad_share,
)
