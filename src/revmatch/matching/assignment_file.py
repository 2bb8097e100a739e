"""The ``solve_assignment`` rule: read the conference's files, solve it, and write the
assignment table and its summary (objective, loads, tracks, settings, certificate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.conference import read_quotas as read_start_quotas
from revmatch.conference import reviewer_ids
from revmatch.io import InputError, PathLike, read_jsonl, write_csv, write_json
from revmatch.matching.conference_assignment import ConferenceAssignment, solve_conference
from revmatch.matching.eligibility import capacity_by_track, paper_tracks
from revmatch.matching.senior import senior_reviewers
from revmatch.matching.settings import AssignmentSettings


def assignment_summary(solved: ConferenceAssignment, submissions: list[dict], reviewers: list[dict]) -> dict:
    """Objective, status, solve time, load statistics and per-track counts of a solved conference."""
    result = solved.result
    n_reviewers = len(reviewers)
    loads = result.loads(n_reviewers)
    eligible = solved.allowed.any(axis=0)
    eligible_loads = loads[eligible] if eligible.any() else np.zeros(1, dtype=np.int64)
    table = solved.table
    capacity = capacity_by_track(
        solved.allowed, paper_tracks(submissions), solved.reviews_per_paper, solved.max_load
    )
    per_track = table.groupby("track").agg(
        assignments=("reviewer_id", "size"), reviewers_used=("reviewer_id", "nunique")
    )
    tracks = {}
    for row in capacity.itertuples():
        used = per_track.loc[row.track] if row.track in per_track.index else None
        tracks[row.track] = {
            "papers": int(row.papers),
            "assignments": int(used["assignments"]) if used is not None else 0,
            "reviewers_used": int(used["reviewers_used"]) if used is not None else 0,
            "reviewers_allowed": int(row.reviewers),
            "reviews_available": int(row.available),
        }
    return {
        "status": result.status,
        "objective": result.objective,
        "total_score": float(table["score"].sum()),
        "mean_score": float(table["score"].mean()) if len(table) else 0.0,
        "solve_seconds": result.solve_seconds,
        "papers": len(submissions),
        "assignments": int(len(table)),
        "reviewers_eligible": int(eligible.sum()),
        "reviewers_assigned": int((loads > 0).sum()),
        "emergency_assignments": int(solved.emergency[result.pairs[:, 1]].sum()),
        "senior_assignments": (
            None if solved.senior is None else int(solved.senior.senior[result.pairs[:, 1]].sum())
        ),
        "loads": {
            "min": int(eligible_loads.min()),
            "mean": float(eligible_loads.mean()),
            "max": int(eligible_loads.max()),
        },
        "tracks": tracks,
    }


def read_quotas(path: PathLike, reviewers: list[dict]) -> dict[str, int]:
    """Quotas by reviewer id from a START quota CSV (see ``revmatch.conference.read_quotas``)."""
    quotas, _ = read_start_quotas(path, reviewer_ids(reviewers))
    return quotas


def solve_assignment_file(
    aggregate_npy: PathLike,
    coi_npy: PathLike,
    submissions_jsonl: PathLike,
    reviewers_jsonl: PathLike,
    quotas_csv: PathLike | None,
    out_csv: PathLike,
    out_summary_json: PathLike,
    settings: AssignmentSettings,
    authorship_npz: PathLike | None = None,
    viability_json: PathLike | None = None,
) -> pd.DataFrame:
    """Solve the conference in the given files; write ``assignment.csv`` and a summary JSON.

    With ``viability_json`` (the viability check's result) a track that cannot be staffed stops
    the solve before it starts, with the track and its shortfall named.

    The summary's ``certificate`` is the pruned solve's optimality certificate (null when the
    full LP was solved: no more than ``settings.prune_above_pairs`` allowed pairs), with a ``mip``
    entry (gap) when senior reviewers are required: ``settings.min_senior_per_paper`` reviewers per
    paper with at least ``settings.senior_min_papers`` papers in the corpus (from ``authorship_npz``).
    """
    if viability_json is not None:
        from revmatch.conference import raise_if_infeasible

        raise_if_infeasible(viability_json, area_chairs=settings.area_chairs)
    scores = np.load(aggregate_npy)
    coi = np.load(coi_npy)
    submissions = read_jsonl(submissions_jsonl)
    reviewers = read_jsonl(reviewers_jsonl)
    expected = (len(submissions), len(reviewers))
    for path, array in ((aggregate_npy, scores), (coi_npy, coi)):
        if array.shape != expected:
            raise InputError(path, f"shape {array.shape} does not match {expected} (submissions x reviewers)")
    quotas = read_quotas(quotas_csv, reviewers) if quotas_csv else None
    senior = None
    if settings.min_senior_per_paper > 0:
        if authorship_npz is None:
            raise ValueError("min_senior_per_paper > 0 needs the reviewers' authorship matrix")
        authorship = sp.load_npz(authorship_npz)
        if authorship.shape[0] != len(reviewers):
            raise InputError(authorship_npz, f"{authorship.shape[0]} rows for {len(reviewers)} reviewers")
        senior = senior_reviewers(authorship, settings.senior_min_papers)
    solved = solve_conference(
        scores,
        coi.astype(bool),
        submissions,
        reviewers,
        reviews_per_paper=settings.reviews_per_paper,
        max_papers_per_reviewer=settings.max_papers_per_reviewer,
        min_papers_per_reviewer=settings.min_papers_per_reviewer,
        quotas=quotas,
        by_track=settings.by_track,
        area_chairs=settings.area_chairs,
        emergency_penalty=settings.emergency_penalty,
        prune_above_pairs=settings.prune_above_pairs,
        candidates_per_paper=settings.candidates_per_paper,
        senior=senior,
        min_senior_per_paper=settings.min_senior_per_paper,
        mip_rel_gap=settings.mip_rel_gap,
    )
    summary = assignment_summary(solved, submissions, reviewers)
    summary["settings"] = {
        "reviews_per_paper": settings.reviews_per_paper,
        "max_papers_per_reviewer": settings.max_papers_per_reviewer,
        "min_papers_per_reviewer": settings.min_papers_per_reviewer,
        "by_track": settings.by_track,
        "area_chairs": settings.area_chairs,
        "emergency_penalty": settings.emergency_penalty,
        "quotas": len(quotas) if quotas else 0,
        "prune_above_pairs": settings.prune_above_pairs,
        "candidates_per_paper": settings.candidates_per_paper,
        "min_senior_per_paper": settings.min_senior_per_paper,
        "senior_min_papers": settings.senior_min_papers,
        "mip_rel_gap": settings.mip_rel_gap,
    }
    summary["certificate"] = solved.result.certificate
    write_csv(solved.table, out_csv)
    write_json(summary, out_summary_json)
    return solved.table
