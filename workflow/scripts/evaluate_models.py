import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import evaluate_models_file

evaluate_models_file(
    snakemake.input.papers,
    snakemake.output.json,
    snakemake.output.txt,
    specs=snakemake.params.models,
    avg_model=snakemake.input.get("model"),
    sentence_transformers=snakemake.params.sentence_transformers,
    bm25=snakemake.params.bm25,
    heldout_fraction=snakemake.params.heldout_fraction,
    heldout_seed=snakemake.params.seed,
    max_queries=snakemake.params.max_queries,
    ks=snakemake.params.ks,
    sts_tsv=snakemake.input.get("sts"),
    processes=snakemake.threads,
    baseline=snakemake.params.baseline,
    encoder=snakemake.params.encoder,
    aggregators=snakemake.params.aggregators,
    device=snakemake.params.device,
)
