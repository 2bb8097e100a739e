import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import embed_pieces_file

embed_pieces_file(
    snakemake.input.model,
    snakemake.input.pieces,
    snakemake.input.sentencepiece,
    snakemake.output[0],
    batch_size=snakemake.params.batch_size,
)
