"""The ``revmatch`` command: the steps chairs run by hand, outside the workflow.

The workflow (``snakemake``) runs the whole season; these subcommands run one step on
files a chair already has, with the same library functions the rules call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from revmatch import __version__
from revmatch.io import InputError
from revmatch.log import setup_logging


def _cmd_run(args: argparse.Namespace) -> int:
    """Run the workflow (snakemake) from the current folder."""
    cmd = [sys.executable, "-m", "snakemake", *args.snakemake_args]
    return subprocess.call(cmd)


def _cmd_extract(args: argparse.Namespace) -> int:
    from revmatch.softconf import extract_softconf

    out = Path(args.out)
    extract_softconf(
        args.profiles,
        args.submissions,
        args.bids,
        out_reviewers=out / "reviewers.jsonl",
        out_submissions=out / "submissions.jsonl",
        out_rejects=out / "rejects.jsonl",
        out_bids_npy=out / "bids.npy",
        out_non_reviewers=out / "non_reviewers.jsonl",
        out_multi_track_csv=out / "multi_track_reviewers.csv",
        out_report_json=out / "extraction_report.json",
    )
    print(f"wrote reviewers, submissions, rejects and bids to {out}/")
    return 0


def _cmd_viability(args: argparse.Namespace) -> int:
    from revmatch.viability import viability_file

    out = args.out
    viability_file(
        args.reviewers,
        args.submissions,
        args.quotas,
        out,
        reviews_per_paper=args.reviews_per_paper,
        max_papers_per_reviewer=args.max_papers_per_reviewer,
        by_track=not args.no_tracks,
    )
    if args.out:
        print(Path(args.out).read_text(encoding="utf-8"), end="")
    return 0


def _cmd_affinity(args: argparse.Namespace) -> int:
    import yaml

    from revmatch.affinity import affinity_job_file

    with open(args.job, encoding="utf-8") as fh:
        job = yaml.safe_load(fh)
    conf = Path(args.conference_dir)
    out = Path(args.out)
    affinity_job_file(
        job,
        conf / "reviewers.jsonl",
        conf / "submissions.jsonl",
        args.papers,
        args.corpus_embeddings,
        conf / "matrices" / "submission_embeddings.npy",
        out / "results.json",
        out / "results.csv",
    )
    print(f"wrote {out / 'results.json'} and {out / 'results.csv'}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from revmatch.calibration import calibrate_reviews_file

    out = Path(args.out)
    columns = json.loads(args.columns) if args.columns else None
    calibrate_reviews_file(
        args.reviews,
        out / "submissions.csv",
        out / "reviewers.csv",
        out / "expertise.csv",
        out / "posterior.nc",
        out / "diagnostics.json",
        columns=columns,
        n_levels=args.levels,
        n_expertise=args.expertise_levels,
        method=args.method,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
    )
    print(f"wrote calibrated scores to {out}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revmatch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"revmatch {__version__}")
    parser.add_argument("--log", help="log file (default: stderr)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the workflow (arguments go to snakemake)")
    p.add_argument("snakemake_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("extract", help="START/SoftConf exports -> reviewers, submissions, bids")
    p.add_argument("--profiles", required=True, help="Profile_Information.csv")
    p.add_argument("--submissions", required=True, help="Submission_Information.csv")
    p.add_argument("--bids", help="START bids matrix CSV")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("viability", help="reviewer capacity per track")
    p.add_argument("--reviewers", required=True, help="reviewers.jsonl")
    p.add_argument("--submissions", required=True, help="submissions.jsonl")
    p.add_argument("--quotas", help="quotas CSV (Username, Quota for Review)")
    p.add_argument("--reviews-per-paper", type=int, default=3)
    p.add_argument("--max-papers-per-reviewer", type=int, default=6)
    p.add_argument("--no-tracks", action="store_true", help="one pool for all tracks")
    p.add_argument("--out", help="also write the report here")
    p.set_defaults(func=_cmd_viability)

    p = sub.add_parser("affinity", help="an OpenReview-style affinity job (YAML job file)")
    p.add_argument("--job", required=True, help="YAML file with one job (mode, group, ...)")
    p.add_argument("--conference-dir", required=True, help="results/<conference> of a finished run")
    p.add_argument("--papers", default="results/corpus/papers.parquet")
    p.add_argument("--corpus-embeddings", default="results/model/corpus_embeddings.npy")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_cmd_affinity)

    p = sub.add_parser("calibrate", help="calibrate review scores (SIGKDD'09 model)")
    p.add_argument("--reviews", required=True, help="review export CSV")
    p.add_argument("--columns", help='JSON mapping, e.g. {"score": "Overall Recommendation"}')
    p.add_argument("--levels", type=int, default=5, help="number of ordinal score levels")
    p.add_argument("--expertise-levels", type=int, default=3)
    p.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_cmd_calibrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        setup_logging(args.log)
    try:
        return args.func(args)
    except (InputError, FileNotFoundError, ValueError) as exc:
        print(f"revmatch {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
