"""The assignment's season modes at ACL scale: the time of each mode on one synthetic instance.

    .venv/bin/python benchmarks/season_scale.py --out figures.json          # 5,000 x 10,000, 100,000 papers
    .venv/bin/python benchmarks/season_scale.py --submissions 500 --reviewers 1000 --papers 10000  # quick
    .venv/bin/python benchmarks/season_scale.py --modes usual,fair --mip-time-limit 60
    .venv/bin/python benchmarks/season_scale.py --min-senior 1              # senior rows in every mode
    .venv/bin/python benchmarks/season_scale.py --scores-file /tmp/scores.npy  # scores kept between runs

The instance is ``acl_scale.make_instance`` (topic-clustered submissions and reviewer papers,
tracks, quotas, COIs, authorship); the (P, R) scores go through the real paper matrix
(computed block-wise, not cached on disk) and the weighted-top-3 aggregation. Every mode is
``solve_conference`` with the default ``prune_above_pairs`` (the pruned, priced solve); the
counts below are those of 5,000 x 10,000, in proportion at other sizes:

- ``usual``: the plain maximum-score assignment (also the ``previous`` of the re-solves);
- ``forced_forbidden``: 500 forced pairs (allowed pairs outside the usual solution, at most one
  per paper, distinct reviewers below their maximum load) and 5,000 forbidden pairs (random
  allowed pairs, a fifth of them taken from the usual solution);
- ``resolve``: minimal change (lexicographic) after 100 withdrawn papers, 200 removed reviewers,
  300 assigned reviewers' quotas lowered by 2 and 1,000 new COIs on previous pairs;
- ``resolve_penalty``: the same with ``change_penalty=1.0``;
- ``emergency``: ``emergency_only`` with a pool of 500 reviewers (idle in the usual solution, 25 per
  track: a pool drawn at random from all reviewers leaves a track short) after the same changes;
  when the lowered quotas contradict the kept (forced) previous pairs, it is run again without them;
- ``fair``: ``objective="fair"``, total measure, by track, every MIP within ``--mip-time-limit``;
- ``attributes``: at most one reviewer per affiliation (800 synthetic institutions, Zipf-like
  sizes) and at least one senior reviewer per paper;
- ``randomized``: every pair's probability capped at 0.5, seed 0 (without senior rows, which the
  randomized mode does not combine with).

Reported (JSON, printed and with ``--out`` written), not asserted: each mode's seconds, load
average before and after, peak RSS, status, objective, certificate and the mode's report.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acl_scale import Instance, make_instance, peak_rss_gb  # noqa: E402

from revmatch.matching import (  # noqa: E402
    ComputedPaperMatrix,
    InfeasibleAssignment,
    SeasonInputs,
    rows_for_budget,
    senior_reviewers,
    solve_conference,
)
from revmatch.model import aggregate_scores  # noqa: E402

ALL_MODES = (
    "usual", "forced_forbidden", "resolve", "resolve_penalty", "emergency", "fair", "attributes",
    "randomized",
)
NEEDS_USUAL = {"forced_forbidden", "resolve", "resolve_penalty", "emergency"}


def _json_default(value):
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def instance_scores(inst: Instance, memory_budget_mb: float = 2048) -> np.ndarray:
    """(P, R) float32 reviewer scores of the instance: paper matrix (computed block-wise) then
    weighted-top-3 aggregation over the papers that have a reviewer author."""
    authored = np.flatnonzero(np.asarray(inst.authorship.sum(axis=0)).ravel() > 0)
    matrix = ComputedPaperMatrix(inst.submissions_emb, inst.papers_emb[authored])
    rows = rows_for_budget(len(authored), memory_budget_mb, 2048)
    authorship = inst.authorship[:, authored].tocsr()
    return aggregate_scores(matrix, authorship, method="weighted_top3", block_rows=rows)


def synthetic_affiliations(n_reviewers: int, n_institutions: int, rng: np.random.Generator,
                           exponent: float = 1.0) -> np.ndarray:
    """(R,) institution index of every reviewer, institution sizes Zipf-like (weight 1 / rank^exponent)."""
    weight = 1.0 / np.arange(1, n_institutions + 1) ** exponent
    return rng.choice(n_institutions, n_reviewers, p=weight / weight.sum())


def pairs_frame(pairs: np.ndarray, submissions: list[dict], reviewers: list[dict], reason: str | None = None):
    """(submission_id, reviewer_id[, reason]) of index pairs."""
    frame = pd.DataFrame({
        "submission_id": [submissions[p]["id"] for p in pairs[:, 0]],
        "reviewer_id": [reviewers[r]["id"] for r in pairs[:, 1]],
    })
    if reason is not None:
        frame["reason"] = reason
    return frame


def forced_and_forbidden(usual, rng: np.random.Generator, n_forced: int, n_forbidden: int,
                         forbidden_from_usual: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs: ``n_forced`` allowed pairs outside the usual solution (at most one per paper,
    distinct reviewers whose usual load is below their maximum), and ``n_forbidden`` allowed pairs,
    a fraction ``forbidden_from_usual`` of them from the usual solution, none of them forced."""
    allowed = usual.allowed
    n_papers, n_reviewers = allowed.shape
    chosen = np.zeros(allowed.shape, dtype=bool)
    pairs = usual.result.pairs
    chosen[pairs[:, 0], pairs[:, 1]] = True
    free = usual.result.loads(n_reviewers) < usual.max_load
    forced = []
    for p in rng.permutation(n_papers):
        if len(forced) == n_forced:
            break
        candidates = np.flatnonzero(allowed[p] & ~chosen[p] & free)
        if len(candidates):
            r = int(rng.choice(candidates))
            forced.append((int(p), r))
            free[r] = False
    forced = np.array(forced, dtype=np.int64).reshape(-1, 2)
    is_forced = np.zeros(allowed.shape, dtype=bool)
    is_forced[forced[:, 0], forced[:, 1]] = True

    from_usual = pairs[rng.choice(len(pairs), min(int(n_forbidden * forbidden_from_usual), len(pairs)),
                                  replace=False)]
    from_usual = from_usual[~is_forced[from_usual[:, 0], from_usual[:, 1]]]
    taken = is_forced | chosen
    rest = n_forbidden - len(from_usual)
    found = np.zeros((0, 2), dtype=np.int64)
    while len(found) < rest:
        draw = np.column_stack([rng.integers(0, n_papers, 4 * rest), rng.integers(0, n_reviewers, 4 * rest)])
        draw = draw[allowed[draw[:, 0], draw[:, 1]] & ~taken[draw[:, 0], draw[:, 1]]]
        draw = np.unique(np.vstack([found, draw]), axis=0)
        found = draw
    found = found[rng.permutation(len(found))[:rest]]
    return forced, np.vstack([from_usual, found])


