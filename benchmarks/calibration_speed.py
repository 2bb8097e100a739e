"""Speed and parameter recovery of the review calibration model on simulated conferences.

    .venv/bin/python benchmarks/calibration_speed.py --size kdd09 --method nuts    # NUTS, KDD'09 size
    .venv/bin/python benchmarks/calibration_speed.py --size mid --sampler nutpie   # 9,000 reviews, nutpie
    .venv/bin/python benchmarks/calibration_speed.py --size neurips --method advi  # ADVI, NeurIPS size
    .venv/bin/python benchmarks/calibration_speed.py --size kdd09 --method nuts --out kdd09.json

Sizes: ``kdd09`` = 600 submissions x 3 reviews by 200 reviewers (1,800 reviews);
``neurips`` = 13,000 submissions, 50,000 reviews (3 or 4 a submission) by 10,000 reviewers.
``mid`` = 3,000 submissions x 3 reviews by 1,000 reviewers (9,000 reviews: where nutpie wins).
Reviews are drawn from the model itself (``simulate_reviews``: ordered thresholds drawn as the
model's prior does) with 3 expertise levels of true precision 1.3, 1.5, 1.6 and reviewer
accuracy ``Gamma(4, 4)`` (mean 1: thresholds spread by about one rating level, the gap
between thresholds, so leniency matters; 9 reviews a reviewer at KDD'09 size). With
``--priors matched`` the fit uses the simulation's accuracy prior and quality
precision (a well-specified recovery test); ``--priors default`` (the default) uses
``DEFAULT_HYPER``, the priors the product runs with.
Prints and optionally writes (JSON) the fit time (and nutpie's compilation time), the CPU
seconds of the process, the 1-minute load average before and after, the convergence
diagnostics, the Spearman correlation of the posterior mean quality and of the raw mean
score with the true quality (with a paired bootstrap 90% interval of their difference),
the coverage of the 90% intervals, and the recovered expertise precisions. Reported, not
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from revmatch.calibration import (
    DEFAULT_HYPER,
    SIMULATED_QUALITY_SD,
    balanced_pairs,
    calibration_diagnostics,
    check_convergence,
    fit_calibration,
    simulate_reviews,
    summarise_calibration,
)

SIZES = {
    # submissions, reviewers, reviews per submission, total reviews
    "kdd09": (600, 200, 3, 1800),
    "neurips": (13_000, 10_000, 4, 50_000),
    "small": (120, 60, 3, 360),
    "mid": (3000, 1000, 3, 9000),
}
SIMULATION = {"accuracy_shape": 4.0, "accuracy_rate": 4.0}
PRIORS = {
    "matched": {**SIMULATION, "quality_precision": 1.0 / SIMULATED_QUALITY_SD**2},
    "default": {},
}
BOOTSTRAP_SAMPLES = 1000


def simulate(size: str, seed: int) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Reviews and truth of a named size; the first ``total`` (submission, reviewer) pairs of
    a balanced design, so some submissions of the NeurIPS size have 3 reviews, most 4."""
    n_submissions, n_reviewers, per_submission, total = SIZES[size]
    pairs = balanced_pairs(n_submissions, n_reviewers, per_submission, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    keep = np.sort(rng.permutation(len(pairs))[:total]) if total < len(pairs) else np.arange(len(pairs))
    return simulate_reviews(n_submissions, n_reviewers, seed=seed, pairs=pairs[keep], **SIMULATION)


def recovery(reviews: pd.DataFrame, truth: dict[str, pd.DataFrame], idata) -> dict:
    """Spearman of calibrated and raw means with the true quality, 90% coverage, precisions."""
    submissions, reviewers, expertise = summarise_calibration(idata, reviews)
    merged = submissions.merge(truth["submissions"], on="submission_id", validate="one_to_one")
    inside = (merged["quality"] >= merged["quality_q05"]) & (merged["quality"] <= merged["quality_q95"])
    lenient = reviewers.merge(truth["reviewers"], on="reviewer_id", validate="one_to_one")
    true_thresholds = truth["reviewers"][["t0", "t1", "t2", "t3"]].to_numpy()
    return {
        "spearman_calibrated": float(spearmanr(merged["quality_mean"], merged["quality"]).statistic),
        "spearman_raw_mean": float(spearmanr(merged["raw_mean"], merged["quality"]).statistic),
        "spearman_difference_90": spearman_difference_interval(merged),
        "true_threshold_shift_sd": float(truth["reviewers"]["threshold_shift"].std()),
        "true_threshold_gap_mean": float(np.diff(true_thresholds, axis=1).mean()),
        "coverage_90": float(inside.mean()),
        "leniency_correlation": float(
            np.corrcoef(lenient["threshold_shift_mean"], lenient["threshold_shift"])[0, 1]
        ),
        "expertise_precision_true": truth["expertise"]["precision"].round(3).tolist(),
        "expertise_precision_mean": expertise["precision_mean"].round(3).tolist(),
        "expertise_precision_sd": expertise["precision_sd"].round(3).tolist(),
    }


def spearman_difference_interval(merged: pd.DataFrame, seed: int = 0) -> list[float]:
    """5% and 95% quantiles of Spearman(calibrated) - Spearman(raw mean) with the true quality
    over ``BOOTSTRAP_SAMPLES`` resamples of the submissions (paired)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(merged), size=(BOOTSTRAP_SAMPLES, len(merged)))
    ranks = merged[["quality_mean", "raw_mean", "quality"]].rank().to_numpy()
    differences = []
    for sample in rows:
        r = ranks[sample]
        corr = np.corrcoef(r, rowvar=False)
        differences.append(corr[0, 2] - corr[1, 2])
    return np.quantile(differences, [0.05, 0.95]).round(4).tolist()


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (nutpie's sampler threads included) and of
    its finished children (PyMC's chain processes)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="kdd09")
    parser.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--sampler", choices=["auto", "nutpie", "pymc"], default="auto",
                        help="NUTS implementation (auto: PyMC's below 4,000 reviews, nutpie above)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--advi-iterations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--priors", choices=sorted(PRIORS), default="default")
    parser.add_argument("--out", help="also write the figures here (JSON)")
    args = parser.parse_args()

    start = time.perf_counter()
    reviews, truth = simulate(args.size, args.seed)
    simulate_seconds = time.perf_counter() - start
    hyper = PRIORS[args.priors]
    load_before = os.getloadavg()[0]
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    idata = fit_calibration(
        reviews, 5, 3, method=args.method, draws=args.draws, tune=args.tune, chains=args.chains,
        seed=args.seed + 1, hyper=hyper, cores=args.cores, advi_iterations=args.advi_iterations,
        sampler=args.sampler,
    )
    total_seconds = time.perf_counter() - start
    fit_cpu_seconds = cpu_seconds() - cpu_start
    diagnostics = calibration_diagnostics(idata)
    if "sample_stats" in idata.groups() and "n_steps" in idata.sample_stats:
        diagnostics["mean_leapfrog_steps"] = float(idata.sample_stats["n_steps"].mean())
    figures = {
        "size": args.size,
        "submissions": int(reviews["submission_id"].nunique()),
        "reviewers": int(reviews["reviewer_id"].nunique()),
        "reviews": int(len(reviews)),
        "method": args.method,
        "sampler": diagnostics["sampler"],
        "draws": args.draws,
        "tune": args.tune if args.method == "nuts" else None,
        "chains": args.chains if args.method == "nuts" else 1,
        "advi_iterations": args.advi_iterations if args.method == "advi" else None,
        "simulate_seconds": round(simulate_seconds, 2),
        "compile_seconds": idata.posterior.attrs.get("compile_seconds"),
        "fit_seconds": round(total_seconds, 2),
        "fit_cpu_seconds": round(fit_cpu_seconds, 2),
        "priors": {**DEFAULT_HYPER, **hyper},
        "load_average_1min_before": load_before,
        "load_average_1min_after": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "diagnostics": diagnostics,
        "problems": check_convergence(diagnostics),
        **recovery(reviews, truth, idata),
    }
    text = json.dumps(figures, indent=2, default=float)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
