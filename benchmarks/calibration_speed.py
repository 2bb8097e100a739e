"""Speed and parameter recovery of the review calibration model on simulated conferences.

    .venv/bin/python benchmarks/calibration_speed.py --size kdd09 --method nuts    # NUTS, KDD'09 size
    .venv/bin/python benchmarks/calibration_speed.py --size neurips --method advi  # ADVI, NeurIPS size
    .venv/bin/python benchmarks/calibration_speed.py --size kdd09 --method nuts --out kdd09.json

Sizes: ``kdd09`` = 600 submissions x 3 reviews by 200 reviewers (1,800 reviews);
``neurips`` = 13,000 submissions, 50,000 reviews (3 or 4 a submission) by 10,000 reviewers.
Reviews are drawn from the model itself (``simulate_reviews``) with 3 expertise levels of
true precision 1.3, 1.5, 1.6 and reviewer accuracy ``Gamma(4, 2)`` (mean 2: threshold sd
about 0.7 of a rating level, so leniency matters). Prints and optionally writes (JSON) the
fit time (and nutpie's compilation time), the convergence diagnostics, the Spearman
correlation of the posterior mean quality and of the raw mean score with the true quality,
the coverage of the 90% intervals, and the recovered expertise precisions. Reported, not
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from revmatch.calibration import (
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
}
SIMULATION = {"accuracy_shape": 4.0, "accuracy_rate": 2.0}


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
    return {
        "spearman_calibrated": float(spearmanr(merged["quality_mean"], merged["quality"]).statistic),
        "spearman_raw_mean": float(spearmanr(merged["raw_mean"], merged["quality"]).statistic),
        "coverage_90": float(inside.mean()),
        "leniency_correlation": float(
            np.corrcoef(lenient["threshold_shift_mean"], lenient["threshold_shift"])[0, 1]
        ),
        "expertise_precision_true": truth["expertise"]["precision"].round(3).tolist(),
        "expertise_precision_mean": expertise["precision_mean"].round(3).tolist(),
        "expertise_precision_sd": expertise["precision_sd"].round(3).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="kdd09")
    parser.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--advi-iterations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the figures here (JSON)")
    args = parser.parse_args()

    start = time.perf_counter()
    reviews, truth = simulate(args.size, args.seed)
    simulate_seconds = time.perf_counter() - start
    start = time.perf_counter()
    idata = fit_calibration(
        reviews, 5, 3, method=args.method, draws=args.draws, tune=args.tune, chains=args.chains,
        seed=args.seed + 1, cores=args.cores, advi_iterations=args.advi_iterations,
    )
    total_seconds = time.perf_counter() - start
    diagnostics = calibration_diagnostics(idata)
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
        "load_average_1min": os.getloadavg()[0],
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
