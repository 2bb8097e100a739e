from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import AssignmentSettings, solve_assignment_file

solve_assignment_file(
    snakemake.input.aggregate,
    snakemake.input.coi,
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.quotas[0] if snakemake.input.quotas else None,
    snakemake.output.assignment,
    snakemake.output.summary,
    AssignmentSettings.from_params(snakemake.params.assignment),
    authorship_npz=snakemake.input.authorship,
    viability_json=snakemake.input.viability,
)
