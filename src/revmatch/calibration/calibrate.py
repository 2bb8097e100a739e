"""The calibrate_reviews step: read a review export, fit the model, check convergence and
write the summaries, the posterior (its summary by default, every draw on request) and the
diagnostics."""

from __future__ import annotations

import logging

from revmatch.calibration.data import check_levels, read_reviews
from revmatch.calibration.diagnostics import calibration_diagnostics, check_convergence
from revmatch.calibration.fit import check_reviewer_report, fit_calibration
from revmatch.calibration.model import resolve_hyper
from revmatch.calibration.settings import CalibrationSettings
from revmatch.calibration.summary import posterior_summary, summarise_calibration
from revmatch.io import InputError, PathLike, atomic_path, write_csv, write_json

logger = logging.getLogger(__name__)

# Posterior variables written to the netCDF file (summarised, or every draw); the sampler's
# unconstrained coordinates (``*_log__``, offsets) and the warm-up draws stay in memory only.
SAVED_VARIABLES = ("quality", "expertise_precision", "accuracy", "threshold_shift", "thresholds")


def _portable(idata):
    """``idata`` with the ``SAVED_VARIABLES`` of the posterior, its sample stats and data."""
    posterior = idata.posterior[[name for name in SAVED_VARIABLES if name in idata.posterior]]
    groups = {"posterior": posterior}
    for group in ("sample_stats", "observed_data"):
        if group in idata.groups():
            groups[group] = idata[group]
    return type(idata)(**groups)


def write_posterior(idata, path: PathLike, save: str, diagnostics: dict) -> int:
    """Write ``posterior.nc`` atomically: the ``posterior_summary`` of ``SAVED_VARIABLES``
    (``save="summary"``) or their draws with the sample stats and the observed data
    (``"full"``, ``arviz.InferenceData``); return its size in bytes."""
    with atomic_path(path, suffix=".nc") as tmp:
        if save == "full":
            _portable(idata).to_netcdf(str(tmp))
        else:
            posterior_summary(idata, SAVED_VARIABLES, diagnostics).to_netcdf(tmp, engine="h5netcdf")
        size = tmp.stat().st_size
    return int(size)


def _input_counts(reviews) -> dict:
    """What reading the reviews skipped, filled, dropped or merged (``read_reviews``'s attrs)."""
    return {
        "skipped_empty_scores": int(reviews.attrs.get("n_skipped", 0)),
        "missing_expertise": dict(reviews.attrs.get("missing_expertise", {})),
        "duplicate_reviews": dict(reviews.attrs.get("duplicate_reviews", {})),
        "reviewers_without_reviews": list(reviews.attrs.get("reviewers_without_reviews", [])),
        "submissions_without_reviews": list(reviews.attrs.get("submissions_without_reviews", [])),
    }


def calibrate_reviews_file(
    reviews_csv: PathLike,
    out_submissions_csv: PathLike,
    out_reviewers_csv: PathLike,
    out_expertise_csv: PathLike,
    out_idata_nc: PathLike,
    out_diagnostics_json: PathLike,
    settings: CalibrationSettings,
    cores: int = 1,
) -> dict:
    """Read a review export, fit the model with ``settings`` on ``cores`` cores, write the
    three summaries (CSV), the posterior (netCDF: ``write_posterior`` with
    ``save_posterior``) and the diagnostics (JSON), all atomically; return the diagnostics.

    Convergence problems (``check_convergence`` with ``max_rhat`` and ``min_ess``) are
    logged and listed in the diagnostics; with ``fail_on_bad_convergence`` (the default)
    they raise ``RuntimeError`` before anything is written. Reviewers and submissions with no
    scored review are listed in the diagnostics, with the counts of reviews skipped (no
    score), filled or dropped (no expertise, ``missing_expertise``) and repeated
    (``duplicate_reviews``).
    """
    s = settings
    check_reviewer_report(s.method)  # before any work: a method not shown to rank reviewers as NUTS does
    reviews = read_reviews(
        reviews_csv, s.columns or {}, s.score_map, s.expertise_map, s.n_levels,
        duplicate_reviews=s.duplicate_reviews, missing_expertise=s.missing_expertise,
    )
    check_levels(reviews, s.n_levels, s.n_expertise, path=reviews_csv, columns=s.columns)
    if reviews.empty:
        raise InputError(reviews_csv, "no reviews with a score")
    idata = fit_calibration(
        reviews, s.n_levels, s.n_expertise, method=s.method, draws=s.draws, tune=s.tune, chains=s.chains,
        seed=s.seed, hyper=s.hyper, cores=cores, advi_iterations=s.advi_iterations, sampler=s.sampler,
    )
    diagnostics = calibration_diagnostics(idata)
    problems = check_convergence(diagnostics, max_rhat=s.max_rhat, min_ess=s.min_ess)
    for problem in problems:
        logger.warning("convergence: %s", problem)
    if problems and s.fail_on_bad_convergence:
        remedy = "more tune/draws" if s.method == "nuts" else "more advi_iterations, or method nuts"
        raise RuntimeError(
            f"calibration did not converge ({'; '.join(problems)}); diagnostics: {diagnostics}. "
            f"Try {remedy}, or set fail_on_bad_convergence to false to write the results anyway"
        )
    submissions, reviewers, expertise = summarise_calibration(idata, reviews)
    diagnostics.update({
        "problems": problems,
        "reviews": int(len(reviews)),
        **_input_counts(reviews),
        "submissions": int(len(submissions)),
        "reviewers": int(len(reviewers)),
        "n_levels": int(s.n_levels),
        "n_expertise": int(s.n_expertise),
        "tune": int(s.tune),
        "seed": int(s.seed),
        "hyper": resolve_hyper(s.hyper, s.n_levels),
    })
    write_csv(submissions, out_submissions_csv)
    write_csv(reviewers, out_reviewers_csv)
    write_csv(expertise, out_expertise_csv)
    size = write_posterior(idata, out_idata_nc, s.save_posterior, diagnostics)
    diagnostics["posterior_file"] = {"save_posterior": s.save_posterior, "bytes": size}
    write_json(diagnostics, out_diagnostics_json)
    return diagnostics
