from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import evaluate_file

evaluate_file(
    snakemake.input.assignment,
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.bids,
    snakemake.output[0],
)
