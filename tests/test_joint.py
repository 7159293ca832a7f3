"""Joint multi-type model: single-tier reproduction, phasing, budgets, shared sites, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gzcharge.errors import ConfigError, DataError, InfeasibleError
from gzcharge.locate.frlm import frlm, frlm_min_cost
from gzcharge.locate.joint import (
    CapacitatedBlock,
    CoverageBlock,
    FlowBlock,
    SiteRegistry,
    solve_joint,
)
from tests.conftest import net25_paths, shared_path

GAP = 1e-9


# --------------------------------------------------------------------------- helpers
def _sites(n: int, costs: list[float], *, existing: list[bool] | None = None, name: str = "t") -> CoverageBlock:
    """Coverage block: site j covers only demand j (weight 1): a site-by-site hand case."""
    return CoverageBlock(name=name, site_ids=pd.Index([f"{name}{j}" for j in range(n)]), site_cost=np.array(costs, float),
                         cover=sp.csr_array(np.eye(n)), weight=np.ones(n),
                         existing=None if existing is None else np.array(existing))


# --------------------------------------------------------------------------- reproduction
# (public: the tier solves through the core itself; capacitated coverage is checked by hand and by brute
# force in test_public_capacity.py)
@pytest.mark.parametrize("budget", [3.0, 5.0])
def test_frlm_max_flow_reproduced_on_net25(budget: float) -> None:
    paths, f, lengths = net25_paths()
    cost = {n: 1.0 + (n % 3) for n in range(1, 26)}
    ref = frlm(paths, f, lengths, 15.0, budget=budget, site_cost=cost, mip_rel_gap=GAP)
    blk = FlowBlock.from_paths("highway", paths, f, lengths, 15.0, site_cost=cost)
    sol = solve_joint([blk], years=[2025], total_budget=budget, objective="max_service", mip_rel_gap=GAP)
    assert sol.service["served"].iloc[0] == pytest.approx(ref.objective, rel=1e-9)
    assert sol.objective == pytest.approx(ref.objective / f.sum(), rel=1e-9)


def test_frlm_min_cost_reproduced_on_net25() -> None:
    paths, f, lengths = net25_paths()
    cost = {n: 1.0 + (n % 3) for n in range(1, 26)}
    ref = frlm_min_cost(paths, f, lengths, 15.0, target_share=0.6, site_cost=cost, mip_rel_gap=GAP)
    blk = FlowBlock.from_paths("hydrogen", paths, f, lengths, 15.0, site_cost=cost, target_share=[0.6])
    sol = solve_joint([blk], years=[2025], mip_rel_gap=GAP)
    assert sol.objective == pytest.approx(ref.objective)
    assert sol.service["share"].iloc[0] >= 0.6 - 1e-9


# --------------------------------------------------------------------------- phasing and budgets by hand
def test_yearly_budgets_build_order_by_hand() -> None:
    # weights 5, 3, 2 (W = 10), costs 4, 3, 2 M CNY; budgets 5 M then 4 M, no carry-over.
    # Year 1 may buy {A} (5 served) or {B, C} (5 served, 5 M); year 2 then adds what 4 M buys:
    # after {A} only B or C (total 5 + 8 = 13); after {B, C} A (5 + 10 = 15): B, C first, A next.
    blk = _sites(3, [4e6, 3e6, 2e6])
    blk.weight = np.array([5.0, 3.0, 2.0])
    sol = solve_joint([blk], years=[2022, 2023], budgets=[5e6, 4e6], objective="max_service", mip_rel_gap=GAP)
    year = dict(zip(sol.sites["site_id"], sol.sites["build_year"], strict=True))
    assert year == {"t0": 2023, "t1": 2022, "t2": 2022}
    assert sol.service["share"].tolist() == pytest.approx([0.5, 1.0])
    assert sol.objective == pytest.approx(1.5)
    assert sol.costs.set_index("year")["cost_cny"].to_dict() == pytest.approx({2022: 5e6, 2023: 4e6})


def test_carry_over_moves_unspent_budget() -> None:
    # budgets 1 M then 8 M: nothing costs <= 1 M; without carry-over year 2 buys A + B (7 M, 8 of 10);
    # with it 9 M buys all three.
    blk = _sites(3, [4e6, 3e6, 2e6])
    blk.weight = np.array([5.0, 3.0, 2.0])
    kw = dict(years=[2022, 2023], budgets=[1e6, 8e6], objective="max_service", mip_rel_gap=GAP)
    no = solve_joint([blk], **kw)
    assert no.service["share"].tolist() == pytest.approx([0.0, 0.8]) and sorted(no.open_sites("t")) == ["t0", "t1"]
    yes = solve_joint([blk], carry_over=True, **kw)
    assert yes.service["share"].tolist() == pytest.approx([0.0, 1.0])
    assert yes.costs["cost_cny"].tolist() == pytest.approx([0.0, 9e6])


def test_total_budget_and_budget_infeasible_targets() -> None:
    blk = _sites(3, [4e6, 3e6, 2e6])
    blk.target_share = [0.5, 1.0]
    sol = solve_joint([blk], years=[2022, 2023], total_budget=9e6, mip_rel_gap=GAP)
    assert sol.objective == pytest.approx(9e6)
    with pytest.raises(InfeasibleError, match="budgets"):
        solve_joint([blk], years=[2022, 2023], budgets=[1e6, 1e6], mip_rel_gap=GAP)


def test_phasing_never_removes_a_built_site() -> None:
    # d0 (w 6) only by A (2 M), d1 (w 4) only by C (1 M). Year 1 needs 40 % with 1 M: only C fits.
    # Year 2 needs 60 %: alone, A is cheapest (2 M) and C would not be kept; phased, C stays and A is added.
    blk = CoverageBlock(name="public", site_ids=pd.Index(["A", "C"]), site_cost=np.array([2e6, 1e6]),
                        cover=sp.csr_array(np.eye(2)), weight=np.array([6.0, 4.0]))
    alone = solve_joint([CoverageBlock(**{**_fields(blk), "target_share": [0.6]})], years=[2023], mip_rel_gap=GAP)
    assert alone.open_sites("public") == ["A"]
    blk.target_share = [0.4, 0.6]
    sol = solve_joint([blk], years=[2022, 2023], budgets=[1e6, 5e6], mip_rel_gap=GAP)
    year = dict(zip(sol.sites["site_id"], sol.sites["build_year"], strict=True))
    assert year == {"A": 2023, "C": 2022}
    assert sol.service["share"].tolist() == pytest.approx([0.4, 1.0])
    assert sol.objective == pytest.approx(3e6)


def test_phasing_keeps_swap_stations() -> None:
    # one site, demand 400 swaps/day of a 150/day type: 1 station would cover year 1's 30 % target,
    # year 2's 100 % needs 3 (max 3 per site); counts may only grow.
    blk = CapacitatedBlock(name="swap", site_ids=pd.Index(["S"]), demand_ids=pd.Index(["d"]), volume=np.array([400.0]),
                           demand_type=np.array([0]), type_names=["truck"], capacity=np.array([150.0]),
                           unit_cost=np.array([6e6]), max_per_site=np.array([3]),
                           dist=sp.csr_array(np.array([[1.0]])), target_share=[0.3, 0.3, 1.0])
    sol = solve_joint([blk], years=[2022, 2023, 2024], mip_rel_gap=GAP)
    row = sol.sites.iloc[0]
    assert [row["n_2022"], row["n_2023"], row["n_2024"]] == [1, 1, 3]
    assert sol.costs["cost_cny"].tolist() == pytest.approx([6e6, 0.0, 12e6])


def _fields(b) -> dict:
    return {k: v for k, v in b.__dict__.items() if k != "kind"}


# --------------------------------------------------------------------------- shared sites
def _two_tiers():
    # public demand: P0 (1 M, at the service area G0) or P1 (4 M, alone); highway demand: H0 (1 M, at G0).
    pub = CoverageBlock(name="public", site_ids=pd.Index(["P0", "P1"]), site_cost=np.array([1e6, 4e6]),
                        cover=sp.csr_array(np.array([[1.0, 1.0]])), weight=np.array([1.0]), target_share=[1.0])
    hwy = CoverageBlock(name="highway", site_ids=pd.Index(["H0"]), site_cost=np.array([1e6]),
                        cover=sp.csr_array(np.array([[1.0]])), weight=np.array([1.0]), target_share=[1.0])
    reg = SiteRegistry(group_ids=pd.Index(["G0"]), shared_cost=np.array([5e6]),
                       members={"public": np.array([0, -1]), "highway": np.array([0])})
    return pub, hwy, reg


def test_shared_site_pays_shared_cost_once() -> None:
    # P0 + H0 share G0: 1 + 1 + 5 = 7 M (paying 5 M twice would make P1 + H0 = 10 M cheaper than 12 M)
    pub, hwy, reg = _two_tiers()
    sol = solve_joint([pub, hwy], years=[2025], registry=reg, mip_rel_gap=GAP)
    assert sol.objective == pytest.approx(7e6)
    assert sorted(sol.sites["site_id"]) == ["H0", "P0"]
    assert sol.costs.groupby("block")["cost_cny"].sum().to_dict() == pytest.approx(
        {"public": 1e6, "highway": 1e6, "shared": 5e6})
    g = sol.groups.set_index("group_id")
    assert g.loc["G0", "blocks"] == "highway,public" and g.loc["G0", "shared_cost_cny"] == 5e6


def test_incompatible_tiers_do_not_share() -> None:
    pub, hwy, reg = _two_tiers()
    reg.compatible = []  # public and highway may not share a site
    sol = solve_joint([pub, hwy], years=[2025], registry=reg, mip_rel_gap=GAP)
    assert sorted(sol.sites["site_id"]) == ["H0", "P1"] and sol.objective == pytest.approx(10e6)


def test_existing_site_group_costs_nothing() -> None:
    pub, hwy, reg = _two_tiers()
    hwy.existing = np.array([True])
    sol = solve_joint([pub, hwy], years=[2025], registry=reg, mip_rel_gap=GAP)
    assert sol.objective == pytest.approx(1e6) and sorted(sol.sites["site_id"]) == ["H0", "P0"]


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(years=[2022, 2023], budgets=[1e6]), "1 yearly budgets for 2 years"),
    (dict(years=[2022, 2023], budgets=[1e6, -5.0]), ">= 0"),
    (dict(years=[2023, 2022], budgets=[1e6, 1e6]), "increasing"),
    (dict(years=[2022], objective="max_service"), "needs yearly budgets"),
    (dict(years=[2022], objective="cheapest"), "min_cost"),
])
def test_bad_years_and_budgets(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        solve_joint([_sites(2, [1.0, 1.0])], **kwargs)


@pytest.mark.parametrize("shares, match", [([0.5, 1.2], r"in \[0, 1\]"), ([0.8, 0.5], "decrease"),
                                           ([0.5], "1 values for 2 years")])
def test_bad_targets(shares: list, match: str) -> None:
    blk = _sites(2, [1.0, 1.0])
    blk.target_share = shares
    with pytest.raises(ConfigError, match=match):
        solve_joint([blk], years=[2022, 2023])


def test_unknown_tier_in_compatibility_rules() -> None:
    pub, hwy, reg = _two_tiers()
    reg.compatible = [("public", "hydrogen")]
    with pytest.raises(ConfigError, match="unknown tier"):
        solve_joint([pub, hwy], years=[2025], registry=reg)


def test_registry_size_mismatch() -> None:
    pub, hwy, reg = _two_tiers()
    reg.members["public"] = np.array([0])
    with pytest.raises(DataError, match="members of 'public'"):
        solve_joint([pub, hwy], years=[2025], registry=reg)


# --------------------------------------------------------------------------- plan_joint on a prefecture
@pytest.mark.slow
def test_plan_joint_anshun_all_tiers(tmp_path) -> None:
    import sys
    from pathlib import Path

    from gzcharge.plan import PlanInputs, run_plan
    from gzcharge.region import get_region
    from gzcharge.scenario import default_scenario_path, load_scenario

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_joint import synthetic_corridors

    region = get_region("安顺市").with_townships(shared_path("guizhou", "township_seats_2016.csv"))
    corr, sa = synthetic_corridors(region, 120.0)
    corr.to_file(tmp_path / "corr.geojson", driver="GeoJSON")
    sa_ll = sa.to_crs("EPSG:4326")
    pd.DataFrame({"name": sa_ll["name"], "lon": sa_ll.geometry.x, "lat": sa_ll.geometry.y}).to_csv(tmp_path / "sa.csv",
                                                                                                  index=False)
    years = [2023, 2024, 2025]
    targets = {"public": [0.5, 0.7, None], "swap": [0.3, 0.6, None], "highway": [0.3, 0.6, 0.6]}
    scen = load_scenario(default_scenario_path("安顺市"), overrides=[
        "joint.enabled=true", f"joint.years={years}", "joint.time_limit_s=120", "joint.mip_rel_gap=0.005",
        "joint.marginal=false", 'joint.tiers=["public", "highway", "swap"]', "joint.targets={}"])
    scen.joint.targets = {k: v for k, v in targets.items()}
    plan = run_plan(region, scen, PlanInputs(expressways=str(tmp_path / "corr.geojson"),
                                             service_areas=str(tmp_path / "sa.csv")))
    res = plan.joint
    assert res.solution.status in ("optimal", "time_limit_feasible")
    assert res.solution.gap <= 0.005 + 1e-9 or res.solution.status == "time_limit_feasible"
    layers = plan.layers()
    for name in ("public_stations", "swap_stations", "highway_stations"):
        st = layers[name]
        new = st["status"] == "new" if "status" in st.columns else pd.Series(True, index=st.index)  # swap: all new
        assert st.loc[new, "phase_year"].isin(years).all() and st.loc[~new, "phase_year"].isna().all()
    sv = res.joint_service.set_index(["tier", "year"])["share"]
    for tier, shares in targets.items():
        for y, s in zip(years, shares, strict=True):
            if s is not None:
                assert sv[(tier, y)] >= s - 1e-6
    assert sv[("swap", 2025)] == pytest.approx(1.0)  # swap min_cost: every swap served from the hard year
    # swap counts never fall
    sw = layers["swap_stations"]
    counts = sw[[f"n_{y}" for y in years]].to_numpy()
    assert (np.diff(counts, axis=1) >= 0).all()
    # accounting by a second route: the cost table equals the layers' costs (+ shared sites paid once)
    c = res.joint_costs[res.joint_costs["year"] != "total"].groupby("tier")["cost_cny"].sum()
    assert c["swap"] == pytest.approx(sw["cost_cny"].sum())
    # the highway layer shows each site's stand-alone cost; in the joint table a site sharing land and grid
    # with another tier pays its own cost less the shared cost, which the group pays once ("shared")
    g = res.solution.groups
    assert c.get("shared", 0.0) == pytest.approx(g.loc[~g["existing"], "shared_cost_cny"].sum())
    hw_layer = float(layers["highway_stations"]["cost_cny"].sum())
    js = plan.layers()["joint_sites"]
    hw_groups = js[js["tiers"].str.contains("highway") & ~js["existing"].astype(bool)]
    assert hw_layer - c["highway"] == pytest.approx(float(hw_groups["shared_cost_cny"].sum()), abs=1.0)
    assert res.cost_driver in c.index


def test_joint_params_bad_input_one_line() -> None:
    from gzcharge.scenario.joint import joint_params

    cases = [({"budgets_cny": [1e6]}, "1 budgets for 5 years"),
             ({"budgets_cny": [1e6, 1e6, -1.0, 1e6, 1e6]}, ">= 0 CNY"),
             ({"targets": {"public": [0.5, 0.7, 0.9, 0.95, 1.5]}}, r"in \[0, 1\]"),
             ({"targets": {"swap": [0.5, 0.7, 0.6, 0.9, 1.0]}}, "falls over the years"),
             ({"compatible": [["public", "tram"]]}, "unknown tier"),
             ({"objective": "max_service"}, "needs joint.budgets_cny"),
             ({"budget": 5}, "budget")]
    for data, match in cases:
        with pytest.raises(ConfigError, match=match) as exc:
            joint_params(data)
        assert "\n" not in str(exc.value)


# --------------------------------------------------------------------------- budget-feasible warm start
def _phased_hand_case():
    # public: A/B/C cover weights 5/3/2 at 4/3/2 M CNY, targets 50 %, 50 %, 100 %; swap: 400 swaps/day,
    # stations of 150/day at 6 M, targets 30 %, 30 %, 100 % (1 station, then 3). Budgets 12, 2, 16 M, no
    # carry-over. The last year alone builds everything (27 M): all of it in 2022 breaks the 12 M budget.
    # By hand: 2022 must reach 5 of 10 (A 4 M, or B + C 5 M) and 120 swaps (1 station, 6 M); 2024 can add
    # at most 16 M of the remaining 17 M (B + C + 2 stations), so C (2 M) goes into 2023's 2 M. The
    # unique plan that spends latest: A + 1 station in 2022 (10 M), C in 2023 (2 M), B + 2 stations in 2024.
    pub = CoverageBlock(name="public", site_ids=pd.Index(["A", "B", "C"]), site_cost=np.array([4e6, 3e6, 2e6]),
                        cover=sp.csr_array(np.eye(3)), weight=np.array([5.0, 3.0, 2.0]), target_share=[0.5, 0.5, 1.0])
    swap = CapacitatedBlock(name="swap", site_ids=pd.Index(["S"]), demand_ids=pd.Index(["d"]), volume=np.array([400.0]),
                            demand_type=np.array([0]), type_names=["truck"], capacity=np.array([150.0]),
                            unit_cost=np.array([6e6]), max_per_site=np.array([3]), dist=sp.csr_array(np.array([[1.0]])),
                            target_share=[0.3, 0.3, 1.0])
    return [pub, swap], dict(years=[2022, 2023, 2024], budgets=[12e6, 2e6, 16e6])


def _assert_feasible_by_pyomo(model, start: dict) -> None:
    """Every variable bound, integrality and constraint of the Pyomo model, evaluated by Pyomo itself."""
    import pyomo.environ as pyo

    for var, vals in start.items():
        for v, val in zip(var.values(), np.asarray(vals, float), strict=True):
            v.set_value(float(val), skip_validation=True)
    for v in model.component_data_objects(pyo.Var):
        assert v.value is not None, v.name
        assert v.lb is None or v.value >= v.lb - 1e-9, v.name
        assert v.ub is None or v.value <= v.ub + 1e-9, v.name
        if v.is_integer():
            assert abs(v.value - round(v.value)) < 1e-9, v.name
    n = 0
    for c in model.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(c.body)
        assert c.lower is None or body >= pyo.value(c.lower) - 1e-6 * max(1.0, abs(body)), c.name
        assert c.upper is None or body <= pyo.value(c.upper) + 1e-6 * max(1.0, abs(body)), c.name
        n += 1
    assert n > 0


@pytest.mark.parametrize("carry_over", [False, True])
def test_phased_warm_start_is_budget_feasible_and_changes_nothing(carry_over: bool) -> None:
    from gzcharge.locate.joint import _warm_start, build_joint_model

    blocks, kw = _phased_hand_case()
    model, info = build_joint_model(blocks, carry_over=carry_over, **kw)
    start, kind = _warm_start(blocks, model, info, registry=None, budgets=kw["budgets"], total_budget=None,
                              carry_over=carry_over, objective="min_cost", time_limit_s=None, mip_rel_gap=GAP,
                              threads=None)
    assert kind == "phased"
    _assert_feasible_by_pyomo(model, start)
    # the start's own yearly spend, read from its build variables: within the (cumulative) budgets
    x = np.asarray(start[model.component("public__x")]).reshape(3, 3)
    n = np.asarray(start[model.component("swap__n")])
    cum = np.array([4e6, 3e6, 2e6]) @ x + 6e6 * n
    assert (cum <= np.cumsum(kw["budgets"]) + 1e-6).all()
    if not carry_over:
        assert (np.diff(np.r_[0.0, cum]) <= np.array(kw["budgets"]) + 1e-6).all()
    with_ws = solve_joint(blocks, carry_over=carry_over, mip_rel_gap=GAP, **kw)
    without = solve_joint(blocks, carry_over=carry_over, mip_rel_gap=GAP, warm_start=False, **kw)
    assert with_ws.size["warm_start"] == "phased" and without.size["warm_start"] == "none"
    assert with_ws.status == without.status == "optimal"
    assert with_ws.objective == pytest.approx(without.objective, rel=1e-12) == pytest.approx(27e6)
    if not carry_over:
        year = dict(zip(with_ws.sites["site_id"], with_ws.sites["build_year"], strict=True))
        assert year == {"A": 2022, "C": 2023, "B": 2024, "S": 2022}
        assert with_ws.sites.set_index("site_id").loc["S", ["n_2022", "n_2023", "n_2024"]].tolist() == [1, 1, 3]
        assert with_ws.costs.groupby("year")["cost_cny"].sum().tolist() == pytest.approx([10e6, 2e6, 15e6])


def test_phased_warm_start_falls_back_when_a_budget_cannot_fit() -> None:
    # 2022 needs 5 of 10 covered and 1 swap station (>= 10 M) but has 9 M: no phasing of the plan fits
    # (the model itself is infeasible, so only the start is checked)
    from gzcharge.locate.joint import _phased_vector, build_joint_model

    blocks, kw = _phased_hand_case()
    kw["budgets"] = [9e6, 2e6, 19e6]
    model, info = build_joint_model(blocks, **kw)
    T = 3
    final = {"public__x": np.ones(3), "public__y": np.ones(3), "swap__n": np.array([3.0]),
             "swap__flow": np.array([400.0])}
    assert info["layout"].T == T
    assert _phased_vector(blocks, info, final, registry=None, budgets=kw["budgets"], carry_over=False,
                          objective="min_cost") is None


def test_given_start_from_a_tighter_budget_is_used_and_changes_nothing() -> None:
    # the hand case (27 M, phased as worked out in _phased_hand_case) re-solved with 2023's budget
    # raised by 1 M: the base plan still fits, so it is the start; the optimum stays 27 M (every unit
    # is needed for the last year's 100 % targets)
    blocks, kw = _phased_hand_case()
    base = solve_joint(blocks, mip_rel_gap=GAP, **kw)
    more = dict(kw, budgets=[12e6, 3e6, 16e6])
    again = solve_joint(blocks, mip_rel_gap=GAP, start_x=base.values["x"], **more)
    assert again.size["warm_start"] == "given"
    assert again.status == "optimal" and again.objective == pytest.approx(27e6)
    # a start that breaks a row of the new model is not used: with budgets 11/4/12 M the base plan's
    # 2024 spend (B + 2 stations = 15 M) does not fit; the plan B + C + 1 station (11 M), A (4 M),
    # 2 stations (12 M) does, still 27 M
    bad = dict(kw, budgets=[11e6, 4e6, 12e6])
    other = solve_joint(blocks, mip_rel_gap=GAP, start_x=base.values["x"], **bad)
    assert other.size["warm_start"] != "given"
    assert other.status == "optimal" and other.objective == pytest.approx(27e6)


def _marginal_hand_case():
    # the build-order hand case: weights 5, 3, 2 (W = 10), costs 4, 3, 2 M CNY, budgets 5 M then 4 M, no
    # carry-over; optimum B + C in 2022, A in 2023: shares 0.5 + 1.0 = 1.5
    blk = _sites(3, [4e6, 3e6, 2e6])
    blk.weight = np.array([5.0, 3.0, 2.0])
    kw = dict(years=[2022, 2023], budgets=[5e6, 4e6], total_budget=None, carry_over=False, registry=None,
              objective="max_service", discount_rate=0.0, monotone_targets=True, time_limit_s=60.0,
              mip_rel_gap=GAP, threads=None)
    return [blk], kw, solve_joint([blk], **kw)


def test_marginal_budget_by_hand_within_one_deadline() -> None:
    from gzcharge.joint import marginal_budget
    from gzcharge.solve import Deadline

    blocks, kw, base = _marginal_hand_case()
    assert base.objective == pytest.approx(1.5)
    dl = Deadline(60.0)
    tab = marginal_budget(blocks, base, kw, 0.25, deadline=dl).set_index("change")
    # 2022 +25 % = 6.25 M: A + C (6 M, 7 served) in 2022, B (3 M) in 2023: 0.7 + 1.0 = 1.7, +0.2 for 1.25 M
    r = tab.loc["budget 2022 +25%"]
    assert r["objective"] == pytest.approx(1.7) and r["delta_per_million_cny"] == pytest.approx(0.2 / 1.25)
    # 2023 +25 % = 5 M buys nothing more: B + C then A (or A then B + C) is still 0.5 + 1.0
    r = tab.loc["budget 2023 +25%"]
    assert r["objective"] == pytest.approx(1.5) and r["delta_objective"] == pytest.approx(0.0)
    assert not dl.expired


def test_marginal_budget_skips_re_solves_when_the_time_is_spent() -> None:
    from gzcharge.joint import marginal_budget
    from gzcharge.solve import Deadline

    blocks, kw, base = _marginal_hand_case()
    tab = marginal_budget(blocks, base, kw, 0.25, deadline=Deadline(0.0))
    assert tab["change"].tolist() == ["budget 2022 +25%", "budget 2023 +25%"]
    assert tab["status"].str.startswith("skipped").all() and "objective" not in tab


@pytest.mark.parametrize("rate", [0.0, 0.1])
def test_last_year_alone_bounds_the_phased_plan(rate: float) -> None:
    # the hand case: the last year alone must build everything (A + B + C + 3 stations = 27 M), so any
    # phased plan costs at least ρ_2024 · 27 M; the optimum spends 10 M in 2022, 2 M in 2023, 15 M in 2024:
    # 10 + 2 / 1.1 + 15 / 1.21 = 24.215 M at 10 % (27 M undiscounted), above 27 / 1.21 = 22.314 M
    blocks, kw = _phased_hand_case()
    sol = solve_joint(blocks, mip_rel_gap=GAP, discount_rate=rate, **kw)
    assert sol.size["last_year_bound"] == pytest.approx(27e6, rel=GAP)
    expect = 27e6 if rate == 0 else 10e6 + 2e6 / 1.1 + 15e6 / 1.21
    assert sol.objective == pytest.approx(expect, rel=1e-9)
    assert 27e6 / (1 + rate) ** 2 * (1 - GAP) <= sol.bound <= sol.objective
