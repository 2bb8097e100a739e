"""The SIGKDD'09 review calibration model: simulation, reading exports, fitting, summaries, files."""

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy.stats import spearmanr

from revmatch._blas import skip_blas_search, user_sets_blas
from revmatch.calibration.calibrate import SAVED_VARIABLES, calibrate_reviews_file, write_posterior
from revmatch.calibration.data import read_reviews, resolve_duplicates
from revmatch.calibration.diagnostics import advi_loss_change, calibration_diagnostics, check_convergence
from revmatch.calibration.fit import choose_sampler, fit_calibration
from revmatch.calibration.model import (
    DEFAULT_HYPER,
    build_model,
    nominal_thresholds,
    ordered_probit_logp,
    thresholds_from_offsets,
)
from revmatch.calibration.plots import plot_calibration, plot_calibration_files
from revmatch.calibration.settings import CalibrationSettings
from revmatch.calibration.simulate import draw_ordered_thresholds, simulate_reviews
from revmatch.calibration.summary import posterior_summary, summarise_calibration
from revmatch.io import InputError

REPO = Path(__file__).resolve().parents[1]
N_SUBMISSIONS, N_REVIEWERS = 80, 40
START_COLUMNS = {
    "submission_id": "Submission ID",
    "reviewer_id": "Reviewer Username",
    "score": "Overall Recommendation",
    "expertise": "Reviewer Expertise",
}


# Reviewers less accurate than the default (mean accuracy 2, not 5): leniency differences
# large enough for calibration to matter; expertise precisions far enough apart for their
# order to show in a few hundred reviews. The fits use the simulation's accuracy prior.
TRUE_PRECISION = (0.7, 1.5, 3.0)
SIMULATION = {"seed": 3, "accuracy_shape": 4.0, "accuracy_rate": 2.0, "expertise_precision": TRUE_PRECISION}
HYPER = {"accuracy_shape": 4.0, "accuracy_rate": 2.0}


@pytest.fixture(scope="module")
def simulated():
    return simulate_reviews(N_SUBMISSIONS, N_REVIEWERS, **SIMULATION)


@pytest.fixture(scope="module")
def fitted(simulated):
    reviews, _ = simulated
    idata = fit_calibration(
        reviews, 5, 3, method="nuts", draws=200, tune=200, chains=2, seed=1, hyper=HYPER, cores=2
    )
    return idata, summarise_calibration(idata, reviews)


def start_export(reviews: pd.DataFrame) -> pd.DataFrame:
    """The START review export of simulated reviews (scores 1..5)."""
    return pd.DataFrame({
        "Submission ID": reviews["submission_id"],
        "Reviewer Username": reviews["reviewer_id"],
        "Overall Recommendation": reviews["score"] + 1,
        "Reviewer Expertise": reviews["expertise"],
        "Comments": "fine",
    })


def no_temp_files(folder) -> bool:
    return not [p for p in folder.rglob("*") if ".tmp" in p.name]


# ------------------------------------------------------------------ simulation


def test_simulation_is_deterministic_and_uses_every_level(simulated):
    reviews, truth = simulated
    again, truth_again = simulate_reviews(N_SUBMISSIONS, N_REVIEWERS, **SIMULATION)
    pd.testing.assert_frame_equal(reviews, again)
    pd.testing.assert_frame_equal(truth["reviewers"], truth_again["reviewers"])
    assert list(reviews.columns) == ["submission_id", "reviewer_id", "score", "expertise"]
    assert set(reviews["score"]) == {0, 1, 2, 3, 4}
    assert set(reviews["expertise"]) == {1, 2, 3}
    counts = reviews["score"].value_counts(normalize=True)
    assert counts[2] > counts[0] and counts[2] > counts[4]  # peaked in the middle, like real reviews
    different, _ = simulate_reviews(N_SUBMISSIONS, N_REVIEWERS, **{**SIMULATION, "seed": 4})
    assert not different["score"].equals(reviews["score"])


def test_simulated_design_is_balanced(simulated):
    reviews, _ = simulated
    per_submission = reviews.groupby("submission_id")["reviewer_id"].agg(["size", "nunique"])
    assert (per_submission["size"] == 3).all() and (per_submission["nunique"] == 3).all()
    loads = reviews["reviewer_id"].value_counts()
    assert len(loads) == N_REVIEWERS and loads.max() - loads.min() <= 1


def test_simulated_truth_frames(simulated):
    _, truth = simulated
    assert tuple(truth["expertise"]["precision"]) == TRUE_PRECISION
    reviewers = truth["reviewers"]
    thresholds = reviewers[["t0", "t1", "t2", "t3"]].to_numpy()
    assert (np.diff(thresholds, axis=1) >= 0).all()
    shift = (thresholds - nominal_thresholds(5)).mean(axis=1)
    np.testing.assert_allclose(reviewers["threshold_shift"], shift)
    assert len(truth["submissions"]) == N_SUBMISSIONS and truth["submissions"]["quality"].std() > 0.5