def season_changes(inst: Instance, scores: np.ndarray, usual, max_papers: int, rng: np.random.Generator,
                   n_withdrawn: int, n_removed: int, n_lowered: int, n_new_coi: int, n_pool: int) -> dict:
    """The instance after the season's changes, with the usual solution as ``previous``."""
    n_papers, n_reviewers = scores.shape
    pairs = usual.result.pairs
    keep_p = np.sort(rng.choice(n_papers, n_papers - n_withdrawn, replace=False))
    keep_r = np.sort(rng.choice(n_reviewers, n_reviewers - n_removed, replace=False))
    new_p = np.full(n_papers, -1)
    new_p[keep_p] = np.arange(len(keep_p))
    new_r = np.full(n_reviewers, -1)
    new_r[keep_r] = np.arange(len(keep_r))
    submissions = [inst.submissions[p] for p in keep_p]
    reviewers = [inst.reviewers[r] for r in keep_r]
    coi = inst.coi[np.ix_(keep_p, keep_r)]
    still = pairs[(new_p[pairs[:, 0]] >= 0) & (new_r[pairs[:, 1]] >= 0)]
    new_coi = still[rng.choice(len(still), min(n_new_coi, len(still)), replace=False)]
    coi[new_p[new_coi[:, 0]], new_r[new_coi[:, 1]]] = True
    # Quotas lowered by 2 for reviewers who had papers, so that the change bites.
    loads = usual.result.loads(n_reviewers)
    busy = np.flatnonzero((loads > 0) & (new_r >= 0))
    lowered = rng.choice(busy, min(n_lowered, len(busy)), replace=False)
    kept_ids = {rec["id"] for rec in reviewers}
    quotas = {rid: q for rid, q in inst.quotas.items() if rid in kept_ids}
    over = 0
    for r in lowered:
        rid = inst.reviewers[r]["id"]
        quotas[rid] = max(int(quotas.get(rid, max_papers)) - 2, 0)
        over += int(loads[r] > quotas[rid])
    # The emergency pool: reviewers left without papers by the usual solution, the same number per track.
    idle = (loads[keep_r] == 0) & (usual.max_load[keep_r] > 0)
    tracks = sorted({t for rec in reviewers for t in rec["tracks"]})
    pool = np.zeros(len(keep_r), dtype=bool)
    for t in tracks:
        serving = np.flatnonzero(idle & ~pool & np.array([t in rec["tracks"] for rec in reviewers]))
        pool[rng.choice(serving, min(n_pool // len(tracks), len(serving)), replace=False)] = True
    rest = np.flatnonzero(idle & ~pool)
    pool[rng.choice(rest, min(n_pool - int(pool.sum()), len(rest)), replace=False)] = True
    return {
        "submissions": submissions, "reviewers": reviewers, "coi": coi,
        "scores": scores[np.ix_(keep_p, keep_r)], "quotas": quotas, "pool": pool,
        "previous": pairs_frame(pairs, inst.submissions, inst.reviewers),
        "facts": {
            "papers_withdrawn": int(n_withdrawn), "reviewers_removed": int(n_removed),
            "quotas_lowered": int(len(lowered)), "lowered_below_previous_load": over,
            "new_coi_on_previous_pairs": int(len(new_coi)), "emergency_pool": int(pool.sum()),
            "previous_pairs": int(len(pairs)), "previous_pairs_with_both_ids_left": int(len(still)),
        },
    }


def summary(solved, seconds: float) -> dict:
    result = solved.result
    return {
        "seconds": seconds, "status": result.status, "objective": result.objective,
        "solve_seconds": result.solve_seconds, "pairs": int(len(result.pairs)),
        "total_score": float(result.scores.sum()), "certificate": result.certificate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--reviewers", type=int, default=10000)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default=",".join(ALL_MODES), help="comma list of " + ", ".join(ALL_MODES))
    parser.add_argument("--reviews-per-paper", type=int, default=3)
    parser.add_argument("--max-papers", type=int, default=6)
    parser.add_argument("--min-senior", type=int, default=0,
                        help="senior reviewers per paper (MIP) in every mode")
    parser.add_argument("--senior-min-papers", type=int, default=12,
                        help="corpus papers that make a reviewer senior")
    parser.add_argument("--mip-time-limit", type=float, default=120.0, help="seconds per MIP solve")
    parser.add_argument("--emergency-pool", type=int, help="reviewers in the pool (default 500 per 10,000)")
    parser.add_argument("--institutions", type=int, default=800)
    parser.add_argument("--scores-file", help="a .npy of the (P, R) scores: read when present, else written")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(ALL_MODES))
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(ALL_MODES)}")

    started = time.perf_counter()
    figures: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
            "python": platform.python_version(),
        },
        "load_start": _load(),
    }
    t0 = time.perf_counter()
    inst = make_instance(args.submissions, args.reviewers, args.papers, args.dim, seed=args.seed)
    figures["instance_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if args.scores_file and Path(args.scores_file).exists():
        scores = np.load(args.scores_file)
        if scores.shape != (args.submissions, args.reviewers):
            parser.error(f"{args.scores_file} holds scores of shape {scores.shape}")
        figures["scores_loaded_from"] = args.scores_file
    else:
        scores = instance_scores(inst)
        if args.scores_file:
            np.save(args.scores_file, scores)
    figures["scores_seconds"] = time.perf_counter() - t0
    senior = senior_reviewers(inst.authorship, args.senior_min_papers)
    rng = np.random.default_rng(args.seed + 1)
    affiliation = synthetic_affiliations(args.reviewers, args.institutions, rng)
    for rec, k in zip(inst.reviewers, affiliation):
        rec["affiliation"] = f"Institute {k:04d}"
    figures["size"] = {
        "submissions": args.submissions, "reviewers": args.reviewers, "papers": args.papers,
        "authorship_links": int(inst.authorship.nnz), "senior_reviewers": int(senior.sum()),
        "institutions_used": int(len(np.unique(affiliation))),
        "largest_institution": int(np.bincount(affiliation).max()),
    }
    # The season's counts, as given for 5,000 x 10,000 and in proportion at other sizes.
    per_paper, per_reviewer = args.submissions / 5000, args.reviewers / 10000
    counts = {
        "forced": round(500 * per_paper), "forbidden": round(5000 * per_paper),
        "withdrawn": round(100 * per_paper),
        "removed": round(200 * per_reviewer), "lowered": round(300 * per_reviewer),
        "new_coi": round(1000 * per_paper), "pool": args.emergency_pool or round(500 * per_reviewer),
    }
    figures["season_counts"] = counts
    base = dict(quotas=inst.quotas, senior=senior, min_senior_per_paper=args.min_senior,
                mip_time_limit=args.mip_time_limit)

    def solve(scores_, coi, submissions, reviewers, **options):
        return solve_conference(scores_, coi, submissions, reviewers, args.reviews_per_paper, args.max_papers,
                                **{**base, **options})

    results: dict = {}
    figures["modes"] = results
    state: dict = {}

    def run(name: str, body) -> None:
        entry = {"load_before": _load()}
        t0 = time.perf_counter()
        try:
            entry.update(body(t0))
        except Exception as exc:  # a failing mode is reported, the others still run
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["traceback"] = traceback.format_exc().splitlines()[-6:]
        entry.setdefault("seconds", time.perf_counter() - t0)
        entry["load_after"] = _load()
        entry["peak_rss_gb"] = peak_rss_gb()
        results[name] = entry
        logging.getLogger("season_scale").warning(
            "%s: %.1f s%s", name, entry["seconds"], f" ({entry['error'][:200]})" if "error" in entry else "")

    def usual(t0):
        solved = solve(scores, inst.coi, inst.submissions, inst.reviewers)
        state["usual"] = solved
        return {**summary(solved, time.perf_counter() - t0), "allowed_pairs": int(solved.allowed.sum())}

    def forced_forbidden(t0):
        forced, forbidden = forced_and_forbidden(state["usual"], np.random.default_rng(args.seed + 2),
                                                 counts["forced"], counts["forbidden"])
        chosen = {tuple(p) for p in state["usual"].result.pairs.tolist()}
        season = SeasonInputs(
            forced=pairs_frame(forced, inst.submissions, inst.reviewers, "benchmark"),
            forbidden=pairs_frame(forbidden, inst.submissions, inst.reviewers, "benchmark"),
        )
        t0 = time.perf_counter()
        solved = solve(scores, inst.coi, inst.submissions, inst.reviewers, season=season)
        seconds = time.perf_counter() - t0
        got = {tuple(p) for p in solved.result.pairs.tolist()}
        return {
            **summary(solved, seconds),
            "forced": int(len(forced)), "forbidden": int(len(forbidden)),
            "forbidden_in_usual": int(sum(tuple(p) in chosen for p in forbidden.tolist())),
            "forced_kept": int(sum(tuple(p) in got for p in forced.tolist())),
            "forbidden_used": int(sum(tuple(p) in got for p in forbidden.tolist())),
            "objective_vs_usual": solved.result.objective - state["usual"].result.objective,
        }

    def changes():
        if "changes" not in state:
            state["changes"] = season_changes(
                inst, scores, state["usual"], args.max_papers, np.random.default_rng(args.seed + 3),
                counts["withdrawn"], counts["removed"], counts["lowered"], counts["new_coi"], counts["pool"],
            )
            figures["season_changes"] = state["changes"]["facts"]
        return state["changes"]

    def resolve_body(change_penalty):
        def body(t0):
            c = changes()
            t0 = time.perf_counter()
            solved = solve(c["scores"], c["coi"], c["submissions"], c["reviewers"], quotas=c["quotas"],
                           change_penalty=change_penalty, season=SeasonInputs(previous=c["previous"]))
            return {**summary(solved, time.perf_counter() - t0), "report": solved.mode.get("resolve")}
        return body

    def emergency(t0):
        c = changes()
        out = {}
        t0 = time.perf_counter()
        season = SeasonInputs(previous=c["previous"], emergency_pool=c["pool"])
        try:
            solved = solve(c["scores"], c["coi"], c["submissions"], c["reviewers"], quotas=c["quotas"],
                           emergency_only=True, season=season)
            out["changes"] = "all (withdrawals, removals, lowered quotas, COIs)"
        except InfeasibleAssignment as exc:
            out["with_lowered_quotas"] = {"seconds": time.perf_counter() - t0, "error": str(exc)[:3000]}
            out["changes"] = "withdrawals, removals and COIs only (with the lowered quotas it is infeasible)"
            t0 = time.perf_counter()
            kept = {rec["id"] for rec in c["reviewers"]}
            try:
                solved = solve(c["scores"], c["coi"], c["submissions"], c["reviewers"],
                               quotas={rid: q for rid, q in inst.quotas.items() if rid in kept},
                               emergency_only=True, season=season)
            except InfeasibleAssignment as again:
                error = f"InfeasibleAssignment: {again}"[:3000]
                return {**out, "seconds": time.perf_counter() - t0, "error": error}
        seconds = time.perf_counter() - t0
        pairs = solved.result.pairs
        previous = set(zip(c["previous"]["submission_id"], c["previous"]["reviewer_id"]))
        new = np.array([(c["submissions"][p]["id"], c["reviewers"][r]["id"]) not in previous
                        for p, r in pairs.tolist()], dtype=bool)
        return {**summary(solved, seconds), **out, "report": solved.mode.get("resolve"),
                "new_pairs": int(new.sum()), "new_pairs_from_pool": int(c["pool"][pairs[new, 1]].sum())}

    def fair(t0):
        solved = solve(scores, inst.coi, inst.submissions, inst.reviewers, objective="fair",
                       fair_measure="total", fair_by_track=True)
        report = dict(solved.mode["fair"])
        classes = report.pop("classes")
        gains = [c["worst_paper_gain"] for c in classes.values()]
        stages = report["certificates"]
        reached = {
            stage: bool(((cert or {}).get("mip") or {}).get("time_limit_reached"))
            for stage, cert in stages.items()
        }
        return {
            **summary(solved, time.perf_counter() - t0),
            "price_of_fairness": {
                k: report[k]
                for k in ("total_score_usual", "total_score_fair", "total_score_given_up",
                          "worst_paper_usual", "worst_paper_fair", "objective_usual", "objective_fair")
            },
            "worst_paper_gain_by_track": {
                "min": min(gains), "median": float(np.median(gains)), "max": max(gains),
            },
            "stage_seconds": report["seconds"], "stage_certificates": stages,
            "time_limit_reached": reached, "mip_time_limit": args.mip_time_limit, "classes": classes,
        }

    def attributes(t0):
        solved = solve(scores, inst.coi, inst.submissions, inst.reviewers, attribute_constraints=(
            {"attribute": "affiliation", "max": 1}, {"attribute": "senior", "value": "true", "min": 1}))
        pairs = solved.result.pairs
        per_aff = pd.Series(affiliation[pairs[:, 1]]).groupby(pairs[:, 0]).agg(
            lambda s: s.value_counts().max())
        seniors = np.bincount(pairs[:, 0], weights=senior[pairs[:, 1]], minlength=len(inst.submissions))
        mip = ((solved.result.certificate or {}).get("mip") or {})
        return {
            **summary(solved, time.perf_counter() - t0),
            "mip_gap": mip.get("gap"), "gap_to_lp_bound": mip.get("gap_to_lp_bound"),
            "time_limit_reached": mip.get("time_limit_reached"),
            "objective_vs_usual": solved.result.objective - state["usual"].result.objective
            if "usual" in state else None,
            "papers_with_two_from_one_affiliation": int((per_aff > 1).sum()),
            "papers_without_senior": int((seniors < 1).sum()),
            "groups": [{"name": g.name, "labels": len(g.labels)} for g in solved.groups],
        }

    def randomized(t0):
        options = {"max_probability": 0.5, "random_seed": 0}
        note = None
        if args.min_senior:
            options["min_senior_per_paper"] = 0
            note = "run without senior rows: the randomized mode does not combine with them"
        solved = solve(scores, inst.coi, inst.submissions, inst.reviewers, **options)
        report = solved.mode["randomized"]
        return {**summary(solved, time.perf_counter() - t0), "report": report, "note": note,
                "expected_over_deterministic": report["expected_over_deterministic"]}

    bodies = {
        "usual": usual, "forced_forbidden": forced_forbidden, "resolve": resolve_body(None),
        "resolve_penalty": resolve_body(1.0), "emergency": emergency, "fair": fair, "attributes": attributes,
        "randomized": randomized,
    }
    if NEEDS_USUAL & set(modes) and "usual" not in modes:
        modes.insert(0, "usual")
    for name in ALL_MODES:
        if name in modes:
            run(name, bodies[name])
    if "changes" in state:
        figures["season_changes"] = state["changes"]["facts"]
    figures["total_seconds"] = time.perf_counter() - started
    figures["load_end"] = _load()
    figures["peak_rss_gb"] = peak_rss_gb()
    figures["rusage"] = {
        "user_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_utime,
        "system_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_stime,
    }
    figures["over_60_seconds"] = [name for name, entry in results.items() if entry["seconds"] > 60]
    figures["failed"] = [name for name, entry in results.items() if "error" in entry]
    text = json.dumps(figures, indent=2, default=_json_default)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
