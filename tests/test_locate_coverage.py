"""Set cover and max cover: hand-worked instances, brute force cross-checks, spopt SF, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from gzcharge.distances import CostMatrix
from gzcharge.errors import DataError, InfeasibleError
from gzcharge.locate._common import Status
from gzcharge.locate.coverage import max_cover, set_cover
from tests.conftest import reference_path

INF = np.inf


def _toy() -> pd.DataFrame:
    """Five demand points a-e, four sites; radius 10.

    Coverage within 10:  S1 -> {a, b}; S2 -> {b, c, d}; S3 -> {d, e}; S4 -> {a, e}.
    Distances beyond 10 (or inf) do not cover.
    """
    return pd.DataFrame(
        {
            "S1": [2.0, 3.0, 50.0, INF, 40.0],
            "S2": [30.0, 9.0, 1.0, 5.0, INF],
            "S3": [INF, 25.0, 20.0, 2.0, 4.0],
            "S4": [1.0, 12.0, np.nan, 15.0, 6.0],
        },
        index=list("abcde"),
    )


W = pd.Series({"a": 10.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 10.0})


# ------------------------------------------------------------------ set cover by hand
def test_lscp_unit_costs():
    # c is covered only by S2, so S2 is in every cover; a and e then need S4 (S1 misses e,
    # S3 misses a) -> unique optimum {S2, S4}, 2 sites.
    r = set_cover(_toy(), 10)
    assert r.status is Status.OPTIMAL
    assert sorted(r.selected) == ["S2", "S4"]
    assert r.objective == 2 and r.gap == 0
    assert r.covered.all()
    # nearest open covering site: a->S4 (1 vs S2 30), b->S2 (9; S4 at 12 is outside), c->S2, d->S2 (5), e->S4
    assert r.assignment.to_dict() == {"a": "S4", "b": "S2", "c": "S2", "d": "S2", "e": "S4"}


def test_lscp_site_costs_and_existing():
    # S2 is forced (c); with S2 costing 5 the cheapest completion is S4 (1): total 6.
    r = set_cover(_toy(), 10, site_cost=pd.Series({"S1": 1, "S2": 5, "S3": 1, "S4": 1}))
    assert sorted(r.selected) == ["S2", "S4"] and r.objective == 6
    # S1 already open (counts 1): S2 still forced, e needs S3 or S4 -> 3 sites in all.
    r = set_cover(_toy(), 10, existing=["S1"])
    assert r.objective == 3 and {"S1", "S2"} <= set(r.selected) and len(r.selected) == 3
    assert set(r.details["new_sites"]) == set(r.selected) - {"S1"}


def test_partial_cover_min_coverage():
    # W = 23. Single sites cover S1 11, S2 3, S3 11, S4 20.
    # 0.8 * 23 = 18.4 -> S4 alone; 0.9 * 23 = 20.7 -> no single site, two suffice.
    r = set_cover(_toy(), 10, weights=W, min_coverage=0.8)
    assert r.selected == ["S4"] and r.objective == 1
    r = set_cover(_toy(), 10, weights=W, min_coverage=0.9)
    assert r.objective == 2
    assert W[r.covered].sum() >= 20.7


def test_per_demand_radius():
    # d gets radius 3: S2 (5) no longer covers d, S3 (2) still does. c forces S2, d forces S3,
    # a needs S1 or S4 -> 3 sites.
    radius = pd.Series({"a": 10, "b": 10, "c": 10, "d": 3, "e": 10})
    r = set_cover(_toy(), radius)
    assert r.objective == 3 and {"S2", "S3"} <= set(r.selected)
    assert r.assignment["d"] == "S3"


def test_group_targets():
    # G1 = {a, b} must be fully covered, nothing else: S1 alone covers a and b.
    groups = pd.Series({"a": "G1", "b": "G1", "c": "G2", "d": "G2", "e": "G2"})
    r = set_cover(
        _toy(), 10, weights=W, min_coverage=0.0, groups=groups, group_min_coverage={"G1": 1.0}
    )
    assert r.selected == ["S1"] and r.objective == 1
    # plus G2 (c1 + d1 + e10 = 12) at 50%: needs e (c + d = 2 < 6); no site covers a, b and e -> 2 sites
    r = set_cover(
        _toy(),
        10,
        weights=W,
        min_coverage=0.0,
        groups=groups,
        group_min_coverage={"G1": 1.0, "G2": 0.5},
    )
    assert r.objective == 2 and r.covered[["a", "b", "e"]].all()


# ------------------------------------------------------------------ max cover by hand
def test_max_cover_p():
    r = max_cover(_toy(), 10, W, p=1)  # best single site S4 = 20
    assert r.selected == ["S4"] and r.objective == 20 and r.status is Status.OPTIMAL
    r = max_cover(_toy(), 10, W, p=2)  # S4 + S2 cover everything: 23
    assert sorted(r.selected) == ["S2", "S4"] and r.objective == 23


def test_max_cover_budget_and_costs():
    # S4 costs 3 > budget 2, so the best pair of unit sites: S1 + S3 = a, b, d, e = 22
    cost = pd.Series({"S1": 1, "S2": 1, "S3": 1, "S4": 3})
    r = max_cover(_toy(), 10, W, budget=2, site_cost=cost)
    assert sorted(r.selected) == ["S1", "S3"] and r.objective == 22
    # budget 4: everything (23) is reachable two ways, S4 + S2 (cost 4) or S1 + S2 + S3 (cost 3)
    r = max_cover(_toy(), 10, W, budget=4, site_cost=cost)
    assert r.objective == 23 and cost[r.selected].sum() <= 4
    assert sorted(r.selected) in (["S2", "S4"], ["S1", "S2", "S3"])


def test_max_cover_existing_and_must_cover():
    # S2 open already (b, c, d = 3); p = 2 leaves one more: S4 (a, e) -> 23
    r = max_cover(_toy(), 10, W, p=2, existing=["S2"])
    assert sorted(r.selected) == ["S2", "S4"] and r.objective == 23
    # must cover c with one site: only S2 covers c -> 3
    r = max_cover(_toy(), 10, W, p=1, must_cover=["c"])
    assert r.selected == ["S2"] and r.objective == 3
    # must cover c and a with one site is impossible
    with pytest.raises(InfeasibleError):
        max_cover(_toy(), 10, W, p=1, must_cover=["c", "a"])


# ------------------------------------------------------------------ brute force cross-check
def _random_instance(seed: int, n: int = 14, m: int = 8):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 20, size=(n, m))
    d[rng.random((n, m)) < 0.2] = np.inf
    df = pd.DataFrame(d, index=[f"d{i}" for i in range(n)], columns=[f"s{j}" for j in range(m)])
    w = pd.Series(rng.integers(0, 9, n).astype(float), index=df.index)
    c = pd.Series(rng.integers(1, 5, m).astype(float), index=df.columns)
    return df, w, c


@pytest.mark.parametrize("seed", range(6))
def test_max_cover_matches_enumeration(seed):
    df, w, c = _random_instance(seed)
    cov = df.to_numpy() <= 8.0
    ex = ["s0"] if seed % 2 else []
    for p in (2, 3):
        best = -1.0
        for combo in itertools.combinations(range(8), p):
            if ex and 0 not in combo:
                continue
            best = max(best, float(w.to_numpy()[cov[:, list(combo)].any(axis=1)].sum()))
        r = max_cover(df, 8.0, w, p=p, existing=ex)
        assert r.objective == pytest.approx(best)
        assert len(r.selected) <= p
    # budget with costs
    budget = 5.0
    best = 0.0
    for k in range(9):
        for combo in itertools.combinations(range(8), k):
            if c.to_numpy()[list(combo)].sum() <= budget:
                best = max(best, float(w.to_numpy()[cov[:, list(combo)].any(axis=1)].sum()))
    assert max_cover(df, 8.0, w, budget=budget, site_cost=c).objective == pytest.approx(best)


@pytest.mark.parametrize("seed", range(6))
def test_set_cover_matches_enumeration(seed):
    df, w, c = _random_instance(seed + 100)
    cov = df.to_numpy() <= 12.0
    wa = w.to_numpy()
    for alpha in (1.0, 0.7):
        best = np.inf
        for k in range(9):
            for combo in itertools.combinations(range(8), k):
                hit = cov[:, list(combo)].any(axis=1)
                ok = hit.all() if alpha >= 1 else wa[hit].sum() >= alpha * wa.sum() - 1e-9
                if ok:
                    best = min(best, c.to_numpy()[list(combo)].sum())
        if not np.isfinite(best):
            with pytest.raises(InfeasibleError):
                set_cover(df, 12.0, weights=w, min_coverage=alpha, site_cost=c)
            continue
        r = set_cover(df, 12.0, weights=w, min_coverage=alpha, site_cost=c)
        assert r.objective == pytest.approx(best)


def test_costmatrix_input_and_no_reduction_agree():
    df, w, _ = _random_instance(7, n=30, m=10)
    cm = CostMatrix.from_dataframe(df)
    a = max_cover(cm, 9.0, w, p=3)
    b = max_cover(df, 9.0, w, p=3, reduce=False, warm_start=False)
    assert a.objective == pytest.approx(b.objective)


# ------------------------------------------------------------------ spopt San Francisco
def _sf():
    base = reference_path("spopt_sf")
    lt = pd.read_csv(
        base / "SF_network_distance_candidateStore_16_censusTract_205_new.csv",
        dtype={"DestinationName": str},
    )
    dem = pd.read_csv(base / "SF_demand_205_centroid_uniform_weight.csv", dtype={"NAME": str})
    cm = CostMatrix.from_long(lt, row="DestinationName", col="name", value="distance")
    w = dem.set_index("NAME")["POP2000"].astype(float)
    return cm, w


def test_sf_mclp_p4_leaves_21_tracts_uncovered():
    # spopt's published test: service distance 5000, p = 4 -> 21 of 205 tracts uncovered
    cm, w = _sf()
    r = max_cover(cm, 5000, w, p=4)
    assert cm.shape == (205, 16)
    assert r.status is Status.OPTIMAL and len(r.selected) == 4
    assert int((~r.covered).sum()) == 21
    assert r.objective == pytest.approx(w[r.covered].sum())


# ------------------------------------------------------------------ bad input
def test_bad_inputs():
    df = _toy()
    with pytest.raises(DataError, match="not in the cost matrix: z"):
        max_cover(df, 10, pd.Series({**W.to_dict(), "z": 1.0}), p=1)  # unknown id
    with pytest.raises(DataError, match="no value"):
        max_cover(df, 10, W.drop("c"), p=1)  # missing id
    with pytest.raises(DataError, match="b=-1"):
        max_cover(df, 10, W.replace(1.0, -1.0), p=1)
    with pytest.raises(DataError, match="not finite"):
        max_cover(df, 10, W.replace(10.0, np.nan), p=1)
    with pytest.raises(DataError, match="larger than the number of candidate sites"):
        max_cover(df, 10, W, p=5)
    with pytest.raises(DataError, match="existing"):
        max_cover(df, 10, W, p=1, existing=["S1", "S2"])
    with pytest.raises(DataError, match="below the cost of the existing"):
        max_cover(
            df,
            10,
            W,
            budget=1.5,
            site_cost=pd.Series({"S1": 1, "S2": 2, "S3": 1, "S4": 1}),
            existing=["S2"],
        )
    with pytest.raises(DataError, match="p .* or budget"):
        max_cover(df, 10, W)
    with pytest.raises(DataError, match="empty"):
        set_cover(pd.DataFrame(), 10)
    with pytest.raises(DataError, match="empty"):
        set_cover(pd.DataFrame(index=["a"], columns=[], dtype=float), 10)
    with pytest.raises(DataError, match="S9"):
        set_cover(df, 10, existing=["S9"])
    with pytest.raises(DataError, match="min_coverage"):
        set_cover(df, 10, min_coverage=1.5)
    with pytest.raises(DataError, match="radius"):
        set_cover(df, -1)


def test_unreachable_demand_named_before_solving(monkeypatch):
    df = _toy()
    df.loc["far"] = [INF, 99.0, np.nan, 50.0]
    df.loc["far2"] = [INF] * 4

    def boom(*a, **k):  # the pre-check must fire before any solver work
        raise AssertionError("solver called")

    monkeypatch.setattr("gzcharge.solve.PersistentSolver.__init__", boom)
    with pytest.raises(InfeasibleError) as err:
        set_cover(df, 10)
    assert err.value.unserved == ["far", "far2"]
    assert "far" in str(err.value) and "far2" in str(err.value)
    with pytest.raises(InfeasibleError):
        max_cover(df, 10, None, p=2, must_cover=["far"])


@pytest.mark.parametrize("seed", range(4))
def test_lp_bound_mode_brackets_the_enumerated_optimum(seed):
    # With the LP bound and a loose gap the heuristic may be accepted without branch and bound;
    # the result must still be within the gap of the true optimum, and the bound above it.
    df, w, _ = _random_instance(seed + 50, n=16, m=9)
    cov = df.to_numpy() <= 8.0
    best = max(
        float(w.to_numpy()[cov[:, list(c)].any(axis=1)].sum())
        for c in itertools.combinations(range(9), 3)
    )
    r = max_cover(df, 8.0, w, p=3, lp_bound=True, mip_rel_gap=0.2)
    assert r.objective >= 0.8 * best - 1e-9
    assert r.bound >= best - 1e-9
    assert r.bound <= r.details["lp_bound"] + 1e-6
    assert r.objective == pytest.approx(w[r.covered].sum())


def test_sweep_matches_separate_solves_and_enumeration():
    from gzcharge.locate.coverage import max_cover_sweep

    df, w, _ = _random_instance(21, n=18, m=9)
    cov = df.to_numpy() <= 8.0
    wa = w.to_numpy()
    out = max_cover_sweep(df, 8.0, w, [1, 2, 3, 4], existing=["s1"])
    assert list(out) == [1, 2, 3, 4]
    for p, r in out.items():
        best = max(
            float(wa[cov[:, list(c)].any(axis=1)].sum())
            for c in itertools.combinations(range(9), p)
            if 1 in c
        )
        assert r.objective == pytest.approx(best), p
        assert "s1" in r.selected and len(r.selected) <= p
    # the curve never goes down
    vals = [r.objective for r in out.values()]
    assert vals == sorted(vals)
    with pytest.raises(DataError, match="larger than"):
        max_cover_sweep(df, 8.0, w, [2, 10])


# ------------------------------------------------------------------ arrays vs Pyomo twin
@pytest.mark.parametrize("kind", ["max_cover", "set_cover"])
def test_array_model_and_its_pyomo_twin_are_one_model(kind):
    # The solve path hands HiGHS the arrays; the Pyomo twin (for inspection/export) is built
    # from the same arrays. Translated by Pyomo, the twin must give HiGHS the same matrix,
    # bounds and costs, and both must reach the same optimum (toy: by hand, max cover p=2 ->
    # S4 + S2 cover a,e,b,c,d = 23; partial set cover 0.9 of 23 -> S4 + S2, 2 sites).
    from gzcharge.locate import coverage as cov
    from gzcharge.solve import PersistentSolver, solve

    d = cov._prepare_data(_toy(), 10.0, W, None, None, weights_required=False)
    n = d.cover.shape[0]
    inst = cov._reduce_instance(
        d, keep_zero_weight=np.zeros(n, bool), must=np.zeros(n, bool), group=np.full(n, -1),
        n_groups=0, reduce=False,
    )
    spec = {"p": 2} if kind == "max_cover" else {"target": 0.9 * 23.0}
    am = cov._arrays(kind, inst, dict(spec))
    twin = am.to_pyomo()
    ps = PersistentSolver(twin)
    lp = ps.highs.getLp()
    cols = np.concatenate([ps._cols_of(twin.x), ps._cols_of(twin.y)])  # twin columns in array order
    import scipy.sparse as sp

    mat = lp.a_matrix_
    parts = (np.asarray(mat.value_), np.asarray(mat.index_), np.asarray(mat.start_))
    colwise = int(mat.format_) == 1 or str(mat.format_).endswith("kColwise")
    a_twin = (sp.csc_array if colwise else sp.csr_array)(parts, shape=(lp.num_row_, lp.num_col_))
    a_twin = sp.csc_array(a_twin)[:, cols]
    assert (abs(a_twin - sp.csc_array(am.a)) > 1e-12).nnz == 0
    np.testing.assert_allclose(np.asarray(lp.col_cost_)[cols], am.c)
    np.testing.assert_allclose(np.asarray(lp.row_lower_), am.row_lower)
    np.testing.assert_allclose(np.asarray(lp.row_upper_), am.row_upper)
    r_arr, r_pyo = solve(am), solve(twin)
    expected = 23.0 if kind == "max_cover" else 2.0
    assert r_arr.objective == pytest.approx(expected)
    assert r_pyo.objective == pytest.approx(expected)


def _random_cover_and_optimum(seed: int, n: int, m: int, density: float):
    """Random 0/1 cover (every row has a column), integer costs 1-8, and its optimum by enumeration."""
    rng = np.random.default_rng(seed)
    a = (rng.random((n, m)) < density).astype(float)
    a[np.arange(n), rng.integers(0, m, n)] = 1.0
    c = rng.integers(1, 9, m).astype(float)
    opt = min(
        c[list(s)].sum()
        for k in range(1, m + 1)
        for s in itertools.combinations(range(m), k)
        if (a[:, list(s)].sum(axis=1) > 0).all()
    )
    return a, c, opt


@pytest.mark.parametrize("seed", range(5))
def test_lagrangian_set_cover_bound_is_valid_and_near_the_lp(seed):
    # valid: never above the enumerated optimum; useful: within 10 % of the LP bound (solved
    # by HiGHS on the same matrix); the dual-feasible start alone is a bound too
    import scipy.sparse as sp

    from gzcharge.locate._heuristics import set_cover_lagrangian_bound
    from gzcharge.solve import ArrayModel, solve

    n, m = 30, 10
    a, c, opt = _random_cover_and_optimum(seed, n, m, 0.25)
    lp = solve(
        ArrayModel(c=c, a=sp.csr_array(a), row_lower=np.ones(n), row_upper=np.full(n, np.inf),
                   lower=np.zeros(m), upper=np.ones(m), integer=np.zeros(m, bool), blocks={"x": (0, m)})
    ).objective
    lag = set_cover_lagrangian_bound(sp.csr_array(a), c, upper=opt)
    assert lag <= opt + 1e-9
    assert lag <= lp + 1e-6  # a Lagrangian bound of this relaxation cannot beat its LP
    assert lag >= 0.9 * lp
    assert set_cover_lagrangian_bound(sp.csr_array(a), c, iterations=0) <= lag


def _line_cover(n_points: int, r: int):
    """Points 0..n-1 on a line, one site at each point covering the points within ``r`` of it."""
    import scipy.sparse as sp

    i = np.arange(n_points)
    return sp.csr_array((np.abs(i[:, None] - i[None, :]) <= r).astype(float))


@pytest.mark.parametrize("seed", range(4))
def test_set_cover_lns_reaches_the_enumerated_optimum(seed):
    # from the all-open cover, with windows that grow to every site: the enumerated optimum
    import scipy.sparse as sp

    from gzcharge.locate._heuristics import set_cover_lns

    m = 12
    a, c, opt = _random_cover_and_optimum(seed, 40, m, 0.2)
    x, info = set_cover_lns(sp.csr_array(a), c, np.ones(m, bool), k0=3, k_max=m, stall=5, seed=seed)
    assert (a @ x > 0).all()
    assert c[x].sum() == pytest.approx(opt)
    assert info["k"] == m


def test_set_cover_lns_on_a_line_finds_the_hand_optimum():
    # 60 points, radius 2: a site covers 5 consecutive points, so 60 / 5 = 12 sites are needed
    # and enough (sites 2, 7, 12, ...); the windows start at 8 of the 60 sites
    from gzcharge.locate._heuristics import set_cover_lns

    a = _line_cover(60, 2)
    x, info = set_cover_lns(a, np.ones(60), np.ones(60, bool), k0=8, k_max=60, stall=10)
    assert (a @ x > 0).all()
    assert int(x.sum()) == 12
    assert info["improved"] >= 1


def test_set_cover_lns_stops_at_its_deadline_with_a_cover():
    import time

    from gzcharge.locate._heuristics import set_cover_lns
    from gzcharge.solve import Deadline

    a = _line_cover(3000, 3)
    t = time.perf_counter()
    x, info = set_cover_lns(a, np.ones(3000), np.ones(3000, bool), deadline=Deadline(0.5))
    assert time.perf_counter() - t < 3.0  # 0.5 s, plus at most one window's grace
    assert (a @ x > 0).all()
    assert x.sum() < 3000 and info["steps"] >= 1


def test_set_cover_runs_the_window_search_when_the_probe_does_not_finish():
    # a 2-D lattice cover big enough that a 1 s probe stops: the window search runs, and the
    # answer is a cover no worse than the heuristic start and not below the reported bound
    rng = np.random.default_rng(3)
    pts = rng.random((3000, 2)) * 100
    sites = rng.random((600, 2)) * 100
    d = np.hypot(pts[:, None, 0] - sites[None, :, 0], pts[:, None, 1] - sites[None, :, 1])
    keep = (d <= 6).any(axis=1)
    df = pd.DataFrame(d[keep], index=np.flatnonzero(keep), columns=np.arange(600))
    r = set_cover(df, 6.0, time_limit_s=8, probe_s=1.0)
    phases = r.details["solve"]["phases"]
    if phases == ["probe"]:
        pytest.skip("the probe proved this instance in 1 s")
    assert "lns" in phases and r.details["solve"]["lns"]["steps"] >= 1
    assert r.objective <= r.details["heuristic_objective"]
    assert r.bound <= r.objective
    assert (d[keep][:, r.selected] <= 6).any(axis=1).all()  # every point covered, checked here
    assert len(r.selected) == r.objective
