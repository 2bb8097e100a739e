from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.conference import viability_file

viability_file(
    snakemake.input.reviewers,
    snakemake.input.submissions,
    snakemake.input.quotas[0] if snakemake.input.quotas else None,
    snakemake.output.report,
    reviews_per_paper=snakemake.params.reviews_per_paper,
    max_papers_per_reviewer=snakemake.params.max_papers_per_reviewer,
    by_track=snakemake.params.by_track,
    coi_npy=snakemake.input.coi,
    out_json=snakemake.output.result,
    ac_max_papers=snakemake.params.ac_max_papers,
    ac_papers_per_submission=snakemake.params.ac_papers_per_submission,
)
