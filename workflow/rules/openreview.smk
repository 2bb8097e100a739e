# Stage 7: OpenReview's matcher (openreview-matcher) on its own input files, one run per
# named entry of `openreview_matches:` in the config, solved exactly by the project's
# assignment program (revmatch.matching.openreview_matcher.match_files, as `revmatch match`).
#
# An entry's keys are the matcher's own option names (scores, weights, constraints,
# max_papers, custom_user_demand, scores_specification, solver, ...; docs/matching.md). Its
# files are inputs, its values params. A score file may be an affinity job of this config,
# `affinity:<job>`: the job's results.csv, OpenReview's score file, so that the expertise
# jobs feed the matcher as on OpenReview. Each run writes assignments.json and
# alternates.json in the matcher's shape, and summary.json with the certificate.


rule openreview_match:
    input:
        unpack(openreview_match_inputs),
    output:
        assignments=conf_path("openreview_match", "{match}", "assignments.json"),
        alternates=conf_path("openreview_match", "{match}", "alternates.json"),
        summary=conf_path("openreview_match", "{match}", "summary.json"),
    params:
        options=openreview_match_options,
    log:
        conf_log("openreview_match_{match}"),
    benchmark:
        conf_benchmark("openreview_match_{match}")
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/matching.yaml"
    script:
        "../scripts/openreview_match.py"
