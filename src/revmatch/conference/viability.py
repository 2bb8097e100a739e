"""Reviewer and area-chair capacity per track, before any matching is attempted.

For each track: papers, reviewers, ACs and SACs; the reviewer-paper assignments needed
(papers x reviews per paper) against those available (sum over the track's reviewers of
min(quota, max papers per reviewer)); the same for ACs. ACs and SACs are not reviewers;
emergency reviewers are reported apart and not counted as available. A reviewer in
several tracks counts in each, so with tracks the report also solves the transport
problem over all tracks at once (a max flow) to tell whether the shared reviewers can
serve every track together.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from revmatch.conference.quotas import QUOTA, read_quotas
from revmatch.conference.records import reviewer_load_bounds
from revmatch.conference.settings import ViabilitySettings
from revmatch.conference.writing import write_all_or_nothing
from revmatch.io import InputError, PathLike, read_json, read_jsonl, write_json, write_text
from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)

ALL_TRACKS = "all"
ACROSS_TRACKS = "(all tracks together)"
REVIEWER_SHORTFALL = "reviewer assignments needed exceed those available"
AC_SHORTFALL = "AC assignments needed exceed those available"
NO_REVIEWER = "no reviewer in this track (emergency reviewers, ACs and SACs are not counted)"


def reviewer_capacities(
    reviewers: list[dict], quotas: dict[str, int], max_papers_per_reviewer: int
) -> np.ndarray:
    """Papers each reviewer can take: their quota, else the maximum.

    The same rule as the assignment step (:func:`~revmatch.conference.records.reviewer_load_bounds`,
    a quota replaces the maximum, also upwards), so both report the same capacity.
    """
    max_load, _ = reviewer_load_bounds(reviewers, max_papers_per_reviewer, 0, quotas)
    return max_load


def _membership(people: list[dict], key: str, tracks: list[str]) -> np.ndarray:
    """Bool people x tracks: whether ``track`` is in the person's ``key`` list."""
    position = {t: k for k, t in enumerate(tracks)}
    member = np.zeros((len(people), len(tracks)), dtype=bool)
    for i, person in enumerate(people):
        for track in person.get(key) or []:
            member[i, position[track]] = True
    return member


def _track_names(reviewers: list[dict], submissions: list[dict]) -> list[str]:
    names = {s["track"] for s in submissions}
    for person in reviewers:
        for key in ("tracks", "ac_tracks", "sac_tracks"):
            names.update(person.get(key) or [])
    return sorted(names)


def _roles(reviewers: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is area chair, is senior area chair, is emergency reviewer) of each reviewer record."""
    return tuple(
        np.array([bool(r.get(key)) for r in reviewers], dtype=bool)
        for key in ("areaChair", "seniorAreaChair", "emergency")
    )


def _pools(
    reviewers: list[dict], submissions: list[dict], by_track: bool
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tracks, reviewers x tracks membership of the reviewers (ACs and SACs left out), of the
    ACs, of the SACs, each paper's track position); one pool ``all`` without tracks."""
    is_ac, is_sac, _ = _roles(reviewers)
    is_reviewer = ~is_ac & ~is_sac
    if not by_track:
        return (
            [ALL_TRACKS], np.ones((len(reviewers), 1), dtype=bool) & is_reviewer[:, None], is_ac[:, None],
            is_sac[:, None], np.zeros(len(submissions), dtype=np.int64),
        )
    tracks = _track_names(reviewers, submissions)
    position = {t: k for k, t in enumerate(tracks)}
    return (
        tracks,
        _membership(reviewers, "tracks", tracks) & is_reviewer[:, None],
        _membership(reviewers, "ac_tracks", tracks) & is_ac[:, None],
        _membership(reviewers, "sac_tracks", tracks) & is_sac[:, None],
        np.array([position[s["track"]] for s in submissions], dtype=np.int64),
    )