def test_thresholds_are_drawn_ordered_from_the_models_prior():
    theta0 = nominal_thresholds(5)
    accuracy, thresholds, redrawn = draw_ordered_thresholds(4000, theta0, 2.0, 2.0, np.random.default_rng(0))
    assert thresholds.shape == (4000, 4) and (np.diff(thresholds, axis=1) > 0).all()
    assert redrawn > 1000  # threshold sd about 1 = the nominal gap: many draws come out of order
    # the restriction to ordered thresholds keeps the prior symmetric about theta0 and favours
    # accurate reviewers (mean accuracy above the Gamma(2, 2) mean of 1)
    assert abs((thresholds - theta0).mean()) < 0.03
    assert accuracy.mean() > 1.1


def test_simulation_follows_given_pairs_and_ids():
    pairs = np.array([[0, 0], [0, 1], [1, 1], [2, 0], [2, 2]])
    reviews, truth = simulate_reviews(
        3, 3, seed=0, submission_ids=["10", "11", "12"], reviewer_ids=["ann", "bob", "cy"], pairs=pairs
    )
    assert list(zip(reviews["submission_id"], reviews["reviewer_id"], strict=True)) == [
        ("10", "ann"), ("10", "bob"), ("11", "bob"), ("12", "ann"), ("12", "cy"),
    ]
    assert list(truth["reviewers"]["reviewer_id"]) == ["ann", "bob", "cy"]
    with pytest.raises(ValueError, match="repeat"):
        simulate_reviews(3, 3, pairs=np.array([[0, 0], [0, 0]]))
    with pytest.raises(ValueError, match="outside"):
        simulate_reviews(3, 3, pairs=np.array([[3, 0]]))


# ------------------------------------------------------------------ reading


def write_reviews_csv(path, rows: list[list[str]]) -> None:
    header = ["Submission ID", "Reviewer Username", "Overall Recommendation", "Reviewer Expertise"]
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)


def test_read_reviews_shifts_start_scores_and_keeps_line_numbers(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "5", "3"], ["1", "bob", "1", "1"], ["2", "ann", "3.0", "2"]])
    reviews = read_reviews(path, START_COLUMNS, n_levels=5)
    assert list(reviews["score"]) == [4, 0, 2]
    assert list(reviews["expertise"]) == [3, 1, 2]
    assert list(reviews["submission_id"]) == ["1", "1", "2"]
    assert list(reviews.index) == [2, 3, 4]
    assert reviews.attrs["n_skipped"] == 0


def test_read_reviews_with_maps(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(
        path,
        [["7", "ann", "5: Strong accept", "Expert"], ["7", "bob", "1: Strong reject", "Informed outsider"]],
    )
    score_map = {f"{k + 1}: {label}": k for k, label in enumerate(
        ["Strong reject", "Reject", "Borderline", "Accept", "Strong accept"])}
    expertise_map = {"Informed outsider": 1, "Knowledgeable": 2, "Expert": 3}
    reviews = read_reviews(path, START_COLUMNS, score_map=score_map, expertise_map=expertise_map, n_levels=5)
    assert list(reviews["score"]) == [4, 0]
    assert list(reviews["expertise"]) == [3, 1]


def test_read_reviews_skips_counts_and_logs_empty_scores(tmp_path, caplog):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(
        path, [["1", "ann", "4", "2"], ["1", "bob", "", "2"], ["2", "cy", "2", "1"], ["2", "ann", " ", "3"]]
    )
    with caplog.at_level(logging.WARNING, logger="revmatch.calibration.data"):
        reviews = read_reviews(path, START_COLUMNS, n_levels=5)
    assert len(reviews) == 2 and list(reviews.index) == [2, 4]
    assert reviews.attrs["n_skipped"] == 2
    assert "skipped 2 review(s) with an empty score" in caplog.text


def test_read_reviews_score_outside_scale_names_file_row_and_column(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "bob", "", "2"], ["2", "cy", "6", "1"]])
    with pytest.raises(InputError) as err:
        read_reviews(path, START_COLUMNS, n_levels=5)
    assert err.value.path == str(path)
    assert err.value.row == 4 and err.value.column == "Overall Recommendation"
    assert "outside the scale" in str(err.value)
    write_reviews_csv(path, [["1", "ann", "0", "2"]])
    with pytest.raises(InputError, match="outside the scale") as err:
        read_reviews(path, START_COLUMNS, n_levels=5)
    assert err.value.row == 2


def test_read_reviews_non_numeric_score(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "bob", "accept", "2"]])
    with pytest.raises(InputError, match="not an integer") as err:
        read_reviews(path, START_COLUMNS, n_levels=5)
    assert (err.value.row, err.value.column) == (3, "Overall Recommendation")
    write_reviews_csv(path, [["1", "ann", "3.5", "2"]])
    with pytest.raises(InputError, match="not an integer"):
        read_reviews(path, START_COLUMNS, n_levels=5)


def test_read_reviews_unknown_expertise(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "Expert"], ["1", "bob", "3", "Guru"]])
    with pytest.raises(InputError, match="'Guru' is not in the expertise map") as err:
        read_reviews(path, START_COLUMNS, expertise_map={"Expert": 3, "Knowledgeable": 2}, n_levels=5)
    assert (err.value.row, err.value.column) == (3, "Reviewer Expertise")
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "bob", "3", "0"]])
    with pytest.raises(InputError, match="unknown expertise level") as err:
        read_reviews(path, START_COLUMNS, n_levels=5)
    assert (err.value.row, err.value.column) == (3, "Reviewer Expertise")


