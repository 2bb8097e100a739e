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
    from revmatch.conference import extract_softconf

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
        quotas_csv=args.quotas,
    )
    print(f"wrote reviewers, submissions, rejects and bids to {out}/")
    return 0


def _cmd_coi(args: argparse.Namespace) -> int:
    from revmatch.conference import coauthor_since, merge_cois_file

    conf = Path(args.conference_dir)
    merge_cois_file(
        conf / "submissions.jsonl",
        conf / "reviewers.jsonl",
        conf / "bids.npy",
        args.papers,
        out_coi_npy=conf / "coi.npy",
        out_reasons_csv=conf / "coi_reasons.csv",
        out_report_txt=conf / "coi_report.txt",
        coauthor_since_year=coauthor_since(
            args.coauthor_since_year, args.coauthor_years, args.conference_year
        ),
        external_csvs=args.external,
        same_email_domain=not args.no_email_domain,
        same_affiliation=not args.no_affiliation,
        public_email_domains=args.public_email_domain,
        out_submission_index=conf / "coi_submissions.txt",
        out_reviewer_index=conf / "coi_reviewers.txt",
    )
    print((conf / "coi_report.txt").read_text(encoding="utf-8"), end="")
    return 0


def _cmd_viability(args: argparse.Namespace) -> int:
    from revmatch.conference import viability_file

    out = args.out
    viability_file(
        args.reviewers,
        args.submissions,
        args.quotas,
        out,
        reviews_per_paper=args.reviews_per_paper,
        max_papers_per_reviewer=args.max_papers_per_reviewer,
        by_track=not args.no_tracks,
        coi_npy=args.coi,
        out_json=args.json,
        ac_max_papers=args.ac_max_papers,
    )
    if args.out:
        print(Path(args.out).read_text(encoding="utf-8"), end="")
    return 0


def _cmd_affinity_run(args: argparse.Namespace) -> int:
    import yaml

    from revmatch.affinity import affinity_job_file

    with open(args.job, encoding="utf-8") as fh:
        job = yaml.safe_load(fh)
    model = {}
    if os.path.isfile(args.config):
        with open(args.config, encoding="utf-8") as fh:
            model = (yaml.safe_load(fh) or {}).get("model") or {}
    members = [name.strip() for name in str((job or {}).get("model", "avg")).split("+")]
    conf = Path(args.conference_dir)
    out = Path(args.out)
    status = affinity_job_file(
        job,
        conf / "reviewers.jsonl",
        conf / "submissions.jsonl",
        args.papers,
        out / "results.json",
        out / "results.csv",
        corpus_embeddings_npy=args.corpus_embeddings,
        submission_embeddings_npy=args.submission_embeddings or conf / "matrices" / "submission_embeddings.npy",
        reject_embeddings_npy=args.reject_embeddings,
        index_npzs=args.indexes or [Path(args.model_dir) / "index" / f"{name}.npz" for name in members],
        avg_model=Path(args.model_dir) / "similarity.pt",
        text_fields=tuple(model.get("text_fields") or ("title", "abstract")),
        sentence_transformers=model.get("sentence_transformers") or {},
        bm25=model.get("bm25") or {},
        device=model.get("gpu", "auto"),
        status_json=out / "status.json",
        name=Path(args.job).stem,
        rejects_jsonl=conf / "rejects.jsonl",
    )
    print(json.dumps(status, indent=2))
    return 0 if status["status"] == "Completed" else 1


