"""Variational calibration (issue 19): the centred parametrisation ADVI fits, how close ADVI
comes to NUTS on a small conference, and the refusal of the reviewer report for a method not
shown to match NUTS."""

import numpy as np
import pytest
from scipy.stats import norm, spearmanr

from revmatch.calibration.fit import (
    REVIEWER_REPORT_METHODS,
    ReviewerReportRefused,
    check_reviewer_report,
    fit_calibration,
)
from revmatch.calibration.model import add_threshold_draws, build_model, nominal_thresholds
from revmatch.calibration.simulate import simulate_reviews
from revmatch.calibration.summary import summarise_calibration

N_SUBMISSIONS, N_REVIEWERS = 60, 30
SIMULATION = {"seed": 5, "accuracy_shape": 4.0, "accuracy_rate": 2.0, "expertise_precision": (0.7, 1.5, 3.0)}
HYPER = {"accuracy_shape": 4.0, "accuracy_rate": 2.0}


@pytest.fixture(scope="module")
def simulated():
    return simulate_reviews(N_SUBMISSIONS, N_REVIEWERS, **SIMULATION)


def test_reviewer_report_is_refused_for_methods_not_shown_to_match_nuts(monkeypatch):
    from revmatch.calibration import fit

    assert REVIEWER_REPORT_METHODS == ("nuts", "advi")
    check_reviewer_report("nuts")
    check_reviewer_report("advi")
    with pytest.raises(ValueError, match="got 'mcmc'"):
        check_reviewer_report("mcmc")
    monkeypatch.setattr(fit, "REVIEWER_REPORT_METHODS", ("nuts",))
    refused = "method 'advi' cannot write the reviewer report.*0.05 Spearman"
    with pytest.raises(ReviewerReportRefused, match=refused):
        check_reviewer_report("advi")


def test_centred_threshold_prior_is_the_specs_normal_restricted_to_order(simulated):
    """Centred: the density of (first threshold, log gaps) given the accuracy is the spec's
    Normal(theta0, precision a) of the thresholds times the Jacobian prod(exp(log gaps))."""
    reviews, _ = simulated
    model = build_model(reviews, 5, 3, parametrisation="centred")
    logp = model.compile_logp(vars=[model["threshold_first"], model["threshold_prior"]], jacobian=True)
    rng = np.random.default_rng(2)
    point = model.initial_point()
    point["accuracy_log__"] = rng.normal(1.0, 0.5, N_REVIEWERS)
    point["threshold_first"] = rng.normal(0.5, 0.5, N_REVIEWERS)
    point["threshold_log_gap"] = rng.normal(0.0, 0.5, (N_REVIEWERS, 3))
    accuracy = np.exp(point["accuracy_log__"])
    first = point["threshold_first"]
    gaps = np.exp(point["threshold_log_gap"])
    thresholds = np.column_stack([first, first[:, None] + np.cumsum(gaps, axis=1)])
    spec = norm.logpdf(thresholds, nominal_thresholds(5), 1.0 / np.sqrt(accuracy)[:, None]).sum()
    assert logp(point) == pytest.approx(spec + point["threshold_log_gap"].sum(), rel=1e-10)
    with pytest.raises(ValueError, match="parametrisation must be one of"):
        build_model(reviews, 5, 3, parametrisation="funnel")


def test_centred_draws_give_thresholds_and_shift(simulated):
    import arviz as az

    first = np.array([[[0.2, 0.6]]])
    log_gap = np.log(np.array([[[[1.0, 1.0, 2.0], [0.5, 1.0, 1.0]]]]))
    idata = az.from_dict(posterior={"threshold_first": first, "threshold_log_gap": log_gap,
                                    "accuracy": np.ones((1, 1, 2))})
    add_threshold_draws(idata, 5)
    np.testing.assert_allclose(idata.posterior["thresholds"].to_numpy()[0, 0], [[0.2, 1.2, 2.2, 4.2],
                                                                               [0.6, 1.1, 2.1, 3.1]])
    np.testing.assert_allclose(idata.posterior["threshold_shift"].to_numpy()[0, 0],
                               [1.95 - 2.0, 1.725 - 2.0])


def test_advi_recovers_quality_and_leniency_as_nuts_does(simulated):
    """On a small conference ADVI (centred, refined) ranks submission quality as NUTS does
    (Spearman >= 0.95) and within 0.05 of NUTS against the truth, and reviewer leniency
    close to NUTS's ranking."""
    reviews, truth = simulated
    nuts = fit_calibration(reviews, 5, 3, method="nuts", draws=200, tune=200, chains=2, seed=1, hyper=HYPER,
                           sampler="pymc")
    advi = fit_calibration(reviews, 5, 3, method="advi", draws=300, seed=1, hyper=HYPER, advi_iterations=3000)
    (nuts_s, nuts_r, _), (advi_s, advi_r, _) = (summarise_calibration(i, reviews) for i in (nuts, advi))
    true_quality = truth["submissions"].set_index("submission_id")["quality"]

    def quality_spearman(frame, reference):
        joined = frame.set_index("submission_id")["quality_mean"].to_frame().join(reference.rename("ref"))
        return spearmanr(joined["quality_mean"], joined["ref"]).statistic

    assert quality_spearman(advi_s, nuts_s.set_index("submission_id")["quality_mean"]) >= 0.95
    assert quality_spearman(advi_s, true_quality) >= quality_spearman(nuts_s, true_quality) - 0.05
    assert advi.posterior.attrs["parametrisation"] == "centred"
    assert advi.posterior.attrs["advi_refine_iterations"] == 600  # a fifth of the 3,000 steps
    leniency, reference = (r.set_index("reviewer_id")["threshold_shift_mean"] for r in (advi_r, nuts_r))
    true_shift = truth["reviewers"].set_index("reviewer_id")["threshold_shift"]

    def shift_spearman(values, other):
        values, other = values.align(other, join="inner")
        return spearmanr(values, other).statistic

    assert shift_spearman(leniency, reference) >= 0.85  # 0.95 measured
    assert shift_spearman(leniency, true_shift) >= shift_spearman(reference, true_shift) - 0.05