def unstaffed_tracks(reviewers: list[dict], submissions: list[dict], by_track: bool) -> dict[str, int]:
    """{track: papers} of the tracks with papers but nobody to take them: no reviewer (emergency
    ones included) and no area chair (one pool ``all`` without tracks)."""
    tracks, member, ac_member, _, paper_track = _pools(reviewers, submissions, by_track)
    papers = np.bincount(paper_track, minlength=len(tracks))
    nobody = (papers > 0) & ~member.any(axis=0) & ~ac_member.any(axis=0)
    return {tracks[k]: int(papers[k]) for k in np.flatnonzero(nobody)}


def _shared_capacity(needed: np.ndarray, usable: np.ndarray, capacity: np.ndarray) -> int:
    """Max flow source -> tracks (needed) -> reviewers (usable) -> sink (capacity)."""
    n_tracks, n_reviewers = len(needed), len(capacity)
    source, sink = 0, 1 + n_tracks + n_reviewers
    t_index = 1 + np.arange(n_tracks)
    r_index = 1 + n_tracks + np.arange(n_reviewers)
    tr, rr = np.nonzero(usable)
    rows = np.concatenate([np.full(n_tracks, source), t_index[tr], r_index])
    cols = np.concatenate([t_index, r_index[rr], np.full(n_reviewers, sink)])
    caps = np.concatenate([needed, usable[tr, rr], capacity]).astype(np.int32)
    graph = sp.csr_matrix((caps, (rows, cols)), shape=(sink + 1, sink + 1))
    return int(maximum_flow(graph, source, sink).flow_value)


