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
    """Run the workflow (snakemake) from the current folder; --resume: after a killed run."""
    if args.resume:
        from revmatch.resume import resume

        return resume(args.snakemake_args)
    cmd = [sys.executable, "-m", "snakemake", *args.snakemake_args]
    return subprocess.call(cmd)


def _split_run(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``revmatch [--log FILE] run [--resume] ARGS``: (what argparse reads, ARGS for snakemake as
    they are); None when the command is not ``run`` (argparse's REMAINDER would take ARGS only
    from the first one that is not an option)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] == "--log" else 1
    if i >= len(argv) or argv[i] != "run" or argv[i + 1:i + 2] in (["-h"], ["--help"]):
        return argv, None
    rest = argv[i + 1:]
    return argv[:i + 1] + ["--resume"] * ("--resume" in rest), [a for a in rest if a != "--resume"]


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
        external_csvs=args.files,
        same_email_domain=args.same_email_domain,
        same_affiliation=args.same_affiliation,
        public_email_domains=args.public_email_domains,
        out_submission_index=conf / "coi_submissions.txt",
        out_reviewer_index=conf / "coi_reviewers.txt",
    )
    print((conf / "coi_report.txt").read_text(encoding="utf-8"), end="")
    return 0


def _cmd_viability(args: argparse.Namespace) -> int:
    from revmatch.conference import viability_file

    out = Path(args.out)
    viability_file(
        args.reviewers,
        args.submissions,
        args.quotas,
        out / "viability.txt",
        reviews_per_paper=args.reviews_per_paper,
        max_papers_per_reviewer=args.max_papers_per_reviewer,
        by_track=args.by_track,
        coi_npy=args.coi,
        out_json=out / "viability.json",
        ac_max_papers=args.ac_max_papers,
        ac_papers_per_submission=args.ac_papers_per_submission,
    )
    print((out / "viability.txt").read_text(encoding="utf-8"), end="")
    return 0


def _cmd_affinity_run(args: argparse.Namespace) -> int:
    import yaml

    from revmatch.affinity import ScorerSettings, affinity_job_file, check_job, is_openreview_config, resolve_job
    from revmatch.model import parse_spec

    with open(args.job, encoding="utf-8") as fh:
        job = yaml.safe_load(fh)
    model = {}
    if os.path.isfile(args.config):
        with open(args.config, encoding="utf-8") as fh:
            model = (yaml.safe_load(fh) or {}).get("model") or {}
    default_model = model.get("matching_model") if isinstance(job, dict) and is_openreview_config(job) else None
    try:
        members = parse_spec(check_job(resolve_job(job, args.venue_id, args.archives_dir, default_model)[0])["model"])
    except (ValueError, TypeError):  # a bad job: affinity_job_file writes its Data Error status
        members = []
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
        submission_embeddings_npy=(args.submission_embeddings
                                   or conf / "matrices" / "submission_embeddings.npy"),
        reject_embeddings_npy=args.reject_embeddings,
        index_npzs=args.indexes or [Path(args.model_dir) / "index" / f"{name}.npz" for name in members],
        avg_model=Path(args.model_dir) / "similarity.pt",
        scorer_settings=ScorerSettings(
            text_fields=tuple(model.get("text_fields") or ("title", "abstract")),
            sentence_transformers=model.get("sentence_transformers") or {},
            bm25=model.get("bm25") or {},
            device=model.get("gpu", "auto"),
        ),
        status_json=out / "status.json",
        name=Path(args.job).stem,
        rejects_jsonl=conf / "rejects.jsonl",
        archives_dir=args.archives_dir,
        default_model=default_model,
        venue_id=args.venue_id,
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
    from revmatch.calibration import CalibrationSettings, calibrate_reviews_file

    out = Path(args.out)
    columns, score_map, expertise_map, hyper = (
        json.loads(text) if text else None
        for text in (args.columns, args.score_map, args.expertise_map, args.hyper)
    )
    settings = CalibrationSettings(
        columns=columns,
        n_levels=args.n_levels,
        n_expertise=args.n_expertise,
        score_map=score_map,
        expertise_map=expertise_map,
        method=args.method,
        sampler=args.sampler,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        hyper=hyper,
        fail_on_bad_convergence=args.fail_on_bad_convergence,
        max_rhat=args.max_rhat,
        min_ess=args.min_ess,
        advi_iterations=args.advi_iterations,
        duplicate_reviews=args.duplicate_reviews,
        missing_expertise=args.missing_expertise,
        save_posterior=args.save_posterior,
    )
    try:
        diagnostics = calibrate_reviews_file(
            args.reviews,
            out / "submissions.csv",
            out / "reviewers.csv",
            out / "expertise.csv",
            out / "posterior.nc",
            out / "diagnostics.json",
            settings,
            cores=args.cores,
        )
    except RuntimeError as exc:  # the sampler did not converge: nothing was written
        print(f"revmatch calibrate: error: {exc}", file=sys.stderr)
        return 3
    for problem in diagnostics["problems"]:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"wrote calibrated scores to {out}/")
    return 0


