from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.coi import merge_cois_file  # noqa: E402

merge_cois_file(
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.bids,
    snakemake.input.papers[0] if snakemake.input.papers else None,
    out_coi_npy=snakemake.output.coi,
    out_reasons_csv=snakemake.output.reasons,
    out_report_txt=snakemake.output.report,
    coauthor_since_year=snakemake.params.coauthor_since_year,
)
