from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.conference import CoiSettings, merge_cois_file

settings = CoiSettings.from_params(snakemake.params.coi)
merge_cois_file(
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.bids,
    snakemake.input.papers[0] if snakemake.input.papers else None,
    out_coi_npy=snakemake.output.coi,
    out_reasons_csv=snakemake.output.reasons,
    out_report_txt=snakemake.output.report,
    coauthor_since_year=settings.coauthor_window,
    external_csvs=list(snakemake.input.external),
    same_email_domain=settings.same_email_domain,
    same_affiliation=settings.same_affiliation,
    public_email_domains=settings.public_email_domains,
    out_submission_index=snakemake.output.submission_index,
    out_reviewer_index=snakemake.output.reviewer_index,
)
