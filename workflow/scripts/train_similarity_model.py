import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import TrainingSettings, train_model_file

train_model_file(
    snakemake.input.pieces,
    snakemake.input.sentencepiece,
    snakemake.output[0],
    TrainingSettings.from_params(snakemake.params.training),
    checkpoint_dir=snakemake.params.checkpoint_dir,
    papers_parquet=snakemake.input.papers,
)
