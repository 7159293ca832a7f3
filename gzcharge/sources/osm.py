"""OpenStreetMap sources: drivable road graphs and points of interest.

Two ways in, one result:

* **Offline** from a local ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file
  (:func:`graph_from_file`, :func:`pois_from_file`). pyosmium reads all three formats in one
  pass (highway objects only, with node locations); the drivable ways that touch the buffered
  region and exactly the nodes they reference are written to a highway-only,
  reference-complete OSM XML file in a temporary folder, which :func:`osmnx.graph_from_xml`
  turns into a graph. This route costs ~5.5 KB and ~0.5 ms per raw OSM node; the road
  network of a plan (:func:`gzcharge.network.build_network`) reads files through
  :mod:`gzcharge.sources.pbf` instead (arrays, cached, same graph), and
  :func:`graph_from_file` stays the osmnx reference for small files.
* **Online** through osmnx and the Overpass API (:func:`graph_from_overpass`,
  :func:`pois_from_overpass`), with a cache folder, a configurable endpoint and a hard
  timeout. All osmnx settings are applied in one place, :func:`osmnx_settings`, for the
  duration of a call and restored afterwards.

Both paths apply the same drivable-road rule (:func:`is_drivable`, :func:`overpass_drive_filter`)
and the same clipping steps (buffer the region by ``buffer_m``, truncate the unsimplified graph
to that buffer, simplify), so the same OSM data gives the same graph either way.

Drivable roads
--------------
Kept: ``highway`` in :data:`DRIVE_HIGHWAYS` — motorway, trunk, primary, secondary, tertiary
(and their ``*_link`` ramps), unclassified, residential, living_street, road and service.
Service roads are kept because motorway service areas (服务区), fuel stations and parking
lots — where chargers go — are reached by them; parking aisles, driveways, drive-throughs,
emergency accesses and private service roads are not (``service`` in
:data:`EXCLUDED_SERVICE`). Dropped: tracks (farm/forest tracks, mostly unpaved), paths,
footways, cycleways, steps, pedestrian streets, roads under construction or proposed, and
any way tagged ``area=yes``, ``access=private``, ``motor_vehicle=no`` or ``motorcar=no``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gzcharge.errors import ConfigError, DataError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import networkx as nx
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

DRIVE_HIGHWAYS: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "road",
    "service",
)
EXCLUDED_SERVICE: tuple[str, ...] = (
    "parking_aisle",
    "driveway",
    "drive-through",
    "emergency_access",
    "private",
)
#: tag → values whose presence removes a way (exact match)
EXCLUDED_TAGS: dict[str, tuple[str, ...]] = {
    "area": ("yes",),
    "access": ("private",),
    "motor_vehicle": ("no",),
    "motorcar": ("no",),
    "service": EXCLUDED_SERVICE,
}

DEFAULT_BUFFER_M = 2000.0
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ENDPOINT = "https://overpass-api.de/api"

#: POIs later tiers need (osmnx ``tags`` format: key → True | value | list of values)
DEFAULT_POI_TAGS: dict[str, bool | str | list[str]] = {
    "highway": ["services", "rest_area"],
    "amenity": ["fuel", "charging_station"],
    "place": ["city", "town", "village", "township"],
}
#: tags copied into POI columns besides the queried keys
POI_EXTRA_TAGS: tuple[str, ...] = (
    "name",
    "name:zh",
    "name:en",
    "ref",
    "operator",
    "brand",
    "population",
    "capacity",
)

ProgressCallback = Callable[[str, float], None]


# ---------------------------------------------------------------------------- filters
def is_drivable(tags: Mapping[str, str]) -> bool:
    """Return whether a way with these tags is a drivable road (see the module docstring)."""
    if tags.get("highway") not in DRIVE_HIGHWAYS:
        return False
    return all(tags.get(key) not in values for key, values in EXCLUDED_TAGS.items())


def overpass_drive_filter() -> str:
    """Return the Overpass QL way filter equivalent to :func:`is_drivable`."""
    parts = [f'["highway"~"^({"|".join(DRIVE_HIGHWAYS)})$"]']
    for key, values in EXCLUDED_TAGS.items():
        parts.append(f'["{key}"!~"^({"|".join(values)})$"]')
    return "".join(parts)


def _tag_matches(tags: Mapping[str, str], spec: Mapping[str, bool | str | list[str]]) -> str | None:
    """Return ``"key=value"`` of the first tag in ``spec`` that ``tags`` has, else ``None``."""
    for key, wanted in spec.items():
        value = tags.get(key)
        if value is None:
            continue
        if wanted is True or (isinstance(wanted, str) and value == wanted) or (
            isinstance(wanted, list | tuple) and value in wanted
        ):
            return f"{key}={value}"
    return None


# ---------------------------------------------------------------------------- settings
def default_cache_dir() -> Path:
    """Folder for cached Overpass responses: ``user_cache_dir("gzcharge")/osm``."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gzcharge")) / "osm"


def _raise_on_retry_status(response: Any, *args: Any, **kwargs: Any) -> None:
    """requests response hook: turn 429/504 into an error instead of osmnx's endless 55 s retries."""
    if response.status_code in (429, 504):
        raise NetworkError(
            f"Overpass server {response.url} answered {response.status_code} {response.reason} "
            "(busy or rate-limited); try again later, use another endpoint, or pass --osm-file"
        )


