"""OSM sources: local files (.osm, .osm.bz2, .osm.pbf), a fake Overpass server, bad input."""

from __future__ import annotations

import bz2
import json
import math
import socket
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import shapely

from gzcharge.errors import DataError, NetworkError
from gzcharge.sources import osm
from tests.conftest import shared_path

RECORDINGS = Path(__file__).resolve().parent / "data" / "overpass"
WEST_OAKLAND_BOX = shapely.box(-122.30258, 37.80615, -122.29825, 37.80914)
KOUVOLA_BOX = shapely.box(26.94, 60.525, 26.96, 60.535)


def _haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance on the osmnx Earth radius (6,371,009 m)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_009 * math.asin(math.sqrt(a))


# ---------------------------------------------------------------------------- filter
@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "motorway"}, True),
        ({"highway": "motorway_link"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "service"}, True),
        ({"highway": "service", "service": "parking_aisle"}, False),
        ({"highway": "service", "service": "driveway"}, False),
        ({"highway": "residential", "access": "private"}, False),
        ({"highway": "residential", "access": "destination"}, True),
        ({"highway": "tertiary", "motor_vehicle": "no"}, False),
        ({"highway": "footway"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "track"}, False),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "residential", "area": "yes"}, False),
        ({"waterway": "river"}, False),
    ],
)
def test_drivable_rule(tags, expected):
    assert osm.is_drivable(tags) is expected


def test_overpass_filter_matches_the_rule():
    f = osm.overpass_drive_filter()
    assert f.startswith('["highway"~"^(motorway|')
    assert '["service"!~"^(parking_aisle|driveway|drive-through|emergency_access|private)$"]' in f
    assert '["access"!~"^(private)$"]' in f


# ---------------------------------------------------------------------------- synthetic XML
def _write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict]]) -> Path:
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="gzcharge-test">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    text = "\n".join(lines)
    if path.suffix == ".bz2":
        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _grid_nodes():
    # a 3 x 2 grid near Anshun, 0.01 degree apart
    return {
        1: (105.90, 26.20), 2: (105.91, 26.20), 3: (105.92, 26.20),
        4: (105.90, 26.21), 5: (105.91, 26.21), 6: (105.92, 26.21),
    }


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_synthetic_file_keeps_only_drivable_ways(tmp_path, suffix):
    ways = [
        (101, [1, 2, 3], {"highway": "motorway", "oneway": "yes"}),
        (102, [4, 5, 6], {"highway": "footway"}),
        (103, [2, 5], {"highway": "residential"}),
        (104, [3, 6], {"highway": "service", "service": "parking_aisle"}),
        (105, [1, 4], {"highway": "track"}),
        (106, [4, 5], {"highway": "tertiary", "access": "private"}),
        (107, [5, 6], {"waterway": "river"}),
    ]
    f = _write_osm(tmp_path / f"grid{suffix}", _grid_nodes(), ways)
    G = osm.graph_from_file(f)
    osmids = {d["osmid"] for *_, d in G.edges(data=True)}
    assert osmids == {101, 103}
    # motorway one-way 1->2->3 is split at node 2 (the residential junction): 2 edges;
    # residential 2-5 two-way: 2 edges
    assert G.number_of_edges() == 4
    assert set(G.nodes) == {1, 2, 3, 5}
    lengths = {(u, v): d["length"] for u, v, d in G.edges(data=True)}
    assert lengths[(1, 2)] == pytest.approx(_haversine_m(105.90, 26.20, 105.91, 26.20), rel=1e-6)
    assert lengths[(5, 2)] == pytest.approx(_haversine_m(105.91, 26.21, 105.91, 26.20), rel=1e-6)
    assert (3, 2) not in lengths  # one-way


def test_way_with_missing_nodes_keeps_its_present_run(tmp_path):
    nodes = _grid_nodes()
    ways = [(201, [99, 1, 2, 3, 98], {"highway": "primary"})]  # 98, 99 absent (clipped extract)
    G = osm.graph_from_file(_write_osm(tmp_path / "clip.osm", nodes, ways))
    assert set(G.nodes) == {1, 3}
    total = sum(d["length"] for *_, d in G.edges(data=True))
    expected = 2 * (_haversine_m(105.90, 26.20, 105.91, 26.20) + _haversine_m(105.91, 26.20, 105.92, 26.20))
    assert total == pytest.approx(expected, rel=1e-6)


