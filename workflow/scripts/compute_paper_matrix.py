from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.similarity import paper_matrix_file  # noqa: E402

paper_matrix_file(
    snakemake.input.submissions,
    snakemake.input.corpus,
    snakemake.input.papers,
    snakemake.input.reviewers,
    out_matrix=snakemake.output.matrix,
    out_papers=snakemake.output.papers,
    out_authorship=snakemake.output.authorship,
    block_rows=snakemake.params.block_rows,
)
