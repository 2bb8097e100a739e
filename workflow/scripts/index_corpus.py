import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import index_corpus_file

index_corpus_file(
    snakemake.wildcards.scorer,
    snakemake.input.papers,
    snakemake.output[0],
    fields=tuple(snakemake.params.fields),
    corpus_embeddings=snakemake.input.get("embeddings"),
    sentence_transformers=snakemake.params.model.get("sentence_transformers"),
    bm25=snakemake.params.bm25,
    device=snakemake.params.device,
    encoder=snakemake.params.model.get("encoder"),
)