def test_read_reviews_missing_column(tmp_path):
    path = tmp_path / "reviews.csv"
    frame = pd.DataFrame(
        {"Submission ID": ["1"], "Reviewer Username": ["ann"], "Overall Recommendation": ["3"]}
    )
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="missing column 'Reviewer Expertise'") as err:
        read_reviews(path, START_COLUMNS)
    assert err.value.column == "Reviewer Expertise" and err.value.path == str(path)


def test_missing_expertise_is_an_error_naming_file_row_and_column(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "bob", "", ""], ["2", "cy", "3", " "]])
    with pytest.raises(InputError, match="missing expertise") as err:
        read_reviews(path, START_COLUMNS, n_levels=5)
    assert (err.value.path, err.value.row, err.value.column) == (str(path), 4, "Reviewer Expertise")
    with pytest.raises(InputError, match="missing expertise"):
        read_reviews(path, START_COLUMNS, expertise_map={"Expert": 3, "Novice": 1}, n_levels=5)


@pytest.mark.parametrize(
    ("rule", "expertise", "counts"),
    [
        ("lowest", [2, 1, 3, 3, 1], {"missing": 1, "filled": 1, "dropped": 0, "fill_level": 1}),
        ("median", [2, 1, 3, 3, 2], {"missing": 1, "filled": 1, "dropped": 0, "fill_level": 2}),
        ("drop", [2, 1, 3, 3], {"missing": 1, "filled": 0, "dropped": 1, "fill_level": None}),
    ],
)
def test_missing_expertise_is_filled_or_dropped_and_counted(tmp_path, rule, expertise, counts):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "bob", "3", "1"], ["2", "ann", "2", "3"],
                             ["3", "cy", "2", "3"], ["3", "dee", "5", ""]])
    reviews = read_reviews(path, START_COLUMNS, n_levels=5, missing_expertise=rule)
    assert list(reviews["expertise"]) == expertise  # median: the lower median of 1, 2, 3, 3
    assert reviews.attrs["missing_expertise"] == {"rule": rule, **counts}
    assert reviews.attrs["reviewers_without_reviews"] == (["dee"] if rule == "drop" else [])


def test_repeated_reviews_that_differ_are_an_error_and_identical_ones_kept_once(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = [["1", "ann", "4", "2"], ["1", "bob", "3", "1"], ["1", "ann", "4", "2"], ["2", "ann", "2", "3"]]
    write_reviews_csv(path, rows)
    reviews = read_reviews(path, START_COLUMNS, n_levels=5)
    assert list(reviews.index) == [2, 3, 5]
    assert reviews.attrs["duplicate_reviews"] == {
        "rule": "error", "pairs": 1, "identical_removed": 1, "conflicting_pairs": 0, "removed": 1
    }
    write_reviews_csv(path, [*rows, ["2", "ann", "2", "1"], ["1", "ann", "5", "2"]])
    message = "submission '2' reviewed again by 'ann' with a different expertise"
    with pytest.raises(InputError, match=message) as err:
        read_reviews(path, START_COLUMNS, n_levels=5)
    assert (err.value.row, err.value.column) == (6, "Reviewer Expertise")
    assert "2 such pair(s)" in str(err.value) and "duplicate_reviews" in str(err.value)
    with pytest.raises(ValueError, match="different score"):
        resolve_duplicates(pd.DataFrame({"submission_id": ["1", "1"], "reviewer_id": ["a", "a"],
                                         "score": [1, 2], "expertise": [1, 1]}))


def test_repeated_reviews_keep_the_last_or_first_by_line_or_timestamp(tmp_path):
    path = tmp_path / "reviews.csv"
    frame = pd.DataFrame(
        [["1", "ann", "2", "2", "2024-05-03 10:00"], ["1", "bob", "3", "1", ""],
         ["1", "ann", "4", "2", "2024-05-01 09:00"], ["1", "ann", "5", "3", "2024-05-02T12:00:00Z"],
         ["2", "ann", "3", "3", "not a time"], ["2", "ann", "3", "3", ""]],
        columns=[*START_COLUMNS.values(), "Last Modified"],
    )
    frame.to_csv(path, index=False)
    expected = {"pairs": 2, "identical_removed": 1, "conflicting_pairs": 1, "removed": 3}

    def kept(rule: str, columns: dict) -> list[int]:
        reviews = read_reviews(path, columns, n_levels=5, duplicate_reviews=rule)
        assert reviews.attrs["duplicate_reviews"] == {"rule": rule, **expected}
        return list(reviews.index)

    # by line: the last of lines 2, 4, 5 is 5, the first 2; the identical repeat (line 7) goes
    assert kept("last", START_COLUMNS) == [3, 5, 6]
    assert kept("first", START_COLUMNS) == [2, 3, 6]
    # by timestamp (only those of repeats that differ are read): 05-03 is the last, 05-01 the first
    with_time = {**START_COLUMNS, "timestamp": "Last Modified"}
    assert kept("last", with_time) == [2, 3, 6]
    assert kept("first", with_time) == [3, 4, 6]
    frame.loc[0, "Last Modified"] = "yesterday"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="timestamp 'yesterday' is not a date and time") as err:
        read_reviews(path, with_time, n_levels=5, duplicate_reviews="last")
    assert (err.value.row, err.value.column) == (2, "Last Modified")


