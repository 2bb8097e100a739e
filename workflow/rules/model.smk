# Stage 2: the expertise models. Pretrained encoders (minilm, packaged; local folders) and
# the encoder fine-tuned on the corpus (tuned); the reference's paraphrastic averaging model
# (Moses tokens -> sentencepiece -> avg, torch; CUDA when the job lands on a GPU); tfidf,
# bm25 and ensembles a+b: revmatch.model's registry. Corpus indexes of each; held-out evaluation.

from revmatch.model import ModelSettings

# The settings of the rules that take many, checked once; their params carry them as plain
# dicts (Snakemake compares builtins only), which the scripts turn back into settings.
MODEL = ModelSettings.from_config(config)


rule tokenize_corpus:
    input:
        corpus_path("papers.parquet"),
    output:
        model_path("corpus.tok.txt"),
    params:
        fields=config["model"]["text_fields"],
    log:
        "logs/model/tokenize_corpus.log",
    benchmark:
        "results/benchmarks/model/tokenize_corpus.tsv"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/tokenize_corpus.py"


rule train_sentencepiece:
    input:
        model_path("corpus.tok.txt"),
    output:
        model=model_path("sentencepiece.model"),
        vocab=model_path("sentencepiece.vocab"),
    params:
        vocab_size=config["model"]["vocab_size"],
        character_coverage=config["model"]["character_coverage"],
        seed=config["model"]["train"]["seed"],
    log:
        "logs/model/train_sentencepiece.log",
    benchmark:
        "results/benchmarks/model/train_sentencepiece.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/train_sentencepiece.py"


rule encode_corpus_pieces:
    input:
        model=model_path("sentencepiece.model"),
        tokens=model_path("corpus.tok.txt"),
    output:
        model_path("corpus.sp.txt"),
    log:
        "logs/model/encode_corpus_pieces.log",
    benchmark:
        "results/benchmarks/model/encode_corpus_pieces.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/encode_corpus_pieces.py"


rule train_similarity_model:
    input:
        pieces=model_path("corpus.sp.txt"),
        sentencepiece=model_path("sentencepiece.model"),
        papers=corpus_path("papers.parquet"),
    output:
        model_path("similarity.pt"),
    params:
        training=MODEL.training.as_params(),
        checkpoint_dir=checkpoint_dir(),
    log:
        "logs/model/train_similarity_model.log",
    benchmark:
        "results/benchmarks/model/train_similarity_model.tsv"
    # One torch thread: a step is many small ops plus a memory-bound Adam step over the
    # table; on the shared 2-core machine two threads were 3 to 20 times slower than one
    # (benchmarks/README.md).
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,  # minutes; training resumes from its checkpoint when a job is retried
        gpu=1,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/train_similarity_model.py"


rule embed_corpus:
    input:
        model=model_path("similarity.pt"),
        pieces=model_path("corpus.sp.txt"),
        sentencepiece=model_path("sentencepiece.model"),
    output:
        model_path("corpus_embeddings.npy"),
    params:
        batch_size=config["model"]["batch_size_embed"],
    log:
        "logs/model/embed_corpus.log",
    benchmark:
        "results/benchmarks/model/embed_corpus.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/embed_corpus.py"


# The pretrained encoder (model.finetune.base) fine-tuned on the corpus papers not held out,
# with co-authored pairs and in-batch negatives: the encoder named tuned. On a GPU when the
# job lands on one (bfloat16), else on the CPU; checkpoints per settings and data, resumed.
rule finetune_encoder:
    input:
        papers=corpus_path("papers.parquet"),
    output:
        model=directory(WORKFLOW_ENCODERS["tuned"]),
        stats=model_path("encoders", "tuned.json"),
    params:
        finetuning=MODEL.finetuning.as_params(),
        base=lambda wildcards: encoder_source(MODEL.finetuning.params.base),
        checkpoint_dir=model_path("checkpoints", "finetune"),
    log:
        "logs/model/finetune_encoder.log",
    benchmark:
        "results/benchmarks/model/finetune_encoder.tsv"
    threads: 2
    resources:
        # on the CPU about 8 GB at 64 pairs a batch of 128 word pieces (activations kept
        # for the backward pass), growing with both
        mem_mb=lambda wildcards: finetune_mem_mb(),
        runtime=240,  # minutes; training resumes from its checkpoint when a job is retried
        gpu=1,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/finetune_encoder.py"


# With model.encoder.parts > 1, an encoder's corpus embeddings are computed by that many
# jobs (contiguous row ranges, each on its own node or GPU on a cluster) into the shared
# content-addressed embedding cache; its index_corpus job then reads them all from the cache.
rule encode_corpus_part:
    input:
        unpack(encode_part_inputs),
    output:
        model_path("encoded", "{encoder}", "part{part}.json"),
    wildcard_constraints:
        encoder=r"[A-Za-z0-9_-]+",
        part=r"\d+",
    params:
        fields=config["model"]["text_fields"],
        model=lambda wildcards: registry_model_settings([wildcards.encoder]),
        parts=config["model"]["encoder"]["parts"],
        device=config["model"]["gpu"],
    log:
        "logs/model/encode_corpus_{encoder}_part{part}.log",
    benchmark:
        "results/benchmarks/model/encode_corpus_{encoder}_part{part}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=1,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/encode_corpus_part.py"


# One corpus index per model (avg from the embeddings above, tfidf/bm25/encoders from the
# texts; encoder embeddings through the content-addressed cache), conference-independent:
# every conference reuses it. Ensembles a+b read their members' indexes.
rule index_corpus:
    input:
        unpack(index_corpus_inputs),
    output:
        model_path("index", "{scorer}.npz"),
    wildcard_constraints:
        scorer=r"[A-Za-z0-9_-]+",
    params:
        fields=config["model"]["text_fields"],
        model=index_model_settings,
        device=config["model"]["gpu"],
        bm25=config["model"]["bm25"],
    log:
        "logs/model/index_corpus_{scorer}.log",
    benchmark:
        "results/benchmarks/model/index_corpus_{scorer}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/index_corpus.py"


# Held-out retrieval (title -> own abstract; paper -> its authors' other papers) and STS.
rule evaluate_models:
    input:
        unpack(evaluation_inputs),
    output:
        json=model_path("evaluation", "retrieval.json"),
        txt=model_path("evaluation", "retrieval.txt"),
    params:
        evaluation=MODEL.evaluation.as_params(),
        fields=config["model"]["text_fields"],
        sentence_transformers=lambda wildcards: registry_model_settings(evaluation_members()).get(
            "sentence_transformers", {}
        ),
        encoder=lambda wildcards: registry_model_settings(evaluation_members()).get("encoder"),
        versions=lambda wildcards: registry_model_settings(evaluation_members()).get("versions"),
    log:
        "logs/model/evaluate_models.log",
    benchmark:
        "results/benchmarks/model/evaluate_models.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/evaluate_models.py"
