# Stage 5: the assignment in every shape chairs use, and its evaluation against bids.
# solve_assignment removes these rules' outputs before it solves (previous_exports, common.smk),
# so that a failed solve leaves no export of an assignment that no longer exists.


rule export_assignments:
    input:
        assignment=conf_path("assignment.csv"),
        submissions=conf_path("submissions.jsonl"),
        reviewers=conf_path("reviewers.jsonl"),
        aggregate=conf_path("matrices", "aggregate.npy"),
        coi=conf_path("coi.npy"),
    output:
        jsonl=conf_path("assignments.jsonl"),
        csv=conf_path("assignments.csv"),
        tracks=directory(conf_path("tracks")),
        start=conf_path("start_upload.txt"),
        text=conf_path("assignments.txt"),
        xlsx=conf_path("assignments.xlsx"),
        openreview_assignments=conf_path("openreview", "assignments.json"),
        openreview_alternates=conf_path("openreview", "alternates.json"),
        # written last: the fingerprint (SHA-256) of assignment.csv and of every export above
        fingerprint=conf_path("exports.json"),
    params:
        reviews_per_paper=config["matching"]["reviews_per_paper"],
        num_similar=config["matching"]["num_similar"],
        alternates=config["matching"]["alternates"],
        by_track=config["matching"]["by_track"],
        role="AC" if config["matching"]["area_chairs"] else "reviewer",
    log:
        conf_log("export_assignments"),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/export_assignments.py"


rule evaluate_assignment:
    input:
        assignment=conf_path("assignment.csv"),
        submissions=conf_path("submissions.jsonl"),
        reviewers=conf_path("reviewers.jsonl"),
        bids=conf_path("bids.npy"),
    output:
        conf_path("evaluation.txt"),
    log:
        conf_log("evaluate_assignment"),
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/evaluate_assignment.py"


# the season's files may not be any of the outputs above (common.smk)
check_season_files()
