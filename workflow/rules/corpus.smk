# Stage 1: the literature. One job per shard, merged into one Parquet file.
#   corpus.source = local:  <local_dir>/<shard>.gz -> filter_corpus_shard -> merge_corpus
#   corpus.source = s2-api: corpus_manifest (checkpoint: the release's signed shard URLs)
#       -> download_corpus_shard (raw shard, temp(): deleted once filtered)
#       -> filter_corpus_shard (papers) / select_corpus_abstracts (abstracts, by corpus id)
#       -> merge_corpus
#   corpus.s2.update_from (s2-api): corpus_manifest lists the diffs from the older release
#       -> download_corpus_shard (update and delete files of every diff, temp())
#       -> filter_corpus_update (papers updates) / corpus_delete_ids (delete files)
#          / select_corpus_abstracts (abstracts updates)
#       -> update_corpus (older corpus + diffs, in order)
#   corpus.source = anthology: corpus.anthology.papers (ACL Anthology metadata, one file)
#       -> anthology_corpus (no shards; merge_corpus is not defined)
# The API key is read from the environment variable named by corpus.s2.api_key_env.
# Input functions and the CORPUS/S2_* flags live in common.smk (corpus shards).

from revmatch.corpus import CorpusSettings

# The corpus settings (filter, Semantic Scholar download, bad-line limit), checked once.
CORPUS_SETTINGS = CorpusSettings.from_config(config)


if S2_API:

    # Compute nodes of a cluster often cannot reach the internet: the API calls run where
    # snakemake runs.
    localrules:
        corpus_manifest,
        download_corpus_shard,

    checkpoint corpus_manifest:
        output:
            corpus_path("manifest.json"),
        params:
            s2=CORPUS_SETTINGS.s2.as_params(),
            datasets=CORPUS_SETTINGS.s2.datasets,
        log:
            "logs/corpus/manifest.log",
        resources:
            mem_mb=500,
            runtime=10,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/list_corpus_shards.py"

    rule download_corpus_shard:
        input:
            corpus_path("manifest.json"),
        output:
            temp(corpus_path("raw", "{dataset}", "{shard}.gz")),
        wildcard_constraints:
            dataset="papers|abstracts",
        params:
            s2=CORPUS_SETTINGS.s2.as_params(),
        log:
            "logs/corpus/download_{dataset}_{shard}.log",
        benchmark:
            "results/benchmarks/corpus/download_{dataset}_{shard}.tsv"
        resources:
            mem_mb=500,
            runtime=240,
            s2_downloads=1,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/download_corpus_shard.py"

    rule corpus_paper_ids:
        input:
            paper_id_sources,
        output:
            corpus_path("paper_ids.npy"),
        log:
            "logs/corpus/paper_ids.log",
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/corpus_paper_ids.py"

    rule select_corpus_abstracts:
        input:
            shard=corpus_path("raw", "abstracts", "{shard}.gz"),
            ids=corpus_path("paper_ids.npy"),
        output:
            abstracts=corpus_path("abstracts", "{shard}.parquet"),
            summary=corpus_path("abstracts", "{shard}.summary.json"),
        params:
            max_bad_share=CORPUS_SETTINGS.max_bad_line_share,
        priority: 10
        log:
            "logs/corpus/abstracts_{shard}.log",
        benchmark:
            "results/benchmarks/corpus/abstracts_{shard}.tsv"
        resources:
            mem_mb=2000,
            runtime=60,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/select_corpus_abstracts.py"


if S2_UPDATE:

    # priority: a downloaded update file is filtered (and deleted) before the next download
    rule filter_corpus_update:
        input:
            corpus_path("raw", "papers", "{shard}.gz"),
        output:
            papers=corpus_path("updates", "{shard}.parquet"),
            summary=corpus_path("updates", "{shard}.summary.json"),
            ids=corpus_path("updates", "{shard}.ids.npy"),
        params:
            spec=CORPUS_SETTINGS.shard_filter.as_params(),
            max_bad_share=CORPUS_SETTINGS.max_bad_line_share,
        priority: 10
        log:
            "logs/corpus/filter_update_{shard}.log",
        benchmark:
            "results/benchmarks/corpus/filter_update_{shard}.tsv"
        resources:
            mem_mb=2000,
            runtime=60,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/filter_corpus_update.py"

    rule corpus_delete_ids:
        input:
            corpus_path("raw", "{dataset}", "{shard}.gz"),
        output:
            ids=corpus_path("deletes", "{dataset}", "{shard}.npy"),
            summary=corpus_path("deletes", "{dataset}", "{shard}.summary.json"),
        wildcard_constraints:
            dataset="papers|abstracts",
        params:
            max_bad_share=CORPUS_SETTINGS.max_bad_line_share,
        priority: 10
        log:
            "logs/corpus/delete_ids_{dataset}_{shard}.log",
        resources:
            mem_mb=1000,
            runtime=30,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/corpus_delete_ids.py"

    rule update_corpus:
        input:
            manifest=corpus_path("manifest.json"),
            previous=previous_corpus(),
            updates=update_parts(".parquet"),
            summaries=update_parts(".summary.json"),
            update_ids=update_parts(".ids.npy"),
            deletes=delete_ids("papers"),
            abstracts=abstracts_parts,
            abstract_deletes=delete_ids("abstracts"),
        output:
            papers=corpus_path("papers.parquet"),
            summary=corpus_path("summary.json"),
        params:
            join_abstracts=CORPUS_SETTINGS.join_abstracts,
            require_abstract=CORPUS_SETTINGS.filter.require_abstract,
        log:
            "logs/corpus/update.log",
        benchmark:
            "results/benchmarks/corpus/update.tsv"
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/update_corpus.py"


# priority: a downloaded raw shard is filtered (and deleted) before the next download starts
rule filter_corpus_shard:
    input:
        papers_shard_input,
    output:
        papers=corpus_path("shards", "{shard}.parquet"),
        summary=corpus_path("shards", "{shard}.summary.json"),
    params:
        spec=CORPUS_SETTINGS.shard_filter.as_params(),
        max_bad_share=CORPUS_SETTINGS.max_bad_line_share,
    priority: 10
    log:
        "logs/corpus/filter_{shard}.log",
    benchmark:
        "results/benchmarks/corpus/filter_{shard}.tsv"
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../envs/corpus.yaml"
    script:
        "../scripts/filter_corpus_shard.py"


if ANTHOLOGY:

    rule anthology_corpus:
        input:
            CORPUS["anthology"]["papers"],
        output:
            papers=corpus_path("papers.parquet"),
            summary=corpus_path("summary.json"),
        params:
            spec=CORPUS_SETTINGS.filter.as_params(),
            max_bad_share=CORPUS_SETTINGS.max_bad_line_share,
        log:
            "logs/corpus/anthology.log",
        benchmark:
            "results/benchmarks/corpus/anthology.tsv"
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/anthology_corpus.py"


if not S2_UPDATE and not ANTHOLOGY:

    rule merge_corpus:
        input:
            papers=papers_parts,
            summaries=papers_summaries,
            abstracts=abstracts_parts,
        output:
            papers=corpus_path("papers.parquet"),
            summary=corpus_path("summary.json"),
        params:
            join_abstracts=CORPUS_SETTINGS.join_abstracts,
            require_abstract=CORPUS_SETTINGS.filter.require_abstract,
        log:
            "logs/corpus/merge.log",
        benchmark:
            "results/benchmarks/corpus/merge.tsv"
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            "../envs/corpus.yaml"
        script:
            "../scripts/merge_corpus.py"