def check_viability(
    reviewers: list[dict],
    submissions: list[dict],
    quotas: dict[str, int],
    settings: ViabilitySettings,
    coi: np.ndarray | None = None,
) -> tuple[str, list[dict]]:
    """Capacity report per track (or one pool ``all``) and the list of problems found.

    A problem is a dict ``{track, kind ('reviewer' | 'ac'), needed, available, shortfall,
    message}``: reviewer assignments needed above those available; fewer usable
    assignments than needed because a reviewer reviews a paper at most once (each paper
    needs ``reviews_per_paper`` distinct reviewers, so a reviewer gives a track at most
    one assignment per paper); AC assignments needed (papers x ``ac_papers_per_submission``)
    above ACs x ``ac_max_papers``, or above what distinct ACs can give (an AC takes a paper
    once; not checked when the conference has no AC at all); and, with
    tracks, shared reviewers unable to serve all tracks together. With ``coi`` (bool P x R),
    a reviewer gives a track at most one assignment per paper of it without a conflict,
    and papers left with fewer than ``reviews_per_paper`` reviewers free of conflicts are
    named (kind ``paper``).
    """
    reviews_per_paper, max_papers_per_reviewer = settings.reviews_per_paper, settings.max_papers_per_reviewer
    ac_papers_per_submission, ac_max_papers = settings.ac_papers_per_submission, settings.ac_max_papers
    by_track = settings.by_track
    is_ac, is_sac, is_emergency = _roles(reviewers)
    is_reviewer = ~is_ac & ~is_sac
    capacity = reviewer_capacities(reviewers, quotas, max_papers_per_reviewer)
    tracks, member, ac_member, sac_member, paper_track = _pools(reviewers, submissions, by_track)
    papers = np.bincount(paper_track, minlength=len(tracks)).astype(np.int64)
    in_track = np.zeros((len(submissions), len(tracks)), dtype=np.int64)
    in_track[np.arange(len(submissions)), paper_track] = 1
    regular = member & (is_reviewer & ~is_emergency)[:, None]
    emergency = member & (is_reviewer & is_emergency)[:, None]
    only_track = member.sum(axis=1) == 1
    needed = papers * reviews_per_paper
    available = capacity @ regular
    dedicated = capacity @ (regular & only_track[:, None])
    if coi is None:
        free_papers = np.broadcast_to(papers[None, :], regular.shape)
    else:
        free_papers = (~np.asarray(coi, dtype=bool)).T.astype(np.int64) @ in_track  # R x T
    usable_pairs = np.minimum(capacity[:, None], free_papers) * regular
    usable = usable_pairs.sum(axis=0)
    n_reviewers = regular.sum(axis=0)
    n_acs = ac_member.sum(axis=0)
    ac_needed = papers * ac_papers_per_submission
    ac_available = n_acs * ac_max_papers
    ac_usable = n_acs * np.minimum(ac_max_papers, papers)  # an AC takes a paper at most once

    problems: list[dict] = []
    lines = [
        f"Viability: {len(submissions)} submissions, {reviews_per_paper} reviews per paper, "
        f"at most {max_papers_per_reviewer} papers per reviewer (or the quota), {len(quotas)} quotas given",
        f"reviewers: {int((is_reviewer & ~is_emergency).sum())} "
        f"(+ {int((is_reviewer & is_emergency).sum())} emergency), "
        f"area chairs: {int(is_ac.sum())}, senior area chairs: {int(is_sac.sum())}",
    ]
    if not is_ac.any():
        lines.append("no area chairs in this conference: AC capacity not checked")
    if by_track:
        no_track = is_reviewer & ~member.any(axis=1)
        if no_track.any():
            lines.append(
                f"reviewers without a track (in no track's pool): {int(no_track.sum())}, "
                f"capacity {int(capacity[no_track].sum())}"
            )
    for k, track in enumerate(tracks):
        block = [
            "",
            f"Track: {track}",
            f"  papers: {papers[k]}",
            f"  reviewers: {n_reviewers[k]} ({int((regular[:, k] & only_track).sum())} only in this track)",
            f"  emergency reviewers: {int(emergency[:, k].sum())} "
            f"(capacity {int(capacity @ emergency[:, k])}, not counted below)",
            f"  area chairs: {n_acs[k]}",
            f"  senior area chairs: {int(sac_member[:, k].sum())}",
            f"  reviewer assignments needed: {needed[k]}",
            f"  reviewer assignments available: {available[k]} (dedicated to this track: {dedicated[k]})",
        ]
        if n_reviewers[k]:
            block.append(f"  reviews needed per reviewer: {needed[k] / n_reviewers[k]:.2f}")
        block.append(
            f"  AC assignments needed: {ac_needed[k]}, available: {ac_available[k]} ({ac_max_papers} per AC)"
        )
        if needed[k] > available[k]:
            what = REVIEWER_SHORTFALL if n_reviewers[k] else NO_REVIEWER
            problems.append(_problem(track, "reviewer", needed[k], available[k], what))
        elif needed[k] > usable[k]:
            problems.append(
                _problem(
                    track,
                    "reviewer",
                    needed[k],
                    usable[k],
                    f"too few reviewers: each paper needs {reviews_per_paper} distinct reviewers",
                )
            )
        elif needed[k] > dedicated[k]:
            shared = needed[k] - dedicated[k]
            block.append(f"  note: needs reviewers shared with other tracks ({shared} assignments)")
        if is_ac.any() and ac_needed[k] > ac_available[k]:
            problems.append(
                _problem(track, "ac", ac_needed[k], ac_available[k], AC_SHORTFALL)
            )
        elif is_ac.any() and ac_needed[k] > ac_usable[k]:
            problems.append(
                _problem(track, "ac", ac_needed[k], ac_usable[k],
                         f"too few area chairs: each paper needs {ac_papers_per_submission} distinct area chairs")
            )
        block.extend(f"  WARNING: {p['message']}" for p in problems if p["track"] == track)
        lines.extend(block)

    if coi is not None and len(submissions):
        track_reviewers = regular[:, paper_track].T  # P x R: a regular reviewer of the paper's track
        free = (track_reviewers & ~np.asarray(coi, dtype=bool)).sum(axis=1)
        short = np.flatnonzero(free < reviews_per_paper)
        for k in np.unique(paper_track[short]).tolist():
            in_k = short[paper_track[short] == k]
            named = ", ".join(f"{submissions[p]['id']} ({free[p]})" for p in in_k[:10])
            more = f" and {len(in_k) - 10} more" if len(in_k) > 10 else ""
            problem = _problem(
                tracks[k],
                "paper",
                len(in_k) * reviews_per_paper,
                int(np.minimum(free[in_k], reviews_per_paper).sum()),
                f"{len(in_k)} paper(s) with fewer than {reviews_per_paper} reviewers free of conflicts: "
                f"{named}{more}",
            )
            problems.append(problem)
            lines += ["", f"  WARNING: {problem['message']}"]

    if by_track and len(tracks) > 1 and needed.sum():
        served = _shared_capacity(needed, usable_pairs.T, capacity * regular.any(axis=1))
        total = int(needed.sum())
        lines += ["", f"All tracks together: {served} of {total} reviewer assignments can be served"]
        if served < needed.sum() and not any(p["kind"] == "reviewer" for p in problems):
            problems.append(
                _problem(
                    ACROSS_TRACKS,
                    "reviewer",
                    needed.sum(),
                    served,
                    "reviewers shared between tracks cannot serve every track at once",
                )
            )
            lines.append(f"  WARNING: {problems[-1]['message']}")
    lines += ["", f"{len(problems)} problem(s) found" if problems else "no capacity problem found"]
    for problem in problems:
        logger.warning("viability: %s", problem["message"])
    return "\n".join(lines) + "\n", problems