@contextlib.contextmanager
def osmnx_settings(
    *,
    endpoint: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> Iterator[Any]:
    """Apply gzcharge's osmnx settings for the duration of a ``with`` block, then restore them.

    This is the only place gzcharge touches :mod:`osmnx.settings`.

    Parameters
    ----------
    endpoint
        Overpass API base URL (``.../api``); default :data:`DEFAULT_ENDPOINT`.
    timeout_s
        HTTP connect/read timeout and the Overpass ``[timeout:]`` value, seconds.
    cache_dir
        Folder for cached responses; default :func:`default_cache_dir`.
    use_cache
        Read and write cached responses.

    Yields
    ------
    module
        The configured :mod:`osmnx.settings` module.

    Notes
    -----
    ``overpass_rate_limit`` is off (osmnx otherwise asks the server's ``/status`` first and
    sleeps 60 s when it cannot reach it), DNS-over-HTTPS fallback is off, and a response hook
    turns HTTP 429/504 into :class:`~gzcharge.errors.NetworkError` (osmnx would retry every 55 s
    without limit).
    """
    import osmnx as ox

    s = ox.settings
    wanted: dict[str, Any] = {
        "overpass_url": (endpoint or DEFAULT_ENDPOINT).rstrip("/"),
        "requests_timeout": timeout_s,
        # Overpass wants an integer [timeout:]; osmnx would format the float requests_timeout
        "overpass_settings": f"[out:json][timeout:{max(1, math.ceil(timeout_s))}]{{maxsize}}",
        "overpass_rate_limit": False,
        "use_cache": use_cache,
        "cache_folder": str(Path(cache_dir) if cache_dir is not None else default_cache_dir()),
        "cache_only_mode": False,
        "doh_url_template": None,
        "requests_kwargs": {"hooks": {"response": [_raise_on_retry_status]}},
        "log_console": False,
        "default_crs": "epsg:4326",
        "useful_tags_way": _useful_way_tags(),
    }
    saved = {k: getattr(s, k) for k in wanted}
    try:
        for k, v in wanted.items():
            setattr(s, k, v)
        yield s
    finally:
        for k, v in saved.items():
            setattr(s, k, v)


# ---------------------------------------------------------------------------- geometry helpers
def _check_polygon(polygon: BaseGeometry) -> BaseGeometry:
    from shapely.geometry import MultiPolygon, Polygon

    if not isinstance(polygon, Polygon | MultiPolygon):
        raise DataError(
            f"region must be a shapely Polygon or MultiPolygon in WGS-84, not {type(polygon).__name__}"
        )
    if polygon.is_empty:
        raise DataError("region polygon is empty")
    if not polygon.is_valid:
        polygon = polygon.buffer(0)
    minx, miny, maxx, maxy = polygon.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise DataError(
            f"region bounds {_fmt_bounds(polygon.bounds)} are not longitude/latitude degrees; "
            "pass the region boundary in WGS-84 (EPSG:4326)"
        )
    return polygon


def buffer_polygon(polygon: BaseGeometry, buffer_m: float) -> BaseGeometry:
    """Buffer a WGS-84 polygon by ``buffer_m`` metres (in the UTM zone of its centroid)."""
    import osmnx as ox

    if buffer_m <= 0:
        return polygon
    proj, crs = ox.projection.project_geometry(polygon)
    back, _ = ox.projection.project_geometry(proj.buffer(buffer_m), crs=crs, to_latlong=True)
    return back


def _fmt_bounds(b: Sequence[float]) -> str:
    return f"lon {b[0]:.4f}..{b[2]:.4f}, lat {b[1]:.4f}..{b[3]:.4f}"


def _clip_and_simplify(G_raw: nx.MultiDiGraph, poly_buff: BaseGeometry, source: str) -> nx.MultiDiGraph:
    """Truncate the unsimplified graph to the buffered region, then simplify.

    Truncating first keeps every road piece inside the buffer (osmnx's own
    simplify-then-truncate order drops a road that crosses the boundary with no
    intersection inside the region).
    """
    import osmnx as ox

    try:
        G = ox.truncate.truncate_graph_polygon(G_raw, poly_buff, truncate_by_edge=False)
    except ValueError as e:  # osmnx: "Found no graph nodes within the requested polygon"
        raise DataError(
            f"{source}: no drivable road nodes inside the region ({_fmt_bounds(poly_buff.bounds)} "
            "with buffer); check that the OSM data covers the region"
        ) from e
    if G.number_of_edges() > 0:
        G = ox.simplification.simplify_graph(G)
    if len(G) == 0 or G.number_of_edges() == 0:
        raise DataError(
            f"{source}: no drivable road edges inside the region ({_fmt_bounds(poly_buff.bounds)} "
            "with buffer); check that the OSM data covers the region"
        )
    G.graph["crs"] = "epsg:4326"
    G.graph["source"] = source
    return G


# ---------------------------------------------------------------------------- files
_OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf", ".osm.gz", ".xml", ".xml.bz2")


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"OSM file {p} does not exist; pass an .osm, .osm.bz2 or .osm.pbf file with --osm-file")
    name = p.name.lower()
    if not name.endswith(_OSM_SUFFIXES):
        raise DataError(f"OSM file {p}: unknown format; expected .osm, .osm.bz2 or .osm.pbf")
    if p.stat().st_size == 0:
        raise DataError(f"OSM file {p} is empty (0 bytes); download the extract again")
    return p


