"""p-median and capacitated location: published optima, spopt's SF value, hand instances, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from gzcharge.distances import CostMatrix
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.locate._common import Status
from gzcharge.locate.median import p_median
from tests.conftest import reference_path


# --------------------------------------------------------------------------- OR-Library
def _orlib_edges(k: int) -> tuple[int, int, dict[tuple[int, int], int]]:
    """n, p and the edges of pmed{k}; an edge listed twice: the last line wins (tests/data/reference/README.md)."""
    lines = reference_path("orlib_pmed", f"pmed{k}.txt").read_text().split("\n")
    n, m, p = map(int, lines[0].split())
    edges: dict[tuple[int, int], int] = {}
    for ln in lines[1 : 1 + m]:
        i, j, c = map(int, ln.split())
        edges[(min(i, j), max(i, j))] = c
    return n, p, edges


def _orlib(k: int) -> tuple[np.ndarray, int]:
    """Distance matrix (shortest paths) and p of pmed{k}."""
    n, p, edges = _orlib_edges(k)
    ij = np.array(list(edges)) - 1
    g = sp.coo_array((np.array(list(edges.values()), float), (ij[:, 0], ij[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(g, directed=False), p


def _orlib_opt() -> dict[str, int]:
    text = reference_path("orlib_pmed", "pmedopt.txt").read_text().split("\n")[1:]
    return {a: int(b) for a, b in (ln.split() for ln in text if ln.strip())}


@pytest.mark.parametrize("k", range(1, 16))  # pmed6/12 (p = 5/10) branch: 9 and 3 nodes
def test_orlib_pmed_optimal(k: int) -> None:
    d, p = _orlib(k)
    cm = CostMatrix.from_dataframe(pd.DataFrame(d))
    res = p_median(cm, np.ones(len(d)), p)
    assert res.status is Status.OPTIMAL
    assert res.objective == _orlib_opt()[f"pmed{k}"]
    assert len(res.selected) == p
    # the assignment is the nearest open site and reproduces the objective
    served = d[np.arange(len(d)), res.assignment.to_numpy().astype(int)]
    assert served.sum() == res.objective
    assert np.allclose(served, d[:, res.selected].min(axis=1))


def test_orlib_repeated_edge_last_line_wins() -> None:
    # pmed1.txt lists edge 19-20 twice (cost 22, later 30) and 30-70 twice (5, later 74); with the
    # minimum instead of the last line pmed1, 2 and 4 lose their published optima
    _, _, edges = _orlib_edges(1)
    assert edges[(19, 20)] == 30
    assert edges[(30, 70)] == 74


def test_full_radius_model_matches_iterated() -> None:
    d, p = _orlib(1)
    cm = CostMatrix.from_dataframe(pd.DataFrame(d))
    assert p_median(cm, np.ones(len(d)), p, iterate_radius=False, method="radius").objective == 5819
    assert p_median(cm, np.ones(len(d)), p, method="radius").objective == 5819


@pytest.mark.parametrize("k", [2, 11])
def test_radius_and_benders_agree_on_orlib(k: int) -> None:
    # two independent exact methods (radius formulation, Benders) reach the published optimum
    d, p = _orlib(k)
    cm = CostMatrix.from_dataframe(pd.DataFrame(d))
    rb = p_median(cm, np.ones(len(d)), p, method="benders")
    assert rb.details["formulation"] == "benders" and rb.status is Status.OPTIMAL
    assert rb.objective == _orlib_opt()[f"pmed{k}"] and rb.bound == pytest.approx(rb.objective)
    if k == 2:
        assert p_median(cm, np.ones(len(d)), p, method="radius").objective == rb.objective


@pytest.mark.parametrize("seed", range(6))
def test_benders_matches_enumeration(seed: int) -> None:
    # random weights, costs with unreachable pairs, an existing site on odd seeds and fixed site
    # costs on seeds >= 3: the Benders optimum equals the best of all C(m, p) plans
    import itertools

    rng = np.random.default_rng(seed)
    n, m, p = 14, 8, 3
    c = rng.integers(1, 60, (n, m)).astype(float)
    c[rng.random((n, m)) < 0.25] = np.inf
    c[np.arange(n), rng.integers(0, m, n)] = rng.integers(1, 60, n)  # every row reaches a site
    w = rng.integers(0, 9, n).astype(float)
    f = rng.integers(0, 40, m).astype(float) if seed >= 3 else np.zeros(m)
    ex = [1] if seed % 2 else []
    best = np.inf
    for sel in itertools.combinations(range(m), p):
        if not set(ex) <= set(sel):
            continue
        near = c[:, list(sel)].min(axis=1)
        if np.isfinite(near).all():
            best = min(best, float(w @ near + f[list(sel)].sum()))
    cols = [f"s{j}" for j in range(m)]
    cost = pd.DataFrame(c, columns=cols)
    res = p_median(cost, w, p, existing=[cols[j] for j in ex], method="benders",
                   site_cost=pd.Series(f, index=cols) if seed >= 3 else None)
    assert res.objective == pytest.approx(best)
    assert res.status is Status.OPTIMAL and res.bound == pytest.approx(best)


@pytest.mark.parametrize("seed", range(4))
def test_branch_and_cut_from_a_poor_start_matches_enumeration(seed: int) -> None:
    # fractional weights (no "a better plan is 1 cheaper" cutoff) and the worst plan as the start:
    # the tree, not the heuristic, must find the best of all C(m, p) plans and prove it
    import itertools

    from gzcharge.locate._median_benders import solve_benders
    from gzcharge.solve import Deadline

    rng = np.random.default_rng(100 + seed)
    n, m, p = 30, 12, 3
    c = rng.random((n, m)) * 50
    w = rng.random(n) * 3

    def cost(mask: np.ndarray) -> float:
        return float(w @ c[:, mask].min(axis=1))

    plans = [np.isin(np.arange(m), s) for s in itertools.combinations(range(m), p)]
    costs = [cost(x) for x in plans]
    worst = plans[int(np.argmax(costs))]
    y, bound, proven, det = solve_benders(c, w, p, fixed_open=np.zeros(m, bool), site_cost=None, start=worst,
                                          true_cost=cost, deadline=Deadline(None), mip_rel_gap=1e-9)
    assert proven and cost(y) == pytest.approx(min(costs), rel=1e-9)
    assert bound == pytest.approx(min(costs), rel=1e-6) and bound <= min(costs) * (1 + 1e-9)


def test_benders_deadline_returns_plan_and_valid_bound() -> None:
    # a limit far below what pmed12 needs (~0.1 s): the solve still returns a plan and a valid bound
    import time

    d, p = _orlib(12)
    t = time.perf_counter()
    res = p_median(CostMatrix.from_dataframe(pd.DataFrame(d)), np.ones(len(d)), p, time_limit_s=0.01)
    assert time.perf_counter() - t < 3.0
    assert res.bound <= 6634 <= res.objective
    assert res.status is Status.TIME_LIMIT_FEASIBLE or res.objective == 6634


def test_swap_heuristic_reaches_a_local_optimum() -> None:
    # FastPAM1-priced swaps: no single swap of the result improves it (checked by trying all)
    from gzcharge.locate._median_benders import greedy_start, swap_improve

    rng = np.random.default_rng(5)
    c = rng.random((60, 25)) * 100
    w = rng.random(60)
    x = swap_improve(c, w, greedy_start(c, w, 4, np.zeros(25, bool), None))
    val = float(w @ c[:, x].min(axis=1))
    for i in np.flatnonzero(x):
        for j in np.flatnonzero(~x):
            y = x.copy()
            y[i], y[j] = False, True
            assert float(w @ c[:, y].min(axis=1)) >= val - 1e-9


# --------------------------------------------------------------------------- spopt SF
def test_spopt_san_francisco_mean_distance() -> None:
    dist = pd.read_csv(
        reference_path("spopt_sf", "SF_network_distance_candidateStore_16_censusTract_205_new.csv"),
        dtype={"DestinationName": str, "name": str},
    )
    demand = pd.read_csv(reference_path("spopt_sf", "SF_demand_205_centroid_uniform_weight.csv"), dtype={"NAME": str})
    cm = CostMatrix.from_long(dist, row="DestinationName", col="name", value="distance")
    w = demand.set_index("NAME")["POP2000"].astype(float)
    res = p_median(cm, w, 4)
    assert res.status is Status.OPTIMAL
    assert res.details["mean_cost"] == pytest.approx(2982.1268579890657, rel=1e-12)
    assert len(res.selected) == 4


# --------------------------------------------------------------------------- hand instances
def _hand() -> tuple[pd.DataFrame, pd.Series]:
    cost = pd.DataFrame({"S1": [1.0, 2.0, 3.0], "S2": [10.0, 5.0, 1.0]}, index=["a", "b", "c"])
    return cost, pd.Series({"a": 3.0, "b": 3.0, "c": 2.0})


def test_uncapacitated_hand() -> None:
    cost, w = _hand()
    res = p_median(cost, w, 2)
    assert res.objective == 3 * 1 + 3 * 2 + 2 * 1  # a,b -> S1; c -> S2
    assert res.assignment.to_dict() == {"a": "S1", "b": "S1", "c": "S2"}
    one = p_median(cost, w, 1)  # S1: 3+6+6 = 15 ; S2: 30+15+2 = 47
    assert one.selected == ["S1"] and one.objective == 15


def test_capacitated_single_source_hand() -> None:
    # S1 holds 4 units: only a (3) fits with the best saving; b and c go to S2: 3 + 15 + 2
    cost, w = _hand()
    res = p_median(cost, w, 2, capacity={"S1": 4.0, "S2": 10.0})
    assert res.objective == pytest.approx(20.0)
    assert res.assignment.to_dict() == {"a": "S1", "b": "S2", "c": "S2"}


def test_capacitated_split_hand() -> None:
    # split: a (3) and one unit of b at S1, two units of b and c at S2: 3 + 2 + 10 + 2
    cost, w = _hand()
    res = p_median(cost, w, 2, capacity={"S1": 4.0, "S2": 10.0}, single_source=False)
    assert res.objective == pytest.approx(17.0)
    sh = res.details["shares"].set_index(["demand", "site"])["share"]
    assert sh[("b", "S1")] == pytest.approx(1 / 3)


@pytest.mark.parametrize("iterate", [True, False])
def test_zero_weight_row_served_by_its_only_site(iterate: bool) -> None:
    # issue 9, error 3: d0 (weight 1) reaches s0 at 1 and s1 at 5; d1 (weight 0) reaches only s1.
    # With p = 1, {s0} leaves d1 unserved (infeasible, whatever d1 weighs), so the only plan is {s1}:
    # cost 1 × 5 + 0 × 5 = 5. The greedy start picks s0 (1 < 5 on the weighted cost); it must not
    # survive as "best" (it used to, through inf − 1e-9·inf = NaN, and the call raised InfeasibleError).
    cost = pd.DataFrame({"s0": [1.0, np.inf], "s1": [5.0, 5.0]}, index=["d0", "d1"])
    res = p_median(cost, pd.Series({"d0": 1.0, "d1": 0.0}), 1, iterate_radius=iterate)
    assert res.selected == ["s1"]
    assert res.objective == 5
    assert res.status is Status.OPTIMAL
    assert res.assignment.to_dict() == {"d0": "s1", "d1": "s1"}


def test_existing_and_unreachable_pairs() -> None:
    cost = pd.DataFrame(
        {"A": [0.0, 4.0, np.inf, 9.0], "B": [4.0, 0.0, 5.0, np.inf], "C": [np.inf, 5.0, 0.0, 3.0]},
        index=[1, 2, 3, 4],
    )
    w = pd.Series(1.0, index=[1, 2, 3, 4])
    free = p_median(cost, w, 2)  # {A,C}: 0+4+0+3 = 7 ; {B,C}: 4+0+0+3 = 7 ; {A,B}: 0+0+5+9 = 14
    assert free.objective == 7
    forced = p_median(cost, w, 2, existing=["A", "B"])
    assert sorted(forced.selected) == ["A", "B"] and forced.objective == 14


def test_facility_location_with_site_cost() -> None:
    cost, w = _hand()
    # opening S2 costs 5 and saves (3-1)*2 = 4 on c: keep only S1 -> 15 + fixed 1
    res = p_median(cost, w, None, site_cost={"S1": 1.0, "S2": 5.0})
    assert res.selected == ["S1"] and res.objective == 16
    cheap = p_median(cost, w, None, site_cost={"S1": 1.0, "S2": 3.0})  # 11 + 4 = 15 < 16
    assert sorted(cheap.selected) == ["S1", "S2"] and cheap.objective == 15


# --------------------------------------------------------------------------- bad input
def test_bad_inputs() -> None:
    cost, w = _hand()
    with pytest.raises(DataError, match="d"):
        p_median(cost, pd.Series({"a": 1.0, "b": 1.0, "d": 1.0}), 1)
    with pytest.raises(DataError, match="b"):
        p_median(cost, pd.Series({"a": 1.0, "b": -1.0, "c": 1.0}), 1)
    with pytest.raises(DataError, match="c"):
        p_median(cost, pd.Series({"a": 1.0, "b": 1.0, "c": np.nan}), 1)
    with pytest.raises(DataError, match="larger than"):
        p_median(cost, w, 3)
    with pytest.raises(DataError, match="existing"):
        p_median(cost, w, 1, existing=["S1", "S2"])
    with pytest.raises(DataError, match="S9"):
        p_median(cost, w, 1, existing=["S9"])
    with pytest.raises(DataError, match="empty"):
        p_median(pd.DataFrame(), [], 1)
    with pytest.raises(DataError, match="S2"):
        p_median(cost, w, 1, capacity={"S1": 4.0})
    with pytest.raises(DataError, match="site_cost"):
        p_median(cost, w, None)


def test_infeasible_inputs_name_the_demand() -> None:
    cost, w = _hand()
    cost.loc["z"] = [np.inf, np.nan]
    with pytest.raises(InfeasibleError, match="z") as info:
        p_median(cost, pd.concat([w, pd.Series({"z": 1.0})]), 1)
    assert info.value.unserved == ["z"]
    cost, w = _hand()
    with pytest.raises(InfeasibleError, match="capacity"):
        p_median(cost, w, 1, capacity={"S1": 4.0, "S2": 4.0})
    cost.loc["a", "S2"] = np.inf  # a (weight 3) reaches only S1, which holds 2.5
    with pytest.raises(InfeasibleError, match="demand points a weigh more") as info:
        p_median(cost, w, 2, capacity={"S1": 2.5, "S2": 100.0})
    assert info.value.unserved == ["a"]