def _problem(track: str, kind: str, needed: int, available: int, what: str) -> dict:
    needed, available = int(needed), int(available)
    shortfall = needed - available
    return {
        "track": track,
        "kind": kind,
        "needed": needed,
        "available": available,
        "shortfall": shortfall,
        "message": f"{track}: {what} ({needed} needed, {available} available, short by {shortfall})",
    }


def reviewer_quotas(reviewers: list[dict], path: PathLike = "reviewers.jsonl") -> dict[str, int]:
    """Quotas carried by ``reviewers.jsonl`` (``quota`` key; ``None`` or absent = the maximum),
    each checked by ``QUOTA`` (an ``InputError`` names the record's line of ``path``)."""
    return {
        str(r["id"]): QUOTA.check_value(r["quota"], path, row=line, column="quota")
        for line, r in enumerate(reviewers, start=1)
        if r.get("quota") is not None
    }


def _raise_if_empty(
    reviewers_jsonl: PathLike,
    submissions_jsonl: PathLike,
    reviewers: list[dict],
    submissions: list[dict],
    by_track: bool,
) -> None:
    """Stop before any capacity is counted (and any matrix computed) when there is nothing to match:
    no submission, no reviewer record, or a track with papers and nobody to take them."""
    if not submissions:
        raise InputError(submissions_jsonl, "no submission to match")
    if not reviewers:
        raise InputError(reviewers_jsonl, "no reviewer, area chair or senior area chair")
    unstaffed = unstaffed_tracks(reviewers, submissions, by_track)
    if unstaffed:
        served = sorted({t for r in reviewers for key in ("tracks", "ac_tracks") for t in r.get(key) or []})
        named = ", ".join(f"{track!r} ({papers} papers)" for track, papers in unstaffed.items())
        raise InfeasibleTrack(
            f"{len(unstaffed)} track(s) have papers but no reviewer, emergency reviewer or area chair: "
            f"{named}. "
            f"Tracks with reviewers or ACs: {', '.join(map(repr, served[:MAX_NAMED])) or 'none'}. A track "
            "name in the submissions that no profile's Roles spells the same way, or reviewers without "
            "tracks, cause this; fix the exports, or match without tracks (matching.by_track: false)."
        )