def test_polygon_clip_and_buffer(tmp_path):
    nodes = {i: (105.90 + 0.01 * i, 26.20) for i in range(10)}  # ~1 km apart along a parallel
    f = _write_osm(tmp_path / "line.osm", nodes, [(301, list(range(10)), {"highway": "secondary"})])
    region = shapely.box(105.895, 26.19, 105.935, 26.21)  # holds nodes 0..3
    G0 = osm.graph_from_file(f, polygon=region, buffer_m=0)
    assert set(G0.nodes) == {0, 3}  # simplified: interior nodes 1, 2 vanish
    # +1.2 km buffer reaches node 4: 1.2 km east of 105.935 is 105.935 + 1.2 / 99.9 = 105.947
    # (one degree of longitude at 26.2°N is 111.32 km × cos 26.2° = 99.9 km)
    G1 = osm.graph_from_file(f, polygon=region, buffer_m=1200)
    assert set(G1.nodes) == {0, 4}


# ---------------------------------------------------------------------------- real extracts
def test_west_oakland_total_length_matches_raw_ways():
    path = shared_path("osm", "West-Oakland.osm.bz2")
    G = osm.graph_from_file(path)
    # independent: parse the raw XML, sum the great-circle length of every drivable way,
    # twice for two-way roads
    root = ET.fromstring(bz2.decompress(path.read_bytes()))
    coords = {int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    expected = 0.0
    classes = set()
    for w in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in w.findall("tag")}
        if not osm.is_drivable(tags):
            continue
        refs = [int(nd.get("ref")) for nd in w.findall("nd")]
        seg = sum(_haversine_m(*coords[a], *coords[b]) for a, b in zip(refs, refs[1:], strict=False))
        one_way = tags.get("oneway") in ("yes", "true", "1", "-1") or tags.get("junction") == "roundabout"
        expected += seg if one_way else 2 * seg
        classes.add(tags["highway"])
    got = sum(d["length"] for *_, d in G.edges(data=True))
    assert got == pytest.approx(expected, rel=1e-6)
    got_classes = set()
    for *_, d in G.edges(data=True):
        h = d["highway"]
        got_classes.update(h if isinstance(h, list) else [h])
    assert got_classes == classes
    assert "footway" not in got_classes


def test_kouvola_pbf_has_motorways_and_no_paths():
    path = shared_path("osm", "kouvola_fi.osm.pbf")
    G = osm.graph_from_file(path)
    classes = set()
    for *_, d in G.edges(data=True):
        h = d["highway"]
        classes.update(h if isinstance(h, list) else [h])
    assert {"motorway", "motorway_link", "residential"} <= classes
    assert not classes & {"cycleway", "footway", "path", "track", "construction"}
    assert G.graph["crs"] == "epsg:4326"


def test_kouvola_region_clip_keeps_nodes_inside_buffer():
    path = shared_path("osm", "kouvola_fi.osm.pbf")
    G = osm.graph_from_file(path, polygon=KOUVOLA_BOX, buffer_m=100)
    full = osm.graph_from_file(path)
    assert 0 < len(G) < len(full)
    buff = osm.buffer_polygon(KOUVOLA_BOX, 100)
    xs = [d["x"] for _, d in G.nodes(data=True)]
    ys = [d["y"] for _, d in G.nodes(data=True)]
    assert shapely.contains_xy(buff, xs, ys).all()


def test_kouvola_pois_fuel_nodes():
    path = shared_path("osm", "kouvola_fi.osm.pbf")
    pois = osm.pois_from_file(path)
    fuel = pois[pois["kind"] == "amenity=fuel"]
    assert len(fuel) == 2
    assert set(fuel["osm_type"]) == {"node"}
    assert pois.crs.to_epsg() == 4326
    assert {"osm_id", "name", "amenity", "highway", "place"} <= set(pois.columns)


