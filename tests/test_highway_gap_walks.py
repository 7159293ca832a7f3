"""Gap walks (shortest-route trees): windows and stretch report against second methods and hand cases.

* On trees every simple path is a shortest route, so the fast windows and stretches must equal a
  brute force over every simple path (written here, independent of gzcharge).
* On graphs with cycles the fast one-pass computations (:func:`gap_window_sets`,
  :func:`gap_stretches`) must equal the walks spelled out one by one (:func:`gap_walks`), and the
  report must say ``> G`` exactly on the edges of the violated windows' walks.
* A hand case: a ladder (dual carriageways with a rung at every node) whose simple paths are
  exponential in number.
"""

from __future__ import annotations

import random

import networkx as nx
import pytest

from gzcharge.highway.corridors import (
    GapWorkLimitError,
    edge_key,
    gap_stretches,
    gap_walks,
    gap_window_sets,
)
from gzcharge.highway.model import _minimal_sets, gap_windows


def _random_graph(rng: random.Random, n: int, extra: int) -> nx.Graph:
    """A random tree on ``n`` nodes plus ``extra`` chords, integer lengths 1..30 km (ties happen)."""
    g = nx.Graph()
    for v in range(1, n):
        g.add_edge(rng.randrange(v), v, length_km=float(rng.randint(1, 30)))
    for _ in range(extra):
        a, b = rng.sample(range(n), 2)
        if not g.has_edge(a, b):
            g.add_edge(a, b, length_km=float(rng.randint(1, 30)))
    return g


def _brute_walks(g: nx.Graph, starts, limit: float, stops=()):
    """Every simple path from each start (the first definition), as (start, nodes, length, how)."""
    stops = set(stops)
    for s in starts:
        stack = [(s, 0.0, (s,))]
        while stack:
            v, dist, path = stack.pop()
            if v != s and v in stops:
                yield s, path, dist, "stop"
                continue
            nbrs = [w for w in g.neighbors(v) if len(path) < 2 or w != path[-2]]
            if v != s and not nbrs:
                yield s, path, dist, "end"
                continue
            for w in nbrs:
                d2 = dist + g.edges[v, w]["length_km"]
                assert w not in path, "brute force is for trees only"
                if d2 > limit + 1e-9:
                    yield s, (*path, w), d2, "limit"
                else:
                    stack.append((w, d2, (*path, w)))


def _positions(g, nodes):
    pos = [0.0]
    for a, b in zip(nodes[:-1], nodes[1:], strict=True):
        pos.append(pos[-1] + g.edges[a, b]["length_km"])
    return pos


def _windows_from(walks, g, cand, limit):
    """Minimal windows and whether one is empty, from explicitly spelled-out walks."""
    sets, empty = [], False
    for _s, nodes, length, *_ in walks:
        if length <= limit + 1e-9:
            continue
        found = {n for n, p in zip(nodes, _positions(g, nodes), strict=True) if n in cand and 1e-12 < p <= limit + 1e-9}
        if found:
            sets.append(sorted(found))
        else:
            empty = True
    return sorted(_minimal_sets(sets)), empty


def _stretch_from(walks):
    per: dict = {}
    for _s, nodes, length, *_ in walks:
        for a, b in zip(nodes[:-1], nodes[1:], strict=True):
            k = edge_key(a, b)
            per[k] = max(per.get(k, 0.0), length)
    return per


@pytest.mark.parametrize("seed", range(40))
def test_trees_equal_every_simple_path(seed):
    rng = random.Random(seed)
    g = _random_graph(rng, rng.randint(2, 14), 0)
    cand = set(rng.sample(sorted(g.nodes), rng.randint(1, len(g))))
    G = float(rng.choice([10, 20, 35, 50]))
    ends = {n for n in g if g.degree(n) == 1}
    starts = sorted(cand | ends)
    windows, unmet = gap_windows(g, sorted(cand), G)
    expect, empty = _windows_from(_brute_walks(g, starts, G), g, cand, G)
    assert sorted(windows) == expect
    assert bool(unmet) == empty
    sites = set(rng.sample(sorted(cand), rng.randint(0, len(cand))))
    per = gap_stretches(g, sites, starts=sorted(cand), max_gap_km=G)
    brute = _stretch_from(_brute_walks(g, sorted(set(starts) | sites), 2 * G, stops=sites))
    assert per.keys() >= brute.keys()
    for k, v in brute.items():
        assert per[k] == pytest.approx(v), k