def viability_file(
    reviewers_jsonl: PathLike,
    submissions_jsonl: PathLike,
    quotas_csv_or_None: PathLike | None,
    out_txt: PathLike | None,
    reviews_per_paper: int,
    max_papers_per_reviewer: int,
    by_track: bool = True,
    coi_npy: PathLike | None = None,
    out_json: PathLike | None = None,
    ac_max_papers: int = 15,
    ac_papers_per_submission: int = 1,
) -> list[dict]:
    """Write the capacity report for ``reviewers.jsonl`` and ``submissions.jsonl``; return the problems.

    Quotas are the reviewers' ``quota`` keys, overridden by the quotas file when given.
    Nothing to match stops the check before anything is counted: no submission or no
    reviewer record (``InputError``), or a track with papers and no reviewer, emergency
    reviewer or area chair at all (``InfeasibleTrack``, naming it and the tracks that have
    people; with ``by_track`` false, the one pool). A track with only ACs is a problem of
    the report (an AC assignment may still go on).
    ``out_json`` gets ``{"feasible", "problems", "settings"}`` for the assignment step
    (see :func:`raise_if_infeasible`). With ``out_txt`` ``None`` (or the null device,
    which an atomic rename would replace) the report only goes to the log.
    """
    reviewers = read_jsonl(reviewers_jsonl)
    submissions = read_jsonl(submissions_jsonl)
    _raise_if_empty(reviewers_jsonl, submissions_jsonl, reviewers, submissions, by_track)
    quotas = reviewer_quotas(reviewers, reviewers_jsonl)
    quota_note = f"quotas: {len(quotas)} from reviewers.jsonl; the others can take the maximum"
    if quotas_csv_or_None is not None:
        from_file, stats = read_quotas(quotas_csv_or_None, [r["id"] for r in reviewers])
        quotas.update(from_file)
        quota_note = (
            f"quotas: {stats['quotas']} from {quotas_csv_or_None} ({stats['none']} 'None' = 0, "
            f"{stats['empty']} empty), {len(stats['unknown_usernames'])} rows of unknown usernames ignored; "
            f"{len(quotas)} in all"
        )
    coi = None
    if coi_npy is not None:
        coi = np.load(coi_npy)
        if coi.shape != (len(submissions), len(reviewers)):
            raise InputError(
                coi_npy,
                f"shape {coi.shape} does not match {(len(submissions), len(reviewers))} "
                "(submissions x reviewers)",
            )
    settings = ViabilitySettings(
        reviews_per_paper=reviews_per_paper,
        max_papers_per_reviewer=max_papers_per_reviewer,
        by_track=by_track,
        ac_max_papers=ac_max_papers,
        ac_papers_per_submission=ac_papers_per_submission,
    )
    text, problems = check_viability(reviewers, submissions, quotas, settings, coi=coi)
    report = quota_note + "\n" + ("COIs taken into account\n" if coi is not None else "") + text
    result = {
        "feasible": not problems,
        "problems": problems,
        "settings": {**settings.as_params(), "quotas": len(quotas), "coi": coi is not None},
    }
    writers = []
    if out_txt is None or os.path.realpath(out_txt) == os.path.realpath(os.devnull):
        for line in report.splitlines():
            logger.info(line)
    else:
        writers.append((out_txt, lambda path: write_text(report, path)))
    if out_json is not None:
        writers.append((out_json, lambda path: write_json(result, path)))
    write_all_or_nothing(writers)
    return problems


class InfeasibleTrack(RuntimeError):
    """A track (or the AC pool) cannot be staffed; the message names each and its shortfall."""


def infeasible_message(problems: list[dict], area_chairs: bool = False) -> str | None:
    """One message naming every blocking track and its shortfall, or ``None``.

    Reviewer and per-paper problems block a reviewer assignment; AC problems block an
    area-chair assignment (``area_chairs``).
    """
    kinds = {"ac"} if area_chairs else {"reviewer", "paper"}
    blocking = [p for p in problems if p["kind"] in kinds]
    if not blocking:
        return None
    lines = [f"  track {p['track']!r}: short by {p['shortfall']} ({p['message']})" for p in blocking]
    what = "area-chair" if area_chairs else "reviewer"
    header = f"{len(blocking)} infeasible {what} track problem(s) found by the viability check:"
    return "\n".join([header, *lines])


def raise_if_infeasible(viability_json: PathLike, area_chairs: bool = False) -> None:
    """Raise :class:`InfeasibleTrack` when ``viability.json`` reports a blocking problem."""
    message = infeasible_message(read_json(viability_json)["problems"], area_chairs)
    if message is not None:
        raise InfeasibleTrack(message)