def _cmd_affinity_status(args: argparse.Namespace) -> int:
    import yaml

    from revmatch.affinity import job_status

    folder = Path(args.job)
    request: dict | None = {}
    if not (folder / "status.json").is_file():
        conference_dir = args.conference_dir
        if os.path.isfile(args.config):
            with open(args.config, encoding="utf-8") as fh:
                config = yaml.safe_load(fh) or {}
            request = (config.get("affinity_jobs") or {}).get(args.job)
            conference_dir = conference_dir or os.path.join("results", str(config.get("conference", "")))
        if not conference_dir:
            raise FileNotFoundError(f"no {folder / 'status.json'}; give --conference-dir or --config")
        folder = Path(conference_dir) / "affinity" / args.job
    status = job_status(folder / "status.json", args.job, request)
    print(json.dumps(status, indent=2))
    return 1 if status["status"] in ("Data Error", "Error") else 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from revmatch.calibration import calibrate_reviews_file

    out = Path(args.out)
    columns, score_map, expertise_map, hyper = (
        json.loads(text) if text else None
        for text in (args.columns, args.score_map, args.expertise_map, args.hyper)
    )
    try:
        diagnostics = calibrate_reviews_file(
            args.reviews,
            out / "submissions.csv",
            out / "reviewers.csv",
            out / "expertise.csv",
            out / "posterior.nc",
            out / "diagnostics.json",
            columns=columns,
            n_levels=args.levels,
            n_expertise=args.expertise_levels,
            score_map=score_map,
            expertise_map=expertise_map,
            method=args.method,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            seed=args.seed,
            hyper=hyper,
            fail_on_bad_convergence=not args.allow_bad_convergence,
            cores=args.cores,
            advi_iterations=args.advi_iterations,
        )
    except RuntimeError as exc:  # the sampler did not converge: nothing was written
        print(f"revmatch calibrate: error: {exc}", file=sys.stderr)
        return 3
    for problem in diagnostics["problems"]:
        print(f"warning: {problem}", file=sys.stderr)
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
    p.add_argument("--quotas", help="quotas CSV (Username, Quota for Review): sets each reviewer's quota")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("coi", help="merge COIs (bids, authorship, co-authorship, domain, affiliation, files)")
    p.add_argument("--conference-dir", required=True, help="folder written by 'revmatch extract'")
    p.add_argument("--papers", help="corpus papers.parquet (co-authorship COIs; left out without it)")
    p.add_argument("--coauthor-since-year", type=int, help="co-authorship from this year on")
    p.add_argument("--coauthor-years", type=int, help="co-authorship within N years before --conference-year")
    p.add_argument("--conference-year", type=int)
    p.add_argument("--external", action="append", default=[], help="external COI CSV (repeatable)")
    p.add_argument("--no-email-domain", action="store_true", help="no same-email-domain COIs")
    p.add_argument("--public-email-domain", action="append", default=[], help="more mail providers to ignore")
    p.add_argument("--no-affiliation", action="store_true", help="no same-affiliation COIs")
    p.set_defaults(func=_cmd_coi)

    p = sub.add_parser("viability", help="reviewer capacity per track")
    p.add_argument("--reviewers", required=True, help="reviewers.jsonl")
    p.add_argument("--submissions", required=True, help="submissions.jsonl")
    p.add_argument("--quotas", help="quotas CSV (Username, Quota for Review)")
    p.add_argument("--reviews-per-paper", type=int, default=3)
    p.add_argument("--max-papers-per-reviewer", type=int, default=6)
    p.add_argument("--no-tracks", action="store_true", help="one pool for all tracks")
    p.add_argument("--coi", help="coi.npy: count only conflict-free pairs")
    p.add_argument("--ac-max-papers", type=int, default=15, help="papers an area chair can take")
    p.add_argument("--json", help="also write the problems as JSON here")
    p.add_argument("--out", help="also write the report here")
    p.set_defaults(func=_cmd_viability)

    p = sub.add_parser("affinity", help="OpenReview-style affinity jobs: run one, or print a job's status")
    affinity = p.add_subparsers(dest="affinity_command", required=True)
    p = affinity.add_parser("run", help="run one job (YAML job file) on a finished conference run")
    p.add_argument("--job", required=True, help="YAML file with one job (mode, group, ...)")
    p.add_argument("--conference-dir", required=True, help="results/<conference> of a finished run")
    p.add_argument("--papers", default="results/corpus/papers.parquet")
    p.add_argument("--corpus-embeddings", default="results/model/corpus_embeddings.npy",
                   help="model avg: the corpus embeddings")
    p.add_argument("--submission-embeddings",
                   help="model avg: default <conference-dir>/matrices/submission_embeddings.npy")
    p.add_argument("--reject-embeddings",
                   help="model avg: for jobs that score withdrawn or desk-rejected submissions")
    p.add_argument("--model-dir", default="results/model",
                   help="other models: index/<name>.npz per member; similarity.pt when avg is a member")
    p.add_argument("--indexes", nargs="+", help="other models: corpus index files, one per member (in order)")
    p.add_argument("--config", default="config/config.yaml",
                   help="other models: model.text_fields, sentence_transformers, bm25 and gpu are read here")
    p.add_argument("--out", required=True, help="output folder (results.json, results.csv, status.json)")
    p.set_defaults(func=_cmd_affinity_run)
    p = affinity.add_parser("status", help="print a job's status.json (exit 1 on Data Error or Error)")
    p.add_argument("job", help="job name (as in affinity_jobs:) or the job's output folder")
    p.add_argument("--config", default="config/config.yaml", help="config naming the conference and its jobs")
    p.add_argument("--conference-dir", help="default: results/<conference of --config>")
    p.set_defaults(func=_cmd_affinity_status)

    p = sub.add_parser("calibrate", help="calibrate review scores (SIGKDD'09 model)")
    p.add_argument("--reviews", required=True, help="review export CSV")
    p.add_argument("--columns", help='JSON mapping, e.g. {"score": "Overall Recommendation"}')
    p.add_argument("--levels", type=int, default=5, help="number of ordinal score levels")
    p.add_argument("--expertise-levels", type=int, default=3)
    p.add_argument("--score-map", help='JSON mapping raw score -> level 0..L-1 (default: integers, 1 -> 0)')
    p.add_argument("--expertise-map", help='JSON mapping raw expertise -> level 1..E, e.g. {"Expert": 3}')
    p.add_argument("--hyper", help='JSON priors, e.g. {"accuracy_shape": 5.0} (calibration.md)')
    p.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--advi-iterations", type=int, default=10_000)
    p.add_argument("--allow-bad-convergence", action="store_true",
                   help="write the results even when R-hat/ESS/divergences (or the ADVI loss) look bad")
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