def test_expertise_above_the_configured_levels_is_an_input_error(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "bob", "3", "4"]])
    out = tmp_path / "out"
    with pytest.raises(InputError, match="unknown expertise level 4") as err:
        calibrate_reviews_file(
            path, out / "s.csv", out / "r.csv", out / "e.csv", out / "p.nc", out / "d.json",
            CalibrationSettings(columns=START_COLUMNS, n_levels=5, n_expertise=3),
        )
    assert (err.value.row, err.value.column) == (3, "Reviewer Expertise")
    assert not out.exists()


# ------------------------------------------------------------------ the model


def test_ordered_probit_matches_scipy_and_stays_finite_in_the_tails():
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    n_submissions, n_reviewers, n_reviews = 7, 5, 200
    quality = rng.normal(2.0, 2.0, n_submissions)
    thresholds = np.sort(rng.normal(nominal_thresholds(5), 0.7, (n_reviewers, 4)), axis=1)
    precision = rng.gamma(3.0, 0.5, 3)
    s, j = rng.integers(0, n_submissions, n_reviews), rng.integers(0, n_reviewers, n_reviews)
    e, y = rng.integers(0, 3, n_reviews), rng.integers(0, 5, n_reviews)
    logp = ordered_probit_logp(quality, thresholds, precision, s, j, e, y, 5).eval()
    bounds = np.column_stack([np.full(n_reviewers, -np.inf), thresholds, np.full(n_reviewers, np.inf)])
    sd = 1.0 / np.sqrt(precision[e])
    upper, lower = (bounds[j, y + 1] - quality[s]) / sd, (bounds[j, y] - quality[s]) / sd
    expected = np.log(norm.cdf(upper) - norm.cdf(lower))
    assert logp == pytest.approx(expected.sum(), rel=1e-10)
    # a middle score 40 sd away from the quality, on either side: finite and accurate
    one = np.zeros(1, dtype=np.int64)
    for q, expected in ((40.0, norm.logsf(37.5) + np.log1p(-np.exp(norm.logsf(38.5) - norm.logsf(37.5)))),
                        (-40.0, norm.logsf(41.5) + np.log1p(-np.exp(norm.logsf(42.5) - norm.logsf(41.5))))):
        value = ordered_probit_logp(np.array([q]), nominal_thresholds(5)[None], np.ones(1), one, one, one,
                                    np.array([2]), 5).eval()
        assert value == pytest.approx(expected, rel=1e-9)
    # the lowest and the highest score 40 sd beyond their one threshold, either way
    for q, y, expected in ((40.0, 0, norm.logcdf(0.5 - 40.0)), (-40.0, 0, norm.logcdf(40.5)),
                           (-40.0, 4, norm.logsf(3.5 + 40.0)), (40.0, 4, norm.logsf(3.5 - 40.0))):
        value = ordered_probit_logp(np.array([q]), nominal_thresholds(5)[None], np.ones(1), one, one, one,
                                    np.array([y]), 5).eval()
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_threshold_prior_is_the_specs_normal_restricted_to_order(simulated):
    """The density of (first offset, log gaps) given the accuracy is the spec's
    Normal(theta0, precision a) of the thresholds times the Jacobian of the map to theta."""
    from scipy.stats import norm

    reviews, _ = simulated
    model = build_model(reviews, 5, 3)
    terms = [model["threshold_offset_first"], model["threshold_offset_prior"]]
    logp = model.compile_logp(vars=terms, jacobian=True)
    rng = np.random.default_rng(1)
    point = model.initial_point()
    point["accuracy_log__"] = rng.normal(1.0, 0.5, N_REVIEWERS)
    point["threshold_offset_first"] = rng.normal(0.0, 1.0, N_REVIEWERS)
    point["threshold_log_gap"] = rng.normal(0.5, 0.5, (N_REVIEWERS, 3))
    accuracy = np.exp(point["accuracy_log__"])
    gaps = np.exp(point["threshold_log_gap"]) / np.sqrt(accuracy)[:, None]
    theta0 = nominal_thresholds(5)
    first = theta0[0] + point["threshold_offset_first"] / np.sqrt(accuracy)
    thresholds = np.column_stack([first, first[:, None] + np.cumsum(gaps, axis=1)])
    spec = norm.logpdf(thresholds, theta0, 1.0 / np.sqrt(accuracy)[:, None]).sum()
    # d theta / d (first, log gaps) = (1 / sqrt(a))^4 prod exp(log gaps), per reviewer
    jacobian = (-2.0 * np.log(accuracy) + point["threshold_log_gap"].sum(axis=1)).sum()
    assert logp(point) == pytest.approx(spec + jacobian, rel=1e-10)
    derived = thresholds_from_offsets(
        accuracy, point["threshold_offset_first"], point["threshold_log_gap"], 5
    )
    np.testing.assert_allclose(derived, thresholds, rtol=1e-10)