def _osmium_error(p: Path, e: Exception) -> DataError:
    return DataError(f"OSM file {p} cannot be read ({e}); the file is corrupt or not OSM data — download it again")


def _header_bounds(p: Path) -> tuple[float, float, float, float] | None:
    import osmium

    try:
        reader = osmium.io.Reader(str(p), osmium.osm.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except Exception:
        return None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


@dataclass
class _DrivableWays:
    """Drivable ways of a file, flattened: way ``k`` owns ``refs[offsets[k]:offsets[k + 1]]``."""

    way_ids: list[int]
    way_tags: list[dict[str, str]]
    offsets: np.ndarray
    refs: np.ndarray
    lon: np.ndarray  # nan where the node is missing from the file
    lat: np.ndarray
    node_tags: dict[int, dict[str, str]]
    n_highway: int


def _scan_drivable_ways(p: Path) -> _DrivableWays:
    """One pass over the file: drivable ways with their node references and coordinates."""
    import osmium
    from osmium.filter import KeyFilter

    way_keys = _useful_way_tags()
    node_keys = ("highway", "junction", "railway", "ref")
    way_ids: list[int] = []
    way_tags: list[dict[str, str]] = []
    offsets = array("q", [0])
    refs = array("q")
    lons = array("d")
    lats = array("d")
    node_tags: dict[int, dict[str, str]] = {}
    n_highway = 0
    nan = math.nan
    fp = (
        osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(KeyFilter("highway"))
    )
    try:
        for obj in fp:
            tags = obj.tags
            if obj.is_node():
                node_tags[obj.id] = {k: tags[k] for k in node_keys if k in tags}
                continue
            n_highway += 1
            if not is_drivable(tags):
                continue
            way_ids.append(obj.id)
            way_tags.append({k: tags[k] for k in way_keys if k in tags})
            for n in obj.nodes:
                refs.append(n.ref)
                loc = n.location
                if loc.valid():
                    lons.append(loc.lon)
                    lats.append(loc.lat)
                else:
                    lons.append(nan)
                    lats.append(nan)
            offsets.append(len(refs))
    except RuntimeError as e:
        raise _osmium_error(p, e) from e
    return _DrivableWays(
        way_ids, way_tags, np.frombuffer(offsets, np.int64), np.frombuffer(refs, np.int64),
        np.frombuffer(lons, float), np.frombuffer(lats, float), node_tags, n_highway,
    )


def _useful_way_tags() -> list[str]:
    import osmnx as ox

    return sorted({*ox.settings.useful_tags_way, "maxspeed", "name", "ref", "highway", "oneway", "junction"})


def _longest_valid_run(valid: np.ndarray) -> tuple[int, int]:
    """Start and end (exclusive) of the longest run of ``True`` in ``valid``."""
    padded = np.r_[False, valid, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    if len(starts) == 0:
        return 0, 0
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def _write_highway_xml(ways: _DrivableWays, keep: np.ndarray, out: Path) -> tuple[int, int]:
    """Write the kept ways and exactly the nodes they reference as OSM XML.

    A way with nodes missing from the file (clipped extracts cut ways at the edge) keeps its
    longest run of present nodes; a way with fewer than two present nodes is dropped.
    The output is reference-complete by construction. (pyosmium's ``BackReferenceWriter``
    does the same from the file, but its dense id tracker took ~0.5 MB per way here.)

    Returns the number of ways written and the number trimmed.
    """
    from xml.sax.saxutils import quoteattr

    valid_all = np.isfinite(ways.lon)
    use = np.zeros(len(ways.refs), dtype=bool)
    spans: list[tuple[int, int, int]] = []  # (way index, start, end) into the flat arrays
    trimmed = 0
    for k in np.flatnonzero(keep):
        a, b = int(ways.offsets[k]), int(ways.offsets[k + 1])
        v = valid_all[a:b]
        if not v.all():
            s, e = _longest_valid_run(v)
            if e - s < 2:
                continue
            a, b = a + s, a + e
            trimmed += 1
        spans.append((int(k), a, b))
        use[a:b] = True
    node_ids, first = np.unique(ways.refs[use], return_index=True)
    lon = ways.lon[use][first]
    lat = ways.lat[use][first]
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"gzcharge\">\n")
        for nid, x, y in zip(node_ids.tolist(), lon.tolist(), lat.tolist(), strict=True):
            tags = ways.node_tags.get(nid)
            if tags:
                fh.write(f'<node id="{nid}" lat="{y:.7f}" lon="{x:.7f}">')
                fh.write("".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()))
                fh.write("</node>\n")
            else:
                fh.write(f'<node id="{nid}" lat="{y:.7f}" lon="{x:.7f}"/>\n')
        for k, a, b in spans:
            fh.write(f'<way id="{ways.way_ids[k]}">')
            fh.write("".join(f'<nd ref="{r}"/>' for r in ways.refs[a:b].tolist()))
            fh.write("".join(f"<tag k={quoteattr(t)} v={quoteattr(v)}/>" for t, v in ways.way_tags[k].items()))
            fh.write("</way>\n")
        fh.write("</osm>\n")
    return len(spans), trimmed


