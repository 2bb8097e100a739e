"""Plots of the calibration summaries: calibrated quality by rank, reviewer leniency against
accuracy, review precision by expertise level."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revmatch.io import PathLike, atomic_path


def _save_figure(fig, path: PathLike) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_calibration(
    submissions_df: pd.DataFrame,
    reviewers_df: pd.DataFrame,
    expertise_df: pd.DataFrame,
    out_png_quality: PathLike,
    out_png_leniency: PathLike,
    out_png_expertise: PathLike,
) -> None:
    """Three PNGs: calibrated quality (mean, 90% interval) and raw mean score by calibrated
    rank; reviewer leniency against accuracy; precision per expertise level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subs = submissions_df.sort_values("rank_calibrated")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    rank = subs["rank_calibrated"].to_numpy()
    mean = subs["quality_mean"].to_numpy()
    ax.vlines(rank, subs["quality_q05"], subs["quality_q95"], color="tab:blue", alpha=0.35, lw=1)
    ax.plot(rank, mean, "o", ms=3, color="tab:blue", label="calibrated quality (mean, 90% interval)")
    ax.plot(rank, subs["raw_mean"], "x", ms=4, color="tab:orange", label="raw mean score")
    ax.set_xlabel("calibrated rank (1 = best)")
    ax.set_ylabel("score level (0 = lowest)")
    ax.set_title(f"Calibrated quality of {len(subs)} submissions")
    ax.legend(loc="upper right", fontsize=8)
    _save_figure(fig, out_png_quality)

    fig, ax = plt.subplots(figsize=(6.5, 5))
    size = 12 * np.sqrt(reviewers_df["n_reviews"].to_numpy(dtype=np.float64))
    ax.scatter(reviewers_df["threshold_shift_mean"], reviewers_df["accuracy_mean"], s=size, alpha=0.5)
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("threshold shift (negative = lenient, positive = strict)")
    ax.set_ylabel("accuracy (posterior mean)")
    ax.set_title(f"Leniency of {len(reviewers_df)} reviewers (size = number of reviews)")
    _save_figure(fig, out_png_leniency)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    labels = [f"{level}\n({count} reviews)" for level, count in zip(
        expertise_df["expertise"], expertise_df["n_reviews"], strict=True)]
    mean, sd = expertise_df["precision_mean"], expertise_df["precision_sd"]
    ax.bar(labels, mean, yerr=sd, capsize=4, color="tab:green")
    ax.set_xlabel("expertise level")
    ax.set_ylabel("precision of a review (mean, sd)")
    ax.set_title("Review precision by expertise")
    _save_figure(fig, out_png_expertise)


def plot_calibration_files(
    submissions_csv: PathLike,
    reviewers_csv: PathLike,
    expertise_csv: PathLike,
    out_png_quality: PathLike,
    out_png_leniency: PathLike,
    out_png_expertise: PathLike,
) -> None:
    """``plot_calibration`` of the summaries written by ``calibrate_reviews_file``."""
    plot_calibration(
        pd.read_csv(submissions_csv, dtype={"submission_id": str}),
        pd.read_csv(reviewers_csv, dtype={"reviewer_id": str}),
        pd.read_csv(expertise_csv),
        out_png_quality,
        out_png_leniency,
        out_png_expertise,
    )