# ------------------------------------------------------------------ fitting


def test_calibrated_ranks_track_true_quality_at_least_as_well_as_raw_means(simulated, fitted):
    _, truth = simulated
    _, (submissions, _, _) = fitted
    merged = submissions.merge(truth["submissions"], on="submission_id", validate="one_to_one")
    calibrated = spearmanr(merged["quality_mean"], merged["quality"]).statistic
    raw = spearmanr(merged["raw_mean"], merged["quality"]).statistic
    assert calibrated > 0.75
    assert calibrated >= raw - 0.02
    inside = merged["quality"].between(merged["quality_q05"], merged["quality_q95"])
    assert 0.75 <= inside.mean() <= 0.99  # 90% intervals cover about 90% of the true qualities


def test_leniency_and_expertise_are_recovered(simulated, fitted):
    _, truth = simulated
    _, (_, reviewers, expertise) = fitted
    merged = reviewers.merge(truth["reviewers"], on="reviewer_id", validate="one_to_one")
    assert np.corrcoef(merged["threshold_shift_mean"], merged["threshold_shift"])[0, 1] > 0.5
    assert (np.diff(expertise["precision_mean"]) > 0).all()  # recovered in the true order
    assert expertise["precision_mean"].between(0.3, 5.0).all()


def test_summaries_have_the_documented_columns(simulated, fitted):
    reviews, _ = simulated
    _, (submissions, reviewers, expertise) = fitted
    assert list(submissions.columns) == [
        "submission_id", "quality_mean", "quality_sd", "quality_q05", "quality_q95", "raw_mean", "n_reviews",
        "rank_calibrated", "rank_raw", "rank_change",
    ]
    assert {"reviewer_id", "accuracy_mean", "threshold_shift_mean", "n_reviews"} <= set(reviewers.columns)
    assert list(expertise.columns) == ["expertise", "precision_mean", "precision_sd", "n_reviews"]
    assert list(submissions["rank_calibrated"]) == list(range(1, N_SUBMISSIONS + 1))
    assert (submissions["rank_change"] == submissions["rank_raw"] - submissions["rank_calibrated"]).all()
    assert (submissions["quality_q05"] <= submissions["quality_mean"]).all()
    assert (submissions["quality_mean"] <= submissions["quality_q95"]).all()
    for frame in (submissions, reviewers, expertise):
        assert frame["n_reviews"].sum() == len(reviews)
    raw = reviews.groupby("submission_id")["score"].mean()
    np.testing.assert_allclose(submissions["raw_mean"], raw.loc[submissions["submission_id"]].to_numpy())


def test_nuts_diagnostics(fitted):
    idata, _ = fitted
    diag = calibration_diagnostics(idata)
    assert diag["method"] == "nuts" and diag["chains"] == 2 and diag["draws"] == 200
    assert 0.99 < diag["max_rhat"] < 1.2
    assert diag["min_ess_bulk"] > 20
    assert isinstance(diag["divergences"], int)
    thresholds = idata.posterior["thresholds"].to_numpy()
    assert (np.diff(thresholds, axis=-1) > 0).all()


def test_check_convergence_reports_each_problem():
    fine = {"max_rhat": 1.01, "min_ess_bulk": 400.0, "min_ess_tail": 300.0, "divergences": 0}
    assert check_convergence(fine) == []
    bad = {"max_rhat": 1.2, "worst_rhat_variable": "accuracy", "min_ess_bulk": 50.0, "min_ess_tail": 300.0,
           "divergences": 3}
    problems = check_convergence(bad)
    assert len(problems) == 3
    assert any("R-hat" in p and "accuracy" in p for p in problems)
    assert any("bulk ESS" in p for p in problems) and any("3 divergent" in p for p in problems)
    assert check_convergence({"max_rhat": None, "min_ess_bulk": None, "divergences": None}) == []


def test_advi_loss_change():
    assert advi_loss_change(np.linspace(200.0, 100.0, 1000)) > 0.05
    settled = 100.0 + np.random.default_rng(0).normal(0.0, 1.0, 1000)
    assert abs(advi_loss_change(settled)) < 0.005
    assert np.isnan(advi_loss_change(np.ones(5)))
    problems = check_convergence({"advi_final_loss": 100.0, "advi_loss_change": 0.02})
    assert len(problems) == 1 and "still falling" in problems[0]


def test_bad_hyperparameters_are_rejected(simulated):
    reviews, _ = simulated
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        fit_calibration(reviews, 5, 3, hyper={"quality_sd": 1.0})
    with pytest.raises(ValueError, match="must be positive"):
        fit_calibration(reviews, 5, 3, hyper={"accuracy_rate": 0.0})
    assert set(DEFAULT_HYPER) >= {"quality_precision", "expertise_shape", "accuracy_shape"}


# ------------------------------------------------------------------ files