def graph_from_file(
    path: str | Path,
    *,
    polygon: BaseGeometry | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
    progress: ProgressCallback | None = None,
) -> nx.MultiDiGraph:
    """Read a drivable road graph (WGS-84, unprojected) from a local OSM file.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    polygon
        Region boundary in WGS-84; ``None`` keeps the whole file.
    buffer_m
        Roads up to this far outside the region are kept (they connect the region's roads
        through the neighbours, as real trips do).
    progress
        Optional callback ``progress(message, fraction_done)``.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx graph (``crs`` EPSG:4326, edge ``length`` in metres, simplified), all components kept.

    Raises
    ------
    DataError
        The file is missing, empty or corrupt, or has no drivable road inside the region.
    """
    import osmnx as ox
    import shapely

    p = _check_file(path)
    say = progress or (lambda msg, frac: None)
    say(f"scanning {p.name}", 0.0)
    ways = _scan_drivable_ways(p)
    if not ways.way_ids:
        what = (
            "highway ways" if ways.n_highway == 0
            else f"drivable roads (it has {ways.n_highway} other highway ways)"
        )
        raise DataError(f"OSM file {p} has no {what}; it needs roads tagged highway=motorway…residential")
    lon, lat = ways.lon, ways.lat
    ok = np.isfinite(lon)
    if not ok.any():
        raise DataError(f"OSM file {p}: none of the nodes of its roads are in the file; the extract is incomplete")
    file_bounds = _header_bounds(p) or (lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max())
    own = np.repeat(np.arange(len(ways.way_ids)), np.diff(ways.offsets))
    if polygon is None:
        poly_buff = shapely.box(lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max()).buffer(1e-6)
        keep = np.ones(len(ways.way_ids), dtype=bool)
    else:
        polygon = _check_polygon(polygon)
        poly_buff = buffer_polygon(polygon, buffer_m)
        inside = ok.copy()
        inside[ok] = shapely.contains_xy(poly_buff, lon[ok], lat[ok])
        keep = np.bincount(own[inside], minlength=len(ways.way_ids)) > 0
        if not inside.any():
            raise DataError(
                f"OSM file {p} has no drivable roads inside the region: region "
                f"{_fmt_bounds(polygon.bounds)} (buffered by {buffer_m:g} m), file covers "
                f"{_fmt_bounds(file_bounds)}; use an extract that covers the region"
            )
    say(f"writing {int(keep.sum())} drivable ways", 0.3)
    with tempfile.TemporaryDirectory(prefix="gzcharge-osm-") as tmp:
        xml = Path(tmp) / "highways.osm"
        written, trimmed = _write_highway_xml(ways, keep, xml)
        if trimmed:
            logger.info("%s: %d drivable ways had missing nodes and kept their longest complete run", p, trimmed)
        if written == 0:
            raise DataError(f"OSM file {p}: no road inside the region has two nodes present in the file")
        say("building graph", 0.5)
        with osmnx_settings(use_cache=False):
            try:
                G_raw = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
            except Exception as e:  # osmnx InsufficientResponseError etc.
                raise DataError(f"OSM file {p}: osmnx could not build a graph ({e})") from e
    say("clipping to region", 0.8)
    G = _clip_and_simplify(G_raw, poly_buff, source=str(p))
    G.graph["region_buffer_m"] = buffer_m
    say(f"{len(G):,} nodes, {G.number_of_edges():,} edges", 1.0)
    logger.info("graph_from_file(%s): %d nodes, %d edges", p, len(G), G.number_of_edges())
    return G


# ---------------------------------------------------------------------------- Overpass
#: longest accepted --timeout (a day); HTTP and Overpass timeouts above this are typos
MAX_TIMEOUT_S = 86_400.0


def check_timeout(timeout_s: Any) -> float:
    """Return ``timeout_s`` as seconds when it is a usable network timeout.

    Raises
    ------
    ConfigError
        Not a number, not finite, ``<= 0`` or longer than :data:`MAX_TIMEOUT_S`.
    """
    try:
        t = float(timeout_s)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and 0 < t <= MAX_TIMEOUT_S):
        raise ConfigError(f"--timeout {timeout_s!r}: the network deadline must be in (0, {MAX_TIMEOUT_S:g}] s, "
                          f"e.g. --timeout {DEFAULT_TIMEOUT_S:g}")
    return t


