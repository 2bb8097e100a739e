from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.conference import ViabilitySettings, viability_file

settings = ViabilitySettings.from_params(snakemake.params.viability)
viability_file(
    snakemake.input.reviewers,
    snakemake.input.submissions,
    snakemake.input.quotas[0] if snakemake.input.quotas else None,
    snakemake.output.report,
    reviews_per_paper=settings.reviews_per_paper,
    max_papers_per_reviewer=settings.max_papers_per_reviewer,
    by_track=settings.by_track,
    coi_npy=snakemake.input.coi,
    out_json=snakemake.output.result,
    ac_max_papers=settings.ac_max_papers,
    ac_papers_per_submission=settings.ac_papers_per_submission,
)
