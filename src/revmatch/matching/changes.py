"""What a re-solve changed: every added and removed pair with its reason, the changes per
paper and per reviewer, and the START upload lines of the changed papers only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revmatch.conference import reviewer_ids, submission_ids
from revmatch.matching.eligibility import pair_blockers

CHANGE_COLUMNS = ["submission_id", "track", "reviewer_id", "change", "reason"]


def _keys(frame: pd.DataFrame) -> pd.Series:
    return frame["submission_id"].astype(str) + "\x1f" + frame["reviewer_id"].astype(str)


def removal_reasons(
    removed: pd.DataFrame,
    submissions: list[dict],
    reviewers: list[dict],
    coi: np.ndarray,
    max_load: np.ndarray,
    previous_loads: pd.Series,
    by_track: bool = True,
    area_chairs: bool = False,
    forbidden: pd.DataFrame | None = None,
    moved: str = "moved: required by the new constraints",
    forced: pd.DataFrame | None = None,
) -> list[str]:
    """Why each removed previous pair (submission_id, reviewer_id) left the assignment: the paper
    or reviewer gone, a blocker (COI, role, track, forbidden), a lowered load, a slot taken by
    a forced pair, else ``moved``."""
    rev_ids = reviewer_ids(reviewers)
    papers = pd.Index(submission_ids(submissions)).get_indexer(removed["submission_id"].astype(str))
    people = pd.Index(rev_ids).get_indexer(removed["reviewer_id"].astype(str))
    forbidden_reason = {}
    if forbidden is not None and len(forbidden):
        forbidden_reason = dict(zip(_keys(forbidden), forbidden["reason"].astype(str)))
    forced_papers = set() if forced is None else set(forced["submission_id"].astype(str))
    known = (papers >= 0) & (people >= 0)
    blockers = pair_blockers(np.column_stack([papers[known], people[known]]), coi, submissions, reviewers,
                             by_track, area_chairs)
    blocked = iter(blockers)
    reasons = []
    for key, p, r in zip(_keys(removed), papers, people):
        if p < 0:
            reasons.append("submission no longer active (withdrawn, desk-rejected or removed)")
            continue
        if r < 0:
            reasons.append("reviewer no longer in the pool")
            continue
        why = next(blocked)
        if key in forbidden_reason:
            why.append(f"forbidden: {forbidden_reason[key]}" if forbidden_reason[key] else "forbidden")
        if not why and previous_loads.get(rev_ids[r], 0) > max_load[r]:
            why.append(f"reviewer's load lowered to {int(max_load[r])}")
        if not why and key.split("\x1f")[0] in forced_papers:
            why.append("moved: the slot went to a forced pair")
        reasons.append("; ".join(why) if why else moved)
    return reasons


def assignment_changes(
    previous: pd.DataFrame,
    table: pd.DataFrame,
    removed_reasons: list[str],
    submissions: list[dict],
) -> pd.DataFrame:
    """(submission_id, track, reviewer_id, change, reason): every removed then added pair.

    ``removed_reasons`` follow the removed pairs in ``previous`` order (see ``removal_reasons``).
    An added pair says whether it is forced, on a new submission, or replaces removed reviewers.
    """
    previous_keys, new_keys = _keys(previous), _keys(table)
    removed = previous[~previous_keys.isin(set(new_keys))]
    added = table[~new_keys.isin(set(previous_keys))]
    track_of = {sid: str(s.get("track") or "") for sid, s in zip(submission_ids(submissions), submissions)}
    gone_by_paper = removed.groupby(removed["submission_id"].astype(str))["reviewer_id"].agg(
        lambda ids: ", ".join(map(str, ids))
    )
    had_previous = set(previous["submission_id"].astype(str))
    added_reasons = []
    for sid, forced in zip(added["submission_id"].astype(str), added.get("reason", pd.Series("", index=added.index))):
        if forced:
            added_reasons.append(forced)
        elif sid not in had_previous:
            added_reasons.append("new submission")
        elif sid in gone_by_paper.index:
            added_reasons.append(f"replaces {gone_by_paper[sid]}")
        else:
            added_reasons.append("fills a missing slot")
    frames = [
        pd.DataFrame({
            "submission_id": removed["submission_id"].astype(str).to_numpy(),
            "track": [track_of.get(s, "") for s in removed["submission_id"].astype(str)],
            "reviewer_id": removed["reviewer_id"].astype(str).to_numpy(),
            "change": "removed",
            "reason": list(removed_reasons),
        }),
        pd.DataFrame({
            "submission_id": added["submission_id"].astype(str).to_numpy(),
            "track": added["track"].astype(str).to_numpy(),
            "reviewer_id": added["reviewer_id"].astype(str).to_numpy(),
            "change": "added",
            "reason": added_reasons,
        }),
    ]
    return pd.concat(frames, ignore_index=True)[CHANGE_COLUMNS]


def removed_pairs(previous: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The previous pairs the new assignment does not hold, in previous order."""
    return previous[~_keys(previous).isin(set(_keys(table)))].reset_index(drop=True)


