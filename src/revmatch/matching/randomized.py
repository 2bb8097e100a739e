"""Sample a 0/1 reviewer assignment from a fractional one by bipartite dependent rounding.

The randomized assignment LP caps every (paper, reviewer) value at a probability q, so its
solution x is fractional: integral per paper (the number of reviews), fractional per reviewer
(the loads). ``sample_assignment`` turns x into one random assignment with the guarantees of
dependent rounding (Gandhi, Khuller, Parthasarathy and Srinivasan, JACM 2006), the method of
Jecmen et al. (2020) for randomized reviewer assignment:

- every pair is chosen with probability exactly x (its marginal);
- every paper gets exactly its sum of x;
- every reviewer gets the floor or the ceiling of its sum of x.

Only the pairs with 0 < x < 1 form the rounding graph (papers and reviewers as nodes). A walk
along its edges stops at a node already on the walk (an even cycle: bipartite) or, extended
both ways, at two nodes with a single fractional edge (a maximal path; its ends are reviewers,
since a paper's fractional values sum to an integer). The edges of the cycle or path are
alternately raised and lowered, by +a or -b with probabilities b/(a+b) and a/(a+b), where a
and b are the largest steps keeping all of them in [0, 1]: every value keeps its mean, every
inner node its sum, and at least one edge becomes 0 or 1 and leaves the graph. A reviewer's
sum only moves once it has a single fractional edge left, hence floor or ceiling. Paper sums
are first made exactly integral (a shift of at most 1e-6) so that float residue cannot end a
path at a paper. The loop is compiled with numba; its uniform draws, one per rounding step, and
the order of the edges come from a numpy Generator seeded with ``seed``, which fixes the sample.
"""

from __future__ import annotations

import numba
import numpy as np

#: Input values within this of 0 or 1 are taken as 0 or 1.
SNAP = 1e-9
#: Largest distance of a paper's sum from an integer.
SUM_TOL = 1e-6
#: Values within this of 0 or 1 after a rounding step are set to 0 or 1 (float residue).
_EPS = 1e-12


