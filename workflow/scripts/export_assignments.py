from pathlib import Path

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import export_assignments_file

export_assignments_file(
    snakemake.input.assignment,
    snakemake.input.submissions,
    snakemake.input.reviewers,
    snakemake.input.aggregate,
    snakemake.input.coi,
    out_jsonl=snakemake.output.jsonl,
    out_csv=snakemake.output.csv,
    out_tracks_dir=snakemake.output.tracks,
    out_start_txt=snakemake.output.start,
    out_text=snakemake.output.text,
    reviews_per_paper=snakemake.params.reviews_per_paper,
    num_similar=snakemake.params.num_similar,
    role=snakemake.params.role,
    out_xlsx=snakemake.output.xlsx,
    out_openreview_dir=Path(snakemake.output.openreview_assignments).parent,
    alternates=snakemake.params.alternates,
    by_track=snakemake.params.by_track,
    out_manifest=snakemake.output.fingerprint,
)
