"""Big OSM files to a simplified road graph in arrays, without a Python object per raw node.

The osmnx route (:func:`gzcharge.sources.osm.graph_from_file`: highway XML →
``ox.graph_from_xml`` → networkx) costs ~5.5 KB of RAM and ~0.5 ms per raw OSM node, which
does not fit a province. This module reads the same drivable roads into flat numpy arrays and
builds the same simplified graph with vectorised steps:

1. :func:`scan_drivable_ways` — one pass with pyosmium: node locations are kept by libosmium's
   own location index (C++); only ``highway=*`` ways reach Python (one object per way), and of
   those only drivable ones (:func:`gzcharge.sources.osm.is_drivable`) are kept. A way's node
   ids and coordinates come as two flat arrays (coordinates through libosmium's WKB factory).
   The result is cached on disk (:func:`cached_drivable_ways`), keyed by the file's SHA-256 and
   :data:`CACHE_VERSION`, so a second run on the same extract skips the file.
2. :func:`build_road_graph` — segments between consecutive way nodes (consecutive duplicate
   nodes dropped, as osmnx does), directed by the way's ``oneway`` (osmnx's rules:
   :data:`ONEWAY_VALUES`, :data:`REVERSED_VALUES`, ``junction=roundabout``), clipped to the
   buffered region (both ends inside, as ``truncate_graph_polygon(truncate_by_edge=False)``),
   then degree-2 chains are merged with osmnx's endpoint rule (a node stays when it has no
   in- or no out-edge, or not exactly two neighbours with degree 2 or 4); isolated rings are
   dropped (``remove_rings``). Lengths are great-circle sums over the pieces with osmnx's
   earth radius, so they equal osmnx's ``length`` of the simplified edge.

Differences from the osmnx route, on purpose: a way with nodes missing from the file (clipped
extracts) keeps all its complete pieces (the XML route keeps the longest one); nodes left
without edges after clipping are dropped; a merged edge keeps the attributes (way id, name,
ref, maxspeed, oneway) of its first piece and the most important ``highway`` class of all
pieces (osmnx keeps lists), and its travel time is the sum over the pieces at each piece's own
speed (osmnx's route averages the speeds of the classes it merged).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gzcharge.errors import DataError

#: parsed maxspeed values outside this range (km/h) are ignored as tagging errors
MAXSPEED_RANGE_KPH = (5.0, 150.0)
_NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: Any) -> float:
    """Parse an OSM ``maxspeed`` value to km/h; ``nan`` when absent or not numeric.

    ``"80"`` → 80, ``"80 km/h"`` → 80, ``"50 mph"`` → 80.47, ``"60;80"`` or ``["60", "80"]``
    → 70 (mean), ``"CN:urban"``/``"none"``/``"signals"`` → nan.
    """
    if value is None:
        return math.nan
    if isinstance(value, list | tuple):
        parts = [parse_maxspeed(v) for v in value]
        good = [v for v in parts if not math.isnan(v)]
        return float(np.mean(good)) if good else math.nan
    if isinstance(value, int | float):
        v = float(value)
    else:
        s = str(value)
        if ";" in s or "|" in s:
            return parse_maxspeed(re.split(r"[;|]", s))
        m = _NUM.match(s)
        if not m:
            return math.nan
        v = float(m.group(1))
        unit = (m.group(2) or "").lower()
        if unit == "mph":
            v *= 1.609344
        elif unit == "knots":
            v *= 1.852
    lo, hi = MAXSPEED_RANGE_KPH
    return v if lo <= v <= hi else math.nan

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

#: bump when the scan's filter or arrays change: old cache files are then ignored
CACHE_VERSION = 1
#: osmnx's values of ``oneway`` that make a way one-way, and those that reverse it
#: (``osmnx.graph._add_paths``, osmnx 2.0)
ONEWAY_VALUES: frozenset[str] = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
REVERSED_VALUES: frozenset[str] = frozenset({"-1", "reverse", "T"})
#: earth radius of osmnx's great-circle lengths (``osmnx.distance.great_circle``), metres
EARTH_RADIUS_M = 6_371_009.0


@dataclass
class DrivableWays:
    """Drivable ways of a file, flattened: way ``k`` owns ``refs[offsets[k]:offsets[k + 1]]``.

    Attributes
    ----------
    way_id
        OSM way ids, int64 ``(W,)``.
    offsets
        int64 ``(W + 1,)`` into ``refs``/``lon``/``lat``.
    refs
        OSM node ids of the ways' nodes in way order, int64 ``(R,)``.
    lon, lat
        Node coordinates (WGS-84 degrees) per entry of ``refs``; ``nan`` where the node is
        missing from the file.
    highway
        Index into :data:`gzcharge.sources.osm.DRIVE_HIGHWAYS`, int8 ``(W,)``.
    oneway
        0 two-way, 1 one-way along the node order, -1 one-way against it; int8 ``(W,)``.
    maxspeed_kph
        Parsed ``maxspeed`` (:func:`parse_maxspeed`), ``nan`` when absent.
    maxspeed, name, ref
        Raw tag text ('' when absent), unicode arrays ``(W,)``.
    n_highway
        Number of ``highway=*`` ways in the file (drivable or not), for messages.
    """

    way_id: np.ndarray
    offsets: np.ndarray
    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    highway: np.ndarray
    oneway: np.ndarray
    maxspeed_kph: np.ndarray
    maxspeed: np.ndarray
    name: np.ndarray
    ref: np.ndarray
    n_highway: int

    def __len__(self) -> int:
        return len(self.way_id)


def _oneway_code(tags: object) -> int:
    ow = tags.get("oneway")  # type: ignore[attr-defined]
    if ow in ONEWAY_VALUES:
        return -1 if ow in REVERSED_VALUES else 1
    if tags.get("junction") == "roundabout":  # type: ignore[attr-defined]
        return 1
    return 0


def scan_drivable_ways(path: str | Path) -> DrivableWays:
    """Read the drivable ways of an OSM file into arrays (one pass, no Python object per node).

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Raises
    ------
    DataError
        The file is missing, empty or corrupt.
    """
    import osmium
    import shapely
    from osmium.filter import EntityFilter, KeyFilter

    from gzcharge.sources import osm

    p = osm._check_file(path)
    code = {h: i for i, h in enumerate(osm.DRIVE_HIGHWAYS)}
    excluded = list(osm.EXCLUDED_TAGS.items())
    way_id: list[int] = []
    hw: list[int] = []
    oneway: list[int] = []
    maxspeed: list[str] = []
    name: list[str] = []
    ref: list[str] = []
    counts: list[int] = []
    refs_parts: list[np.ndarray] = []
    wkb: list[bytes | None] = []
    partial: dict[int, np.ndarray] = {}  # way index -> (n, 2) coordinates with nan (missing nodes)
    n_highway = 0
    factory = osmium.geom.WKBFactory()
    use_all = osmium.geom.use_nodes.ALL
    fp = (
        osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(EntityFilter(osmium.osm.WAY))
        .with_filter(KeyFilter("highway"))
    )
    try:
        for w in fp:
            n_highway += 1
            tags = w.tags
            c = code.get(tags.get("highway"))
            if c is None or any(tags.get(k) in vals for k, vals in excluded):
                continue
            nodes = w.nodes
            if len(nodes) < 2:
                continue
            refs_parts.append(np.fromiter((n.ref for n in nodes), np.int64, len(nodes)))
            try:
                wkb.append(factory.create_linestring(nodes, use_nodes=use_all))
            except (RuntimeError, osmium.InvalidLocationError):  # nodes missing from the file
                wkb.append(None)
                partial[len(way_id)] = np.array(
                    [(n.lon, n.lat) if n.location.valid() else (math.nan, math.nan) for n in nodes], dtype=float
                )
            way_id.append(w.id)
            hw.append(c)
            oneway.append(_oneway_code(tags))
            maxspeed.append(tags.get("maxspeed", ""))
            name.append(tags.get("name", ""))
            ref.append(tags.get("ref", ""))
            counts.append(len(nodes))
    except RuntimeError as e:
        raise osm._osmium_error(p, e) from e
    offsets = np.zeros(len(way_id) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    refs = np.concatenate(refs_parts) if refs_parts else np.zeros(0, np.int64)
    lonlat = np.full((len(refs), 2), np.nan)
    full = np.array([b is not None for b in wkb], dtype=bool)
    if full.any():
        geoms = shapely.from_wkb([b for b in wkb if b is not None])
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        full_idx = np.flatnonzero(full)
        # entries of full ways, in order: position = offsets[way] + rank within the way
        way_of = full_idx[owner]
        rank = np.arange(len(owner)) - np.repeat(np.cumsum(np.r_[0, np.bincount(owner)[:-1]]), np.bincount(owner))
        lonlat[offsets[way_of] + rank] = coords
    for k, xy in partial.items():
        lonlat[offsets[k] : offsets[k + 1]] = xy
    ms = np.array(maxspeed, dtype=str)
    uniq, inv = np.unique(ms, return_inverse=True)
    ms_kph = np.array([parse_maxspeed(u) if u else math.nan for u in uniq.tolist()], dtype=float)[inv]
    if partial:
        logger.info("%s: %d drivable ways miss nodes in the file (clipped extract); their complete pieces are kept",
                    p, len(partial))
    return DrivableWays(
        way_id=np.asarray(way_id, dtype=np.int64), offsets=offsets, refs=refs,
        lon=np.ascontiguousarray(lonlat[:, 0]), lat=np.ascontiguousarray(lonlat[:, 1]),
        highway=np.asarray(hw, dtype=np.int8), oneway=np.asarray(oneway, dtype=np.int8),
        maxspeed_kph=ms_kph.astype(np.float32), maxspeed=ms, name=np.array(name, dtype=str),
        ref=np.array(ref, dtype=str), n_highway=n_highway,
    )


# ---------------------------------------------------------------------------- cache
def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _filter_fingerprint() -> str:
    from gzcharge.sources import osm

    spec = repr((CACHE_VERSION, osm.DRIVE_HIGHWAYS, sorted(osm.EXCLUDED_TAGS.items()), sorted(ONEWAY_VALUES),
                 sorted(REVERSED_VALUES)))
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def default_cache_dir() -> Path:
    """Folder for cached way arrays: ``user_cache_dir("gzcharge")/osm/ways``."""
    from gzcharge.sources.osm import default_cache_dir as osm_cache

    return osm_cache() / "ways"


def cache_path(path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Cache file of an OSM file's drivable ways (by content hash and filter version)."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{file_sha256(path)[:32]}-v{CACHE_VERSION}-{_filter_fingerprint()}.npz"


def save_ways(ways: DrivableWays, out: Path) -> None:
    """Write the arrays as a compressed ``.npz``, atomically (temporary file, then rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(ways, f.name) for f in fields(ways) if f.name != "n_highway"}
    arrays["n_highway"] = np.array([ways.n_highway], dtype=np.int64)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_ways(src: Path) -> DrivableWays:
    """Read arrays written by :func:`save_ways`."""
    with np.load(src, allow_pickle=False) as z:
        kw = {f.name: z[f.name] for f in fields(DrivableWays) if f.name != "n_highway"}
        return DrivableWays(**kw, n_highway=int(z["n_highway"][0]))


