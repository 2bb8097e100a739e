# Stage 7: the SIGKDD'09 Bayesian model of review scores (PyMC).


rule calibrate_reviews:
    input:
        config["calibration"]["reviews"] if "calibration" in config else [],
    output:
        submissions=conf_path("calibration", "submissions.csv"),
        reviewers=conf_path("calibration", "reviewers.csv"),
        expertise=conf_path("calibration", "expertise.csv"),
        posterior=conf_path("calibration", "posterior.nc"),
        diagnostics=conf_path("calibration", "diagnostics.json"),
    params:
        columns=config.get("calibration", {}).get("columns"),
        score_map=config.get("calibration", {}).get("score_map"),
        expertise_map=config.get("calibration", {}).get("expertise_map"),
        n_levels=config.get("calibration", {}).get("n_levels"),
        n_expertise=config.get("calibration", {}).get("n_expertise"),
        method=config.get("calibration", {}).get("method"),
        sampler=config.get("calibration", {}).get("sampler"),
        draws=config.get("calibration", {}).get("draws"),
        tune=config.get("calibration", {}).get("tune"),
        chains=config.get("calibration", {}).get("chains"),
        seed=config.get("calibration", {}).get("seed"),
        advi_iterations=config.get("calibration", {}).get("advi_iterations"),
        fail_on_bad_convergence=config.get("calibration", {}).get("fail_on_bad_convergence"),
        max_rhat=config.get("calibration", {}).get("max_rhat"),
        min_ess=config.get("calibration", {}).get("min_ess"),
        hyper=config.get("calibration", {}).get("hyper"),
    log:
        conf_log("calibrate_reviews"),
    benchmark:
        conf_benchmark("calibrate_reviews")
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/calibration.yaml"
    script:
        "../scripts/calibrate_reviews.py"


rule plot_calibration:
    input:
        submissions=conf_path("calibration", "submissions.csv"),
        reviewers=conf_path("calibration", "reviewers.csv"),
        expertise=conf_path("calibration", "expertise.csv"),
    output:
        quality=report(
            conf_path("calibration", "plots", "quality.png"),
            category="Calibration",
            caption="../report/calibration_quality.rst",
        ),
        leniency=report(
            conf_path("calibration", "plots", "leniency.png"),
            category="Calibration",
            caption="../report/calibration_leniency.rst",
        ),
        expertise=report(
            conf_path("calibration", "plots", "expertise.png"),
            category="Calibration",
            caption="../report/calibration_expertise.rst",
        ),
    log:
        conf_log("plot_calibration"),
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/calibration.yaml"
    script:
        "../scripts/plot_calibration.py"