def test_pois_from_synthetic_file_centroids(tmp_path):
    nodes = {
        1: (105.90, 26.20), 2: (105.92, 26.20), 3: (105.92, 26.22), 4: (105.90, 26.22),
        5: (105.95, 26.25),
    }
    ways = [(401, [1, 2, 3, 4, 1], {"highway": "services", "name": "安顺服务区"})]
    text_nodes = "".join(
        f'<node id="{i}" version="1" lat="{lat}" lon="{lon}">'
        + ('<tag k="amenity" v="charging_station"/><tag k="operator" v="国家电网"/>' if i == 5 else "")
        + "</node>"
        for i, (lon, lat) in nodes.items()
    )
    text_ways = "".join(
        f'<way id="{w}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs)
        + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>"
        for w, refs, tags in ways
    )
    f = tmp_path / "pois.osm"
    f.write_text(f'<?xml version="1.0"?><osm version="0.6">{text_nodes}{text_ways}</osm>', encoding="utf-8")
    pois = osm.pois_from_file(f).set_index(["osm_type", "osm_id"])
    assert len(pois) == 2
    sa = pois.loc[("way", 401)]
    assert sa["kind"] == "highway=services" and sa["name"] == "安顺服务区"
    assert sa.geometry.x == pytest.approx(105.91) and sa.geometry.y == pytest.approx(26.21)
    cs = pois.loc[("node", 5)]
    assert cs["kind"] == "amenity=charging_station" and cs["operator"] == "国家电网"
    inside = osm.pois_from_file(f, shapely.box(105.89, 26.19, 105.93, 26.23))
    assert list(inside["osm_id"]) == [401]


# ---------------------------------------------------------------------------- bad files
def test_missing_file():
    with pytest.raises(DataError, match="does not exist"):
        osm.graph_from_file("/nonexistent/roads.osm.pbf")


def test_empty_file(tmp_path):
    f = tmp_path / "empty.osm.pbf"
    f.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.osm.pbf is empty"):
        osm.graph_from_file(f)