def cached_drivable_ways(path: str | Path, *, cache_dir: str | Path | None = None,
                         use_cache: bool = True) -> DrivableWays:
    """:func:`scan_drivable_ways`, reusing (and writing) the on-disk cache.

    A cache file that cannot be read is ignored (logged) and rewritten; a cache folder that
    cannot be written only costs the next run a re-read.
    """
    from gzcharge.sources import osm

    p = osm._check_file(path)
    if not use_cache:
        return scan_drivable_ways(p)
    target = cache_path(p, cache_dir)
    if target.is_file():
        try:
            ways = load_ways(target)
            logger.info("%s: drivable ways from cache %s", p.name, target)
            return ways
        except (OSError, ValueError, KeyError) as e:
            logger.warning("ignoring unreadable cache file %s (%s)", target, e)
    ways = scan_drivable_ways(p)
    try:
        save_ways(ways, target)
    except OSError as e:
        logger.warning("could not write the road cache %s (%s); the next run reads the file again", target, e)
    return ways


# ---------------------------------------------------------------------------- graph
@dataclass
class RoadGraph:
    """A simplified directed road graph in arrays (WGS-84; projection is the caller's).

    Attributes
    ----------
    node_id, lon, lat
        Graph nodes (chain endpoints): OSM ids and coordinates, ``(N,)``.
    u, v
        Edge ends as positions into the node arrays, int64 ``(E,)``; ``key`` numbers parallel
        edges ``0, 1, …`` as osmnx does.
    length_m
        Great-circle length along the geometry.
    travel_time_s
        Sum over the pieces at the speed given per way (``nan`` when no speeds were given).
    way
        Index into the :class:`DrivableWays` of the edge's first piece (its id, tags).
    highway
        Most important class over the pieces (index into ``DRIVE_HIGHWAYS``; lower = more
        important, the order of :data:`gzcharge.network.DEFAULT_SPEEDS_KPH`).
    geom_offsets, geom_lon, geom_lat
        Edge ``e``'s geometry is ``geom_lon/lat[geom_offsets[e]:geom_offsets[e + 1]]`` (from ``u``
        to ``v``, at least two points).
    street_count
        Undirected streets at each node (osmnx's ``street_count``: distinct undirected edges,
        parallel ones counted separately, self-loops twice).
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    key: np.ndarray
    length_m: np.ndarray
    travel_time_s: np.ndarray
    way: np.ndarray
    highway: np.ndarray
    geom_offsets: np.ndarray
    geom_lon: np.ndarray
    geom_lat: np.ndarray
    street_count: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.u)


def great_circle_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Haversine distance in metres, osmnx's formula and radius (:data:`EARTH_RADIUS_M`)."""
    y1, y2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dy = y2 - y1
    dx = np.deg2rad(lon2) - np.deg2rad(lon1)
    h = np.sin(dy / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(dx / 2) ** 2
    h = np.minimum(1.0, h)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def _segments(ways: DrivableWays, inside: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``a`` (tail) and ``b`` (head) into ``refs`` of the kept directed segments, and their way."""
    R = len(ways.refs)
    own = np.repeat(np.arange(len(ways), dtype=np.int64), np.diff(ways.offsets))
    a = np.arange(R - 1, dtype=np.int64)
    same_way = own[:-1] == own[1:]
    ok = same_way & (ways.refs[:-1] != ways.refs[1:]) & np.isfinite(ways.lon[:-1]) & np.isfinite(ways.lon[1:])
    if inside is not None:
        ok &= inside[:-1] & inside[1:]
    a = a[ok]
    b = a + 1
    w = own[a]
    ow = ways.oneway[w]
    fwd = ow >= 0
    back = ow <= 0
    # osmnx adds each way's forward edges, then (two-way) its reverse edges: order by way, then direction
    tail = np.concatenate([a[fwd], b[back]])
    head = np.concatenate([b[fwd], a[back]])
    way = np.concatenate([w[fwd], w[back]])
    return tail, head, way


def build_road_graph(
    ways: DrivableWays,
    *,
    polygon: BaseGeometry | None = None,
    way_speed_kph: np.ndarray | None = None,
    source: str = "OSM file",
) -> RoadGraph:
    """Simplified road graph of the ways inside ``polygon`` (already buffered), in arrays.

    Parameters
    ----------
    ways
        From :func:`scan_drivable_ways`.
    polygon
        WGS-84 polygon; segments with both ends inside are kept (``None``: all).
    way_speed_kph
        Speed per way (``(W,)``) for the travel times; ``None`` leaves them ``nan``.
    source
        Name for messages.

    Raises
    ------
    DataError
        No drivable road edge inside the polygon.
    """
    import shapely

    inside = None
    if polygon is not None:
        ok = np.isfinite(ways.lon)
        inside = np.zeros(len(ways.refs), dtype=bool)
        # test each distinct node once (shared nodes repeat in refs)
        uid, first, inv = np.unique(ways.refs, return_index=True, return_inverse=True)
        okf = ok[first]
        hit = np.zeros(len(uid), dtype=bool)
        shapely.prepare(polygon)
        hit[okf] = shapely.contains_xy(polygon, ways.lon[first][okf], ways.lat[first][okf])
        inside = hit[inv]
    tail_p, head_p, way = _segments(ways, inside)
    if len(tail_p) == 0:
        raise DataError(f"{source}: no drivable road edges inside the region; check that the OSM data covers it")
    # all nodes used by kept segments (geometry vertices included): dense ids 0..M-1
    uniq, inv = np.unique(np.concatenate([ways.refs[tail_p], ways.refs[head_p]]), return_inverse=True)
    t = inv[: len(tail_p)]
    h = inv[len(tail_p) :]
    M = len(uniq)
    pos_of = np.empty(M, dtype=np.int64)
    pos_of[t] = tail_p
    pos_of[h] = head_p
    all_lon, all_lat = ways.lon[pos_of], ways.lat[pos_of]
    seg_len = great_circle_m(all_lon[t], all_lat[t], all_lon[h], all_lat[h])
    if way_speed_kph is not None:
        seg_time = seg_len / (np.asarray(way_speed_kph, float)[way] / 3.6)
    else:
        seg_time = np.full(len(t), np.nan)

    endpoint, nxt = _endpoints_and_next(t, h, M)
    # ---- walk the chains from each edge leaving an endpoint
    start = np.flatnonzero(endpoint[t])
    E = len(start)
    chain_of = np.full(len(t), -1, dtype=np.int64)
    order = np.full(len(t), -1, dtype=np.int64)
    cur = start.copy()
    cid = np.arange(E, dtype=np.int64)
    step = 0
    while len(cur):
        chain_of[cur] = cid
        order[cur] = step
        step += 1
        go = ~endpoint[h[cur]]
        cur, cid = nxt[cur[go]], cid[go]
    used = np.flatnonzero(chain_of >= 0)  # edges of isolated rings are never reached: dropped
    srt = used[np.lexsort((order[used], chain_of[used]))]
    ch = chain_of[srt]
    bounds = np.flatnonzero(np.r_[True, ch[1:] != ch[:-1]])
    first_seg = srt[bounds]
    last_seg = srt[np.r_[bounds[1:] - 1, len(srt) - 1]]
    length = np.add.reduceat(seg_len[srt], bounds)
    ttime = np.add.reduceat(seg_time[srt], bounds)
    hwy = np.minimum.reduceat(ways.highway[way[srt]], bounds)
    n_seg = np.diff(np.r_[bounds, len(srt)])
    # geometry: tails of the pieces, then the head of the last piece
    geom_offsets = np.zeros(E + 1, dtype=np.int64)
    np.cumsum(n_seg + 1, out=geom_offsets[1:])
    gnodes = np.empty(geom_offsets[-1], dtype=np.int64)
    slot = np.arange(len(srt)) + np.repeat(np.arange(E), n_seg)  # each chain shifts by its index
    gnodes[slot] = t[srt]
    gnodes[geom_offsets[1:] - 1] = h[last_seg]
    # ---- graph nodes: endpoints with edges
    eu, ev = t[first_seg], h[last_seg]
    keep_node = np.zeros(M, dtype=bool)
    keep_node[eu] = True
    keep_node[ev] = True
    new = np.cumsum(keep_node) - 1
    u, v = new[eu], new[ev]
    # osmnx order: edges sorted by (u, v), keys numbering parallels in insertion order
    o = np.lexsort((np.arange(E), v, u))
    u, v = u[o], v[o]
    first = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]
    grp = np.cumsum(first) - 1
    key = np.arange(E) - np.flatnonzero(first)[grp]
    # reorder geometries by o (vectorised gather)
    g_len = np.diff(geom_offsets)[o]
    g_off = np.zeros(E + 1, dtype=np.int64)
    np.cumsum(g_len, out=g_off[1:])
    gidx = np.repeat(geom_offsets[:-1][o] - g_off[:-1], g_len) + np.arange(g_off[-1])
    gnodes = gnodes[gidx]
    sc = _street_count(u, v, int(keep_node.sum()))
    kept = np.flatnonzero(keep_node)
    return RoadGraph(
        node_id=uniq[kept], lon=all_lon[kept], lat=all_lat[kept], u=u, v=v, key=key,
        length_m=length[o], travel_time_s=ttime[o], way=way[first_seg][o], highway=hwy[o],
        geom_offsets=g_off, geom_lon=all_lon[gnodes], geom_lat=all_lat[gnodes], street_count=sc,
    )


def _endpoints_and_next(t: np.ndarray, h: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray]:
    """osmnx's endpoint rule per node, and each edge's continuation through a non-endpoint head.

    A node is an endpoint when it has no in- or no out-edge, or not exactly two distinct
    neighbours with (multi-edge) degree 2 or 4 (``osmnx.simplification._is_endpoint``). The
    continuation of edge ``a → b`` (``b`` not an endpoint) is ``b``'s out-edge to its other
    neighbour. A non-endpoint where that is ambiguous (parallel one-way pieces) is made an
    endpoint, so every chain is a simple path.
    """
    indeg = np.bincount(h, minlength=M)
    outdeg = np.bincount(t, minlength=M)
    lo, hi = np.minimum(t, h), np.maximum(t, h)
    pair = np.sort(lo * M + hi)  # distinct pairs by sort (numpy's hash unique is slow on 10⁶ keys)
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]]
    plo, phi = pair // M, pair % M
    nnb = np.bincount(plo, minlength=M) + np.bincount(phi, minlength=M)
    deg = indeg + outdeg
    endpoint = (indeg == 0) | (outdeg == 0) | ~((nnb == 2) & ((deg == 2) | (deg == 4)))
    # out-edges grouped by tail
    out_order = np.argsort(t, kind="stable")
    out_start = np.r_[0, np.cumsum(outdeg)]
    nxt = np.full(len(t), -1, dtype=np.int64)
    for _ in range(2):
        cand = np.flatnonzero(~endpoint[h])  # edges entering a non-endpoint
        b = h[cand]
        n_out = outdeg[b]  # 1 or 2 for a non-endpoint
        c0 = out_order[out_start[b]]
        c1 = np.where(n_out == 2, out_order[np.minimum(out_start[b] + 1, len(t) - 1)], -1)
        ok0 = h[c0] != t[cand]
        ok1 = (c1 >= 0) & (h[np.maximum(c1, 0)] != t[cand])
        pick = np.where(ok0 & ~ok1, c0, np.where(ok1 & ~ok0, c1, -1))
        bad = pick < 0
        taken = np.bincount(pick[~bad], minlength=len(t))
        bad |= (pick >= 0) & (taken[np.maximum(pick, 0)] > 1)
        if not bad.any():
            nxt[cand] = pick
            break
        endpoint[b[bad]] = True
    else:  # pragma: no cover - promotions are local, one round settles them
        raise AssertionError("chain continuation did not settle")
    return endpoint, nxt


def _street_count(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Undirected streets per node: a two-way road (u→v and v→u) counts once, parallels separately."""
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    # directed edges per unordered pair and direction; streets = max of the two directions
    fwd = u <= v
    k = lo.astype(np.int64) * n + hi
    keys, inv = np.unique(k, return_inverse=True)
    n_f = np.bincount(inv[fwd], minlength=len(keys))
    n_b = np.bincount(inv[~fwd], minlength=len(keys))
    streets = np.maximum(n_f, n_b)
    klo, khi = keys // n, keys % n  # a self-loop adds to both ends: twice, as in osmnx
    sc = np.bincount(klo, weights=streets, minlength=n) + np.bincount(khi, weights=streets, minlength=n)
    return sc.astype(np.int64)
