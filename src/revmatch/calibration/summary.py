"""Posterior summaries of a calibration fit per submission (calibrated quality and rank),
reviewer (accuracy, leniency) and expertise level (precision), and the summary of every
saved variable that ``posterior.nc`` holds by default in place of the draws."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# What posterior.nc holds: the summary of each saved variable (``posterior_summary``; some MB
# at any size) or every draw (``full``: 581 MB for an ADVI fit of 70,000 reviews).
SAVE_POSTERIOR = ("summary", "full")
# The statistics of ``posterior_summary`` (r_hat and ess_bulk for NUTS only); q05 and q95
# bound the 90% interval of submissions.csv.
SUMMARY_STATS = ("mean", "sd", "q05", "q95")


def _draws(idata, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as (samples, ...) over chains and draws."""
    values = idata.posterior[name].to_numpy()
    return values.reshape(-1, *values.shape[2:])


def _rank_descending(values: np.ndarray) -> np.ndarray:
    """1 = highest; ties share the best rank."""
    return pd.Series(values).rank(ascending=False, method="min").to_numpy(dtype=np.int64)


def summarise_calibration(idata, reviews: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Posterior summaries per submission, reviewer and expertise level.

    ``submissions`` (sorted by calibrated rank, 1 = best): quality mean, sd, 5% and 95%
    quantiles, raw mean score, number of reviews, calibrated and raw ranks and
    ``rank_change = rank_raw - rank_calibrated`` (positive = moved up). ``reviewers``:
    accuracy and threshold shift (leniency: negative = lenient) means and sds, raw mean score,
    number of reviews. ``expertise``: precision mean and sd, number of reviews, for every level.
    """
    posterior = idata.posterior
    submission_ids = posterior["submission"].to_numpy().astype(str)
    reviewer_ids = posterior["reviewer"].to_numpy().astype(str)
    levels = posterior["expertise"].to_numpy().astype(np.int64)
    reviews = reviews.assign(
        submission_id=reviews["submission_id"].astype(str), reviewer_id=reviews["reviewer_id"].astype(str)
    )

    quality = _draws(idata, "quality")
    by_submission = reviews.groupby("submission_id")["score"].agg(["mean", "size"]).reindex(submission_ids)
    submissions = pd.DataFrame({
        "submission_id": submission_ids,
        "quality_mean": quality.mean(axis=0),
        "quality_sd": quality.std(axis=0, ddof=1) if len(quality) > 1 else np.zeros(quality.shape[1]),
        "quality_q05": np.quantile(quality, 0.05, axis=0),
        "quality_q95": np.quantile(quality, 0.95, axis=0),
        "raw_mean": by_submission["mean"].to_numpy(),
        "n_reviews": by_submission["size"].to_numpy(dtype=np.int64),
    })
    submissions["rank_calibrated"] = _rank_descending(submissions["quality_mean"].to_numpy())
    submissions["rank_raw"] = _rank_descending(submissions["raw_mean"].to_numpy())
    submissions["rank_change"] = submissions["rank_raw"] - submissions["rank_calibrated"]
    submissions = submissions.sort_values("rank_calibrated", kind="stable").reset_index(drop=True)

    accuracy = _draws(idata, "accuracy")
    shift = _draws(idata, "threshold_shift")
    by_reviewer = reviews.groupby("reviewer_id")["score"].agg(["mean", "size"]).reindex(reviewer_ids)
    reviewers = pd.DataFrame({
        "reviewer_id": reviewer_ids,
        "accuracy_mean": accuracy.mean(axis=0),
        "accuracy_sd": accuracy.std(axis=0),
        "threshold_shift_mean": shift.mean(axis=0),
        "threshold_shift_sd": shift.std(axis=0),
        "raw_mean": by_reviewer["mean"].to_numpy(),
        "n_reviews": by_reviewer["size"].to_numpy(dtype=np.int64),
    })

    precision = _draws(idata, "expertise_precision")
    counts = reviews["expertise"].value_counts().reindex(levels, fill_value=0)
    expertise = pd.DataFrame({
        "expertise": levels,
        "precision_mean": precision.mean(axis=0),
        "precision_sd": precision.std(axis=0),
        "n_reviews": counts.to_numpy(dtype=np.int64),
    })
    return submissions, reviewers, expertise


def _netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` that netCDF can hold (numbers, text, booleans as 0/1; None and the rest left out)."""
    return {key: int(value) if isinstance(value, (bool, np.bool_)) else value for key, value in attrs.items()
            if isinstance(value, (str, int, float, np.number, np.bool_))}


def _stats(draws: np.ndarray) -> np.ndarray:
    """Mean, sd, 5% and 95% quantiles over the first axis of ``draws`` (``SUMMARY_STATS``)."""
    sd = draws.std(axis=0, ddof=1) if len(draws) > 1 else np.zeros(draws.shape[1:])
    return np.stack([draws.mean(axis=0), sd, *np.quantile(draws, [0.05, 0.95], axis=0)])


def posterior_summary(idata, variables: Sequence[str], diagnostics: Mapping[str, Any] | None = None):
    """An ``xarray.Dataset`` with, for each of ``variables`` in the posterior, its mean, sd,
    5% and 95% quantiles over all draws along a ``stat`` dimension (and, for NUTS, the
    rank-normalised split R-hat, NaN for one chain, and the bulk ESS); the posterior's
    attributes, the number of chains and draws, and ``diagnostics`` as JSON (attribute
    ``diagnostics``)."""
    import arviz as az
    import xarray as xr

    posterior = idata.posterior
    names = [name for name in variables if name in posterior]
    nuts = posterior.attrs.get("method", "nuts") == "nuts"
    stats = [*SUMMARY_STATS, *(("r_hat", "ess_bulk") if nuts else ())]
    if nuts:
        rhat = az.rhat(posterior[names]) if posterior.sizes["chain"] > 1 else None
        ess = az.ess(posterior[names], method="bulk")
    summary = xr.Dataset(coords={"stat": stats})
    for name in names:
        values = posterior[name]
        rows = [_stats(values.to_numpy().reshape(-1, *values.shape[2:]))]
        if nuts:
            shape = (1, *values.shape[2:])
            rows += [rhat[name].to_numpy()[None] if rhat is not None else np.full(shape, np.nan),
                     ess[name].to_numpy()[None]]
        dims = values.dims[2:]
        summary[name] = xr.DataArray(
            np.concatenate(rows), dims=("stat", *dims), coords={dim: values[dim].to_numpy() for dim in dims}
        )
    summary.attrs = {
        **_netcdf_attrs(posterior.attrs),
        "content": "posterior summary (calibration.save_posterior: summary)",
        "chains": int(posterior.sizes["chain"]), "draws": int(posterior.sizes["draw"]),
        "diagnostics": json.dumps(dict(diagnostics or {}), default=str),
    }
    return summary
