import torch

from revmatch.log import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

from revmatch.model import encode_corpus_part_file, encoder_folder

name = snakemake.wildcards.encoder
encode_corpus_part_file(
    name,
    encoder_folder(name, snakemake.params.model.get("sentence_transformers")),
    snakemake.input.papers,
    snakemake.output[0],
    part=int(snakemake.wildcards.part),
    parts=snakemake.params.parts,
    fields=tuple(snakemake.params.fields),
    settings=snakemake.params.model["encoder"],
    device=snakemake.params.device,
)
