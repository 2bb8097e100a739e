"""Rows of the assignment program beyond its paper and reviewer rows.

- **Group rows** (attribute constraints, senior reviewers): for a paper p and a group g of
  reviewers (one value of an attribute), ``lower[p] <= sum of x[p, r] over r in g <= upper[p]``.
  A row exists only where it can bind on the pairs in the program: every (paper, group) with a
  minimum, and the (paper, group) cells holding more pairs than the maximum.
- **Floor rows** (fairness): for every paper, ``weight[p] * sum_r score[p, r] x[p, r]`` is at
  least the floor of the paper's class (its track, or the whole conference). The floors are
  either variables, maximised (their sum is the objective), or fixed numbers.

Side rows break the total unimodularity of the assignment LP, so a program with any side row
is solved as a MIP; ``side_dual_costs`` gives each pair's share of the side rows' duals, which
the pruned solve needs to price the pairs left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revmatch.log import MAX_NAMED
from revmatch.matching.problem import named_indices


@dataclass(frozen=True)
class GroupRows:
    """``lower[p] <= (paper p's reviewers in group g) <= upper[p]`` for every paper and group.

    ``group`` (R,) is each reviewer's group (-1: counted in none), ``labels`` the groups' names,
    ``name`` the attribute; ``lower`` (P,) int and ``upper`` (P,) float (inf: no maximum). A
    minimum needs a single group (the reviewers with one value).
    """

    name: str
    group: np.ndarray
    labels: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self) -> None:
        if len(self.labels) != 1 and (np.asarray(self.lower) > 0).any():
            raise ValueError(f"a minimum count of {self.name} needs one value to count, not {len(self.labels)}")

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)

    def counts(self, paper_of: np.ndarray, reviewer_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keys ``p * n_groups + g``, number of pairs) of the (paper, group) cells the pairs fall in."""
        group = self.group[reviewer_of]
        counted = group >= 0
        keys = paper_of[counted].astype(np.int64) * self.n_groups + group[counted]
        return np.unique(keys, return_counts=True)


@dataclass(frozen=True)
class FloorRows:
    """``weight[p] * sum_r scores[p, r] x[p, r] >= floor[klass[p]]`` for every paper.

    ``floor`` None: the floors are variables of the program, one per class (``labels``), and
    their sum is maximised; otherwise (K,) fixed floors.
    """

    scores: np.ndarray
    weight: np.ndarray
    klass: np.ndarray
    labels: tuple[str, ...]
    floor: np.ndarray | None = None


@dataclass(frozen=True)
class SideRows:
    """The side rows over one set of pairs: the matrix entries (pair, row, value), the rows'
    bounds, the floor variables' entries, and where each kind of row starts."""

    pair: np.ndarray
    row: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    group_keys: tuple[np.ndarray, ...]
    group_start: tuple[int, ...]
    floor_start: int | None
    floor_columns: int
    floor_row: np.ndarray
    floor_column: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of side rows."""
        return len(self.lower)


def side_rows(
    groups: tuple[GroupRows, ...],
    floors: FloorRows | None,
    paper_of: np.ndarray,
    reviewer_of: np.ndarray,
    n_papers: int,
) -> SideRows:
    """The side rows of ``groups`` and ``floors`` over the pairs (``paper_of``, ``reviewer_of``)."""
    pair, row, value, lower, upper = [], [], [], [], []
    keys_of, starts = [], []
    n_rows = 0
    for rows in groups:
        keys, counts = rows.counts(paper_of, reviewer_of)
        over = keys[counts > rows.upper[keys // rows.n_groups]]
        needed = np.union1d(over, np.flatnonzero(rows.lower > 0).astype(np.int64) * rows.n_groups)
        group = rows.group[reviewer_of]
        counted = np.flatnonzero(group >= 0)
        pair_keys = paper_of[counted].astype(np.int64) * rows.n_groups + group[counted]
        position = np.searchsorted(needed, pair_keys)
        inside = position < len(needed)
        inside[inside] = needed[position[inside]] == pair_keys[inside]
        pair.append(counted[inside])
        row.append(n_rows + position[inside])
        value.append(np.ones(int(inside.sum())))
        lower.append(rows.lower[needed // rows.n_groups].astype(np.float64))
        upper.append(rows.upper[needed // rows.n_groups].astype(np.float64))
        keys_of.append(needed)
        starts.append(n_rows)
        n_rows += len(needed)
    floor_start, floor_row, floor_column, n_floor_columns = None, np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    if floors is not None:
        floor_start = n_rows
        pair.append(np.arange(len(paper_of)))
        row.append(n_rows + paper_of)
        value.append(floors.weight[paper_of] * floors.scores[paper_of, reviewer_of].astype(np.float64))
        if floors.floor is None:
            lower.append(np.zeros(n_papers))
            n_floor_columns = len(floors.labels)
            floor_row = n_rows + np.arange(n_papers)
            floor_column = floors.klass.astype(np.int64)
        else:
            lower.append(np.asarray(floors.floor, dtype=np.float64)[floors.klass])
        upper.append(np.full(n_papers, np.inf))
        n_rows += n_papers
    empty = np.zeros(0)
    return SideRows(
        pair=np.concatenate(pair).astype(np.int64) if pair else np.zeros(0, np.int64),
        row=np.concatenate(row).astype(np.int64) if row else np.zeros(0, np.int64),
        value=np.concatenate(value) if value else empty,
        lower=np.concatenate(lower) if lower else empty,
        upper=np.concatenate(upper) if upper else empty,
        group_keys=tuple(keys_of),
        group_start=tuple(starts),
        floor_start=floor_start,
        floor_columns=n_floor_columns,
        floor_row=floor_row,
        floor_column=floor_column,
    )


def side_dual_costs(
    groups: tuple[GroupRows, ...],
    floors: FloorRows | None,
    side: SideRows,
    side_dual: np.ndarray,
    block: slice,
) -> np.ndarray | float:
    """(papers of ``block``, R): each pair's column of the side rows times their duals, which
    its reduced cost subtracts (0 where there are no side rows)."""
    total: np.ndarray | float = 0.0
    n_block = block.stop - block.start
    for rows, keys, start in zip(groups, side.group_keys, side.group_start):
        duals = side_dual[start : start + len(keys)]
        papers = keys // rows.n_groups
        inside = (papers >= block.start) & (papers < block.stop) & (duals != 0)
        if not inside.any():
            continue
        table = np.zeros((n_block, rows.n_groups + 1))
        table[papers[inside] - block.start, keys[inside] % rows.n_groups] = duals[inside]
        total = total + table[:, np.where(rows.group >= 0, rows.group, rows.n_groups)]
    if floors is not None and side.floor_start is not None:
        n_papers = len(floors.weight)
        duals = side_dual[side.floor_start : side.floor_start + n_papers][block]
        total = total + (duals * floors.weight[block])[:, None] * floors.scores[block].astype(np.float64)
    return total


def group_problems(
    allowed: np.ndarray,
    groups: tuple[GroupRows, ...],
    demand: np.ndarray,
    forced: np.ndarray,
    names: list[str] | None = None,
) -> list[str]:
    """Papers that cannot meet their group rows on their allowed pairs alone, or whose forced
    pairs break a maximum; papers are named by ``names`` (e.g. "s3 (track 'A')") or index."""
    def named(papers: np.ndarray) -> str:
        if names is None:
            return named_indices(papers)
        more = f" and {len(papers) - MAX_NAMED} more" if len(papers) > MAX_NAMED else ""
        return ", ".join(names[p] for p in papers[:MAX_NAMED]) + more

    problems = []
    for rows in groups:
        member = rows.group >= 0
        in_group = (allowed & member[None, :]).sum(axis=1)
        short = np.flatnonzero(in_group < rows.lower)
        if len(short):
            problems.append(
                f"{len(short)} paper(s) have fewer allowed reviewers with {rows.name} than required: {named(short)}"
            )
        if np.isfinite(rows.upper).any():
            reachable = _most_reviewers_under_maxima(allowed, rows)
            short = np.flatnonzero(reachable < demand)
            if len(short):
                problems.append(
                    f"{len(short)} paper(s) cannot get their reviewers with at most {rows.upper[short[0]]:g} "
                    f"per {rows.name}: {named(short)}"
                )
        if len(forced):
            keys, counts = rows.counts(forced[:, 0], forced[:, 1])
            over = keys[counts > rows.upper[keys // rows.n_groups]]
            for key in over[:MAX_NAMED]:
                problems.append(
                    f"paper {named(np.array([key // rows.n_groups]))} has more forced reviewers with {rows.name} "
                    f"{rows.labels[key % rows.n_groups]!r} than its maximum"
                )
    return problems


def _most_reviewers_under_maxima(allowed: np.ndarray, rows: GroupRows) -> np.ndarray:
    """(P,) the most reviewers each paper can have when each group gives at most ``upper[p]``."""
    counted = rows.group >= 0
    free = (allowed & ~counted[None, :]).sum(axis=1)
    papers, reviewers = np.nonzero(allowed & counted[None, :])
    keys, counts = rows.counts(papers, reviewers)
    capped = np.minimum(counts, rows.upper[keys // rows.n_groups])
    return free + np.bincount(keys // rows.n_groups, weights=capped, minlength=allowed.shape[0])


def check_group_rows(pairs: np.ndarray, groups: tuple[GroupRows, ...]) -> None:
    """Raise ``RuntimeError`` when the chosen pairs break a group row."""
    for rows in groups:
        keys, counts = rows.counts(pairs[:, 0], pairs[:, 1])
        papers = keys // rows.n_groups
        over = counts > rows.upper[papers]
        per_paper_min = np.zeros(len(rows.lower), dtype=np.int64)
        if rows.n_groups == 1:
            np.add.at(per_paper_min, papers, counts)
            under = per_paper_min < rows.lower
        else:
            under = np.zeros(len(rows.lower), dtype=bool)
        if over.any() or under.any():
            raise RuntimeError(f"the solver's assignment breaks a {rows.name} constraint")
