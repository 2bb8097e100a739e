# Stage 7: the SIGKDD'09 Bayesian model of review scores (PyMC).

from revmatch.calibration import CalibrationSettings

# The calibration settings, checked once; None without a calibration section. Every one of
# them (the missing_expertise and duplicate_reviews rules, save_posterior included) reaches
# the rule through params. posterior.nc is the posterior's summary unless save_posterior is
# full (docs/calibration.md); no rule reads it: the plots read the CSV summaries.
CALIBRATION = CalibrationSettings.from_config(config) if "calibration" in config else None


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
        calibration=CALIBRATION.as_params() if CALIBRATION is not None else None,
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
