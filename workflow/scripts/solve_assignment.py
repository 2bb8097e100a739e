from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import solve_assignment_file

solve_assignment_file(
    snakemake.input.aggregate,
    snakemake.input.coi,
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.quotas[0] if snakemake.input.quotas else None,
    snakemake.output.assignment,
    snakemake.output.summary,
    reviews_per_paper=snakemake.params.reviews_per_paper,
    max_papers_per_reviewer=snakemake.params.max_papers_per_reviewer,
    min_papers_per_reviewer=snakemake.params.min_papers_per_reviewer,
    by_track=snakemake.params.by_track,
    area_chairs=snakemake.params.area_chairs,
    emergency_penalty=snakemake.params.emergency_penalty,
    prune_above_pairs=snakemake.params.prune_above_pairs,
    candidates_per_paper=snakemake.params.candidates_per_paper,
    authorship_npz=snakemake.input.authorship,
    min_senior_per_paper=snakemake.params.min_senior_per_paper,
    senior_min_papers=snakemake.params.senior_min_papers,
    mip_rel_gap=snakemake.params.mip_rel_gap,
    viability_json=snakemake.input.viability,
)
