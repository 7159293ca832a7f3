"""A synthetic OSM PBF with realistic road geometry, for benchmarks of the big-file reader.

The road net is a lattice of ``n × n`` intersections over a bounding box; every lattice edge
has ``k`` (default 3) intermediate shape nodes offset sideways (curved roads), so a raw node
count is ``n² + 2n(n-1)k`` plus extras. Rows and columns are split into ways of 1-8 spans.
Classes: every 40th row/column is a ``motorway`` drawn as one-way carriageways (alternating
direction, ``maxspeed=100``), every 10th ``primary`` (``maxspeed=60``), every 5th
``secondary``, the rest ``residential`` with 5 % ``oneway=yes`` and 2 % ``oneway=-1``.
Non-drivable extras: a footway with its own 4 nodes across every 7th cell, a
``service=parking_aisle`` way and a ``waterway`` every 50th cell, and 3 % untagged nodes that no
way references. All ids are positive and sorted (nodes first, then ways), as in real extracts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def lattice_size(raw_nodes: int, k: int = 3) -> int:
    """Lattice side ``n`` whose file has about ``raw_nodes`` raw nodes (extras included)."""
    # raw ≈ n² (1 + 2k) · (1 + 0.03 untagged) + 4 (n/7)² footway nodes
    per_cell = (1 + 2 * k) * 1.03 + 4 / 49
    return max(3, int(math.sqrt(raw_nodes / per_cell)))


def write_synthetic_pbf(path: str | Path, raw_nodes: int, bbox: tuple[float, float, float, float], *,
                        k: int = 3, seed: int = 0) -> dict:
    """Write the synthetic file and return its counts (``n``, ``raw_nodes``, ``ways``, ...)."""
    import osmium

    rng = np.random.default_rng(seed)
    n = lattice_size(raw_nodes, k)
    minx, miny, maxx, maxy = bbox
    dx, dy = (maxx - minx) / (n - 1), (maxy - miny) / (n - 1)
    gx = minx + dx * np.arange(n)
    gy = miny + dy * np.arange(n)
    n_int = n * n
    # intersections: ids 1..n² (row-major), slightly jittered
    ix = (gx[None, :] + rng.uniform(-0.1, 0.1, (n, n)) * dx).ravel()
    iy = (gy[:, None] + rng.uniform(-0.1, 0.1, (n, n)) * dy).ravel()
    # horizontal spans (i, j)->(i, j+1): n(n-1) spans × k nodes; vertical likewise
    n_span = n * (n - 1)
    t = (np.arange(1, k + 1) / (k + 1))[None, :]
    a_h = (np.arange(n)[:, None] * n + np.arange(n - 1)[None, :]).ravel()
    a_v = (np.arange(n - 1)[:, None] * n + np.arange(n)[None, :]).ravel()
    b_h, b_v = a_h + 1, a_v + n
    bend = np.sin(np.pi * t)  # sideways bulge, 0 at the ends

    hx = ix[a_h, None] + (ix[b_h] - ix[a_h])[:, None] * t
    hy = iy[a_h, None] + (iy[b_h] - iy[a_h])[:, None] * t + rng.uniform(-0.15, 0.15, (n_span, 1)) * dy * bend
    vx = ix[a_v, None] + (ix[b_v] - ix[a_v])[:, None] * t + rng.uniform(-0.15, 0.15, (n_span, 1)) * dx * bend
    vy = iy[a_v, None] + (iy[b_v] - iy[a_v])[:, None] * t
    h0 = n_int + 1  # first id of horizontal shape nodes
    v0 = h0 + n_span * k
    f0 = v0 + n_span * k  # footway nodes
    cells = [(i, j) for i in range(0, n - 1, 7) for j in range(0, n - 1, 7)]
    n_untagged = int(0.03 * (n_int + 2 * n_span * k))
    counts = {"n": n, "k": k, "ways": 0, "drivable_ways": 0}
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        node = osmium.osm.mutable.Node
        for nid, x, y in zip(range(1, n_int + 1), ix.tolist(), iy.tolist(), strict=True):
            w.add_node(node(id=nid, location=(x, y)))
        for nid, x, y in zip(range(h0, v0), hx.ravel().tolist(), hy.ravel().tolist(), strict=True):
            w.add_node(node(id=nid, location=(x, y)))
        for nid, x, y in zip(range(v0, f0), vx.ravel().tolist(), vy.ravel().tolist(), strict=True):
            w.add_node(node(id=nid, location=(x, y)))
        nid = f0
        for i, j in cells:
            for s in range(4):  # footway across the cell (own nodes, not touching the roads)
                w.add_node(node(id=nid, location=(gx[j] + dx * (0.2 + 0.2 * s), gy[i] + dy * (0.25 + 0.15 * s))))
                nid += 1
        fuel0 = nid
        n_fuel = max(10, n_int // 2000)
        fuel_at = rng.choice(n_int, n_fuel, replace=False)
        for q, c in enumerate(fuel_at.tolist()):  # fuel stations next to intersections
            w.add_node(node(id=fuel0 + q, location=(ix[c] + 0.2 * dx, iy[c] + 0.2 * dy),
                            tags={"amenity": "fuel", "name": f"加油站{q}"}))
        nid = fuel0 + n_fuel
        ux = rng.uniform(minx, maxx, n_untagged)
        uy = rng.uniform(miny, maxy, n_untagged)
        for q, (x, y) in enumerate(zip(ux.tolist(), uy.tolist(), strict=True)):
            w.add_node(node(id=nid + q, location=(x, y)))
        raw = nid + n_untagged - 1
        counts["raw_nodes"] = raw
        wid = 1
        way = osmium.osm.mutable.Way

        def line_tags(idx: int, along: int) -> tuple[dict[str, str], bool]:
            """Tags of a row/column; returns (tags, reversed) for motorway carriageways."""
            if idx % 40 == 20:
                return {"highway": "motorway", "oneway": "yes", "maxspeed": "100", "ref": f"G{idx}"}, (idx // 40) % 2 == 1
            if idx % 10 == 0:
                return {"highway": "primary", "maxspeed": "60", "name": f"{idx}路"}, False
            if idx % 5 == 0:
                return {"highway": "secondary", "name": f"{idx}街"}, False
            return {"highway": "residential"}, False

        for horizontal in (True, False):
            for idx in range(n):
                base, rev = line_tags(idx, 0)
                j = 0
                while j < n - 1:
                    span = int(rng.integers(1, 9))
                    end = min(n - 1, j + span)
                    refs: list[int] = []
                    for s in range(j, end):
                        if horizontal:
                            a, sh = idx * n + s, h0 + (idx * (n - 1) + s) * k
                        else:
                            a, sh = s * n + idx, v0 + (s * n + idx) * k
                        refs.append(a + 1)
                        refs.extend(range(sh, sh + k))
                    refs.append((idx * n + end if horizontal else end * n + idx) + 1)
                    tags = dict(base)
                    if tags["highway"] == "residential":
                        r = rng.random()
                        if r < 0.05:
                            tags["oneway"] = "yes"
                        elif r < 0.07:
                            tags["oneway"] = "-1"
                    if rev:
                        refs.reverse()
                    w.add_way(way(id=wid, nodes=refs, tags=tags))
                    wid += 1
                    counts["drivable_ways"] += 1
                    j = end
        for q in range(len(cells)):
            w.add_way(way(id=wid, nodes=list(range(f0 + 4 * q, f0 + 4 * q + 4)), tags={"highway": "footway"}))
            wid += 1
            if q % 7 == 0:  # a parking aisle (excluded service road) and a stream on the same shape nodes
                w.add_way(way(id=wid, nodes=list(range(f0 + 4 * q, f0 + 4 * q + 4)),
                              tags={"highway": "service", "service": "parking_aisle"}))
                w.add_way(way(id=wid + 1, nodes=list(range(f0 + 4 * q, f0 + 4 * q + 4)), tags={"waterway": "stream"}))
                wid += 2
        counts["ways"] = wid - 1
    return counts
