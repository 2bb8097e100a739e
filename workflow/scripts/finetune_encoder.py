import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import FinetuningSettings, finetune_encoder_file

finetune_encoder_file(
    snakemake.input.papers,
    snakemake.output.model,
    snakemake.output.stats,
    FinetuningSettings.from_params(snakemake.params.finetuning),
    encoder_folders=snakemake.params.base.get("sentence_transformers"),
    checkpoint_dir=snakemake.params.checkpoint_dir,
)
