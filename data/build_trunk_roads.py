"""Rebuild the built-in Guizhou road skeleton ``gzcharge/data/guizhou_trunk_roads.csv``.

Source: the ``world_highways`` geograph of the PyPI package ``scgraph_data`` 2.0.0 (package MIT,
© 2024 Connor Makowski; the data are OpenStreetMap-derived, © OpenStreetMap contributors, ODbL 1.0).
The geograph is a Python module holding ``graph`` (one ``{neighbour: km}`` dict per node) and
``nodes`` (``[lat, lon]`` per node); it is read with :func:`ast.literal_eval`, so neither the
package nor ``scgraph`` has to be imported (importing the 36 MB module takes long and needs
``scgraph``).

Run from the project root::

    pip download scgraph_data==2.0.0 --no-deps -d /tmp/scg
    python data/build_trunk_roads.py /tmp/scg/scgraph_data-2.0.0-py3-none-any.whl

(or give the path of an installed ``scgraph_data/world_highways.py``). Clip: every undirected
edge with at least one end inside the built-in province polygon (the union of the 88 county
polygons) buffered by 0.05° (~5 km, so that the roads crossing the border keep their outer end
and short loops outside the border stay connected); ``both_inside`` says whether both ends lie
inside the unbuffered polygon. Coordinates are the package's (0.001°), lengths its ``km``. With
no buffer the clip is edge for edge ``../shared/data/guizhou/trunk_roads_osm_scgraph.geojson``
(4,915 edges; checked in ``tests/test_highway_skeleton.py``). See ``gzcharge/data/README.md``.
"""

from __future__ import annotations

import argparse
import ast
import io
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "gzcharge" / "data" / "guizhou_trunk_roads.csv"
BBOX = (103.5, 24.5, 109.7, 29.3)  # lon_min, lat_min, lon_max, lat_max: a prefilter
BUFFER_DEG = 0.05
MODULE = "scgraph_data/world_highways.py"


def read_geograph(path: Path) -> tuple[list[dict], list[list[float]]]:
    """``graph`` and ``nodes`` of the world_highways module (a wheel or the .py file)."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            text = io.TextIOWrapper(z.open(MODULE), encoding="utf-8").read()
    else:
        text = path.read_text(encoding="utf-8")
    values = {}
    for line in text.splitlines():
        for name in ("graph", "nodes"):
            if line.startswith(name + "="):
                values[name] = ast.literal_eval(line[len(name) + 1:])
    return values["graph"], values["nodes"]


def clip(graph: list[dict], nodes: list[list[float]], polygon, *, buffer_deg: float = BUFFER_DEG,
         bbox=BBOX) -> pd.DataFrame:
    """Undirected edges (``u < v``) with at least one end in ``polygon`` buffered by ``buffer_deg``."""
    import shapely

    x0, y0, x1, y1 = bbox

    def in_box(n: int) -> bool:
        lat, lon = nodes[n]
        return x0 <= lon <= x1 and y0 <= lat <= y1

    rows = []
    for u, nbrs in enumerate(graph):
        for v, km in nbrs.items():
            if u < v and (in_box(u) or in_box(v)):
                rows.append((u, v, float(km), nodes[u][1], nodes[u][0], nodes[v][1], nodes[v][0]))
    df = pd.DataFrame(rows, columns=["u", "v", "km", "lon_u", "lat_u", "lon_v", "lat_v"])
    pu = shapely.points(df["lon_u"].to_numpy(), df["lat_u"].to_numpy())
    pv = shapely.points(df["lon_v"].to_numpy(), df["lat_v"].to_numpy())
    near = polygon.buffer(buffer_deg) if buffer_deg > 0 else polygon
    keep = shapely.contains(near, pu) | shapely.contains(near, pv)
    df["both_inside"] = shapely.contains(polygon, pu) & shapely.contains(polygon, pv)
    return df.loc[keep].reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="scgraph_data wheel or world_highways.py")
    a = ap.parse_args()
    import sys

    sys.path.insert(0, str(ROOT))
    from gzcharge.sources.builtin import load_counties

    graph, nodes = read_geograph(a.source)
    df = clip(graph, nodes, load_counties().union_all())
    df.to_csv(OUT, index=False)
    print(f"{OUT}: {len(df)} edges, {df['km'].sum():,.0f} km, {df['both_inside'].sum()} inside the province")


if __name__ == "__main__":
    main()
