from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.matching import PaperMatrixSettings, paper_matrix_file, registry_paper_matrix_file

settings = PaperMatrixSettings.from_params(snakemake.params.paper_matrix)
if settings.spec == "avg":
    paper_matrix_file(
        snakemake.input.submissions,
        snakemake.input.submission_ids,
        snakemake.input.corpus,
        snakemake.input.papers,
        snakemake.input.columns,
        snakemake.output[0],
        snakemake.params.cache,
        settings,
        part=snakemake.params.part,
    )
else:
    registry_paper_matrix_file(
        list(snakemake.input.indexes),
        snakemake.input.submission_ids,
        snakemake.input.papers,
        snakemake.input.columns,
        snakemake.output[0],
        snakemake.params.cache,
        settings,
        part=snakemake.params.part,
        avg_model=snakemake.input.get("model"),
    )
