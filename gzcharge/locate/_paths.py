"""Path helpers for the flow-refuelling model: positions along paths and arc-cover sets.

A path is a sequence of node ids; its *positions* are the cumulative edge lengths from the
origin. Everything here works on one path at a time with numpy (no loops over arcs).

Refuelling rule (see :mod:`gzcharge.locate.frlm` for the derivation): with stations at
positions ``s_1 <= ... <= s_k`` on a path of length ``L`` and range ``R``

* round trip (out and back, repeated): ``k >= 1``, ``s_1 <= R/2``, ``s_{i+1} - s_i <= R``,
  ``L - s_k <= R/2``;
* one way (leaves the origin with a full tank, may arrive empty): ``s_1 <= R`` (or ``L <= R``
  without stations), ``s_{i+1} - s_i <= R``, ``L - s_k <= R``.

This module is the **only** implementation of that rule in gzcharge: the FRLM core, the
highway tier (refuelled flags, charging sessions) and the hydrogen tier (refills) call
:func:`refuelled` / :func:`refuel_stops` or their node-id fronts :func:`path_refuelled` /
:func:`path_stops`.

Stops (sizing rule). On a refuelled trip the vehicle charges to full at the first open
station from its origin and thereafter, greedily, at the last open station before its range
would be exceeded (fewest stops). Round trip: the cyclic trip O→D→O in steady state (a
station at ``x`` is met at ``x`` and at ``2L − x``), from the first station until it can reach
that station again. One way: from the origin with a full tank until the destination is in
reach. Each stop takes the energy for the kilometres to the next stop (round trip: cyclically,
so one round trip's stops add up to ``2L``; one way: the last stop to the destination).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gzcharge.errors import DataError

logger = logging.getLogger(__name__)

_DOMINANCE_MAX_WORK = 20_000_000  # u*u*n_occurrences above which dominated sets are kept


def edge_lookup(edge_lengths: Mapping[tuple[Any, Any], float] | Any) -> dict[tuple[Any, Any], float]:
    """Undirected edge-length dict: ``(u, v)`` and ``(v, u)`` (a given direction wins).

    Accepts a mapping ``(u, v) -> length`` or a pandas Series with a two-level index.
    """
    if hasattr(edge_lengths, "items") and not isinstance(edge_lengths, Mapping):
        edge_lengths = dict(edge_lengths.items())
    if not isinstance(edge_lengths, Mapping) or not edge_lengths:
        raise DataError("edge_lengths must be a non-empty mapping (u, v) -> length")
    out: dict[tuple[Any, Any], float] = {}
    for key, length in edge_lengths.items():
        if not isinstance(key, tuple) or len(key) != 2:
            raise DataError(f"edge_lengths keys must be (u, v) node pairs, got {key!r}")
        try:
            val = float(length)
        except (TypeError, ValueError) as exc:
            raise DataError(f"edge length of {key!r} is not a number: {length!r}") from exc
        if not np.isfinite(val) or val < 0:
            raise DataError(f"edge length of {key!r} must be finite and >= 0, got {length!r}")
        out[key] = val
    for (u, v), val in list(out.items()):
        out.setdefault((v, u), val)
    return out


def path_positions(paths: Sequence[Sequence[Any]], lengths: dict[tuple[Any, Any], float]) -> list[np.ndarray]:
    """Cumulative position of every node along every path (DataError naming path and edge)."""
    if len(paths) == 0:
        raise DataError("paths is empty: give at least one path (a sequence of node ids)")
    out = []
    for q, path in enumerate(paths):
        if isinstance(path, (str, bytes)) or len(path) == 0:
            raise DataError(f"path {q} is empty or not a sequence of node ids: {path!r}")
        try:
            steps = [lengths[(path[t], path[t + 1])] for t in range(len(path) - 1)]
        except KeyError:
            bad = next((path[t], path[t + 1]) for t in range(len(path) - 1) if (path[t], path[t + 1]) not in lengths)
            raise DataError(
                f"path {q} uses edge {bad!r}, which is not in edge_lengths; add it or fix the path"
            ) from None
        out.append(np.r_[0.0, np.cumsum(steps)])
    return out


def arc_cover_sets(
    pos: np.ndarray, is_site: np.ndarray, site_open: np.ndarray, vehicle_range: float, *, round_trip: bool
) -> tuple[list[np.ndarray], bool]:
    """Minimal arc-cover sets of one path (ACPC), as arrays of node *occurrence* indices.

    Parameters
    ----------
    pos
        Node positions along the path (non-decreasing).
    is_site
        Per occurrence: the node is a candidate or an existing station.
    site_open
        Per occurrence: an existing station (always open).
    vehicle_range
        Range ``R``.
    round_trip
        Round-trip (half tank at both ends) or one-way (full tank at the origin) rule.

    Returns
    -------
    sets, impossible
        Each set lists occurrence indices of which at least one must hold a station; sets
        already met by an existing station are dropped, dominated (superset) sets removed.
        ``impossible`` is True when some arc cannot be covered by any site.
    """
    R = float(vehicle_range)
    L = float(pos[-1])
    eps = 1e-9 * max(R, L, 1.0)
    occ = np.flatnonzero(is_site)
    cpos = pos[occ]
    nc = len(occ)
    tail, head = pos[:-1], pos[1:]
    lo_parts: list[np.ndarray] = []
    hi_parts: list[np.ndarray] = []
    if round_trip:
        # outbound arc t: stations in [head-R, tail] or (previous return leg) at <= R - head
        lo_parts += [np.searchsorted(cpos, head - R - eps, "left"), np.zeros(len(head), dtype=np.int64)]
        hi_parts += [np.searchsorted(cpos, tail + eps, "right"), np.searchsorted(cpos, R - head + eps, "right")]
        # return arc t (head at tail): stations in [head, tail+R] or (next outbound leg) at >= 2L - R - tail
        lo_parts += [np.searchsorted(cpos, head - eps, "left"), np.searchsorted(cpos, 2 * L - R - tail - eps, "left")]
        hi_parts += [np.searchsorted(cpos, tail + R + eps, "right"), np.full(len(head), nc, dtype=np.int64)]
        n_arc_sets = 2
    else:
        need = head > R + eps  # arcs beyond the initial full tank
        lo_parts += [np.searchsorted(cpos, head[need] - R - eps, "left")]
        hi_parts += [np.searchsorted(cpos, tail[need] + eps, "right")]
        n_arc_sets = 1
    idx = np.arange(nc)
    rows = []
    if round_trip:
        k = len(head)
        for a in range(n_arc_sets):
            lo1, hi1 = lo_parts[2 * a], hi_parts[2 * a]
            lo2, hi2 = lo_parts[2 * a + 1], hi_parts[2 * a + 1]
            if k:
                rows.append(((idx >= lo1[:, None]) & (idx < hi1[:, None])) | ((idx >= lo2[:, None]) & (idx < hi2[:, None])))
        rows.append(np.ones((1, nc), dtype=bool))  # at least one station on the path
    else:
        if len(lo_parts[0]):
            rows.append((idx >= lo_parts[0][:, None]) & (idx < hi_parts[0][:, None]))
    if not rows:
        return [], False
    mat = np.vstack(rows)
    if mat.shape[1] == 0:
        return [], True
    impossible = bool((~mat.any(axis=1)).any())
    if impossible:
        return [], True
    # drop sets met by an existing station, then duplicates and supersets
    mat = mat[~(mat & site_open[occ]).any(axis=1)]
    if not len(mat):
        return [], False
    mat = np.unique(mat, axis=0)
    u = mat.shape[0]
    if u > 1 and u * u * nc <= _DOMINANCE_MAX_WORK:
        f = mat.astype(np.float32)
        contains = (f @ (~mat).astype(np.float32).T) == 0  # contains[i, j]: set i ⊆ set j
        np.fill_diagonal(contains, False)
        mat = mat[~contains.any(axis=0)]
    return [occ[r] for r in mat], False


def refuelled(pos: np.ndarray, station: np.ndarray, vehicle_range: float, *, round_trip: bool) -> bool:
    """Direct check of the refuelling rule for one path given stations per node occurrence."""
    R = float(vehicle_range)
    L = float(pos[-1])
    eps = 1e-9 * max(R, L, 1.0)
    s = pos[station]
    if round_trip:
        if len(s) == 0:
            return False
        return bool(s[0] <= R / 2 + eps and L - s[-1] <= R / 2 + eps and np.all(np.diff(s) <= R + eps))
    pts = np.r_[0.0, s, L]
    return bool(np.all(np.diff(pts) <= R + eps))


def refuel_stops(pos: np.ndarray, station: np.ndarray, vehicle_range: float, *,
                 round_trip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stops of one trip under the fewest-stops greedy rule (see the module docstring).

    Parameters
    ----------
    pos
        Node positions along the path (non-decreasing).
    station
        Bool per node occurrence: an open station.
    vehicle_range
        Range ``R``.
    round_trip
        Round trip (cyclic O→D→O) or one way.

    Returns
    -------
    occurrence, km
        Occurrence index (into ``pos``) of every stop, in driving order, and the kilometres
        each stop fuels (to the next stop). Both empty when the trip is not refuelled.
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
    if not refuelled(pos, station, vehicle_range, round_trip=round_trip):
        return empty
    R = float(vehicle_range)
    L = float(pos[-1])
    eps = 1e-9 * max(R, L, 1.0)
    occ = np.flatnonzero(station)
    x = pos[occ]
    if round_trip:
        back = (x > eps) & (x < L - eps)
        km = np.r_[x, 2 * L - x[back]]
        who = np.r_[occ, occ[back]]
        order = np.lexsort((who, km))
        km, who = km[order], who[order]
        start, end = float(km[0]), float(km[0]) + 2 * L
        km_ext, who_ext = np.r_[km, km + 2 * L], np.r_[who, who]
        at, stops = [start], [int(who[0])]
    else:
        if L <= R + eps:
            return empty
        order = np.lexsort((occ, x))
        km_ext, who_ext = x[order], occ[order]
        start, end = 0.0, L
        at, stops = [], []
    cur = start
    while cur + R < end - eps:
        ok = np.flatnonzero((km_ext > cur + eps) & (km_ext <= cur + R + eps))
        if len(ok) == 0:  # cannot happen on a refuelled trip
            raise DataError("internal: the greedy stop rule found no reachable station on a refuelled path")
        j = ok[-1]
        cur = float(km_ext[j])
        at.append(cur)
        stops.append(int(who_ext[j]))
    nxt = np.r_[at[1:], end] if at else np.zeros(0)
    return np.asarray(stops, dtype=np.int64), nxt - np.asarray(at, dtype=float)


def _one_path_positions(path: Sequence[Any], lengths: Mapping[tuple[Any, Any], float]) -> np.ndarray:
    """Positions of one path's nodes; ``lengths`` is looked up as ``(u, v)`` then ``(v, u)``."""
    steps = np.empty(max(len(path) - 1, 0))
    for t in range(len(path) - 1):
        u, v = path[t], path[t + 1]
        ln = lengths.get((u, v))
        if ln is None:
            ln = lengths.get((v, u))
        if ln is None:
            raise DataError(f"path {list(path)[:3]}… uses edge ({u!r}, {v!r}), which has no length; add it or fix the path")
        steps[t] = float(ln)
    return np.r_[0.0, np.cumsum(steps)]


