"""A job's groups: the members of a role (and track) of the profiles, or of a list of ids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ROLES = ("reviewer", "area_chair", "senior_area_chair", "all")


def member_id(member: dict) -> str:
    """A member's id in results: its ``id``, else its START username."""
    return str(member.get("id") or member.get("startUsername") or "")


def group_members(reviewers: Sequence[dict], group: dict) -> tuple[np.ndarray, list[str]]:
    """Indices (into ``reviewers``) of a group's members, and the listed ids not found.

    ``group`` is either ``{"members": [ids]}`` (matched against reviewer ``id``, then
    e-mail, case-insensitively for e-mail; order kept, repeats dropped) or
    ``{"role": ..., "track": optional}`` with role ``reviewer`` (neither AC nor SAC; track
    in ``tracks``), ``area_chair`` (track in ``ac_tracks``), ``senior_area_chair`` (track
    in ``sac_tracks``), ``all`` (track in any of them), or a list of roles (the members of
    any of them, in profile order).
    """
    if not isinstance(group, dict):
        raise ValueError(f"a group is a mapping with 'role' or 'members', got {group!r}")
    if "members" in group:
        if "role" in group or "track" in group:
            raise ValueError("a group gives either 'members' or 'role'/'track', not both")
        return _explicit_members(reviewers, group["members"])
    role = group.get("role")
    roles = role if isinstance(role, (list, tuple)) else [role]
    if not roles or any(r not in ROLES for r in roles):
        raise ValueError(f"group role must be one of {ROLES} (or a list of them), got {role!r}")
    selected = np.zeros(len(reviewers), dtype=bool)
    for one in roles:
        selected |= _role_selection(reviewers, one, group.get("track"))
    return np.flatnonzero(selected), []


def _role_selection(reviewers: Sequence[dict], role: str, track: str | None) -> np.ndarray:
    """Whether each reviewer is a member of ``role`` (and ``track``), as a bool array."""
    is_ac = np.array([bool(r.get("areaChair")) for r in reviewers], dtype=bool)
    is_sac = np.array([bool(r.get("seniorAreaChair")) for r in reviewers], dtype=bool)
    keys = {"reviewer": ("tracks",), "area_chair": ("ac_tracks",), "senior_area_chair": ("sac_tracks",)}
    keys["all"] = ("tracks", "ac_tracks", "sac_tracks")
    in_role = {"reviewer": ~is_ac & ~is_sac, "area_chair": is_ac, "senior_area_chair": is_sac}
    selected = in_role.get(role, np.ones(len(reviewers), dtype=bool))
    if track is not None:
        in_track = np.array(
            [any(track in (r.get(k) or ()) for k in keys[role]) for r in reviewers], dtype=bool
        )
        selected = selected & in_track
    return selected


def _explicit_members(reviewers: Sequence[dict], ids: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    if isinstance(ids, str):
        raise ValueError("'members' must be a list of ids, not one string")
    by_key: dict[str, int] = {}
    for i, r in enumerate(reviewers):
        if member_id(r):
            by_key.setdefault(member_id(r), i)
    for i, r in enumerate(reviewers):
        if r.get("email"):
            by_key.setdefault(str(r["email"]).casefold(), i)
    found: dict[int, None] = {}
    missing: list[str] = []
    for member in dict.fromkeys(str(m) for m in ids):
        index = by_key.get(member, by_key.get(member.casefold()))
        if index is None:
            missing.append(member)
        else:
            found.setdefault(index)
    return np.fromiter(found, dtype=np.int64, count=len(found)), missing