def _checked_pairs(
    paper_of: np.ndarray, reviewer_of: np.ndarray, fraction: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the pairs; return int64 papers, reviewers and the values snapped near 0 and 1."""
    paper = np.asarray(paper_of)
    reviewer = np.asarray(reviewer_of)
    x = np.asarray(fraction, dtype=np.float64)
    if paper.ndim != 1 or paper.shape != reviewer.shape or paper.shape != x.shape:
        raise ValueError(
            "paper_of, reviewer_of and fraction must be 1-d arrays of one length, got shapes "
            f"{paper.shape}, {reviewer.shape} and {x.shape}"
        )
    for name, ids in (("paper_of", paper), ("reviewer_of", reviewer)):
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0):
            raise ValueError(f"{name} must hold non-negative integers")
    paper, reviewer = paper.astype(np.int64), reviewer.astype(np.int64)
    bad = np.flatnonzero(~((x >= -SNAP) & (x <= 1 + SNAP)))
    if bad.size:
        i = bad[0]
        raise ValueError(f"fraction must lie in [0, 1]; pair {i} (paper {paper[i]}, reviewer "
                         f"{reviewer[i]}) has {float(x[i])!r}")
    x = np.where(x <= SNAP, 0.0, np.where(x >= 1 - SNAP, 1.0, x))
    order = np.lexsort((reviewer, paper))
    same = (np.diff(paper[order]) == 0) & (np.diff(reviewer[order]) == 0)
    if same.any():
        i = order[np.argmax(same)]
        raise ValueError(f"duplicate pair: paper {paper[i]}, reviewer {reviewer[i]}")
    sums = np.bincount(paper, weights=x) if x.size else np.zeros(0)
    off = np.flatnonzero(np.abs(sums - np.round(sums)) > SUM_TOL)
    if off.size:
        raise ValueError(f"paper {off[0]} has sum {float(sums[off[0]])!r}; each paper's values must sum "
                         f"to an integer (within {SUM_TOL:g})")
    return paper, reviewer, x


def _exact_paper_sums(paper: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Move each paper's fractional values (all in (0, 1)) by <= SUM_TOL so that they sum to an integer.

    Values are scaled towards 0 when the sum is too large and towards 1 when it is too small,
    so they stay in [0, 1]; a paper whose target is 0 (or its count) gets all 0 (all 1).
    """
    total = np.bincount(paper, weights=x)
    count = np.bincount(paper).astype(np.float64)
    target = np.round(total)
    down = np.divide(target, total, out=np.ones_like(total), where=target < total)
    room = count - total
    up = np.divide(count - target, room, out=np.ones_like(total), where=target > total)
    x = np.where((target < total)[paper], x * down[paper], x)
    return np.where((target > total)[paper], 1.0 - (1.0 - x) * up[paper], x)


def _incidence(ends: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency of the edges ``ends`` (m, 2): per node a segment of ``adj`` (start, degree), and
    ``pos`` (2, m), the place of each edge in the segment of its paper (row 0) and reviewer (row 1)."""
    m = ends.shape[0]
    nodes = np.concatenate([ends[:, 0], ends[:, 1]])
    order = np.argsort(nodes, kind="stable")
    degree = np.bincount(nodes, minlength=n_nodes).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(degree)[:-1]]).astype(np.int64)
    pos = np.empty(2 * m, dtype=np.int64)
    pos[order] = np.arange(2 * m)
    return start, degree, (order % m).astype(np.int64), pos.reshape(2, m)


@numba.njit(cache=True)
def _drop_edge(e, ends, start, degree, adj, pos):
    """Remove edge ``e`` from the segments of both its ends (swap with the last live edge)."""
    for side in range(2):
        u = ends[e, side]
        last = start[u] + degree[u] - 1
        other = adj[last]
        adj[pos[side, e]] = other
        pos[side, other] = pos[side, e]
        adj[last] = e
        pos[side, e] = last
        degree[u] -= 1


@numba.njit(cache=True)
def _round_alternating(x, walk, k, uniform, ends, start, degree, adj, pos):
    """Shift the values of ``walk[:k]`` alternately up and down, keeping means; drop integral edges."""
    up, down = np.inf, np.inf
    for i in range(k):
        v = x[walk[i]]
        if i % 2 == 0:
            up, down = min(up, 1.0 - v), min(down, v)
        else:
            up, down = min(up, v), min(down, 1.0 - v)
    step = up if uniform * (up + down) < down else -down
    for i in range(k):
        e = walk[i]
        v = x[e] + step if i % 2 == 0 else x[e] - step
        if v <= _EPS:
            v = 0.0
        elif v >= 1.0 - _EPS:
            v = 1.0
        x[e] = v
        if v == 0.0 or v == 1.0:
            _drop_edge(e, ends, start, degree, adj, pos)


@numba.njit(cache=True)
def _dependent_rounding(x, ends, n_papers, start, degree, adj, pos, uniforms):
    """Round ``x`` (all in (0, 1)) in place to 0/1 along cycles and maximal paths of the graph."""
    n_nodes = degree.shape[0]
    nodes = np.empty(n_nodes, np.int64)
    edges = np.empty(n_nodes, np.int64)
    walk = np.empty(n_nodes + 1, np.int64)
    place = np.full(n_nodes, -1, np.int64)
    draws = 0
    for s in range(n_nodes):
        top = -1
        while top >= 0 or degree[s] > 0:
            if top < 0:  # (re)start a walk at s
                top = 0
                nodes[0] = s
                place[s] = 0
            u = nodes[top]
            arrival = edges[top - 1] if top > 0 else -1
            if degree[u] == 0:  # only the walk's first node
                place[u] = -1
                top = -1
            elif u < n_papers and degree[u] == 1:  # float residue: the lone value is ~0 or ~1
                e = adj[start[u]]
                x[e] = 1.0 if x[e] > 0.5 else 0.0
                _drop_edge(e, ends, start, degree, adj, pos)
                if e == arrival:
                    place[u] = -1
                    top -= 1
            elif degree[u] == 1 and arrival >= 0:  # dead end
                if degree[nodes[0]] >= 2:  # extend the walk from its other end
                    for i in range((top + 1) // 2):
                        nodes[i], nodes[top - i] = nodes[top - i], nodes[i]
                    for i in range(top // 2):
                        edges[i], edges[top - 1 - i] = edges[top - 1 - i], edges[i]
                    for i in range(top + 1):
                        place[nodes[i]] = i
                    continue
                walk[:top] = edges[:top]
                _round_alternating(x, walk, top, uniforms[draws], ends, start, degree, adj, pos)
                draws += 1
                for i in range(top + 1):
                    place[nodes[i]] = -1
                top = -1
            else:
                e = adj[start[u]]
                if e == arrival:
                    e = adj[start[u] + 1]
                v = ends[e, 0] + ends[e, 1] - u
                p = place[v]
                if p >= 0:  # cycle nodes[p..top], closed by e
                    k = top - p
                    walk[:k] = edges[p:top]
                    walk[k] = e
                    _round_alternating(x, walk, k + 1, uniforms[draws], ends, start, degree, adj, pos)
                    draws += 1
                    for i in range(p + 1, top + 1):
                        place[nodes[i]] = -1
                    top = p
                else:
                    edges[top] = e
                    top += 1
                    nodes[top] = v
                    place[v] = top


def sample_assignment(
    paper_of: np.ndarray, reviewer_of: np.ndarray, fraction: np.ndarray, seed: int
) -> np.ndarray:
    """(n,) bool: the pairs chosen in one sample.

    paper_of/reviewer_of (n,) int64 pair endpoints (pairs unique), fraction (n,) float in [0, 1]
    with integral sums per paper (within 1e-6). Values within 1e-9 of 0 or 1 are snapped.
    E[chosen] = fraction for every pair; every paper gets exactly round(sum); every reviewer
    floor or ceil of its sum. Deterministic for a seed (numpy Generator).
    """
    paper, reviewer, x = _checked_pairs(paper_of, reviewer_of, fraction)
    chosen = x == 1.0
    fractional = np.flatnonzero((x > 0.0) & (x < 1.0))
    if fractional.size == 0:
        return chosen
    values = _exact_paper_sums(paper[fractional], x[fractional])
    chosen[fractional] = values == 1.0
    keep = (values > 0.0) & (values < 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.flatnonzero(keep))  # random walk order, same marginals
    pairs, values = fractional[order], values[order]
    papers, paper_node = np.unique(paper[pairs], return_inverse=True)
    reviewers, reviewer_node = np.unique(reviewer[pairs], return_inverse=True)
    n_papers = papers.size
    ends = np.stack([paper_node, n_papers + reviewer_node], axis=1).astype(np.int64)
    start, degree, adj, pos = _incidence(ends, n_papers + reviewers.size)
    _dependent_rounding(values, ends, n_papers, start, degree, adj, pos, rng.random(pairs.size))
    if not np.all((values == 0.0) | (values == 1.0)):  # a broken invariant, never expected
        raise RuntimeError("dependent rounding left fractional values")
    chosen[pairs] = values == 1.0
    return chosen