def changes_by_paper(previous: pd.DataFrame, table: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Per submission with a change: kept, added and removed counts, reviewers before and after."""
    before = previous.groupby(previous["submission_id"].astype(str))["reviewer_id"].agg(lambda s: ":".join(s))
    after = table.groupby(table["submission_id"].astype(str))["reviewer_id"].agg(lambda s: ":".join(s))
    counts = pd.crosstab(changes["submission_id"], changes["change"]).reindex(columns=["added", "removed"],
                                                                            fill_value=0)
    frame = counts.reset_index().rename(columns={"index": "submission_id"})
    frame["track"] = changes.groupby("submission_id")["track"].first().reindex(frame["submission_id"]).to_numpy()
    frame["reviewers_before"] = before.reindex(frame["submission_id"]).fillna("").to_numpy()
    frame["reviewers_after"] = after.reindex(frame["submission_id"]).fillna("").to_numpy()
    frame["why"] = _why(changes, "submission_id").reindex(frame["submission_id"]).to_numpy()
    return frame[["submission_id", "track", "added", "removed", "reviewers_before", "reviewers_after", "why"]]


def _why(changes: pd.DataFrame, key: str) -> pd.Series:
    """Per ``key``, its changes' distinct reasons joined (``removed r1: reason | added r2: reason``)."""
    other = "reviewer_id" if key == "submission_id" else "submission_id"
    text = changes["change"] + " " + changes[other].astype(str) + ": " + changes["reason"].astype(str)
    return text.groupby(changes[key]).agg(" | ".join)


def changes_by_reviewer(previous: pd.DataFrame, table: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Per reviewer with a change: added and removed counts, load before and after."""
    counts = pd.crosstab(changes["reviewer_id"], changes["change"]).reindex(columns=["added", "removed"],
                                                                          fill_value=0)
    frame = counts.reset_index().rename(columns={"index": "reviewer_id"})
    before = previous["reviewer_id"].astype(str).value_counts()
    after = table["reviewer_id"].astype(str).value_counts()
    frame["load_before"] = before.reindex(frame["reviewer_id"]).fillna(0).astype(int).to_numpy()
    frame["load_after"] = after.reindex(frame["reviewer_id"]).fillna(0).astype(int).to_numpy()
    frame["why"] = _why(changes, "reviewer_id").reindex(frame["reviewer_id"]).to_numpy()
    return frame[["reviewer_id", "added", "removed", "load_before", "load_after", "why"]]


def changed_upload_lines(table: pd.DataFrame, changes: pd.DataFrame, submissions: list[dict]) -> list[str]:
    """START upload lines ``sid:user1:user2`` of the submissions whose reviewers changed (each with
    its whole new list), in submission order; withdrawn submissions have none."""
    changed = set(changes["submission_id"].astype(str))
    by_paper = table.groupby(table["submission_id"].astype(str), sort=False)["reviewer_id"].agg(list)
    return [
        ":".join([sid, *by_paper.get(sid, [])]) for sid in submission_ids(submissions) if sid in changed
    ]