@pytest.mark.parametrize("seed", range(60))
def test_one_pass_equals_walks_spelled_out_and_report_agrees(seed):
    rng = random.Random(100 + seed)
    g = _random_graph(rng, rng.randint(3, 16), rng.randint(1, 8))
    cand = set(rng.sample(sorted(g.nodes), rng.randint(1, len(g))))
    G = float(rng.choice([15, 25, 40, 60]))
    ends = {n for n in g if g.degree(n) == 1}
    starts = sorted(cand | ends)
    # windows: one pass vs every walk spelled out
    windows, unmet = gap_windows(g, sorted(cand), G)
    expect, empty = _windows_from(gap_walks(g, starts, limit_km=G), g, cand, G)
    assert sorted(windows) == expect
    assert bool(unmet) == empty
    raw, _ = gap_window_sets(g, sorted(cand), max_gap_km=G)
    assert sorted(_minimal_sets([list(t) for t in raw])) == expect
    for _ in range(4):
        sites = set(rng.sample(sorted(cand), rng.randint(0, len(cand))))
        per = gap_stretches(g, sites, starts=sorted(cand), max_gap_km=G)
        walks = list(gap_walks(g, sorted(set(starts) | sites), limit_km=2 * G, stops=sites))
        spelled = _stretch_from(walks)
        for k, v in spelled.items():
            assert per[k] == pytest.approx(v), (k, sites)
        # agreement: an edge is reported > G exactly when it lies on the walk of a violated window
        bad_windows = [w for w in windows if not sites & set(w)]
        assert (max(per.values(), default=0.0) > G + 1e-9) == (bool(bad_windows) or bool(unmet))
        violated_edges = set()
        for _s, nodes, length, *_ in walks:
            if length > G + 1e-9:
                violated_edges.update(edge_key(a, b) for a, b in zip(nodes[:-1], nodes[1:], strict=True))
        assert {k for k, v in spelled.items() if v > G + 1e-9} == violated_edges


def test_ladder_of_dual_carriageways_is_polynomial():
    # Two parallel carriageways A (nodes 0..n) and B (n+1..2n+1), 1 km pieces, a 0.1 km rung at every node:
    # more than 2^n simple paths from one end (n = 40). Candidates at the A nodes, G = 2.5 km. From A-node i
    # the tree runs along A both ways; B(j) is at |j - i| + 0.1 by its own rung or along B (a tie, broken
    # towards the smaller id A(j)), so every B edge closes a loop. Out along A the walk passes 2.5 km on
    # A(i+2)-A(i+3) (2 → 3 km) with the candidates i+1, i+2 before it; on B, B(i+2)-B(i+3) runs 2.1 → 3.1 km
    # (route to B(i+2) holds i+1, i+2); the loop B(i+1) → B(i+2) → A(i+2) reaches i+2 at 2.2 km; loops
    # towards i close within 2.2 km. So the minimal windows are {i+1, i+2} and {i-2, i-1} for the inner
    # nodes, none larger than two: a station at least every 2 km.
    n = 40
    g = nx.Graph()
    for i in range(n):
        g.add_edge(i, i + 1, length_km=1.0)
        g.add_edge(n + 1 + i, n + 2 + i, length_km=1.0)
    for i in range(n + 1):
        g.add_edge(i, n + 1 + i, length_km=0.1)
    cand = list(range(n + 1))
    windows, unmet = gap_windows(g, cand, 2.5)
    assert unmet == []
    pairs = {tuple(w) for w in windows}
    for i in range(3, n - 2):
        assert (i + 1, i + 2) in pairs and (i - 2, i - 1) in pairs
    assert all(len(w) <= 2 for w in windows)


def test_work_cap_raises_instead_of_hanging():
    g = nx.path_graph(50)
    nx.set_edge_attributes(g, 1.0, "length_km")
    with pytest.raises(GapWorkLimitError, match="merge the carriageways"):
        gap_window_sets(g, list(g.nodes), max_gap_km=10.0, max_work=100)


def test_report_beyond_the_cap_falls_back_with_a_notice(monkeypatch):
    # The ring with a spoke (tests/test_highway_formulation.py), one existing site at the end 0, G = 80 km.
    # Beyond the cap the report measures shortest routes between sites only: the ring's farthest point from
    # the site is 10 + 60 = 70 km away (node 3), so the longest stretch says 70, and the notice says why.
    import pandas as pd

    from gzcharge.highway import corridors
    from gzcharge.highway.candidates import candidates_at_nodes
    from gzcharge.highway.corridors import corridors_from_edges
    from gzcharge.highway.model import assess_highway, prepare_highway_from, solve_highway
    from gzcharge.highway.params import HighwayParams
    from gzcharge.highway.traffic import traffic_from_paths

    edges = pd.DataFrame({"u": [1, 2, 3, 4, 0], "v": [2, 3, 4, 1, 1], "length_km": [30.0, 30.0, 30.0, 30.0, 10.0]})
    xy = {0: (490_000.0, 2_900_000.0), 1: (500_000.0, 2_900_000.0), 2: (515_000.0, 2_915_000.0),
          3: (530_000.0, 2_900_000.0), 4: (515_000.0, 2_885_000.0)}
    cg = corridors_from_edges(edges, xy, crs="EPSG:4544", source="ring")
    params = HighwayParams(max_gap_km=80, enforce_gap=False, range_km=200, range_derate=1.0)
    cs = candidates_at_nodes(cg, [1, 2, 3, 4], params, existing=[0])
    prep = prepare_highway_from(cs, traffic_from_paths(cs.corridors, [], []), params)
    sol = solve_highway(prep)
    assert assess_highway(prep, sol).expressway_segments["longest_stretch_km"].max() == pytest.approx(140.0)
    monkeypatch.setattr(corridors, "GAP_WORK_CAP", 3)
    res = assess_highway(prep, sol)
    assert res.expressway_segments["longest_stretch_km"].max() == pytest.approx(70.0)
    assert "shortest routes between sites only" in res.notice and "merge the carriageways" in res.notice