@pytest.mark.parametrize("name", ["corrupt.osm.pbf", "corrupt.osm.bz2", "corrupt.osm"])
def test_corrupt_file(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(b"\x00\x01garbage that is not OSM data\xff" * 10)
    with pytest.raises(DataError, match=rf"{name}.*corrupt"):
        osm.graph_from_file(f)


def test_file_without_highways(tmp_path):
    f = _write_osm(tmp_path / "river.osm", _grid_nodes(), [(1, [1, 2, 3], {"waterway": "river"})])
    with pytest.raises(DataError, match="has no highway ways"):
        osm.graph_from_file(f)


def test_pbf_with_no_roads_inside_region():
    path = shared_path("osm", "kouvola_fi.osm.pbf")
    anshun = shapely.box(105.6, 25.6, 106.4, 26.5)
    with pytest.raises(DataError) as e:
        osm.graph_from_file(path, polygon=anshun)
    msg = str(e.value)
    assert "kouvola_fi.osm.pbf" in msg and "no drivable roads inside the region" in msg
    assert "lon 105.6000..106.4000" in msg  # region bounds
    assert "lon 26.9300..26.9700" in msg  # file bounds (PBF header)


# ---------------------------------------------------------------------------- fake Overpass
class _FakeOverpass:
    """A local HTTP server answering Overpass ``/interpreter`` POSTs with recorded responses."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.queries: list[str] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                query = parse_qs(body).get("data", [""])[0]
                fake.queries.append(query)
                if fake.mode == "hang":
                    fake.release.wait(30)
                    return
                if fake.mode == "busy":
                    self.send_response(429)
                    self.end_headers()
                    return
                if 'way["highway"~' in query:
                    payload = (RECORDINGS / "west_oakland_drive.json").read_bytes()
                elif "amenity" in query:
                    payload = (RECORDINGS / "west_oakland_amenity.json").read_bytes()
                else:
                    payload = json.dumps({"version": 0.6, "elements": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_overpass():
    servers = []

    def start(mode: str = "ok") -> _FakeOverpass:
        s = _FakeOverpass(mode)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def _edge_set(G):
    return {(u, v, k): (round(d["length"], 6), str(d["highway"])) for u, v, k, d in G.edges(keys=True, data=True)}


def test_overpass_graph_equals_file_graph(fake_overpass, tmp_path):
    path = shared_path("osm", "West-Oakland.osm.bz2")
    server = fake_overpass()
    G_web = osm.graph_from_overpass(WEST_OAKLAND_BOX, buffer_m=200, endpoint=server.endpoint, cache_dir=tmp_path)
    G_file = osm.graph_from_file(path, polygon=WEST_OAKLAND_BOX, buffer_m=200)
    assert len(server.queries) == 1
    q = server.queries[0]
    assert q.startswith("[out:json][timeout:30]") and "(poly:" in q and osm.overpass_drive_filter() in q
    assert set(G_web.nodes) == set(G_file.nodes)
    assert _edge_set(G_web) == _edge_set(G_file)
    assert len(G_web) > 20


def test_overpass_cache_second_call_makes_no_request(fake_overpass, tmp_path):
    server = fake_overpass()
    G1 = osm.graph_from_overpass(WEST_OAKLAND_BOX, buffer_m=200, endpoint=server.endpoint, cache_dir=tmp_path)
    assert len(server.queries) == 1
    assert list(tmp_path.glob("*.json"))
    G2 = osm.graph_from_overpass(WEST_OAKLAND_BOX, buffer_m=200, endpoint=server.endpoint, cache_dir=tmp_path)
    assert len(server.queries) == 1
    assert _edge_set(G1) == _edge_set(G2)
    osm.graph_from_overpass(
        WEST_OAKLAND_BOX, buffer_m=200, endpoint=server.endpoint, cache_dir=tmp_path, use_cache=False
    )
    assert len(server.queries) == 2


def test_overpass_pois_equal_file_pois(fake_overpass, tmp_path):
    path = shared_path("osm", "West-Oakland.osm.bz2")
    server = fake_overpass()
    tags = {"amenity": ["parking", "cafe", "post_office"]}
    web = osm.pois_from_overpass(WEST_OAKLAND_BOX, tags, endpoint=server.endpoint, cache_dir=tmp_path)
    local = osm.pois_from_file(path, WEST_OAKLAND_BOX, tags)
    assert len(local) > 0
    assert list(zip(web["osm_type"], web["osm_id"], strict=True)) == list(
        zip(local["osm_type"], local["osm_id"], strict=True)
    )
    assert list(web["kind"]) == list(local["kind"])
    assert web.geometry.x.to_numpy() == pytest.approx(local.geometry.x.to_numpy(), abs=1e-7)
    assert web.geometry.y.to_numpy() == pytest.approx(local.geometry.y.to_numpy(), abs=1e-7)


def test_settings_are_restored(fake_overpass, tmp_path):
    import osmnx as ox

    before = (ox.settings.overpass_url, ox.settings.cache_folder, ox.settings.overpass_rate_limit)
    server = fake_overpass()
    osm.graph_from_overpass(WEST_OAKLAND_BOX, endpoint=server.endpoint, cache_dir=tmp_path)
    assert (ox.settings.overpass_url, ox.settings.cache_folder, ox.settings.overpass_rate_limit) == before


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_overpass_unreachable_fails_fast(tmp_path):
    endpoint = f"http://127.0.0.1:{_closed_port()}/api"
    t0 = time.perf_counter()
    with pytest.raises(NetworkError, match="--osm-file") as e:
        osm.graph_from_overpass(WEST_OAKLAND_BOX, endpoint=endpoint, timeout_s=5, cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 5
    assert endpoint in str(e.value)


def test_overpass_never_answers_fails_within_timeout(fake_overpass, tmp_path):
    server = fake_overpass("hang")
    t0 = time.perf_counter()
    with pytest.raises(NetworkError, match="--osm-file"):
        osm.graph_from_overpass(WEST_OAKLAND_BOX, endpoint=server.endpoint, timeout_s=1, cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 4


def test_overpass_busy_does_not_retry(fake_overpass, tmp_path):
    server = fake_overpass("busy")
    t0 = time.perf_counter()
    with pytest.raises(NetworkError, match="429.*--osm-file"):
        osm.pois_from_overpass(WEST_OAKLAND_BOX, endpoint=server.endpoint, timeout_s=5, cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 3
    assert len(server.queries) == 1
