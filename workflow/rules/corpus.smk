# Stage 1: the literature. One job per shard of the dump, merged into one Parquet file.


rule filter_corpus_shard:
    input:
        shard_file,
    output:
        papers=corpus_path("shards", "{shard}.parquet"),
        summary=corpus_path("shards", "{shard}.summary.json"),
    params:
        spec=config["corpus"]["filter"],
    log:
        "logs/corpus/filter_{shard}.log",
    benchmark:
        "results/benchmarks/corpus/filter_{shard}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/corpus.yaml"
    script:
        "../scripts/filter_corpus_shard.py"


rule merge_corpus:
    input:
        papers=expand(corpus_path("shards", "{shard}.parquet"), shard=list(SHARDS)),
        summaries=expand(corpus_path("shards", "{shard}.summary.json"), shard=list(SHARDS)),
    output:
        papers=corpus_path("papers.parquet"),
        summary=corpus_path("summary.json"),
    log:
        "logs/corpus/merge.log",
    benchmark:
        "results/benchmarks/corpus/merge.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/corpus.yaml"
    script:
        "../scripts/merge_corpus.py"
