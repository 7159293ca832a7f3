"""Capacitated coverage in the numeric core (issue 9, errors 4 and 5): hand cases and brute force.

Sizing parameters of the hand cases are the public tier's defaults: 6 kWh/EV/day × public share
0.4 = 2.4 kWh per EV and day; one 60 kW plug × 24 h × utilisation 0.15 = 216 kWh/day; 2 plugs in
the site cost; 60,000 CNY per further plug.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from gzcharge.errors import ConfigError, InfeasibleError
from gzcharge.locate.joint import CoverageBlock, solve_joint

GAP = 1e-9
KWH_PER_EV = 6.0 * 0.4
KAPPA = 60.0 * 24.0 * 0.15  # 216 kWh/day per plug
PLUG = 60_000.0


def _block(cover, evs, costs, **kw) -> CoverageBlock:
    cover = np.atleast_2d(np.asarray(cover, float))
    evs = np.asarray(evs, float)
    names = kw.pop("names", [f"s{j}" for j in range(cover.shape[1])])
    return CoverageBlock(name="public", site_ids=pd.Index(names), site_cost=np.asarray(costs, float),
                         cover=sp.csr_array(cover), weight=evs, energy=evs * KWH_PER_EV, plug_capacity=KAPPA,
                         plug_cost=PLUG, min_plugs=2, **kw)


# --------------------------------------------------------------------------- error 4
def test_plugs_beyond_min_plugs_only_budget_opens_the_right_site() -> None:
    # A: 600 k CNY, 330 EVs -> 330 × 2.4 = 792 kWh/day / 216 = 3.67 -> 4 plugs, 2 beyond the 2 in the site
    #    cost: 600 k + 2 × 60 k = 720 k. B: 500 k, 300 EVs -> 720 / 216 = 3.33 -> 4 plugs: 620 k.
    # Budget 720 k: A fits and serves more (330 > 300). The old linearised rule charged every plug,
    # 330 × 2.4 / 216 × 60 k = 220 k for A (820 k, over budget), 200 k for B (700 k): it opened B.
    blk = _block(np.eye(2), [330.0, 300.0], [600e3, 500e3], names=["A", "B"])
    sol = solve_joint([blk], years=[2025], total_budget=720e3, objective="max_service", mip_rel_gap=GAP)
    assert sol.open_sites("public") == ["A"]
    row = sol.sites.set_index("site_id").loc["A"]
    assert row["plugs"] == 4 and row["cost_cny"] == pytest.approx(720e3)
    assert sol.costs["cost_cny"].sum() == pytest.approx(720e3)
    assert sol.service["served"].iloc[0] == pytest.approx(330.0)
    a = sol.assignment
    assert a["site_id"].tolist() == ["A"] and a["energy"].sum() == pytest.approx(792.0)


def test_an_open_station_serves_all_demand_in_reach() -> None:
    # S (500 k) reaches d1 (100 EVs) and d2 (300 EVs): 400 × 2.4 = 960 kWh -> 4.44 -> 5 plugs: 680 k.
    # T (550 k) reaches d2 only: 720 kWh -> 4 plugs: 670 k. Budget 670 k: S would have to serve d1 too
    # (its drivers use it), so S does not fit; T does (300 EVs). Serving only d2 from S (620 k) would be
    # the fractional-coverage error: coverage is 0/1 per demand point.
    blk = _block([[1.0, 0.0], [1.0, 1.0]], [100.0, 300.0], [500e3, 550e3], names=["S", "T"])
    sol = solve_joint([blk], years=[2025], total_budget=670e3, objective="max_service", mip_rel_gap=GAP)
    assert sol.open_sites("public") == ["T"]
    assert sol.costs["cost_cny"].sum() == pytest.approx(670e3)
    assert sol.service["served"].iloc[0] == pytest.approx(300.0)
    # with 680 k, S covers both (400 EVs)
    sol2 = solve_joint([blk], years=[2025], total_budget=680e3, objective="max_service", mip_rel_gap=GAP)
    assert sol2.open_sites("public") == ["S"] and sol2.service["served"].iloc[0] == pytest.approx(400.0)


def test_existing_station_plugs_are_free_and_count() -> None:
    # existing E has 3 plugs (648 kWh/day) and reaches d (450 EVs -> 1080 kWh -> 5 plugs): it is open, so
    # it serves d and needs 2 more plugs: 120 k. A new site N reaching d with its 2 plugs (432 kWh) adds
    # exactly the missing capacity (648 + 432 = 1080): cheaper when N costs less than 120 k (100 k), not
    # when it costs more (150 k).
    for n_cost, want, sites in ((150e3, 120e3, ["E"]), (100e3, 100e3, ["E", "N"])):
        blk = _block([[1.0, 1.0]], [450.0], [0.0, n_cost], names=["E", "N"], existing=np.array([True, False]),
                     existing_plugs=np.array([3.0, np.nan]))
        sol = solve_joint([blk], years=[2025], mip_rel_gap=GAP)
        assert sol.objective == pytest.approx(want)
        assert sorted(sol.open_sites("public")) == sites
    assert sol.sites.set_index("site_id")["plugs"].to_dict() == {"E": 3, "N": 2}
    assert sol.assignment.groupby("site_id")["energy"].sum().to_dict() == pytest.approx({"E": 648.0, "N": 432.0})


# --------------------------------------------------------------------------- error 5
def test_plugs_grow_with_demand_and_are_paid_on_the_increment() -> None:
    # one site A (500 k) must cover d (hard rule in both years). Horizon demand 500 EVs -> 1200 kWh -> 5.56 ->
    # 6 plugs; year 1 at half the stock: 600 kWh -> 2.78 -> 3 plugs. Year 1 costs 500 k + 1 × 60 k = 560 k,
    # year 2 the 3 more plugs, 180 k. Budgets 560 k and 180 k suffice; charging horizon plugs in year 1
    # (the old rule) needs 500 k + 4 × 60 k = 740 k in year 1 and is infeasible.
    blk = _block([[1.0]], [500.0], [500e3], names=["A"], must=np.array([True]), hard_from=0, year_scale=[0.5, 1.0])
    sol = solve_joint([blk], years=[2026, 2027], budgets=[560e3, 180e3], mip_rel_gap=GAP)
    row = sol.sites.set_index("site_id").loc["A"]
    assert [row["plugs_2026"], row["plugs_2027"]] == [3, 6]
    assert sol.costs.set_index("year")["cost_cny"].to_dict() == pytest.approx({2026: 560e3, 2027: 180e3})
    a = sol.assignment.groupby("year")["energy"].sum().to_dict()
    assert a == pytest.approx({2026: 600.0, 2027: 1200.0})
    flat = _block([[1.0]], [500.0], [500e3], names=["A"], must=np.array([True]), hard_from=0)
    with pytest.raises(InfeasibleError):
        solve_joint([flat], years=[2026, 2027], budgets=[560e3, 180e3], mip_rel_gap=GAP)


# --------------------------------------------------------------------------- brute force
def _min_plug_cost(cover: np.ndarray, e: np.ndarray, open_: np.ndarray, kappa: float, m0: int,
                   pmax: int) -> float:
    """Cheapest integer plugs for the open sites serving every covered row (LP transport check per plug vector)."""
    covered = (cover[:, open_] > 0).any(axis=1) & (e > 0)
    js = np.flatnonzero(open_)
    rows = np.flatnonzero(covered)
    best = np.inf
    for plugs in itertools.product(range(m0, pmax + 1), repeat=len(js)):
        extra = sum(plugs) - m0 * len(js)
        if extra >= best:
            continue
        arcs = [(i, k) for i in rows for k, j in enumerate(js) if cover[i, j] > 0]
        if not arcs:
            best = min(best, extra)
            continue
        A_eq = np.zeros((len(rows), len(arcs)))
        A_ub = np.zeros((len(js), len(arcs)))
        for a, (i, k) in enumerate(arcs):
            A_eq[list(rows).index(i), a] = 1.0
            A_ub[k, a] = 1.0
        r = linprog(np.zeros(len(arcs)), A_ub=A_ub, b_ub=kappa * np.array(plugs, float), A_eq=A_eq, b_eq=e[rows],
                    bounds=(0, None), method="highs")
        if r.status == 0:
            best = extra
    return best


@pytest.mark.parametrize("seed", [3, 7])
def test_capacitated_min_cost_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, kappa = 6, 4, 10.0
    cover = (rng.random((n, m)) < 0.5).astype(float)
    cover[np.arange(n), rng.integers(0, m, n)] = 1.0
    cover = np.vstack([cover, cover[:2]])  # identical cover sets (merged in the model)
    e = np.r_[rng.integers(2, 12, n), [3.0, 5.0]].astype(float)
    w = e.copy()
    cost = rng.integers(3, 9, m).astype(float) * 10.0
    target = 0.7
    blk = CoverageBlock(name="b", site_ids=pd.Index(range(m)), site_cost=cost, cover=sp.csr_array(cover), weight=w,
                        energy=e, plug_capacity=kappa, plug_cost=4.0, min_plugs=1, target_share=[target])
    sol = solve_joint([blk], years=[1], mip_rel_gap=GAP)
    best = np.inf
    for bits in itertools.product([False, True], repeat=m):
        o = np.array(bits)
        cov = (cover[:, o] > 0).any(axis=1)
        if w[cov].sum() < target * w.sum() - 1e-9:
            continue
        plugs = _min_plug_cost(cover, e, o, kappa, 1, int(np.ceil(e.sum() / kappa)) + 1)
        best = min(best, float(cost[o].sum()) + 4.0 * plugs)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best)
    # the reported plan costs what the objective says, recomputed from its sites and plugs
    s = sol.sites
    assert (cost[s["site_id"].to_numpy(int)].sum() + 4.0 * (s["plugs"] - 1).sum()) == pytest.approx(best)


def test_uncapacitated_min_cost_equals_brute_force_with_merged_rows() -> None:
    rng = np.random.default_rng(11)
    n, m = 14, 8
    base = (rng.random((n, m)) < 0.3).astype(float)
    base[np.arange(n), rng.integers(0, m, n)] = 1.0
    cover = np.vstack([base, base[:5]])  # 5 duplicated cover sets
    w = rng.integers(1, 20, len(cover)).astype(float)
    must = np.zeros(len(cover), bool)
    must[[0, 3]] = True
    area = rng.integers(0, 2, len(cover))
    cost = rng.integers(2, 9, m).astype(float)
    blk = CoverageBlock(name="b", site_ids=pd.Index(range(m)), site_cost=cost, cover=sp.csr_array(cover), weight=w,
                        must=must, demand_area=area, area_share=np.array([0.8, 0.6]))
    sol = solve_joint([blk], years=[1], mip_rel_gap=GAP)
    best = np.inf
    for bits in itertools.product([False, True], repeat=m):
        o = np.array(bits)
        cov = (cover[:, o] > 0).any(axis=1)
        if not cov[must].all():
            continue
        if any(w[(area == a) & cov].sum() < s * w[area == a].sum() - 1e-9 for a, s in enumerate([0.8, 0.6])):
            continue
        best = min(best, float(cost[o].sum()))
    assert sol.objective == pytest.approx(best)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, match", [
    (dict(plug_capacity=0.0), "plug_capacity"),
    (dict(year_scale=[1.0, 0.5]), "1 years"),
    (dict(year_scale=[-1.0]), "year_scale"),
    (dict(min_plugs=1.5), "min_plugs"),
])
def test_bad_capacity_input(kw: dict, match: str) -> None:
    blk = _block(np.eye(2), [330.0, 300.0], [600e3, 500e3])
    for k, v in kw.items():
        setattr(blk, k, v)
    with pytest.raises(ConfigError, match=match):
        solve_joint([blk], years=[2025])


# --------------------------------------------------------------------------- EV stock path
def test_ev_stock_path_and_year_scale() -> None:
    from gzcharge.scenario import load_scenario

    ev = load_scenario().ev
    # 165 k (2022) -> 700 k (2026) at a constant rate: 2024 is the geometric mean sqrt(165 k × 700 k) = 339,853
    assert ev.stock(2022) == pytest.approx(165_000.0)
    assert ev.stock(2024) == pytest.approx(339_852.9, rel=1e-6)
    assert ev.stock(2026) == pytest.approx(700_000.0)
    # after 2026: +15 % a year
    assert ev.stock(2028) == pytest.approx(700_000.0 * 1.15**2)
    s = ev.year_scale([2026, 2027], reference_year=2027)
    assert s == pytest.approx([1 / 1.15, 1.0])
    with pytest.raises(ConfigError, match="stock_by_year"):
        load_scenario(overrides=["ev.stock_by_year={2022 = -5}"])


def test_phased_warm_start_with_plugs_is_feasible_and_changes_nothing() -> None:
    # a random 3-year instance with growing demand and yearly budgets: the phased start (plugs and assignment
    # for the last year's plan by year) passes every row of the model, and the optimum equals the one found
    # without any start
    rng = np.random.default_rng(1)
    n, m = 30, 12
    cover = (rng.random((n, m)) < 0.25).astype(float)
    cover[np.arange(n), rng.integers(0, m, n)] = 1.0
    w = rng.integers(50, 400, n).astype(float)
    blk = CoverageBlock(name="public", site_ids=pd.Index(range(m)), site_cost=rng.integers(4, 8, m) * 1e5,
                        cover=sp.csr_array(cover), weight=w, energy=w * KWH_PER_EV, plug_capacity=KAPPA, plug_cost=PLUG,
                        min_plugs=2, year_scale=[0.4, 0.7, 1.0], target_share=[0.5, 0.7, 0.9])
    kw = dict(years=[1, 2, 3], budgets=[4e6, 3e6, 4e6], mip_rel_gap=GAP)
    a = solve_joint([blk], **kw)
    b = solve_joint([blk], warm_start=False, **kw)
    assert a.size["warm_start"] == "phased"
    assert a.status == b.status == "optimal" and a.objective == pytest.approx(b.objective, rel=1e-12)
    spend = a.costs.groupby("year")["cost_cny"].sum().to_numpy()
    assert (spend <= np.array([4e6, 3e6, 4e6]) + 1e-6).all()
    # plugs never fall and hold each year's assigned energy
    s = a.sites.set_index("site_id")
    P = s[["plugs_1", "plugs_2", "plugs_3"]].to_numpy()
    assert (np.diff(P, axis=1) >= 0).all()
    load = a.assignment.pivot_table(index="site_id", columns="year", values="energy", aggfunc="sum").reindex(
        s.index).fillna(0.0).to_numpy()
    assert (load <= KAPPA * P + 1e-6).all()
