from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.calibration import plot_calibration_files

plot_calibration_files(
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.expertise,
    snakemake.output.quality,
    snakemake.output.leniency,
    snakemake.output.expertise,
)
