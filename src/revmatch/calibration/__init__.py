"""The calibration stage: the SIGKDD'09 Bayesian model of review scores in PyMC (reviewer
leniency and accuracy, submission quality), its diagnostics and plots.

Importing the package first tells PyTensor not to look for a BLAS (``revmatch._blas``): the
model has no BLAS operation, and the search costs a second and a warning on pip installs."""

from revmatch._blas import skip_blas_search
from revmatch._lazy import attach

skip_blas_search()

__all__, __getattr__, __dir__ = attach(__name__, {
    "calibrate": ["calibrate_reviews_file"],
    "data": ["read_reviews", "resolve_duplicates"],
    "diagnostics": ["calibration_diagnostics", "check_convergence"],
    "fit": ["fit_calibration"],
    "model": ["DEFAULT_HYPER", "build_model"],
    "plots": ["plot_calibration_files"],
    "settings": ["CalibrationSettings"],
    "simulate": ["SIMULATED_QUALITY_SD", "balanced_pairs", "simulate_reviews"],
    "summary": ["posterior_summary", "summarise_calibration"],
})
