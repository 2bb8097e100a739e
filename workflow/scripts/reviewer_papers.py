from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import reviewer_papers_file

reviewer_papers_file(
    snakemake.input.reviewers,
    snakemake.input.papers,
    out_authorship=snakemake.output.authorship,
    out_papers=snakemake.output.papers,
)
