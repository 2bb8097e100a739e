"""The calibration stage: the SIGKDD'09 Bayesian model of review scores in PyMC (reviewer
leniency and accuracy, submission quality), its diagnostics and plots."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "calibrate": ["calibrate_reviews_file"],
    "data": ["read_reviews"],
    "diagnostics": ["calibration_diagnostics", "check_convergence"],
    "fit": ["fit_calibration"],
    "model": ["DEFAULT_HYPER", "build_model"],
    "plots": ["plot_calibration_files"],
    "settings": ["CalibrationSettings"],
    "simulate": ["SIMULATED_QUALITY_SD", "balanced_pairs", "simulate_reviews"],
    "summary": ["summarise_calibration"],
})
