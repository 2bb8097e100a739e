import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import embed_papers_file  # noqa: E402

embed_papers_file(
    snakemake.input.model,
    snakemake.input.papers,
    snakemake.output[0],
    fields=tuple(snakemake.params.fields),
    batch_size=snakemake.params.batch_size,
)
