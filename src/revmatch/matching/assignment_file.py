"""The ``solve_assignment`` rule: read the conference's files, solve it, and write the
assignment table and its summary (objective, loads, tracks, settings, certificate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.conference import read_quotas as read_start_quotas
from revmatch.conference import reviewer_ids
from revmatch.io import InputError, PathLike, read_jsonl, write_csv, write_json, write_lines
from revmatch.matching.changes import (
    assignment_changes,
    changed_upload_lines,
    changes_by_paper,
    changes_by_reviewer,
    removal_reasons,
    removed_pairs,
)
from revmatch.matching.conference_assignment import ConferenceAssignment, solve_conference
from revmatch.matching.eligibility import capacity_by_track, paper_tracks
from revmatch.matching.export import remove_previous_exports
from revmatch.matching.pair_files import (
    read_pair_file,
    read_previous_assignment,
    read_reviewer_attributes,
    read_reviewer_list,
)
from revmatch.matching.pruning import proven_gap
from revmatch.matching.season import SeasonInputs
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
            None if solved.senior is None else int(solved.senior[result.pairs[:, 1]].sum())
        ),
        "group_constraints": {
            rows.name: {
                "papers_with_minimum": int((rows.lower > 0).sum()),
                "minimum": int(rows.lower.max(initial=0)),
                "maximum": None if not np.isfinite(rows.upper).any() else float(rows.upper.max()),
            }
            for rows in solved.groups
        },
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


def read_season_inputs(files: Mapping[str, PathLike | None], submissions: list[dict], reviewers: list[dict]) -> SeasonInputs:
    """The season's files (``forced``, ``forbidden``, ``previous``, ``emergency_pool``,
    ``reviewer_attributes``; absent or None when not configured), read and checked."""
    def given(key):
        return files.get(key) or None

    return SeasonInputs(
        forced=read_pair_file(given("forced"), submissions, reviewers, "forced") if given("forced") else None,
        forbidden=(
            read_pair_file(given("forbidden"), submissions, reviewers, "forbidden") if given("forbidden") else None
        ),
        previous=read_previous_assignment(given("previous")) if given("previous") else None,
        emergency_pool=read_reviewer_list(given("emergency_pool"), reviewers) if given("emergency_pool") else None,
        reviewer_attributes=(
            read_reviewer_attributes(given("reviewer_attributes"), reviewers)
            if given("reviewer_attributes") else None
        ),
    )


def write_changes(
    solved: ConferenceAssignment,
    season: SeasonInputs,
    submissions: list[dict],
    reviewers: list[dict],
    coi: np.ndarray,
    settings: AssignmentSettings,
    out: Mapping[str, PathLike],
) -> dict:
    """Write the re-solve's changes (``changes``, ``by_paper``, ``by_reviewer``, ``start``) and
    return their counts for the summary."""
    previous = season.previous
    removed = removed_pairs(previous, solved.table)
    still_there = previous["submission_id"].astype(str).isin(set(solved.table["submission_id"].astype(str)))
    previous_loads = previous[still_there]["reviewer_id"].astype(str).value_counts()
    moved = ("moved: traded for score (change_penalty)" if settings.change_penalty is not None
             else "moved: required by the new constraints")
    reasons = removal_reasons(
        removed, submissions, reviewers, coi, solved.max_load, previous_loads, settings.by_track,
        settings.area_chairs, season.forbidden, moved, season.forced,
    )
    changes = assignment_changes(previous, solved.table, reasons, submissions)
    write_csv(changes, out["changes"])
    write_csv(changes_by_paper(previous, solved.table, changes), out["by_paper"])
    write_csv(changes_by_reviewer(previous, solved.table, changes), out["by_reviewer"])
    write_lines(changed_upload_lines(solved.table, changes, submissions), out["start"])
    counts = changes["change"].value_counts()
    return {
        "previous_pairs": int(len(previous)),
        "kept": int(len(previous) - counts.get("removed", 0)),
        "removed": int(counts.get("removed", 0)),
        "added": int(counts.get("added", 0)),
        "submissions_changed": int(changes["submission_id"].nunique()),
        "reviewers_changed": int(changes["reviewer_id"].nunique()),
        "removed_by_reason": {str(k): int(v) for k, v in changes[changes["change"] == "removed"]["reason"]
                              .str.split(":").str[0].value_counts().items()},
    }


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
    season_files: Mapping[str, PathLike | None] | None = None,
    changes_out: Mapping[str, PathLike] | None = None,
    previous_exports: Sequence[PathLike] = (),
) -> pd.DataFrame:
    """Solve the conference in the given files; write ``assignment.csv`` and a summary JSON.

    With ``viability_json`` (the viability check's result) a track that cannot be staffed stops
    the solve before it starts, with the track and its shortfall named. ``season_files`` are the
    chair's forced, forbidden and previous pairs, emergency pool and reviewer attributes
    (``read_season_inputs``); with a previous assignment the changes go to ``changes_out``.

    The summary's ``certificate`` is the pruned solve's optimality certificate (null when the
    full LP was solved: no more than ``settings.prune_above_pairs`` allowed pairs), with a ``mip``
    entry (gap) when side rows make it a MIP; ``mode`` holds the fair, re-solve or randomized
    report. Senior reviewers have at least ``settings.senior_min_papers`` corpus papers (from
    ``authorship_npz``). ``previous_exports`` (the exports and evaluation of the previous
    assignment) are removed before anything else, so that a failed solve leaves none behind.
    """
    remove_previous_exports(previous_exports)
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
    season = read_season_inputs(season_files or {}, submissions, reviewers)
    if season.previous is not None and not changes_out:
        raise ValueError("a previous assignment needs the paths of the changes files")
    senior = None
    uses_senior = settings.min_senior_per_paper > 0 or any(
        c["attribute"] == "senior" for c in settings.attribute_constraints
    )
    if uses_senior:
        if authorship_npz is None:
            raise ValueError("senior reviewers need the reviewers' authorship matrix")
        authorship = sp.load_npz(authorship_npz)
        if authorship.shape[0] != len(reviewers):
            raise InputError(authorship_npz, f"{authorship.shape[0]} rows for {len(reviewers)} reviewers")
        senior = senior_reviewers(authorship, settings.senior_min_papers)
    solved = solve_conference(
        scores, coi.astype(bool), submissions, reviewers, quotas=quotas, senior=senior, season=season,
        **settings.solve_options(),
    )
    summary = assignment_summary(solved, submissions, reviewers)
    summary["settings"] = dict(settings.as_params(), quotas=len(quotas) if quotas else 0)
    summary["certificate"] = solved.result.certificate
    summary["proven_gap"] = proven_gap(solved.result.certificate)
    summary["mode"] = solved.mode
    summary["forced_pairs"] = 0 if season.forced is None else int(len(season.forced))
    summary["forbidden_pairs"] = 0 if season.forbidden is None else int(len(season.forbidden))
    if season.previous is not None:
        summary["changes"] = write_changes(solved, season, submissions, reviewers, coi.astype(bool), settings,
                                           changes_out)
    write_csv(solved.table, out_csv)
    write_json(summary, out_summary_json)
    return solved.table