class _DeadlinePassed(BaseException):
    """Raised by the SIGALRM handler of :func:`_deadline` (a BaseException: no library swallows it)."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """A total deadline for a block of network calls: connect, headers and body together.

    requests' timeout applies to each socket read, so a server that sends one byte a second
    never trips it. On the main thread a ``SIGALRM`` interval timer interrupts the block after
    ``seconds`` (raising :class:`_DeadlinePassed`); elsewhere only the per-read timeout holds.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise _DeadlinePassed()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _overpass_call(url: str, timeout_s: float) -> Iterator[None]:
    """Run an osmnx download under the total deadline; class every failure as a NetworkError.

    Garbage answers (not JSON, or JSON that is not an Overpass result) are network errors,
    not data errors: the region is fine, the server is not.
    """
    import osmnx as ox
    import requests

    try:
        with _deadline(timeout_s):
            yield
    except _DeadlinePassed:
        raise NetworkError(
            f"Overpass API at {url} did not finish within the {timeout_s:g} s deadline (--timeout); "
            "try a longer --timeout or another --endpoint, or work offline with --osm-file FILE"
        ) from None
    except (NetworkError, DataError, ConfigError):
        raise
    except (requests.exceptions.RequestException, ox._errors.ResponseStatusCodeError) as e:
        raise _overpass_error(e, url, timeout_s) from e
    except ox._errors.InsufficientResponseError as e:
        if isinstance(e.__cause__, ValueError):  # osmnx wraps a JSON decode failure of a 200 answer
            raise NetworkError(
                f"Overpass API at {url} answered something that is not an Overpass JSON result; "
                "check --endpoint (it must be the .../api base URL of an Overpass server) or use --osm-file"
            ) from None
        raise
    except (KeyError, TypeError, AttributeError) as e:
        raise NetworkError(
            f"Overpass API at {url} answered JSON that is not an Overpass result ({type(e).__name__}: {e}); "
            "check --endpoint or use --osm-file"
        ) from None


def _overpass_error(e: Exception, endpoint: str, timeout_s: float) -> NetworkError:
    detail = str(e)
    if "Errno" in detail:  # requests' nested message: keep the OS reason only
        detail = detail[detail.rindex("[Errno") :].split("]", 1)[-1].strip(" '\")") or detail
    detail = detail if len(detail) <= 120 else detail[:117] + "..."
    return NetworkError(
        f"Overpass API at {endpoint} is unreachable or failed within {timeout_s:g} s "
        f"({type(e).__name__}: {detail}); work offline with --osm-file FILE (.osm/.osm.bz2/.osm.pbf, "
        "e.g. a Geofabrik extract), or set another --endpoint / a longer --timeout"
    )


def graph_from_overpass(
    polygon: BaseGeometry,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    endpoint: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> nx.MultiDiGraph:
    """Download a drivable road graph (WGS-84, unprojected) for a region through Overpass.

    Parameters
    ----------
    polygon
        Region boundary in WGS-84.
    buffer_m
        Roads up to this far outside the region are kept.
    endpoint
        Overpass API base URL (default :data:`DEFAULT_ENDPOINT`).
    timeout_s
        Connect/read timeout per request and Overpass query timeout, seconds.
    cache_dir
        Response cache folder (default :func:`default_cache_dir`).
    use_cache
        Reuse cached responses (a second identical call makes no request).

    Raises
    ------
    NetworkError
        Overpass unreachable, timed out, busy (429/504) or returned garbage; the message
        names ``--osm-file``.
    DataError
        The answer has no drivable road inside the region.
    """
    import osmnx as ox

    timeout_s = check_timeout(timeout_s)
    polygon = _check_polygon(polygon)
    poly_buff = buffer_polygon(polygon, buffer_m)
    url = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    with osmnx_settings(endpoint=url, timeout_s=timeout_s, cache_dir=cache_dir, use_cache=use_cache):
        try:
            # unsimplified and truncated to poly_buff; simplified below exactly as the file path
            with _overpass_call(url, timeout_s):
                G_raw = ox.graph_from_polygon(
                    poly_buff,
                    custom_filter=overpass_drive_filter(),
                    retain_all=True,
                    simplify=False,
                    truncate_by_edge=False,
                )
        except ox._errors.InsufficientResponseError as e:
            raise DataError(
                f"Overpass at {url} returned no drivable roads for region {_fmt_bounds(polygon.bounds)}; "
                "check the region, or use --osm-file"
            ) from e
        except ValueError as e:
            raise DataError(
                f"Overpass data has no drivable road nodes inside region {_fmt_bounds(polygon.bounds)} ({e})"
            ) from e
    G = _clip_and_simplify(G_raw, poly_buff, source=f"Overpass at {url}")
    G.graph["source"] = f"overpass:{url}"
    G.graph["region_buffer_m"] = buffer_m
    logger.info("graph_from_overpass: %d nodes, %d edges", len(G), G.number_of_edges())
    return G


# ---------------------------------------------------------------------------- POIs
def _poi_frame(records: list[dict[str, Any]], keys: Sequence[str]) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    cols = ["osm_type", "osm_id", "kind", *dict.fromkeys([*keys, *POI_EXTRA_TAGS])]
    if not records:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in cols}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    df = pd.DataFrame.from_records(records)
    for c in cols:
        if c not in df:
            df[c] = None
    geom = gpd.points_from_xy(df.pop("lon"), df.pop("lat"), crs="EPSG:4326")
    out = gpd.GeoDataFrame(df[cols], geometry=geom, crs="EPSG:4326")
    out["osm_id"] = out["osm_id"].astype("int64")
    return out.sort_values(["osm_type", "osm_id"], kind="stable").reset_index(drop=True)