def test_calibrate_reviews_file_fits_advi_and_writes_every_output(tmp_path, simulated):
    reviews, truth = simulated
    export = start_export(reviews).astype(str)
    export.loc[[5, 17], "Overall Recommendation"] = ""
    export.loc[9, "Reviewer Expertise"] = ""  # filled with the median level
    # an identical repeat of review 0 (kept once) and a later review of pair 1 (kept: "last")
    revised = str(int(export.at[1, "Overall Recommendation"]) % 5 + 1)
    later = export.loc[[1]].assign(**{"Overall Recommendation": revised})
    export = pd.concat([export, export.loc[[0]], later], ignore_index=True)
    src = tmp_path / "reviews.csv"
    export.to_csv(src, index=False)
    out = tmp_path / "calibration"
    outputs = [out / "submissions.csv", out / "reviewers.csv", out / "expertise.csv", out / "posterior.nc",
               out / "diagnostics.json"]
    settings = CalibrationSettings(
        columns=START_COLUMNS, n_levels=5, n_expertise=3, method="advi", draws=300, seed=2, hyper=HYPER,
        advi_iterations=3000, missing_expertise="median", duplicate_reviews="last",
    )
    returned = calibrate_reviews_file(src, *outputs, settings)
    assert all(p.stat().st_size > 0 for p in outputs)
    assert no_temp_files(tmp_path)
    diagnostics = json.loads(outputs[4].read_text())
    assert diagnostics == json.loads(json.dumps(returned))
    assert diagnostics["method"] == "advi" and diagnostics["max_rhat"] is None
    assert diagnostics["problems"] == [] and np.isfinite(diagnostics["advi_final_loss"])
    assert 2000 <= diagnostics["advi_iterations"] <= 3000
    assert diagnostics["skipped_empty_scores"] == 2 and diagnostics["reviews"] == len(reviews) - 2
    assert diagnostics["reviewers_without_reviews"] == [] and diagnostics["submissions_without_reviews"] == []
    assert diagnostics["missing_expertise"] == {"rule": "median", "missing": 1, "filled": 1, "dropped": 0,
                                                "fill_level": 2}
    assert diagnostics["duplicate_reviews"] == {"rule": "last", "pairs": 2, "identical_removed": 1,
                                                "conflicting_pairs": 1, "removed": 2}
    submissions = pd.read_csv(outputs[0], dtype={"submission_id": str})
    assert len(submissions) == N_SUBMISSIONS and submissions["n_reviews"].sum() == len(reviews) - 2
    merged = submissions.merge(truth["submissions"], on="submission_id", validate="one_to_one")
    assert spearmanr(merged["quality_mean"], merged["quality"]).statistic > 0.75
    # posterior.nc: the summary by default, agreeing with submissions.csv
    assert diagnostics["posterior_file"] == {"save_posterior": "summary", "bytes": outputs[3].stat().st_size}
    with xr.open_dataset(outputs[3], engine="h5netcdf") as summary:
        assert set(summary.data_vars) == set(SAVED_VARIABLES)
        assert list(summary["stat"].to_numpy()) == ["mean", "sd", "q05", "q95"]  # ADVI: no R-hat, ESS
        assert (summary.attrs["method"], summary.attrs["chains"], summary.attrs["draws"]) == ("advi", 1, 300)
        assert json.loads(summary.attrs["diagnostics"])["duplicate_reviews"]["removed"] == 2
        quality = summary["quality"].to_pandas().T.loc[submissions["submission_id"]]
        np.testing.assert_allclose(quality[["mean", "q05", "q95"]].to_numpy(),
                                   submissions[["quality_mean", "quality_q05", "quality_q95"]].to_numpy())

    plots = [out / "plots" / "quality.png", out / "plots" / "leniency.png", out / "plots" / "expertise.png"]
    plot_calibration_files(*outputs[:3], *plots)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
    assert no_temp_files(tmp_path)


def test_posterior_file_is_a_summary_by_default_and_every_draw_on_request(tmp_path, simulated, fitted):
    reviews, _ = simulated
    idata, (submissions, reviewers, _) = fitted
    summary_size = write_posterior(idata, tmp_path / "summary.nc", "summary", {"method": "nuts"})
    full_size = write_posterior(idata, tmp_path / "full.nc", "full", {})
    assert summary_size == (tmp_path / "summary.nc").stat().st_size and full_size > 10 * summary_size
    assert no_temp_files(tmp_path)
    with xr.open_dataset(tmp_path / "summary.nc", engine="h5netcdf") as summary:
        assert list(summary["stat"].to_numpy()) == ["mean", "sd", "q05", "q95", "r_hat", "ess_bulk"]
        assert summary["thresholds"].dims == ("stat", "reviewer", "threshold")
        accuracy = summary["accuracy"].to_pandas().T.loc[reviewers["reviewer_id"]]
        np.testing.assert_allclose(accuracy["mean"], reviewers["accuracy_mean"])
        assert (summary["quality"].sel(stat="r_hat") < 1.2).all()
        assert (summary["quality"].sel(stat="ess_bulk") > 20).all()
        sd = summary["quality"].to_pandas().T.loc[submissions["submission_id"], "sd"]
        np.testing.assert_allclose(sd, submissions["quality_sd"])
    full = az.from_netcdf(tmp_path / "full.nc")
    assert set(full.posterior.data_vars) == set(SAVED_VARIABLES)
    assert (full.posterior.sizes["chain"], full.posterior.sizes["draw"]) == (2, 200)
    assert full.observed_data["score"].size == len(reviews)
    one_chain = posterior_summary(idata.sel(chain=[0]), ["quality"])
    assert np.isnan(one_chain["quality"].sel(stat="r_hat")).all() and one_chain.attrs["chains"] == 1


