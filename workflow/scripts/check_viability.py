from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.viability import viability_file  # noqa: E402

viability_file(
    snakemake.input.reviewers,
    snakemake.input.submissions,
    snakemake.input.quotas[0] if snakemake.input.quotas else None,
    snakemake.output[0],
    reviews_per_paper=snakemake.params.reviews_per_paper,
    max_papers_per_reviewer=snakemake.params.max_papers_per_reviewer,
    by_track=snakemake.params.by_track,
)
