"""Who may review which paper, and what each track can give.

COI, role and track restrictions are hard, unlike the reference tool: a pair that breaks one
has no variable in the LP. Also the per-track capacity and the reasons, named by track and
submission id, why a conference cannot be assigned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from revmatch.conference import submission_ids
from revmatch.log import MAX_NAMED


def track_membership(people: list[dict], key: str, tracks: list[str]) -> np.ndarray:
    """(R, T) bool: person r lists ``tracks[t]`` under ``key`` (``tracks``, ``ac_tracks``, ``sac_tracks``)."""
    column = {track: j for j, track in enumerate(tracks)}
    rows, cols = [], []
    for r, rec in enumerate(people):
        for track in rec.get(key) or []:
            j = column.get(str(track).strip())
            if j is not None:
                rows.append(r)
                cols.append(j)
    membership = np.zeros((len(people), len(tracks)), dtype=bool)
    membership[rows, cols] = True
    return membership


def eligible_reviewers(reviewers: list[dict], area_chairs: bool = False) -> np.ndarray:
    """Who may be assigned, (R,) bool.

    Reviewer mode: people who are neither area chair nor senior area chair (every other
    record of ``reviewers.jsonl`` has a reviewing role; the extraction keeps no one else).
    Area-chair mode: area chairs only.
    """
    if area_chairs:
        return np.array([bool(rec.get("areaChair")) for rec in reviewers], dtype=bool)
    return np.array(
        [not rec.get("areaChair") and not rec.get("seniorAreaChair") for rec in reviewers], dtype=bool
    )


def paper_tracks(submissions: list[dict]) -> np.ndarray:
    """Track of each submission, (P,) str (``''`` where none is given)."""
    return np.array([str(rec.get("track") or "").strip() for rec in submissions], dtype=object)


def track_eligibility(
    submissions: list[dict], reviewers: list[dict], area_chairs: bool = False
) -> np.ndarray:
    """(P, R) bool: the paper's track is among the reviewer's tracks (``ac_tracks`` for area chairs)."""
    tracks = paper_tracks(submissions)
    missing = np.flatnonzero(tracks == "")
    if len(missing):
        raise ValueError(
            f"{len(missing)} submission(s) have no track, so they cannot be assigned by track: "
            + ", ".join(submission_ids([submissions[i] for i in missing[:MAX_NAMED]]))
        )
    names, paper_track = np.unique(tracks.astype(str), return_inverse=True)
    membership = track_membership(reviewers, "ac_tracks" if area_chairs else "tracks", names.tolist())
    return membership[:, paper_track].T


def allowed_pairs(
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    by_track: bool = True,
    area_chairs: bool = False,
) -> np.ndarray:
    """(P, R) bool: no conflict of interest, an eligible role, and (``by_track``) the paper's track."""
    coi = np.asarray(coi, dtype=bool)
    if coi.shape != (len(submissions), len(reviewers)):
        raise ValueError(f"coi has shape {coi.shape}, expected ({len(submissions)}, {len(reviewers)})")
    allowed = ~coi & eligible_reviewers(reviewers, area_chairs)[None, :]
    if by_track:
        allowed &= track_eligibility(submissions, reviewers, area_chairs)
    return allowed


def capacity_by_track(
    allowed: np.ndarray,
    tracks: np.ndarray,
    reviews_per_paper: int,
    max_load: np.ndarray,
) -> pd.DataFrame:
    """Per track: papers, reviews needed, reviewers with an allowed paper there, and reviews they can give.

    ``available`` counts each reviewer's full capacity in every track they serve (capped by
    their allowed papers in the track), so it is an upper bound when reviewers are shared.
    """
    names, paper_track = np.unique(np.asarray(tracks).astype(str), return_inverse=True)
    onehot = sp.csr_matrix(
        (np.ones(len(paper_track), dtype=np.int64), (np.arange(len(paper_track)), paper_track)),
        shape=(len(paper_track), len(names)),
    )
    allowed_per_track = np.asarray((sp.csr_matrix(allowed, dtype=np.int64).T @ onehot).todense())  # (R, T)
    available = np.minimum(allowed_per_track, np.asarray(max_load)[:, None]).sum(axis=0)
    papers = np.bincount(paper_track, minlength=len(names))
    frame = pd.DataFrame(
        {
            "track": pd.Series(names.tolist(), dtype=object),
            "papers": papers,
            "needed": papers * int(reviews_per_paper),
            "reviewers": (allowed_per_track > 0).sum(axis=0),
            "available": available,
        }
    )
    frame["shortfall"] = (frame["needed"] - frame["available"]).clip(lower=0)
    return frame


def conference_problems(
    allowed: np.ndarray,
    submissions: list[dict],
    reviews_per_paper: int,
    max_load: np.ndarray,
    min_load: np.ndarray,
) -> list[str]:
    """Why a conference cannot be assigned, named by track and submission id."""
    tracks = paper_tracks(submissions)
    ids = np.array(submission_ids(submissions), dtype=object)
    problems = []
    capacity = capacity_by_track(allowed, tracks, reviews_per_paper, max_load)
    for row in capacity[capacity["shortfall"] > 0].itertuples():
        problems.append(
            f"track {row.track!r}: {row.needed} reviews needed for {row.papers} papers but its "
            f"{row.reviewers} reviewers can give at most {row.available} (shortfall {row.shortfall})"
        )
    per_paper = allowed.sum(axis=1)
    short = np.flatnonzero(per_paper < reviews_per_paper)
    for track in np.unique(tracks[short].astype(str)).tolist():
        in_track = short[tracks[short] == track]
        named = ", ".join(f"{ids[p]} ({per_paper[p]} allowed)" for p in in_track[:MAX_NAMED])
        more = f" and {len(in_track) - MAX_NAMED} more" if len(in_track) > MAX_NAMED else ""
        problems.append(
            f"track {track!r}: {len(in_track)} paper(s) have fewer than {reviews_per_paper} allowed "
            f"reviewers (after conflicts of interest): {named}{more}"
        )
    if int(min_load.sum()) > int(reviews_per_paper) * len(submissions):
        problems.append(
            f"minimum loads add up to {int(min_load.sum())} reviews but only "
            f"{int(reviews_per_paper) * len(submissions)} are needed"
        )
    return problems


def pair_blockers(
    pairs: np.ndarray,
    coi: np.ndarray,
    submissions: list[dict],
    reviewers: list[dict],
    by_track: bool = True,
    area_chairs: bool = False,
    forbidden: np.ndarray | None = None,
) -> list[list[str]]:
    """For each (paper index, reviewer index) pair, what keeps it out of the assignment
    (empty when nothing does): a conflict of interest, the person's role, the paper's track,
    or a forbidden pair."""
    eligible = eligible_reviewers(reviewers, area_chairs)
    in_track = track_eligibility(submissions, reviewers, area_chairs) if by_track else None
    role = "area chair" if area_chairs else "reviewer"
    blockers = []
    for p, r in np.asarray(pairs, dtype=np.int64).reshape(-1, 2):
        reasons = []
        if coi[p, r]:
            reasons.append("conflict of interest")
        if not eligible[r]:
            reasons.append(f"not eligible as {role}")
        if in_track is not None and not in_track[p, r]:
            reasons.append(f"not in the paper's track {str(submissions[p].get('track') or '')!r}")
        if forbidden is not None and forbidden[p, r]:
            reasons.append("forbidden")
        blockers.append(reasons)
    return blockers