def test_bad_convergence_fails_loudly_and_writes_nothing(tmp_path, simulated):
    reviews, _ = simulated
    src = tmp_path / "reviews.csv"
    start_export(reviews).to_csv(src, index=False)
    out = tmp_path / "calibration"
    with pytest.raises(RuntimeError, match="did not converge.*ADVI loss still falling"):
        calibrate_reviews_file(
            src, out / "s.csv", out / "r.csv", out / "e.csv", out / "p.nc", out / "d.json",
            CalibrationSettings(columns=START_COLUMNS, method="advi", draws=20, advi_iterations=100, seed=3),
        )
    assert not out.exists()


def test_reviewers_and_submissions_without_scored_reviews_are_reported(tmp_path, caplog):
    path = tmp_path / "reviews.csv"
    write_reviews_csv(path, [["1", "ann", "4", "2"], ["1", "zed", "", "2"], ["9", "ann", "", "1"],
                             ["2", "bob", "3", "3"]])
    with caplog.at_level(logging.WARNING, logger="revmatch.calibration.data"):
        reviews = read_reviews(path, START_COLUMNS, n_levels=5)
    assert reviews.attrs["reviewers_without_reviews"] == ["zed"]
    assert reviews.attrs["submissions_without_reviews"] == ["9"]
    assert "1 reviewer(s) with no scored review" in caplog.text and "zed" in caplog.text
    assert "1 submission(s) with no scored review" in caplog.text


def test_plot_calibration_from_frames(tmp_path, fitted):
    _, (submissions, reviewers, expertise) = fitted
    plots = [tmp_path / "q.png", tmp_path / "l.png", tmp_path / "e.png"]
    plot_calibration(submissions, reviewers, expertise, *plots)
    assert all(p.stat().st_size > 1000 for p in plots)
    assert no_temp_files(tmp_path)


def test_cli_calibrate_with_maps(tmp_path, simulated):
    from revmatch.cli import main

    reviews, _ = simulated
    export = start_export(reviews)
    labels = {1: "Outsider", 2: "Knowledgeable", 3: "Expert"}
    export["Reviewer Expertise"] = export["Reviewer Expertise"].map(labels)
    export = export.rename(columns={"Overall Recommendation": "Recommendation"})
    src = tmp_path / "reviews.csv"
    export.to_csv(src, index=False)
    out = tmp_path / "out"
    code = main([
        "calibrate", "--reviews", str(src), "--columns", json.dumps({"score": "Recommendation"}),
        "--expertise-map", json.dumps({"Outsider": 1, "Knowledgeable": 2, "Expert": 3}),
        "--hyper", json.dumps({"accuracy_shape": 4.0}), "--method", "advi", "--advi-iterations", "200",
        "--draws", "20", "--no-fail-on-bad-convergence", "--out", str(out),
    ])
    assert code == 0
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert diagnostics["hyper"]["accuracy_shape"] == 4.0 and diagnostics["reviews"] == len(reviews)
    expertise = pd.read_csv(out / "expertise.csv")
    assert list(expertise["n_reviews"]) == list(reviews["expertise"].value_counts().sort_index())
    again = tmp_path / "again"
    assert main(["calibrate", "--reviews", str(src), "--columns", json.dumps({"score": "Recommendation"}),
                 "--expertise-map", json.dumps({"Outsider": 1, "Knowledgeable": 2, "Expert": 3}),
                 "--method", "advi", "--advi-iterations", "100", "--seed", "3", "--out", str(again)]) == 3
    assert not again.exists()


def test_sampler_choice_by_size_and_setting():
    assert choose_sampler("pymc", 10**6) == "pymc"
    assert choose_sampler("auto", 1800) == "pymc"  # nutpie's compilation would dominate
    assert choose_sampler("auto", 50_000) == "nutpie"
    assert choose_sampler("nutpie", 10) == "nutpie"
    with pytest.raises(ValueError, match="sampler"):
        choose_sampler("stan", 10)


def test_nutpie_and_pymc_samplers_agree(simulated, fitted):
    reviews, _ = simulated
    pytest.importorskip("nutpie")
    idata = fit_calibration(
        reviews, 5, 3, method="nuts", draws=200, tune=200, chains=2, seed=1, hyper=HYPER, cores=2,
        sampler="nutpie",
    )
    assert idata.posterior.attrs["sampler"] == "nutpie" and fitted[0].posterior.attrs["sampler"] == "pymc"
    quality = idata.posterior["quality"].mean(("chain", "draw")).to_numpy()
    reference = fitted[0].posterior["quality"].mean(("chain", "draw")).to_numpy()
    assert np.corrcoef(quality, reference)[0, 1] > 0.97
    assert np.abs(quality - reference).max() < 0.5


