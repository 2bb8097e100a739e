# Stage 3: the conference's START/SoftConf exports -> reviewers, submissions, bids;
# COIs merged from every source (bids, authorship, corpus co-authorship, e-mail domain,
# affiliation, external files); a capacity check per track that the assignment can read.

from revmatch.conference import ConferenceSettings

# The stage's settings, checked once (a co-authorship window given both ways stops here);
# each rule's params carry its part as a plain dict, so that a changed setting re-runs it.
CONFERENCE = ConferenceSettings.from_config(config)


# Quotas are read where they matter (viability, assignment), so that a changed quota
# re-solves the assignment without extracting, embedding and matching again.
rule extract_softconf:
    input:
        profiles=config["softconf"]["profiles"],
        submissions=config["softconf"]["submissions"],
        bids=optional_input("bids"),
    output:
        reviewers=conf_path("reviewers.jsonl"),
        submissions=conf_path("submissions.jsonl"),
        rejects=conf_path("rejects.jsonl"),
        bids=conf_path("bids.npy"),
        non_reviewers=conf_path("non_reviewers.jsonl"),
        multi_track=conf_path("multi_track_reviewers.csv"),
        report=conf_path("extraction_report.json"),
    log:
        conf_log("extract_softconf"),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/extract_softconf.py"


rule merge_cois:
    input:
        submissions=conf_path("submissions.jsonl"),
        reviewers=conf_path("reviewers.jsonl"),
        bids=conf_path("bids.npy"),
        papers=coauthor_inputs,
        external=config["coi"]["files"],
    output:
        coi=conf_path("coi.npy"),
        submission_index=conf_path("coi_submissions.txt"),
        reviewer_index=conf_path("coi_reviewers.txt"),
        reasons=conf_path("coi_reasons.csv"),
        report=conf_path("coi_report.txt"),
    params:
        coi=CONFERENCE.coi.as_params(),
    log:
        conf_log("merge_cois"),
    benchmark:
        conf_benchmark("merge_cois")
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/merge_cois.py"


rule check_viability:
    input:
        reviewers=conf_path("reviewers.jsonl"),
        submissions=conf_path("submissions.jsonl"),
        quotas=optional_input("quotas"),
        coi=conf_path("coi.npy"),
    output:
        report=conf_path("viability.txt"),
        result=conf_path("viability.json"),
    params:
        viability=CONFERENCE.viability.as_params(),
    log:
        conf_log("check_viability"),
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/check_viability.py"