def path_refuelled(path: Sequence[Any], lengths: Mapping[tuple[Any, Any], float], open_nodes: Any,
                   vehicle_range: float, *, round_trip: bool = True) -> bool:
    """Whether a trip along ``path`` (node ids) is refuelled by the stations ``open_nodes``.

    ``lengths`` maps ``(u, v)`` (either direction) to an edge length; :func:`refuelled` applies
    the rule.
    """
    pos = _one_path_positions(path, lengths)
    station = np.fromiter((n in open_nodes for n in path), dtype=bool, count=len(path))
    return refuelled(pos, station, vehicle_range, round_trip=round_trip)


def path_stops(path: Sequence[Any], lengths: Mapping[tuple[Any, Any], float], open_nodes: Any,
               vehicle_range: float, *, round_trip: bool = True) -> list[tuple[Any, float]]:
    """``(station node, km fuelled)`` per stop of one trip (:func:`refuel_stops`); ``[]`` if not refuelled."""
    pos = _one_path_positions(path, lengths)
    station = np.fromiter((n in open_nodes for n in path), dtype=bool, count=len(path))
    occ, km = refuel_stops(pos, station, vehicle_range, round_trip=round_trip)
    return [(path[i], float(k)) for i, k in zip(occ.tolist(), km.tolist(), strict=True)]