#: Options that name files, folders or the OpenReview venue rather than config keys (the others are the config keys
#: they set, under the section in brackets in their help, with the schema's defaults).
PATH_OPTIONS = {"out", "conference_dir", "papers", "reviewers", "submissions", "coi", "job", "config", "log",
                "cores",
                "corpus_embeddings", "submission_embeddings", "reject_embeddings", "model_dir", "indexes",
                "archives_dir", "venue_id"}
#: ``revmatch run``'s own option (every other argument is snakemake's)
RUN_OPTIONS = {"resume"}
SERVICE_OPTIONS = {"state_dir", "default_model", "host", "port", "token_file",
                   "run_jobs", "log_level"}
#: ``revmatch match`` keeps openreview-matcher's own option names (its files, as its users have them)
MATCHER_OPTIONS = {
    "scores", "weights", "scores_specification", "constraints", "max_papers", "custom_user_demand",
    "min_papers_default", "max_papers_default", "num_reviewers", "num_alternates", "allow_zero_score_assignments",
    "user_group", "user_group_file", "probability_limits", "perturbation", "bad_match_thresholds", "solver",
    "attribute_constraints", "seed", "mip_rel_gap", "time_limit",
}


def _cmd_match(args: argparse.Namespace) -> int:
    from revmatch.matching.openreview_matcher import match_from_args
    from revmatch.matching.problem import InfeasibleAssignment

    try:
        summary = match_from_args(args)
    except InfeasibleAssignment as exc:  # summary.json holds status "No Solution"
        print(f"revmatch match: no solution: {exc.message}", file=sys.stderr)
        return 3
    print(f"wrote assignments.json, alternates.json and summary.json to {args.out}/ (total aggregate score "
          f"{summary['total_aggregate_score']:.6g}, proven gap {summary['proven_gap']})")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import yaml

    from revmatch.affinity import ScorerSettings
    from revmatch.service import serve

    model = {}
    if os.path.isfile(args.config):
        with open(args.config, encoding="utf-8") as fh:
            model = (yaml.safe_load(fh) or {}).get("model") or {}
    token = os.environ.get("REVMATCH_SERVICE_TOKEN") or None
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip() or None
    serve(
        host=args.host, port=args.port, log_level=args.log_level,
        conference_dir=args.conference_dir, model_dir=args.model_dir, papers=args.papers,
        venue_id=args.venue_id, state_dir=args.state_dir, token=token,
        corpus_embeddings=args.corpus_embeddings, submission_embeddings=args.submission_embeddings,
        reject_embeddings=args.reject_embeddings, archives_dir=args.archives_dir,
        default_model=args.default_model or model.get("matching_model"),
        scorer_settings=ScorerSettings(
            text_fields=tuple(model.get("text_fields") or ("title", "abstract")),
            sentence_transformers=model.get("sentence_transformers") or {},
            bm25=model.get("bm25") or {},
            device=model.get("gpu", "auto"),
        ),
        run_jobs=args.run_jobs,
    )
    return 0


