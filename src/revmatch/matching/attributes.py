"""Reviewer attributes and the per-paper counts a chair asks of them ("at least one senior
reviewer", "at most one reviewer per affiliation"), as group rows of the assignment program.

An attribute is a profile field of ``reviewers.jsonl``, a column of the
``matching.reviewer_attributes`` CSV, or derived: ``senior`` (at least
``matching.senior_min_papers`` corpus papers), ``affiliation`` (normalised as for conflicts of
interest), ``email_domain`` (the organisation's domain) and ``country`` (the profile's
``country``, else the e-mail's two-letter country domain). Reviewers with no value are counted
in no group.

A constraint names the attribute, optionally the ``value`` (or list of values) that counts,
and a ``min`` and/or ``max`` per paper. Without ``value`` every value is its own group, and
only a maximum applies ("at most 1 per affiliation"). A paper with fewer allowed reviewers
in the group than its minimum gets those it has, and is named in a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from revmatch.conference import email_domain, normalise_affiliation, submission_ids
from revmatch.log import MAX_NAMED
from revmatch.matching.side_rows import GroupRows

logger = logging.getLogger(__name__)

DERIVED_ATTRIBUTES = ("senior", "affiliation", "email_domain", "country")


def _country(record: dict) -> str:
    """The profile's country, else the two-letter country domain of the e-mail (``''`` when neither)."""
    if record.get("country"):
        return str(record["country"]).strip().casefold()
    domain = email_domain(str(record.get("email") or ""))
    last = domain.rsplit(".", 1)[-1] if domain else ""
    return last if len(last) == 2 else ""


def reviewer_attribute(
    reviewers: list[dict],
    name: str,
    senior: np.ndarray | None = None,
    table: pd.DataFrame | None = None,
) -> np.ndarray:
    """(R,) str: every reviewer's value of attribute ``name`` (``''`` for none).

    ``table`` (the reviewer-attribute CSV, one row per reviewer in order) is looked up first,
    then the derived attributes, then the profile fields.
    """
    if table is not None and name in table.columns:
        values = table[name].astype(str).str.strip().to_numpy(dtype=object)
    elif name == "senior":
        if senior is None:
            raise ValueError("the senior attribute needs the reviewers' authorship matrix")
        values = np.where(np.asarray(senior, dtype=bool), "true", "false").astype(object)
    elif name == "affiliation":
        values = np.array([normalise_affiliation(r.get("affiliation", "")) for r in reviewers], dtype=object)
    elif name == "email_domain":
        values = np.array([email_domain(str(r.get("email") or "")) for r in reviewers], dtype=object)
    elif name == "country":
        values = np.array([_country(r) for r in reviewers], dtype=object)
    elif any(name in r for r in reviewers):
        values = np.array([_text(r.get(name)) for r in reviewers], dtype=object)
    else:
        known = sorted(set(DERIVED_ATTRIBUTES) | (set(table.columns) if table is not None else set()))
        raise ValueError(
            f"reviewer attribute {name!r} is neither a profile field, a column of the attribute file, "
            f"nor one of {', '.join(known)}"
        )
    return np.asarray(values, dtype=object)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def attribute_groups(
    values: np.ndarray,
    constraint: Mapping,
    allowed: np.ndarray,
    submissions: list[dict],
    reviews_per_paper: int,
) -> GroupRows:
    """The group rows of one constraint (``attribute``, ``value``, ``min``, ``max``) over
    reviewers' ``values`` (R,); minima capped at what each paper's allowed pairs can give."""
    name = str(constraint["attribute"])
    wanted_values = constraint.get("value")
    n_papers = allowed.shape[0]
    values = np.array([str(v).casefold() for v in values], dtype=object)
    if wanted_values is not None:
        wanted = {str(v).casefold() for v in np.atleast_1d(np.asarray(wanted_values, dtype=object))}
        group = np.where(np.isin(values, list(wanted)) & (values != ""), 0, -1).astype(np.int64)
        label = name if wanted == {"true"} else f"{name} = {', '.join(sorted(wanted))}"
        labels: tuple[str, ...] = (label,)
    else:
        if constraint.get("min"):
            raise ValueError(f"attribute constraint on {name!r}: a minimum needs the value that counts")
        labels_array, codes = np.unique(values.astype(str), return_inverse=True)
        present = labels_array != ""
        remap = np.cumsum(present) - 1
        group = np.where(present[codes], remap[codes], -1).astype(np.int64)
        labels = tuple(labels_array[present].tolist())
        label = name
    maximum = constraint.get("max")
    upper = np.full(n_papers, np.inf if maximum is None else float(maximum))
    lower = np.zeros(n_papers, dtype=np.int64)
    if constraint.get("min"):
        wanted_count = min(int(constraint["min"]), int(reviews_per_paper))
        available = (allowed & (group >= 0)[None, :]).sum(axis=1)
        lower = np.minimum(available, wanted_count).astype(np.int64)
        short = np.flatnonzero(lower < wanted_count)
        logger.info("%d reviewer(s) with %s; every paper needs %d of them", int((group >= 0).sum()), label,
                    wanted_count)
        if len(short):
            ids = submission_ids(submissions)
            logger.warning(
                "%d paper(s) have fewer than %d allowed reviewers with %s and get those they have: %s",
                len(short), wanted_count, label, ", ".join(ids[p] for p in short[:MAX_NAMED]),
            )
    return GroupRows(name=label, group=group, labels=labels, lower=lower, upper=upper)


def constraint_groups(
    constraints: list[Mapping],
    reviewers: list[dict],
    allowed: np.ndarray,
    submissions: list[dict],
    reviews_per_paper: int,
    senior: np.ndarray | None = None,
    table: pd.DataFrame | None = None,
) -> tuple[GroupRows, ...]:
    """The group rows of every attribute constraint."""
    return tuple(
        attribute_groups(
            reviewer_attribute(reviewers, str(c["attribute"]), senior, table), c, allowed, submissions,
            reviews_per_paper,
        )
        for c in constraints
    )