# ------------------------------------------------------------------ settings


def validated_config(config: dict) -> dict:
    """``config`` as the rules see it: validated, the schema's defaults filled in."""
    from snakemake.utils import validate

    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_settings_from_the_demo_config():
    config = validated_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    settings = CalibrationSettings.from_config(config)
    assert (settings.draws, settings.tune, settings.chains, settings.seed) == (500, 300, 2, 1)
    assert (settings.method, settings.sampler) == ("nuts", "auto")
    assert (settings.min_ess, settings.max_rhat) == (50, 1.05)
    assert settings.columns == {**START_COLUMNS, "timestamp": None}
    assert settings.hyper["accuracy_shape"] == 5.0
    # the rule's params: every key of the section but the input file, nothing else
    section = config["calibration"]
    assert settings.as_params() == {key: value for key, value in section.items() if key != "reviews"}


def test_settings_of_a_minimal_section_take_the_schemas_defaults():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["calibration"] = {"reviews": "reviews.csv"}
    settings = CalibrationSettings.from_config(validated_config(config))
    assert (settings.draws, settings.tune, settings.seed, settings.min_ess) == (1000, 1000, 1, 100)
    assert settings.score_map is None and settings.fail_on_bad_convergence is True
    assert settings.columns == {**START_COLUMNS, "timestamp": None}
    assert (settings.missing_expertise, settings.duplicate_reviews) == ("error", "error")
    assert settings.save_posterior == "summary"


def test_settings_round_trip_through_params():
    settings = CalibrationSettings(
        columns=START_COLUMNS, expertise_map={"Expert": 3}, method="advi", sampler="pymc", draws=20,
        hyper={"accuracy_rate": 2.0},
    )
    params = settings.as_params()
    assert all(value is None or isinstance(value, (dict, str, int, float)) for value in params.values())
    assert CalibrationSettings.from_params(params) == settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.draws = 5


def test_settings_refuse_a_bad_method_sampler_or_prior():
    with pytest.raises(ValueError, match="method must be 'nuts' or 'advi', got 'mcmc'"):
        CalibrationSettings(method="mcmc")
    with pytest.raises(ValueError, match="sampler must be one of"):
        CalibrationSettings(sampler="stan")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        CalibrationSettings(hyper={"quality_sd": 1.0})
    with pytest.raises(ValueError, match="accuracy_rate must be positive"):
        CalibrationSettings(hyper={"accuracy_rate": 0.0})
    with pytest.raises(ValueError, match="duplicate_reviews must be one of"):
        CalibrationSettings(duplicate_reviews="mean")
    with pytest.raises(ValueError, match="missing_expertise must be one of"):
        CalibrationSettings(missing_expertise="guess")
    with pytest.raises(ValueError, match="save_posterior must be one of"):
        CalibrationSettings(save_posterior="draws")


# ------------------------------------------------------------------ numeric backend


def test_a_blas_set_by_the_user_is_left_alone(tmp_path):
    rc = tmp_path / "pytensorrc"
    unset = {"PYTENSORRC": str(tmp_path / "none")}
    assert not user_sets_blas(unset)
    assert user_sets_blas({**unset, "PYTENSOR_FLAGS": 'floatX=float64,blas__ldflags="-L/opt/x -lopenblas"'})
    rc.write_text("[blas]\nldflags = -lopenblas\n")
    assert user_sets_blas({"PYTENSORRC": str(rc)})
    env = {**unset, "PYTENSOR_FLAGS": "floatX=float64"}
    assert skip_blas_search(env) is ("pytensor" not in sys.modules)  # too late once pytensor is imported


def test_the_model_has_no_blas_operation_and_pytensor_is_not_sent_looking_for_one(tmp_path):
    """A fresh process: importing the calibration package sets blas__ldflags empty before
    pytensor is imported (no search, no warning); the compiled log density and gradient have
    no operation a BLAS would run (the reason, measured in benchmarks/calibration_blas.py)."""
    code = """
import json, warnings
warnings.simplefilter("error", UserWarning)
from revmatch.calibration.model import build_model
from revmatch.calibration.simulate import simulate_reviews
import pytensor
reviews, _ = simulate_reviews(12, 6, seed=0)
model = build_model(reviews, 5, 3)
functions = (model.compile_logp(), model.compile_dlogp())
ops = [type(node.op).__name__ for f in functions for node in f.f.maker.fgraph.apply_nodes]
print(json.dumps({"ldflags": pytensor.config.blas__ldflags, "ops": sorted(set(ops))}))
"""
    env = {key: value for key, value in os.environ.items() if key != "PYTENSOR_FLAGS"}
    env.update(PYTENSORRC=str(tmp_path / "none"), PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["ldflags"] == ""
    assert "AdvancedIncSubtensor1" in found["ops"]  # the gradient's graph was inspected
    assert [op for op in found["ops"] if any(name in op for name in ("Dot", "Gemm", "Gemv", "Ger"))] == []
