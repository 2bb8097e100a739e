import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import EvaluationSettings, evaluate_models_file

evaluate_models_file(
    snakemake.input.papers,
    snakemake.output.json,
    snakemake.output.txt,
    EvaluationSettings.from_params(snakemake.params.evaluation),
    avg_model=snakemake.input.get("model"),
    sentence_transformers=snakemake.params.sentence_transformers,
    encoder=snakemake.params.encoder,
    sts_tsv=snakemake.input.get("sts"),
    processes=snakemake.threads,
)
