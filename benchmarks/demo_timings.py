"""Print the wall time and peak memory of every job of a finished workflow run."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def collect_benchmarks(folder: Path) -> pd.DataFrame:
    """One row per Snakemake benchmark file under ``folder``: job, seconds, max RSS (MB)."""
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "job": str(path.relative_to(folder).with_suffix("")),
                "seconds": float(frame["s"].iloc[-1]),
                "max_rss_mb": float(pd.to_numeric(frame["max_rss"], errors="coerce").iloc[-1]),
            }
        )
    return pd.DataFrame(rows, columns=["job", "seconds", "max_rss_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", default="results/benchmarks", type=Path)
    args = parser.parse_args()
    table = collect_benchmarks(args.folder).sort_values("seconds", ascending=False)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(f"total job time: {table['seconds'].sum():.1f} s")


if __name__ == "__main__":
    main()
