from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import AssignmentSettings, solve_assignment_file

outputs = dict(snakemake.output.items())
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
    season_files=dict(zip(snakemake.params.season_files, snakemake.input.season)),
    changes_out={
        key: outputs[f"changes_{key}" if key != "changes" else key]
        for key in ("changes", "by_paper", "by_reviewer", "start")
    } if "changes" in outputs else None,
    previous_exports=snakemake.params.previous_exports,
)
