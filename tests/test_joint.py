"""Joint multi-type model: single-tier reproduction, phasing, budgets, shared sites, bad input."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gzcharge.errors import ConfigError, DataError, InfeasibleError
from gzcharge.locate.frlm import frlm, frlm_min_cost
from gzcharge.locate.joint import CapacitatedBlock, CoverageBlock, FlowBlock, SiteRegistry, solve_joint
from tests.conftest import shared_path

GAP = 1e-9


# --------------------------------------------------------------------------- helpers
def _public_data(seed: int = 1):
    from gzcharge.tiers.public import _ModelData

    rng = np.random.default_rng(seed)
    n, m = 80, 30
    cover = sp.csr_array((rng.random((n, m)) < 0.08).astype(float))
    w = rng.integers(1, 50, n).astype(float)
    must = np.zeros(n, bool)
    must[:10] = True
    must &= np.diff(cover.indptr) > 0
    ex = np.zeros(m, bool)
    ex[[3, 7]] = True
    cost = rng.integers(5, 20, m).astype(float) * 1e5
    cost[ex] = 0
    return _ModelData(cover=cover, weight=w, must=must, group=rng.integers(0, 3, n), share=np.array([0.6, 0.5, 0.7]),
                      site_cost=cost, site_group=rng.integers(0, 3, m), min_sites=np.array([3, 2, 2]), existing=ex)


def _scenario():
    return SimpleNamespace(solver=SimpleNamespace(time_limit_s=60, mip_rel_gap=GAP, threads=None))


def _swap_data(objective: str = "min_cost", budget: float | None = None):
    from gzcharge.tiers.swap import SwapModelData

    rng = np.random.default_rng(2)
    n, m = 25, 12
    D = rng.random((n, m)) * 10
    mask = D < 4
    dist = sp.csr_array((D[mask], np.nonzero(mask)), shape=(n, m))
    dist.sort_indices()
    swaps = rng.integers(50, 300, n).astype(float)
    swaps[np.diff(dist.indptr) == 0] = 0.0
    return SwapModelData(demand_ids=pd.Index([f"d{i}" for i in range(n)]), site_ids=pd.Index([f"s{j}" for j in range(m)]),
                         swaps=swaps, dtype_of=rng.integers(0, 2, n), type_names=["car", "truck"],
                         capacity=np.array([500.0, 150.0]), unit_cost=np.array([3e6, 6e6]),
                         max_per_site=np.array([2, 2]), dist_km=dist, access_rate=365.0, budget=budget,
                         objective=objective)


def _net25():
    edges = pd.read_csv(shared_path("reference", "net25", "25-Node_Network_Edges.csv"), skipinitialspace=True)
    flows = pd.read_csv(shared_path("reference", "net25", "25-Node_Network_Traffic_Flow.csv"), index_col=0)
    flows.columns = flows.columns.astype(int)
    g = nx.Graph()
    lengths = {}
    for u, v, d in edges.itertuples(index=False):
        g.add_edge(int(u), int(v), length=float(d))
        lengths[(int(u), int(v))] = float(d)
    paths, f = [], []
    for i, j in itertools.combinations(sorted(g.nodes), 2):
        paths.append(min(nx.all_shortest_paths(g, i, j, weight="length")))
        f.append(float(flows.loc[i, j]))
    return paths, np.array(f), lengths


def _sites(n: int, costs: list[float], *, existing: list[bool] | None = None, name: str = "t") -> CoverageBlock:
    """Coverage block: site j covers only demand j (weight 1): a site-by-site hand case."""
    return CoverageBlock(name=name, site_ids=pd.Index([f"{name}{j}" for j in range(n)]), site_cost=np.array(costs, float),
                         cover=sp.csr_array(np.eye(n)), weight=np.ones(n),
                         existing=None if existing is None else np.array(existing))


# --------------------------------------------------------------------------- reproduction
def test_public_min_cost_reproduced() -> None:
    from gzcharge.joint import coverage_block_from_model_data
    from gzcharge.tiers.public import _solve_model

    d = _public_data()
    x, res = _solve_model(d, _scenario())
    sol = solve_joint([coverage_block_from_model_data(d)], years=[2025], mip_rel_gap=GAP)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(res.objective, rel=1e-9)
    assert sol.open_sites("public") == np.flatnonzero(x).tolist() or \
        float(d.site_cost[sol.open_sites("public")].sum()) == pytest.approx(res.objective)


def test_public_max_cover_with_plug_budget_reproduced() -> None:
    from gzcharge.joint import coverage_block_from_model_data
    from gzcharge.tiers.public import _solve_model

    d = _public_data()
    d.must = np.zeros_like(d.must)
    d.objective, d.budget, d.demand_cost = "max_cover", 3e6, d.weight * 1e3
    d.use_share = d.use_count = False
    x, _ = _solve_model(d, _scenario())
    covered = (d.cover @ x.astype(float)) > 0
    sol = solve_joint([coverage_block_from_model_data(d)], years=[2025], total_budget=3e6, objective="max_service",
                      mip_rel_gap=GAP)
    served = sol.service["served"].iloc[0]
    assert served == pytest.approx(float(d.weight[covered].sum()))
    spend = sol.costs["cost_cny"].sum()
    assert spend <= 3e6 + 1e-6


def test_swap_min_cost_and_max_served_reproduced() -> None:
    from gzcharge.joint import capacitated_block_from_swap_data
    from gzcharge.tiers.swap import solve_swap

    d = _swap_data()
    ref = solve_swap(d, mip_rel_gap=GAP)
    sol = solve_joint([capacitated_block_from_swap_data(d)], years=[1], mip_rel_gap=GAP)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-9)
    got = sorted(map(tuple, sol.sites[["site_id", "station_type", "n_stations"]].values.tolist()))
    want = sorted(map(tuple, ref.stations[["site_id", "station_type", "n_stations"]].values.tolist()))
    assert got == want or sol.costs["cost_cny"].sum() == pytest.approx(ref.station_cost_cny)
    d2 = _swap_data("max_served", 2e7)
    ref2 = solve_swap(d2, mip_rel_gap=GAP)
    sol2 = solve_joint([capacitated_block_from_swap_data(d2)], years=[1], total_budget=2e7, objective="max_service",
                       mip_rel_gap=GAP)
    assert sol2.service["served"].iloc[0] == pytest.approx(ref2.objective, rel=1e-7)


@pytest.mark.parametrize("budget", [3.0, 5.0])
def test_frlm_max_flow_reproduced_on_net25(budget: float) -> None:
    paths, f, lengths = _net25()
    cost = {n: 1.0 + (n % 3) for n in range(1, 26)}
    ref = frlm(paths, f, lengths, 15.0, budget=budget, site_cost=cost, mip_rel_gap=GAP)
    blk = FlowBlock.from_paths("highway", paths, f, lengths, 15.0, site_cost=cost)
    sol = solve_joint([blk], years=[2025], total_budget=budget, objective="max_service", mip_rel_gap=GAP)
    assert sol.service["served"].iloc[0] == pytest.approx(ref.objective, rel=1e-9)
    assert sol.objective == pytest.approx(ref.objective / f.sum(), rel=1e-9)


def test_frlm_min_cost_reproduced_on_net25() -> None:
    paths, f, lengths = _net25()
    cost = {n: 1.0 + (n % 3) for n in range(1, 26)}
    ref = frlm_min_cost(paths, f, lengths, 15.0, target_share=0.6, site_cost=cost, mip_rel_gap=GAP)
    blk = FlowBlock.from_paths("hydrogen", paths, f, lengths, 15.0, site_cost=cost, target_share=[0.6])
    sol = solve_joint([blk], years=[2025], mip_rel_gap=GAP)
    assert sol.objective == pytest.approx(ref.objective)
    assert sol.service["share"].iloc[0] >= 0.6 - 1e-9
