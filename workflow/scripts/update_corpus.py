from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.corpus import update_corpus_file

join = snakemake.params.join_abstracts
update_corpus_file(
    snakemake.input.manifest,
    snakemake.input.previous,
    list(snakemake.input.updates),
    list(snakemake.input.summaries),
    list(snakemake.input.update_ids),
    list(snakemake.input.deletes),
    snakemake.output.papers,
    snakemake.output.summary,
    abstract_parquets=list(snakemake.input.abstracts) if join else None,
    abstract_delete_ids=list(snakemake.input.abstract_deletes) if join else None,
    require_abstract=snakemake.params.require_abstract,
)
