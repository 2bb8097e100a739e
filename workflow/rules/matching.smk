# Stage 4: similarity of submissions to reviewers' papers, reviewer scores, and the
# optimal assignment (HiGHS LP).


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
        "../../envs/model.yaml"
    script:
        "../scripts/embed_submissions.py"


rule compute_paper_matrix:
    input:
        submissions=conf_path("matrices", "submission_embeddings.npy"),
        corpus=model_path("corpus_embeddings.npy"),
        papers=corpus_path("papers.parquet"),
        reviewers=conf_path("reviewers.jsonl"),
    output:
        matrix=conf_path("matrices", "paper_matrix.npy"),
        papers=conf_path("matrices", "paper_matrix_papers.txt"),
        authorship=conf_path("matrices", "authorship.npz"),
    params:
        block_rows=config["matching"]["block_rows"],
    log:
        conf_log("compute_paper_matrix"),
    benchmark:
        conf_benchmark("compute_paper_matrix")
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/matching.yaml"
    script:
        "../scripts/compute_paper_matrix.py"


rule aggregate_scores:
    input:
        matrix=conf_path("matrices", "paper_matrix.npy"),
        authorship=conf_path("matrices", "authorship.npz"),
    output:
        conf_path("matrices", "aggregate.npy"),
    params:
        method=config["matching"]["aggregator"],
        k=config["matching"]["top_k"],
    log:
        conf_log("aggregate_scores"),
    benchmark:
        conf_benchmark("aggregate_scores")
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/matching.yaml"
    script:
        "../scripts/aggregate_scores.py"


rule solve_assignment:
    input:
        aggregate=conf_path("matrices", "aggregate.npy"),
        coi=conf_path("coi.npy"),
        submissions=conf_path("submissions.jsonl"),
        reviewers=conf_path("reviewers.jsonl"),
        quotas=optional_input("quotas"),
    output:
        assignment=conf_path("assignment.csv"),
        summary=conf_path("assignment_summary.json"),
    params:
        reviews_per_paper=config["matching"]["reviews_per_paper"],
        max_papers_per_reviewer=config["matching"]["max_papers_per_reviewer"],
        min_papers_per_reviewer=config["matching"]["min_papers_per_reviewer"],
        by_track=config["matching"]["by_track"],
        area_chairs=config["matching"]["area_chairs"],
        emergency_penalty=config["matching"]["emergency_penalty"],
    log:
        conf_log("solve_assignment"),
    benchmark:
        conf_benchmark("solve_assignment")
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/matching.yaml"
    script:
        "../scripts/solve_assignment.py"
