from revmatch.log import setup_logging

setup_logging(snakemake.log[0])

from revmatch.model import train_sentencepiece

train_sentencepiece(
    snakemake.input[0],
    snakemake.output.model,
    vocab_size=snakemake.params.vocab_size,
    character_coverage=snakemake.params.character_coverage,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
)
