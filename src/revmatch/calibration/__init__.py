"""The calibration stage: the SIGKDD'09 Bayesian model of review scores in PyMC (reviewer
leniency and accuracy, submission quality), its diagnostics and plots."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "reviews": ["DEFAULT_HYPER", "SIMULATED_QUALITY_SD", "balanced_pairs", "calibration_diagnostics", "check_convergence", "summarise_calibration", "build_model", "calibrate_reviews_file", "fit_calibration", "plot_calibration_files",
                "read_reviews", "simulate_reviews"],
})
