"""`gzcharge plan --online` end to end against a fake Overpass server on localhost.

The server answers with responses recorded at test time from the real Kouvola extract
(``../shared/data/osm/kouvola_fi.osm.pbf``, which has motorways): the drivable ways and their
nodes for the road query, one service area beside the motorway for the ``highway=services``
query, nothing for the others — the form Overpass returns (``[out:json]``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pyogrio
import pytest

from tests.conftest import shared_path

BOX = (26.93, 60.52, 26.97, 60.54)


def _recordings():
    import osmium

    from gzcharge.sources.osm import is_drivable

    pbf = shared_path("osm", "kouvola_fi.osm.pbf")
    nodes, ways = {}, []
    for obj in osmium.FileProcessor(str(pbf)):
        if obj.is_node():
            nodes[obj.id] = {"type": "node", "id": obj.id, "lat": obj.location.lat, "lon": obj.location.lon}
        elif obj.is_way():
            tags = {t.k: t.v for t in obj.tags}
            if "highway" in tags and is_drivable(tags):
                ways.append({"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes], "tags": tags})
    # the extract is clipped (ways reference nodes it lacks); Overpass returns complete ways, so keep
    # each way's longest run of nodes that are present
    for w in ways:
        best, cur = [], []
        for r in w["nodes"]:
            cur = [*cur, r] if r in nodes else []
            best = cur if len(cur) > len(best) else best
        w["nodes"] = best
    ways = [w for w in ways if len(w["nodes"]) >= 2]
    refs = {r for w in ways for r in w["nodes"]}
    drive = [nodes[r] for r in sorted(refs) if r in nodes] + ways
    motorway_node = next(nodes[r] for w in ways if w["tags"]["highway"] == "motorway" for r in w["nodes"] if r in nodes)
    services = [{"type": "node", "id": 9_000_000_001, "lat": motorway_node["lat"] + 0.0005,
                 "lon": motorway_node["lon"], "tags": {"highway": "services", "name": "Kouvola services"}}]
    return ({"version": 0.6, "elements": drive}, {"version": 0.6, "elements": services})


@pytest.fixture
def fake_overpass_kouvola():
    drive, services = _recordings()
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            q = parse_qs(body).get("data", [""])[0]
            queries.append(q)
            if 'way["highway"~' in q:
                payload = drive
            elif '"highway"' in q and "services" in q:
                payload = services
            else:
                payload = {"version": 0.6, "elements": []}
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", queries
    server.shutdown()
    server.server_close()


def test_online_highway_plan_uses_overpass_roads_and_service_areas(tmp_path, fake_overpass_kouvola):
    endpoint, queries = fake_overpass_kouvola
    ring = [[BOX[0], BOX[1]], [BOX[2], BOX[1]], [BOX[2], BOX[3]], [BOX[0], BOX[3]], [BOX[0], BOX[1]]]
    boundary = tmp_path / "kouvola.geojson"
    boundary.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "K", "name": "Kouvola"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    out = tmp_path / "k.gpkg"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    res = subprocess.run(
        [sys.executable, "-m", "gzcharge", "plan", "--boundary", str(boundary), "--code-field", "code",
         "--name-field", "name", "--online", "--endpoint", endpoint, "--tiers", "highway", "--no-report",
         "--set", "highway.max_gap_km=0.5", "--set", "highway.synthetic_spacing_km=0.2", "--set", "highway.range_km=1",
         "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr
    assert any('way["highway"~' in q for q in queries)  # roads came from the server
    assert any("services" in q for q in queries)  # so did the service areas
    st = pyogrio.read_dataframe(out, layer="highway_stations")
    seg = pyogrio.read_dataframe(out, layer="expressway_segments")
    assert len(seg) > 0 and len(st) > 0
    # the recorded service area became a candidate and, sitting on the corridor, may be chosen;
    # every station is either that service area or a flagged synthetic site
    assert set(st["status"]) <= {"new", "existing", "synthetic"}
    assert (st["status"] == "new").sum() + (st["status"] == "synthetic").sum() == len(st)
