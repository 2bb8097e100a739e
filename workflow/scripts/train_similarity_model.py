import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import train_model_file

train_model_file(
    snakemake.input.pieces,
    snakemake.input.sentencepiece,
    snakemake.output[0],
    params=snakemake.params.train,
    device=snakemake.params.device,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    papers_parquet=snakemake.input.papers,
    heldout_fraction=snakemake.params.heldout_fraction,
    heldout_seed=snakemake.params.heldout_seed,
)