def _within(gdf: gpd.GeoDataFrame, polygon: BaseGeometry | None) -> gpd.GeoDataFrame:
    import shapely

    if polygon is None or gdf.empty:
        return gdf
    mask = shapely.contains_xy(polygon, gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
    return gdf.loc[mask].reset_index(drop=True)


def _centroid_lonlat(coords: list[tuple[float, float]]) -> tuple[float, float]:
    """Centroid of a way's node coordinates: polygon centroid when closed, else line centroid."""
    import shapely

    if len(coords) >= 4 and coords[0] == coords[-1]:
        g = shapely.Polygon(coords)
        if g.area > 0:
            c = g.centroid
            return c.x, c.y
    if len(coords) >= 2:
        c = shapely.LineString(coords).centroid
        return c.x, c.y
    return coords[0]


def pois_from_file(
    path: str | Path,
    polygon: BaseGeometry | None = None,
    tags: Mapping[str, bool | str | list[str]] | None = None,
) -> gpd.GeoDataFrame:
    """Points of interest from a local OSM file (nodes as points, ways/areas as centroids).

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    polygon
        Keep only POIs inside this WGS-84 polygon (``None``: all).
    tags
        osmnx-style tag spec (key → ``True`` | value | list of values); default
        :data:`DEFAULT_POI_TAGS`.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_type`` (node/way/relation), ``osm_id``, ``kind`` (``key=value`` that
        matched), the queried keys, :data:`POI_EXTRA_TAGS`, point geometry in EPSG:4326.
        Centroids are computed in degrees (error < 1 m for features of a few hundred metres).
    """
    import osmium

    spec = dict(tags or DEFAULT_POI_TAGS)
    p = _check_file(path)
    if polygon is not None:
        polygon = _check_polygon(polygon)
    keys = list(spec)
    copy_keys = list(dict.fromkeys([*keys, *POI_EXTRA_TAGS]))
    records: list[dict[str, Any]] = []
    # only objects with a queried key reach Python (untagged nodes stay in libosmium)
    key_filter = osmium.filter.KeyFilter(*keys)
    fp = osmium.FileProcessor(str(p)).with_areas(key_filter).with_filter(osmium.filter.KeyFilter(*keys))
    try:
        for obj in fp:
            if obj.is_area():
                if obj.from_way():
                    continue  # closed ways are handled as ways
                kind = _tag_matches(obj.tags, spec)
                if kind is None:
                    continue
                import shapely

                try:
                    wkb = osmium.geom.WKBFactory().create_multipolygon(obj)
                except RuntimeError:
                    continue
                c = shapely.from_wkb(bytes.fromhex(wkb)).centroid
                lon, lat, otype, oid = c.x, c.y, "relation", obj.orig_id()
            else:
                kind = _tag_matches(obj.tags, spec)
                if kind is None or obj.is_relation():
                    continue
                if obj.is_node():
                    lon, lat, otype, oid = obj.location.lon, obj.location.lat, "node", obj.id
                else:
                    coords = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                    if not coords:
                        continue
                    (lon, lat), otype, oid = _centroid_lonlat(coords), "way", obj.id
            rec = {"osm_type": otype, "osm_id": oid, "kind": kind, "lon": lon, "lat": lat}
            for k in copy_keys:
                if k in obj.tags:
                    rec[k] = obj.tags[k]
            records.append(rec)
    except RuntimeError as e:
        raise _osmium_error(p, e) from e
    return _within(_poi_frame(records, keys), polygon)


def _features_from_overpass(
    polygon: BaseGeometry,
    spec: Mapping[str, bool | str | list[str]],
    *,
    endpoint: str | None,
    timeout_s: float,
    cache_dir: str | Path | None,
    use_cache: bool,
) -> gpd.GeoDataFrame | None:
    """osmnx ``features_from_polygon`` under gzcharge's settings; ``None`` when Overpass has nothing.

    Raises
    ------
    NetworkError
        Overpass unreachable or failing; the message names ``--osm-file``.
    """
    import osmnx as ox

    timeout_s = check_timeout(timeout_s)
    url = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    with osmnx_settings(endpoint=url, timeout_s=timeout_s, cache_dir=cache_dir, use_cache=use_cache):
        try:
            with _overpass_call(url, timeout_s):
                return ox.features_from_polygon(polygon, dict(spec))
        except ox._errors.InsufficientResponseError:
            return None


def pois_from_overpass(
    polygon: BaseGeometry,
    tags: Mapping[str, bool | str | list[str]] | None = None,
    *,
    endpoint: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> gpd.GeoDataFrame:
    """Points of interest inside a WGS-84 polygon through Overpass (same columns as :func:`pois_from_file`).

    Raises
    ------
    NetworkError
        Overpass unreachable or failing; the message names ``--osm-file``.
    """
    import shapely

    spec = dict(tags or DEFAULT_POI_TAGS)
    polygon = _check_polygon(polygon)
    keys = list(spec)
    gdf = _features_from_overpass(polygon, spec, endpoint=endpoint, timeout_s=timeout_s, cache_dir=cache_dir,
                                  use_cache=use_cache)
    if gdf is None:
        return _poi_frame([], keys)
    records: list[dict[str, Any]] = []
    copy_keys = list(dict.fromkeys([*keys, *POI_EXTRA_TAGS]))
    cents = shapely.centroid(gdf.geometry.to_numpy())
    for (otype, oid), row, c in zip(gdf.index, gdf.to_dict("records"), cents, strict=True):
        tags_row = {k: v for k, v in row.items() if isinstance(v, str)}
        kind = _tag_matches(tags_row, spec)
        if kind is None:
            continue
        rec = {"osm_type": otype, "osm_id": oid, "kind": kind, "lon": c.x, "lat": c.y}
        rec.update({k: tags_row[k] for k in copy_keys if k in tags_row})
        records.append(rec)
    return _within(_poi_frame(records, keys), polygon)


#: OSM tags of township-level places (乡、镇、街道): ``place=town|township``, and ``village``
#: nodes whose Chinese name ends in 乡/镇/街道 (many 乡 seats are mapped as villages).
TOWNSHIP_PLACE_TAGS: dict[str, bool | str | list[str]] = {"place": ["town", "township", "village"]}
_TOWNSHIP_SUFFIXES = ("乡", "镇", "街道", "街道办事处")


def township_seats_from_pois(pois: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Township seats from OSM place POIs, each assigned to the county polygon that holds it.

    Parameters
    ----------
    pois
        Output of :func:`pois_from_file` / :func:`pois_from_overpass` with
        :data:`TOWNSHIP_PLACE_TAGS` (columns ``osm_type, osm_id, place, name``; EPSG:4326).
    counties
        County polygons with ``adcode`` (EPSG:4326), e.g. ``Region.counties``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code`` (``osm-<type>-<id>``), ``name``, ``county_adcode``, ``source = "osm"``, point
        geometry — the frame :meth:`gzcharge.region.Region.with_townships` takes. Places outside
        every county are dropped (logged); ``place=city`` is not a township.
    """
    import geopandas as gpd

    cols = ["code", "name", "county_adcode", "source", "geometry"]
    if pois is None or len(pois) == 0 or "place" not in pois.columns:
        return gpd.GeoDataFrame({c: [] for c in cols[:-1]}, geometry=[], crs="EPSG:4326")
    name = pois["name:zh"].fillna(pois["name"]) if "name:zh" in pois.columns else pois["name"]
    name = name.fillna("").astype(str)
    place = pois["place"].fillna("").astype(str)
    is_seat = place.isin(["town", "township"]) | ((place == "village") & name.str.endswith(_TOWNSHIP_SUFFIXES))
    sel = pois.loc[is_seat & (name != "")].copy()
    sel["name"] = name[sel.index]
    sel["code"] = "osm-" + sel["osm_type"].astype(str) + "-" + sel["osm_id"].astype(str)
    joined = gpd.sjoin(sel[["code", "name", "geometry"]].to_crs("EPSG:4326"),
                       counties[["adcode", "geometry"]].to_crs("EPSG:4326"), how="inner", predicate="within")
    joined = joined.drop_duplicates("code")
    dropped = int(len(sel) - len(joined))
    if dropped:
        logger.info("dropped %d OSM township places outside the region's counties", dropped)
    out = gpd.GeoDataFrame({"code": joined["code"].to_numpy(), "name": joined["name"].to_numpy(),
                            "county_adcode": joined["adcode"].astype(str).to_numpy(), "source": "osm"},
                           geometry=joined.geometry.to_numpy(), crs="EPSG:4326")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------- built-up areas
#: ``landuse`` values that count as built-up land for urban demand (residents, shops, jobs)
BUILTUP_LANDUSE: tuple[str, ...] = ("residential", "commercial", "retail", "industrial")
#: ``place`` values whose *areas* (closed ways / multipolygons, not nodes) count as built-up
BUILTUP_PLACE: tuple[str, ...] = ("city", "town", "suburb", "quarter", "neighbourhood")
BUILTUP_COLUMNS: list[str] = ["osm_type", "osm_id", "kind", "landuse", "place", "name", "geometry"]


def _builtup_frame(records: list[dict[str, Any]], geoms: list[Any], polygon: BaseGeometry | None) -> gpd.GeoDataFrame:
    """Built-up polygons as a GeoDataFrame (EPSG:4326), clipped to ``polygon``, polygonal parts only."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    if not records:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in BUILTUP_COLUMNS[:-1]},
                                geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    df = pd.DataFrame.from_records(records)
    for c in BUILTUP_COLUMNS[:-1]:
        if c not in df:
            df[c] = None
    g = np.asarray(geoms, dtype=object)
    bad = ~shapely.is_valid(g)
    if bad.any():
        g[bad] = shapely.make_valid(g[bad])
    if polygon is not None:
        shapely.prepare(polygon)
        hit = shapely.intersects(polygon, g)
        df, g = df.loc[hit].reset_index(drop=True), g[hit]
        inside = shapely.contains(polygon, g)
        g[~inside] = shapely.intersection(g[~inside], polygon)
    # keep polygonal parts only (intersections and make_valid can yield lines/points)
    parts = [shapely.union_all([p for p in shapely.get_parts(x) if isinstance(p, shapely.Polygon | shapely.MultiPolygon)])
             if not isinstance(x, shapely.Polygon | shapely.MultiPolygon) else x for x in g]
    g = np.asarray(parts, dtype=object)
    keep = ~shapely.is_empty(g) & (shapely.area(g) > 0)
    out = gpd.GeoDataFrame(df.loc[keep, BUILTUP_COLUMNS[:-1]].reset_index(drop=True),
                           geometry=gpd.GeoSeries(g[keep], crs="EPSG:4326"))
    out["osm_id"] = out["osm_id"].astype("int64")
    return out.sort_values(["osm_type", "osm_id"], kind="stable").reset_index(drop=True)


def _builtup_kind(tags: Mapping[str, str], landuse: Sequence[str], place: Sequence[str]) -> str | None:
    lu = tags.get("landuse")
    if lu in landuse:
        return f"landuse={lu}"
    pl = tags.get("place")
    if pl in place:
        return f"place={pl}"
    return None


def builtup_from_file(
    path: str | Path,
    polygon: BaseGeometry | None = None,
    *,
    landuse: Sequence[str] = BUILTUP_LANDUSE,
    place: Sequence[str] = (),
) -> gpd.GeoDataFrame:
    """Built-up land polygons (OSM ``landuse`` areas, optionally ``place`` areas) from a local OSM file.

    Closed ways and ``type=multipolygon`` relations are assembled into areas by pyosmium
    (``FileProcessor.with_areas``; a way that is not closed, or misses nodes as in clipped
    extracts, is not an area and is skipped). Buildings are not read: a prefecture has
    millions and the landuse polygons around them carry the same built-up extent.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    polygon
        WGS-84 polygon to clip to (``None``: everything in the file).
    landuse
        ``landuse`` values kept; default :data:`BUILTUP_LANDUSE`.
    place
        ``place`` values whose areas are kept (e.g. :data:`BUILTUP_PLACE`); default none,
        because place areas in China are often administrative extents, not built-up land.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`BUILTUP_COLUMNS`: ``osm_type`` (way/relation), ``osm_id``, ``kind``
        (``landuse=…``/``place=…``), ``landuse``, ``place``, ``name``; Polygon/MultiPolygon
        geometry in EPSG:4326, clipped to ``polygon``.
    """
    import osmium
    import shapely

    p = _check_file(path)
    if polygon is not None:
        polygon = _check_polygon(polygon)
    landuse, place = tuple(landuse), tuple(place)
    keys = [k for k, v in (("landuse", landuse), ("place", place)) if v]
    if not keys:
        return _builtup_frame([], [], polygon)
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    wkb_factory = osmium.geom.WKBFactory()
    fp = osmium.FileProcessor(str(p)).with_areas(osmium.filter.KeyFilter(*keys)).with_filter(osmium.filter.KeyFilter(*keys))
    try:
        for obj in fp:
            if not obj.is_area():
                continue
            kind = _builtup_kind(obj.tags, landuse, place)
            if kind is None:
                continue
            try:
                wkb = wkb_factory.create_multipolygon(obj)
            except RuntimeError:  # broken ring: osmium could not assemble it
                continue
            geoms.append(shapely.from_wkb(bytes.fromhex(wkb)))
            records.append({
                "osm_type": "way" if obj.from_way() else "relation", "osm_id": obj.orig_id(), "kind": kind,
                "landuse": obj.tags.get("landuse"), "place": obj.tags.get("place"),
                "name": obj.tags.get("name:zh") or obj.tags.get("name"),
            })
    except RuntimeError as e:
        raise _osmium_error(p, e) from e
    out = _builtup_frame(records, geoms, polygon)
    logger.info("builtup_from_file: %d built-up polygons from %s", len(out), p.name)
    return out


def builtup_from_overpass(
    polygon: BaseGeometry,
    *,
    landuse: Sequence[str] = BUILTUP_LANDUSE,
    place: Sequence[str] = (),
    endpoint: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> gpd.GeoDataFrame:
    """Built-up land polygons inside a WGS-84 polygon through Overpass (same frame as :func:`builtup_from_file`).

    Raises
    ------
    NetworkError
        Overpass unreachable or failing; the message names ``--osm-file``.
    """
    import shapely

    polygon = _check_polygon(polygon)
    landuse, place = tuple(landuse), tuple(place)
    spec: dict[str, bool | str | list[str]] = {}
    if landuse:
        spec["landuse"] = list(landuse)
    if place:
        spec["place"] = list(place)
    if not spec:
        return _builtup_frame([], [], polygon)
    gdf = _features_from_overpass(polygon, spec, endpoint=endpoint, timeout_s=timeout_s, cache_dir=cache_dir,
                                  use_cache=use_cache)
    if gdf is None:
        return _builtup_frame([], [], polygon)
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    polygonal = np.isin(shapely.get_type_id(gdf.geometry.to_numpy()), [3, 6])  # Polygon, MultiPolygon
    for (otype, oid), row, g, ok in zip(gdf.index, gdf.to_dict("records"), gdf.geometry.to_numpy(), polygonal,
                                        strict=True):
        if not ok or otype == "node":
            continue
        tags_row = {k: v for k, v in row.items() if isinstance(v, str)}
        kind = _builtup_kind(tags_row, landuse, place)
        if kind is None:
            continue
        records.append({"osm_type": otype, "osm_id": oid, "kind": kind, "landuse": tags_row.get("landuse"),
                        "place": tags_row.get("place"), "name": tags_row.get("name:zh") or tags_row.get("name")})
        geoms.append(g)
    return _builtup_frame(records, geoms, polygon)
