"""Tests for gzcharge.distances: network (cutoff Dijkstra) and screening cost matrices."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gzcharge.distances import (
    CostMatrix,
    as_cost_matrix,
    estimate_circuity,
    network_costs,
    network_costs_csgraph,
    screening_costs,
    screening_costs_gdf,
)
from gzcharge.errors import DataError


def _csr(edges: list[tuple[int, int, float]], n: int) -> sp.csr_array:
    i, j, w = zip(*edges, strict=True)
    return sp.csr_array((np.array(w, float), (np.array(i), np.array(j))), shape=(n, n))


class FakeNetwork:
    """Stands in for RoadNetwork: ``csgraph(weight) -> (csr_array, node ids)``."""

    def __init__(self, graphs: dict[str, sp.csr_array], node_ids: list) -> None:
        self.graphs = graphs
        self.node_ids = pd.Index(node_ids)

    def csgraph(self, weight: str) -> tuple[sp.csr_array, pd.Index]:
        return self.graphs[weight], self.node_ids


# ---------------------------------------------------------------- network mode vs networkx
@pytest.fixture(scope="module")
def random_digraph() -> tuple[nx.DiGraph, sp.csr_array]:
    n = 3000
    g = nx.gnm_random_graph(n, 12_000, seed=7, directed=True)
    rng = np.random.default_rng(7)
    for u, v in g.edges:
        g[u][v]["w"] = float(rng.uniform(1.0, 100.0))
    adj = sp.csr_array(nx.to_scipy_sparse_array(g, nodelist=range(n), weight="w", format="csr"))
    return g, adj


def _nx_matrix(
    g: nx.DiGraph, rows: np.ndarray, cols: np.ndarray, cutoff: float, from_rows: bool
) -> np.ndarray:
    """Dense reference: cost[i, j] = path rows[i] -> cols[j] (from_rows) or cols[j] -> rows[i]."""
    out = np.full((rows.size, cols.size), np.inf)
    if from_rows:
        for i, s in enumerate(rows):
            d = nx.single_source_dijkstra_path_length(g, int(s), cutoff=cutoff, weight="w")
            out[i] = [d.get(int(t), np.inf) for t in cols]
    else:
        for j, s in enumerate(cols):
            d = nx.single_source_dijkstra_path_length(g, int(s), cutoff=cutoff, weight="w")
            out[:, j] = [d.get(int(t), np.inf) for t in rows]
    return out


@pytest.mark.parametrize("direction", ["to_sites", "from_sites"])
@pytest.mark.parametrize("n_demand,n_sites", [(300, 40), (40, 300), (900, 400)])
def test_network_costs_match_networkx(random_digraph, direction, n_demand, n_sites):
    g, adj = random_digraph
    rng = np.random.default_rng(n_demand)
    demand = rng.integers(0, adj.shape[0], n_demand)
    sites = rng.choice(adj.shape[0], n_sites, replace=False)
    cutoff = 180.0
    calls: list[tuple[int, int]] = []
    cm = network_costs_csgraph(
        adj,
        demand,
        sites,
        cutoff=cutoff,
        direction=direction,
        progress=lambda d, t: calls.append((d, t)),
    )
    # 400 start nodes > one group of 128: several ball subgraphs, reported as progress
    n_start = min(np.unique(demand).size, np.unique(sites).size)
    assert calls[-1] == (n_start, n_start) and len(calls) >= n_start // 128
    # to_sites: demand -> site on g; from_sites: site -> demand on g
    ref = _nx_matrix(g, demand, sites, cutoff, from_rows=direction == "to_sites")
    got = cm.to_dataframe().to_numpy()
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    assert np.isfinite(ref).sum() > 500  # the cutoff keeps a real number of pairs
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-12)
    assert cm.mode == "network" and cm.cutoff == cutoff and cm.meta["direction"] == direction
    assert cm.meta["ran_from"] == ("demand" if n_demand < n_sites else "sites")


def test_one_way_streets_hand_graph():
    # 0 -> 1 -> 2 one-way (1 m each), 2 -> 0 one-way 10 m, 2 <-> 3 two-way 5 m
    adj = _csr([(0, 1, 1), (1, 2, 1), (2, 0, 10), (2, 3, 5), (3, 2, 5)], 4)
    for demand, sites in (([0, 3], [2]), ([0], [2, 3, 1])):  # run from either side
        to = network_costs_csgraph(
            adj, np.array(demand), np.array(sites), cutoff=100, direction="to_sites"
        )
        frm = network_costs_csgraph(
            adj, np.array(demand), np.array(sites), cutoff=100, direction="from_sites"
        )
        hand_to = {(0, 2): 2.0, (3, 2): 5.0, (0, 3): 7.0, (0, 1): 1.0}
        hand_from = {(0, 2): 10.0, (3, 2): 5.0, (0, 3): 15.0, (0, 1): 11.0}
        for i, d in enumerate(demand):
            for j, s in enumerate(sites):
                assert to.to_dataframe().iat[i, j] == hand_to[(d, s)]
                assert frm.to_dataframe().iat[i, j] == hand_from[(d, s)]


def test_cutoff_boundary_is_inclusive():
    adj = _csr([(0, 1, 2.0), (1, 0, 2.0), (1, 2, 3.0), (2, 1, 3.0)], 3)
    for demand, sites in (([0], [1, 2]), ([1, 2], [0])):
        at = network_costs_csgraph(adj, np.array(demand), np.array(sites), cutoff=5.0)
        below = network_costs_csgraph(adj, np.array(demand), np.array(sites), cutoff=4.999)
        assert at.values.nnz == 2 and at.values.data.max() == 5.0
        assert below.values.nnz == 1 and below.values.data.max() == 2.0
    zero = network_costs_csgraph(adj, np.array([0]), np.array([0, 1]), cutoff=0.0)
    assert zero.values.nnz == 1 and zero.to_dataframe().iat[0, 0] == 0.0


def test_duplicate_snapped_nodes_and_zero_cost():
    adj = _csr([(0, 1, 4.0), (1, 0, 4.0), (1, 2, 1.0), (2, 1, 1.0)], 3)
    demand = pd.Series({"a": 10, "b": 10, "c": 12, "d": 11})
    sites = pd.Series({"x": 12, "y": 12, "z": 10})
    net = FakeNetwork({"length_m": adj}, [10, 11, 12])
    cm = network_costs(net, demand, sites, cutoff=100)
    df = cm.to_dataframe()
    expected = pd.DataFrame(
        [[5, 5, 0], [5, 5, 0], [0, 0, 5], [1, 1, 4]],
        index=list("abcd"),
        columns=list("xyz"),
        dtype=float,
    )
    pd.testing.assert_frame_equal(df, expected)
    assert cm.values.nnz == 12  # the zero-cost pairs are stored (reachable)
    assert cm.within(0.0).sum() == 4
    # many duplicates on the other side too (run from demand instead)
    cm2 = network_costs(
        net, demand.iloc[:2], pd.concat([sites, sites.rename(lambda s: s + "2")]), cutoff=100
    )
    assert (cm2.to_dataframe().to_numpy() == np.array([[5, 5, 0, 5, 5, 0]] * 2)).all()


def test_network_costs_snap_and_travel_time():
    adj_m = _csr([(0, 1, 1000.0), (1, 0, 1000.0)], 2)
    adj_s = _csr([(0, 1, 60.0), (1, 0, 60.0)], 2)
    net = FakeNetwork({"length_m": adj_m, "travel_time_s": adj_s}, ["n0", "n1"])
    demand = pd.Series({"d1": "n0", "d2": "n1"})
    sites = pd.Series({"s1": "n1"})
    snap_d = pd.Series({"d1": 150.0, "d2": 30.0})
    snap_s = pd.Series({"s1": 20.0})
    m = network_costs(
        net, demand, sites, cutoff=1100, add_snap=True, demand_snap_m=snap_d, site_snap_m=snap_s
    )
    # d1: 150 + 1000 + 20 = 1170 > 1100 -> dropped; d2: 30 + 0 + 20 = 50
    assert m.to_dataframe()["s1"].tolist() == [np.inf, 50.0]
    assert m.meta["snap_added"] and m.meta["weight"] == "length_m"
    t = network_costs(
        net, demand, sites, cutoff=600, weight="travel_time_s", add_snap=True, demand_snap_m=snap_d
    )
    # 150 m at 15 km/h = 36 s; + 60 s on the road
    np.testing.assert_allclose(t.to_dataframe()["s1"].to_numpy(), [96.0, 7.2])
    assert t.unit == "s"
    plain = network_costs(net, demand, sites, cutoff=1100)
    assert plain.to_dataframe()["s1"].tolist() == [1000.0, 0.0]
    with pytest.raises(DataError, match="add_snap"):
        network_costs(net, demand, sites, cutoff=10, add_snap=True)


def test_network_bad_input():
    adj = _csr([(0, 1, 1.0), (1, 0, 1.0)], 2)
    net = FakeNetwork({"length_m": adj}, [5, 6])
    with pytest.raises(DataError, match=r"not in the road graph.*\['b'\].*\[99\]"):
        network_costs(net, pd.Series({"a": 5, "b": 99}), pd.Series({"s": 6}), cutoff=10)
    with pytest.raises(DataError, match="without a snapped node"):
        network_costs(net, pd.Series({"a": 5, "b": None}), pd.Series({"s": 6}), cutoff=10)
    with pytest.raises(DataError, match="cutoff"):
        network_costs(net, pd.Series({"a": 5}), pd.Series({"s": 6}), cutoff=-1)
    with pytest.raises(DataError, match="weight"):
        network_costs(net, pd.Series({"a": 5}), pd.Series({"s": 6}), cutoff=1, weight="time")
    with pytest.raises(DataError, match="outside the graph"):
        network_costs_csgraph(adj, np.array([0, 2]), np.array([1]), cutoff=1)
    with pytest.raises(DataError, match="negative edge"):
        network_costs_csgraph(_csr([(0, 1, -1.0)], 2), np.array([0]), np.array([1]), cutoff=1)
    with pytest.raises(DataError, match="direction"):
        network_costs_csgraph(adj, np.array([0]), np.array([1]), cutoff=1, direction="both")
    with pytest.raises(DataError, match="cutoff"):
        network_costs_csgraph(adj, np.array([0]), np.array([1]), cutoff=float("nan"))
    with pytest.raises(DataError, match="row_ids"):
        network_costs_csgraph(adj, np.array([0]), np.array([1]), cutoff=1, row_ids=["a", "b"])


def test_unreachable_component_and_infinite_cutoff():
    adj = _csr([(0, 1, 3.0), (1, 0, 3.0), (2, 3, 1.0), (3, 2, 1.0)], 4)
    cm = network_costs_csgraph(adj, np.array([0, 2]), np.array([1, 3]), cutoff=np.inf)
    assert cm.to_dataframe().to_numpy().tolist() == [[3.0, np.inf], [np.inf, 1.0]]
    assert cm.cutoff is None


# ---------------------------------------------------------------- screening mode
def test_screening_costs_345():
    demand = np.array([[0.0, 0.0], [10.0, 10.0]])
    sites = np.array([[3.0, 4.0], [6.0, 8.0], [0.0, 0.0]])
    cm = screening_costs(demand, sites, cutoff=14.0, row_ids=["d0", "d1"], col_ids=["a", "b", "c"])
    # d0: 5*1.4=7, 10*1.4=14 (kept, boundary), 0; d1: |(7,6)|=9.22*1.4=12.9, |(4,2)|*1.4=6.26, 14.14*1.4 > 14
    expected = [[7.0, 14.0, 0.0], [np.hypot(7, 6) * 1.4, np.hypot(4, 2) * 1.4, np.inf]]
    np.testing.assert_allclose(cm.to_dataframe().to_numpy(), expected, rtol=1e-12)
    assert cm.mode == "screening" and cm.meta["circuity"] == 1.4 and cm.cutoff == 14.0
    assert cm.values.nnz == 5  # the zero-distance pair is stored
    km = screening_costs(demand / 1000, sites / 1000, cutoff=14.0, crs_unit="km", circuity=1.0)
    np.testing.assert_allclose(km.to_dataframe().iloc[0].to_numpy(), [5.0, 10.0, 0.0], rtol=1e-12)
    t = screening_costs(demand, sites, cutoff=1.0, circuity=1.0, speed_kmh=36.0)  # 10 m/s
    assert t.unit == "s" and t.to_dataframe().iat[0, 0] == pytest.approx(0.5)
    assert t.to_dataframe().iat[0, 1] == pytest.approx(1.0)  # 10 m -> 1.0 s, on the cutoff: kept
    with pytest.raises(DataError, match="circuity"):
        screening_costs(demand, sites, cutoff=1, circuity=0.8)
    with pytest.raises(DataError, match="cutoff"):
        screening_costs(demand, sites, cutoff=-5)
    with pytest.raises(DataError, match=r"\(n, 2\)"):
        screening_costs(np.zeros((3, 3)), sites, cutoff=5)


def test_screening_costs_gdf_projects():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point, box

    x0, y0 = 500_000.0, 2_900_000.0  # EPSG:4544 (CM 105°E, false easting 500 km): near Anshun
    d = gpd.GeoDataFrame({"did": ["p"]}, geometry=[Point(x0, y0)], crs="EPSG:4544").to_crs(
        "EPSG:4326"
    )
    s = gpd.GeoDataFrame(
        {"name": ["A", "B"]},
        geometry=[Point(x0 + 3000, y0 + 4000), box(x0 + 5000, y0 - 1, x0 + 6000, y0 + 1)],
        crs="EPSG:4544",
    ).to_crs("EPSG:4326")
    cm = screening_costs_gdf(
        d, s, metric_crs="EPSG:4544", cutoff=20_000, demand_id_col="did", site_id_col="name"
    )
    got = cm.to_dataframe()
    assert got.index.tolist() == ["p"] and got.columns.tolist() == ["A", "B"]
    assert got.at["p", "A"] == pytest.approx(5000 * 1.4, abs=1e-3)
    assert 5000 * 1.4 <= got.at["p", "B"] <= 6000 * 1.4  # a point inside the box
    assert cm.meta["metric_crs"].endswith("4544")
    with pytest.raises(DataError, match="projected"):
        screening_costs_gdf(d, s, metric_crs="EPSG:4326", cutoff=10)
    with pytest.raises(DataError, match="no CRS"):
        screening_costs_gdf(
            d.set_crs(None, allow_override=True), s, metric_crs="EPSG:4544", cutoff=10
        )


def test_estimate_circuity_on_grid():
    # 4 x 5 unit grid: Manhattan network, (0,0)->(3,4) is 7 by road, 5 straight
    g = nx.grid_2d_graph(4, 5)
    nodes = list(g.nodes)
    adj = sp.csr_array(
        nx.to_scipy_sparse_array(g, nodelist=nodes, weight=None, format="csr").astype(float)
    )
    xy = np.array(nodes, dtype=float)
    cm = network_costs_csgraph(
        adj, np.array([nodes.index((0, 0))]), np.array([nodes.index((3, 4))]), cutoff=100
    )
    assert (
        estimate_circuity(cm, xy[[nodes.index((0, 0))]], xy[[nodes.index((3, 4))]], min_dist_m=1)
        == 1.4
    )


# ---------------------------------------------------------------- CostMatrix
def test_costmatrix_methods():
    df = pd.DataFrame(
        [[1.0, np.inf, 3.0], [np.nan, 0.0, 7.0]], index=["d1", "d2"], columns=["a", "b", "c"]
    )
    cm = CostMatrix.from_dataframe(df, cutoff=5.0)
    assert cm.values.nnz == 3 and cm.cutoff == 5.0 and cm.mode == "given"
    dense = cm.to_dataframe()
    assert dense.to_numpy().tolist() == [[1.0, np.inf, 3.0], [np.inf, 0.0, np.inf]]
    cover = cm.within(1.0)
    assert cover.toarray().tolist() == [[True, False, False], [False, True, False]]
    sub = cm.subset(rows=pd.Index(["d2"]), cols=pd.Index(["c", "b"]))
    assert sub.to_dataframe().to_numpy().tolist() == [[np.inf, 0.0]]
    assert sub.cols.tolist() == ["c", "b"] and sub.cutoff == 5.0
    with pytest.raises(DataError, match="unknown site ids"):
        cm.subset(cols=pd.Index(["zz"]))
    with pytest.raises(DataError, match="duplicate"):
        CostMatrix(pd.Index(["d", "d"]), pd.Index(["a"]), sp.csr_array((2, 1)))
    with pytest.raises(DataError, match="shape"):
        CostMatrix(pd.Index(["d"]), pd.Index(["a"]), sp.csr_array((2, 1)))
    with pytest.raises(DataError, match="mode"):
        CostMatrix(pd.Index(["d"]), pd.Index(["a"]), sp.csr_array((1, 1)), mode="magic")
    long = pd.DataFrame({"d": ["d1", "d2"], "s": ["b", "a"], "v": [2.0, 4.0]})
    lm = CostMatrix.from_long(long, row="d", col="s", value="v")
    assert lm.to_dataframe().loc["d1", "b"] == 2.0 and np.isinf(lm.to_dataframe().loc["d1", "a"])
    assert as_cost_matrix(df).values.nnz == 4
    with pytest.raises(DataError, match="empty"):
        as_cost_matrix(pd.DataFrame())


# ---------------------------------------------------------------- real OSM network
def test_network_costs_on_kouvola_osm_match_networkx():
    """Real one-way streets: RoadNetwork contract + travel times vs networkx on the MultiDiGraph."""
    from gzcharge.network import RoadNetwork
    from gzcharge.sources.osm import graph_from_file
    from tests.conftest import shared_path

    net = RoadNetwork.from_graph(graph_from_file(shared_path("osm", "kouvola_fi.osm.pbf")))
    nodes = np.array(list(net.graph.nodes))
    rng = np.random.default_rng(3)
    demand = pd.Series(rng.choice(nodes, 150), index=[f"d{i}" for i in range(150)])
    sites = pd.Series(rng.choice(nodes, 60, replace=False), index=[f"s{i}" for i in range(60)])
    cutoff = 300.0
    to = network_costs(net, demand, sites, cutoff=cutoff, weight="travel_time_s")
    frm = network_costs(
        net, demand, sites, cutoff=cutoff, weight="travel_time_s", direction="from_sites"
    )
    ref_to = np.full(to.shape, np.inf)
    ref_from = np.full(to.shape, np.inf)
    for i, d in enumerate(demand):
        dist = nx.single_source_dijkstra_path_length(
            net.graph, d, cutoff=cutoff, weight="travel_time_s"
        )
        ref_to[i] = [dist.get(s, np.inf) for s in sites]
    for j, s in enumerate(sites):
        dist = nx.single_source_dijkstra_path_length(
            net.graph, s, cutoff=cutoff, weight="travel_time_s"
        )
        ref_from[:, j] = [dist.get(d, np.inf) for d in demand]
    for cm, ref in ((to, ref_to), (frm, ref_from)):
        got = cm.to_dataframe().to_numpy()
        ok = np.isfinite(ref)
        assert ok.sum() > 100
        # pairs within 1e-9 s of the cutoff could fall either side; there are none here
        assert np.array_equal(np.isfinite(got), ok)
        np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-9)
        assert cm.unit == "s" and cm.meta["weight"] == "travel_time_s"
    assert not np.array_equal(ref_to, ref_from)  # one-way streets make direction matter
