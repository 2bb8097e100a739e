# Stage 4: similarity of submissions to reviewers' papers, reviewer scores, and the
# optimal assignment (HiGHS LP).

from revmatch.matching import MatchingSettings

# Each rule's params carry its part of these settings as a plain dict (``as_params``), so that
# a changed setting re-runs the rule.
MATCHING = MatchingSettings.from_config(config, model=matching_model_settings())


rule embed_submissions:
    input:
        model=model_path("similarity.pt"),
        submissions=conf_path("submissions.jsonl"),
    output:
        conf_path("matrices", "submission_embeddings.npy"),
    params:
        fields=config["model"]["text_fields"],
        batch_size=config["model"]["batch_size_embed"],
    log:
        conf_log("embed_submissions"),
    benchmark:
        conf_benchmark("embed_submissions")
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/model.yaml"
    script:
        "../scripts/embed_submissions.py"


rule reviewer_papers:
    input:
        reviewers=conf_path("reviewers.jsonl"),
        papers=corpus_path("papers.parquet"),
    output:
        authorship=conf_path("matrices", "authorship.npz"),
        papers=conf_path("matrices", "paper_matrix_papers.txt"),
    log:
        conf_log("reviewer_papers"),
    resources:
        mem_mb=4000,
        runtime=15,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/reviewer_papers.py"


# The paper matrix is scattered over ``matching.parts`` jobs of consecutive submissions; each
# reads and fills the content-addressed block cache and writes the manifest of its rows.
# The model is ``model.matching_model``: ``avg`` scores the embeddings above (cosine); any
# other spec (tfidf, bm25, a sentence-transformers name, an ensemble a+b) scores the
# submissions' texts against the members' corpus indexes (rule index_corpus).
rule compute_paper_matrix:
    input:
        unpack(paper_matrix_sources),
        columns=conf_path("matrices", "paper_matrix_papers.txt"),
    output:
        conf_path("matrices", "paper_matrix", "part{part}.parquet"),
    params:
        paper_matrix=MATCHING.paper_matrix.as_params(),
        cache=conf_path("matrices", "paper_cache"),
        part=lambda wildcards: int(wildcards.part),
    log:
        conf_log("compute_paper_matrix_part{part}"),
    benchmark:
        conf_benchmark("compute_paper_matrix_part{part}")
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards, input: 2000 + MATCHING.paper_matrix.memory_budget_mb,
        runtime=60,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/compute_paper_matrix.py"


rule aggregate_scores:
    input:
        unpack(aggregate_inputs),
        columns=conf_path("matrices", "paper_matrix_papers.txt"),
        authorship=conf_path("matrices", "authorship.npz"),
    output:
        conf_path("matrices", "aggregate", "part{part}.npy"),
    params:
        paper_matrix=MATCHING.paper_matrix.as_params(),
        aggregate=MATCHING.aggregate.as_params(),
        part=lambda wildcards: int(wildcards.part),
    log:
        conf_log("aggregate_scores_part{part}"),
    benchmark:
        conf_benchmark("aggregate_scores_part{part}")
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards, input: 4000 + MATCHING.paper_matrix.memory_budget_mb,
        runtime=60,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/aggregate_scores.py"


rule gather_aggregate:
    input:
        matrix_parts("aggregate", ".npy"),
    output:
        conf_path("matrices", "aggregate.npy"),
    log:
        conf_log("gather_aggregate"),
    resources:
        mem_mb=8000,
        runtime=15,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/gather_aggregate.py"


rule solve_assignment:
    input:
        aggregate=conf_path("matrices", "aggregate.npy"),
        coi=conf_path("coi.npy"),
        submissions=conf_path("submissions.jsonl"),
        reviewers=conf_path("reviewers.jsonl"),
        authorship=conf_path("matrices", "authorship.npz"),
        viability=conf_path("viability.json"),
        quotas=optional_input("quotas"),
        season=list(season_inputs().values()),
    output:
        assignment=conf_path("assignment.csv"),
        summary=conf_path("assignment_summary.json"),
        # a re-solve (matching.previous_assignment) also writes what it changed
        **changes_outputs(),
    params:
        assignment=MATCHING.assignment.as_params(),
        season_files=list(season_inputs()),
        previous_exports=previous_exports,
    log:
        conf_log("solve_assignment"),
    benchmark:
        conf_benchmark("solve_assignment")
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/solve_assignment.py"
