from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.conference import extract_softconf

extract_softconf(
    snakemake.input.profiles,
    snakemake.input.submissions,
    snakemake.input.bids[0] if snakemake.input.bids else None,
    out_reviewers=snakemake.output.reviewers,
    out_submissions=snakemake.output.submissions,
    out_rejects=snakemake.output.rejects,
    out_bids_npy=snakemake.output.bids,
    out_non_reviewers=snakemake.output.non_reviewers,
    out_multi_track_csv=snakemake.output.multi_track,
    out_report_json=snakemake.output.report,
)
