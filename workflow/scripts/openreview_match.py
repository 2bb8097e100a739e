from pathlib import Path

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching.openreview_matcher import MATCHER_FILE_OPTIONS, match_files

# The matcher's input files (scores, constraints, loads, ...) and its other options, by its names.
files = {key: snakemake.input[key] for key in MATCHER_FILE_OPTIONS if key in snakemake.input.keys()}
match_files(
    list(snakemake.input.scores),
    Path(snakemake.output.summary).parent,
    **files,
    **dict(snakemake.params.options),
)