def _command(sub, name: str, summary: str, description: str, func) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=summary, description=description,
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revmatch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"revmatch {__version__}")
    parser.add_argument("--log", help="log file (default: stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    flag = argparse.BooleanOptionalAction

    p = _command(sub, "run", "run the workflow (arguments go to snakemake)",
                 "Run the whole workflow with snakemake from the current folder; every argument is "
                 "snakemake's "
                 "(e.g. revmatch run --cores 2 --configfile my-conference.yaml). After a killed run, "
                 "'revmatch run --resume ARGS' removes its stale locks when no Snakemake process (and no "
                 "SLURM job) is alive in the folder, then runs snakemake --rerun-incomplete ARGS.", _cmd_run)
    p.add_argument("--resume", action="store_true",
                   help="after a killed run: unlock (only when no run is alive in this folder, else exit 3) "
                        "and rerun the incomplete jobs")
    p.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="arguments for snakemake")

    p = _command(sub, "extract", "START/SoftConf exports -> reviewers, submissions, bids",
                 "Read START's exports (columns found by header name) and write reviewers.jsonl, "
                 "submissions.jsonl, rejects.jsonl, bids.npy and the extraction report to --out "
                 "(the rule extract_softconf).", _cmd_extract)
    p.add_argument("--profiles", required=True, help="[softconf] START Profile_Information.csv")
    p.add_argument("--submissions", required=True, help="[softconf] START Submission_Information.csv")
    p.add_argument("--bids", help="[softconf] START bids matrix (codes 1-4); none: every pair Maybe")
    p.add_argument("--quotas", help="[softconf] CSV with Username, Quota for Review")
    p.add_argument("--out", required=True, help="output folder")

    p = _command(sub, "coi", "merge COIs (bids, authorship, co-authorship, domain, affiliation, files)",
                 "Merge the conflicts of interest of a folder written by 'revmatch extract' and write "
                 "coi.npy, "
                 "coi_reasons.csv and coi_report.txt into it (the rule merge_cois).", _cmd_coi)
    p.add_argument("--conference-dir", required=True, help="folder written by 'revmatch extract'")
    p.add_argument("--papers", help="corpus papers.parquet (co-authorship COIs; none without it)")
    p.add_argument("--coauthor-since-year", type=int,
                   help="[coi] corpus co-authorship since this year is a COI")
    p.add_argument("--coauthor-years", type=int,
                   help="[coi] co-authorship within this many years before --conference-year")
    p.add_argument("--conference-year", type=int, help="[coi] year of the conference")
    p.add_argument("--same-email-domain", action=flag, default=True,
                   help="[coi] an author's e-mail domain equal to the reviewer's is a COI")
    p.add_argument("--public-email-domains", action="append", default=[],
                   help="[coi] another mail-provider domain to leave out (repeatable)")
    p.add_argument("--same-affiliation", action=flag, default=True, help="[coi] same affiliation is a COI")
    p.add_argument("--files", action="append", default=[], help="[coi] an external COI CSV file (repeatable)")

    p = _command(sub, "viability", "reviewer capacity per track",
                 "Check that every track can be staffed: papers, reviewers, area chairs, capacity available "
                 "and "
                 "needed; write viability.txt and viability.json to --out and print the report "
                 "(the rule check_viability).", _cmd_viability)
    p.add_argument("--reviewers", required=True, help="reviewers.jsonl")
    p.add_argument("--submissions", required=True, help="submissions.jsonl")
    p.add_argument("--quotas", help="[softconf] CSV with Username, Quota for Review")
    p.add_argument("--coi", help="coi.npy: count only conflict-free pairs")
    p.add_argument("--reviews-per-paper", type=int, default=3, help="[matching] reviews each paper needs")
    p.add_argument("--max-papers-per-reviewer", type=int, default=6,
                   help="[matching] most papers a reviewer takes (a quota replaces it)")
    p.add_argument("--by-track", action=flag, default=True,
                   help="[matching] reviewers review in their tracks (--no-by-track: one pool)")
    p.add_argument("--ac-max-papers", type=int, default=15, help="[viability] papers an area chair can take")
    p.add_argument("--ac-papers-per-submission", type=int, default=1,
                   help="[viability] area chairs per paper")
    p.add_argument("--out", required=True, help="output folder")

    p = _command(sub, "affinity", "OpenReview-style affinity jobs: run one, or print a job's status",
                 "Affinity jobs in the shape of OpenReview's Expertise API (the rule affinity_job).", None)
    affinity = p.add_subparsers(dest="affinity_command", required=True, metavar="command")
    p = _command(affinity, "run", "run one job (YAML job file) on a finished conference run",
                 "Run one affinity job (a YAML file with one entry of affinity_jobs:) on a finished "
                 "conference "
                 "run; write results.json, results.csv and status.json to --out; exit 1 unless Completed.",
                 _cmd_affinity_run)
    p.add_argument("--job", required=True,
                   help="YAML or JSON file: the project's job, or an OpenReview expertise config as it is")
    p.add_argument("--archives-dir",
                   help="folder of OpenReview archives (<member id>.jsonl), read instead of the corpus")
    p.add_argument("--venue-id", help="OpenReview configs: the venue id their ids must name")
    p.add_argument("--conference-dir", required=True, help="results/<conference> of a finished run")
    p.add_argument("--papers", default="results/corpus/papers.parquet", help="corpus papers.parquet")
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
    p.add_argument("--out", required=True, help="output folder")
    p = _command(affinity, "status", "print a job's status.json (exit 1 on Data Error or Error)",
                 "Print the status of an affinity job of the workflow or of 'revmatch affinity run'.",
                 _cmd_affinity_status)
    p.add_argument("job", help="job name (as in affinity_jobs:) or the job's output folder")
    p.add_argument("--config", default="config/config.yaml", help="config naming the conference and its jobs")
    p.add_argument("--conference-dir", help="default: results/<conference of --config>")

    p = _command(sub, "calibrate", "calibrate review scores (SIGKDD'09 model)",
                 "Fit the SIGKDD'09 model of review scores to a review export and write submissions.csv, "
                 "reviewers.csv, expertise.csv, posterior.nc and diagnostics.json to --out "
                 "(the rule calibrate_reviews); exit 3 when the sampler did not converge.", _cmd_calibrate)
    p.add_argument("--reviews", required=True, help="[calibration] review export CSV")
    p.add_argument("--columns",
                   help='[calibration] JSON: column names, e.g. {"score": "Overall Recommendation"}')
    p.add_argument("--n-levels", type=int, default=5, help="[calibration] ordinal score levels")
    p.add_argument("--n-expertise", type=int, default=3, help="[calibration] expertise levels")
    p.add_argument("--score-map",
                   help="[calibration] JSON: raw score -> level 0..n_levels-1 (none: integers, 1 -> 0)")
    p.add_argument("--expertise-map",
                   help='[calibration] JSON: raw expertise -> level 1..n_expertise, e.g. {"Expert": 3}')
    p.add_argument("--hyper", help='[calibration] JSON priors, e.g. {"accuracy_shape": 5.0}')
    p.add_argument("--method", choices=["nuts", "advi"], default="nuts",
                   help="[calibration] advi for very large conferences")
    p.add_argument("--sampler", choices=["auto", "pymc", "nutpie"], default="auto",
                   help="[calibration] NUTS implementation; auto = PyMC's below 4,000 reviews, nutpie above")
    p.add_argument("--draws", type=int, default=1000, help="[calibration] draws a chain")
    p.add_argument("--tune", type=int, default=1000, help="[calibration] tuning steps a chain")
    p.add_argument("--chains", type=int, default=2, help="[calibration] chains")
    p.add_argument("--seed", type=int, default=1, help="[calibration] random seed")
    p.add_argument("--advi-iterations", type=int, default=10_000, help="[calibration] ADVI iterations")
    p.add_argument("--fail-on-bad-convergence", action=flag, default=True,
                   help="[calibration] stop when R-hat, ESS or divergences (or the ADVI loss) look bad")
    p.add_argument("--max-rhat", type=float, default=1.05, help="[calibration] largest R-hat accepted")
    p.add_argument("--min-ess", type=float, default=100, help="[calibration] smallest bulk ESS accepted")
    p.add_argument("--duplicate-reviews", choices=["error", "last", "first"], default="error",
                   help="[calibration] repeated (reviewer, submission) reviews that disagree: stop, or keep one")
    p.add_argument("--missing-expertise", choices=["error", "lowest", "median", "drop"], default="error",
                   help="[calibration] a review without expertise: stop, fill a level, or drop the review")
    p.add_argument("--save-posterior", choices=["summary", "full"], default="summary",
                   help="[calibration] posterior.nc: summaries, or every draw")
    p.add_argument("--cores", type=int, default=2, help="CPU cores for the chains")
    p.add_argument("--out", required=True, help="output folder")

    from revmatch.matching.matcher_inputs import add_matcher_arguments

    p = _command(sub, "match", "OpenReview matcher files -> assignments.json, alternates.json (exact)",
                 "Solve openreview-matcher's input files (its options: --scores, --weights, --constraints, "
                 "--max_papers, ...) exactly with HiGHS and write assignments.json, alternates.json and "
                 "summary.json (with the proven gap) to --out.", _cmd_match)
    add_matcher_arguments(p)

    p = _command(sub, "serve", "serve OpenReview's Expertise API on a finished conference run",
                 "Serve OpenReview's Expertise API (POST /expertise, GET /expertise/status, "
                 "/expertise/results, ...) so that openreview-py's OpenReviewClient(baseurl="
                 "'http://127.0.0.1:PORT', token=...) computes affinity scores with revmatch (use 127.0.0.1: "
                 "the client fakes the API for http://localhost). Jobs run one at a time and are kept under "
                 "--state-dir; a restart queues again the jobs that were waiting or running. The token "
                 "clients must send (Authorization: Bearer) is read from --token-file or "
                 "$REVMATCH_SERVICE_TOKEN; another address than a loopback one needs it.", _cmd_serve)
    p.add_argument("--conference-dir", required=True, help="results/<conference> of a finished run")
    p.add_argument("--venue-id", required=True,
                   help="the OpenReview venue id the requests name, e.g. ACL.org/2026/Conference")
    p.add_argument("--state-dir", required=True, help="folder of the service's jobs (kept across restarts)")
    p.add_argument("--papers", default="results/corpus/papers.parquet", help="corpus papers.parquet")
    p.add_argument("--model-dir", default="results/model",
                   help="corpus_embeddings.npy, similarity.pt and index/<model>.npz of the run")
    p.add_argument("--corpus-embeddings", help="model avg: default <model-dir>/corpus_embeddings.npy")
    p.add_argument("--submission-embeddings",
                   help="model avg: default <conference-dir>/matrices/submission_embeddings.npy")
    p.add_argument("--reject-embeddings",
                   help="model avg: default <conference-dir>/affinity/embeddings/avg/rejects.npy")
    p.add_argument("--archives-dir",
                   help="the members' OpenReview archives (<member id>.jsonl), read instead of the corpus")
    p.add_argument("--config", default="config/config.yaml",
                   help="model.matching_model, text_fields, sentence_transformers, bm25 and gpu are read here")
    p.add_argument("--default-model",
                   help="model of requests that name one of OpenReview's models (default: "
                        "model.matching_model of --config)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=5000, help="port (the Expertise service's default)")
    p.add_argument("--token-file",
                   help="file holding the token (default: $REVMATCH_SERVICE_TOKEN; none: no token asked, "
                        "loopback only)")
    p.add_argument("--run-jobs", action=flag, default=True,
                   help="run the queued jobs (--no-run-jobs: accept and keep them, run none)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv, snakemake_args = _split_run(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if snakemake_args is not None:
        args.snakemake_args = snakemake_args
    if args.command != "run":
        setup_logging(args.log)
    try:
        return args.func(args)
    except (InputError, FileNotFoundError, ValueError) as exc:
        print(f"revmatch {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
