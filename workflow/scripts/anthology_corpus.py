from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import anthology_corpus_file

anthology_corpus_file(
    snakemake.input[0],
    snakemake.output.papers,
    snakemake.output.summary,
    snakemake.params.spec,
    max_bad_share=snakemake.params.max_bad_share,
)
