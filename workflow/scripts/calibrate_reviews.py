from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.calibration import CalibrationSettings, calibrate_reviews_file

calibrate_reviews_file(
    snakemake.input[0],
    snakemake.output.submissions,
    snakemake.output.reviewers,
    snakemake.output.expertise,
    snakemake.output.posterior,
    snakemake.output.diagnostics,
    CalibrationSettings.from_params(snakemake.params.calibration),
    cores=snakemake.threads,
)
