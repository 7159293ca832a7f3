"""Tests for gzcharge.solve: statuses, recomputed objectives, persistent re-solves, warm starts."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

pyo = pytest.importorskip("pyomo.environ")

from gzcharge.errors import InfeasibleError, SolverError  # noqa: E402
from gzcharge.locate._common import Status  # noqa: E402
from gzcharge.solve import PersistentSolver, solve  # noqa: E402


def _pick_model(values, p):
    """max sum v_i x_i s.t. sum x_i <= p, x binary: the answer is the sum of the p largest values."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(len(values)), domain=pyo.Binary)
    m.p = pyo.Param(mutable=True, initialize=p)
    m.card = pyo.Constraint(expr=sum(m.x.values()) <= m.p)
    m.obj = pyo.Objective(
        expr=sum(v * m.x[i] for i, v in enumerate(values)) + 1.0, sense=pyo.maximize
    )
    return m


def test_solve_small_mip_by_hand():
    # values 3, 2, 2.5 with p=1: take the 3 -> 3 + offset 1 = 4
    m = _pick_model([3.0, 2.0, 2.5], 1)
    res = solve(m)
    assert res.status is Status.OPTIMAL
    assert res.objective == pytest.approx(4.0)
    assert res.bound == pytest.approx(4.0)
    assert res.gap == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(res.values(m.x), [1, 0, 0], atol=1e-9)
    assert pyo.value(m.x[0]) == pytest.approx(1.0)  # loaded into the model
    assert res.solver_name == "highs" and res.solver_version.count(".") == 2


def test_persistent_sweep_changes_only_p():
    # p=1: 3; p=2: 3+2.5; p=3: 3+2.5+2 (+1 offset each)
    m = _pick_model([3.0, 2.0, 2.5], 1)
    ps = PersistentSolver(m)
    got = []
    for p in (1, 2, 3):
        m.p.set_value(p)
        got.append(ps.solve().objective)
    assert got == pytest.approx([4.0, 6.5, 8.5])


def test_lp_relaxation_then_mip_again():
    # p=1.5: LP takes x0=1 and half of x2 -> 3 + 1.25 + 1 = 5.25; MIP with floor -> 4
    m = _pick_model([3.0, 2.0, 2.5], 1.5)
    ps = PersistentSolver(m)
    lp = ps.solve(relax_integrality=True)
    assert lp.objective == pytest.approx(5.25)
    assert lp.bound == pytest.approx(5.25)
    assert ps.solve().objective == pytest.approx(4.0)  # integrality restored


def test_fixing_a_variable_with_sync_vars():
    m = _pick_model([3.0, 2.0, 2.5], 1)
    ps = PersistentSolver(m)
    m.x[0].fix(0)
    res = ps.solve(sync_vars=True)
    assert res.objective == pytest.approx(3.5)


def test_warm_start_is_used_and_result_checked():
    m = _pick_model([3.0, 2.0, 2.5], 2)
    res = solve(m, warm_start={m.x: [0, 1, 1]})  # feasible start worth 5.5; optimum 6.5
    assert res.objective == pytest.approx(6.5)
    np.testing.assert_allclose(res.values(m.x), [1, 0, 1], atol=1e-9)
    res = solve(m, warm_start={m.x: {0: 1, 1: 0, 2: 1}}, presolve=False)
    assert res.objective == pytest.approx(6.5)


def test_infeasible_raises():
    m = _pick_model([1.0, 1.0], 1)
    m.need = pyo.Constraint(expr=m.x[0] + m.x[1] >= 2)
    with pytest.raises(InfeasibleError):
        solve(m)


def test_unbounded_raises_solver_error():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeReals)
    m.obj = pyo.Objective(expr=m.x, sense=pyo.maximize)
    with pytest.raises((SolverError, InfeasibleError)):
        solve(m)


def test_check_rejects_a_wrong_vector():
    # feed the checker a vector that breaks the cardinality row: it must say so
    m = _pick_model([3.0, 2.0, 2.5], 1)
    ps = PersistentSolver(m)
    lp = ps.highs.getLp()
    is_int = np.ones(3, dtype=bool)
    bad = ps._check(np.array([1.0, 1.0, 0.0]), lp, is_int)
    assert not bad["ok"] and "rows violated" in bad["why"]
    assert bad["objective"] == pytest.approx(6.0)  # 3 + 2 + 1, recomputed from the vector
    frac = ps._check(np.array([0.5, 0.0, 0.0]), lp, is_int)
    assert not frac["ok"] and "fractional" in frac["why"]


def _hard_cover_model(n=400, m=120, seed=3):
    rng = np.random.default_rng(seed)
    rows = [rng.choice(m, size=6, replace=False) for _ in range(n)]
    w = rng.integers(1, 50, n).astype(float)
    mod = pyo.ConcreteModel()
    mod.x = pyo.Var(range(m), domain=pyo.Binary)
    mod.y = pyo.Var(range(n), bounds=(0, 1))
    mod.c = pyo.Constraint(range(n), rule=lambda mm, r: mod.y[r] <= sum(mod.x[j] for j in rows[r]))
    mod.card = pyo.Constraint(expr=sum(mod.x.values()) <= 12)
    mod.obj = pyo.Objective(expr=sum(w[r] * mod.y[r] for r in range(n)), sense=pyo.maximize)
    return mod, rows, w


def test_time_limit_with_incumbent_warns_and_returns(caplog):
    mod, rows, w = _hard_cover_model()
    with caplog.at_level(logging.WARNING, logger="gzcharge.solve"):
        res = solve(mod, time_limit_s=0.3, enforce_wall_clock=True, grace_s=1.0, mip_rel_gap=0.0)
    if res.status is Status.TIME_LIMIT_FEASIBLE:
        assert any("gap" in r.getMessage() for r in caplog.records)
        assert res.bound >= res.objective
    assert res.seconds < 0.3 + 2 * 1.0 + 1.0
    # the recomputed objective equals the covered weight of the returned sites
    x = np.round(res.values(mod.x)).astype(bool)
    covered = sum(w[r] for r in range(len(rows)) if x[rows[r]].any())
    assert res.objective == pytest.approx(covered)


def test_tiny_mip_matches_enumeration():
    # a second method: enumerate every subset of size <= p
    mod, rows, w = _hard_cover_model(n=40, m=10, seed=5)
    mod.card.deactivate()
    mod.card2 = pyo.Constraint(expr=sum(mod.x.values()) <= 3)
    best = max(
        sum(w[r] for r in range(40) if set(rows[r]) & set(s))
        for s in itertools.combinations(range(10), 3)
    )
    assert solve(mod, mip_rel_gap=0.0).objective == pytest.approx(best)


def test_resolve_gets_its_full_time_limit():
    # HiGHS's time_limit clock accumulates over runs of one instance; the second solve must
    # still get (about) its own limit instead of stopping at once.
    mod, _, _ = _hard_cover_model(n=3000, m=600, seed=11)
    ps = PersistentSolver(mod)
    first = ps.solve(time_limit_s=1.0, mip_rel_gap=0.0)
    if first.status is Status.OPTIMAL:
        pytest.skip("instance solved within the first limit on this machine")
    second = ps.solve(time_limit_s=1.0, mip_rel_gap=0.0)
    assert second.details["solve_s"] >= 0.8


def test_extra_options_apply_and_reset():
    m = _pick_model([3.0, 2.0, 2.5], 1.5)
    ps = PersistentSolver(m)
    lp = ps.solve(relax_integrality=True, options={"solver": "ipm"})
    assert lp.objective == pytest.approx(5.25)
    assert ps.highs.getOptionValue("solver")[1] == "choose"  # the persistent model is untouched
    with pytest.raises(SolverError, match="no_such_option"):
        ps.solve(options={"no_such_option": 1})


def test_lp_after_a_timed_out_mip_is_not_cut_short():
    # HiGHS's LP clock accumulates over runs of one instance: an LP after a 1 s MIP with a
    # 0.5 s limit used to stop at once. Every solve now runs on a fresh copy.
    mod, _, _ = _hard_cover_model(n=3000, m=600, seed=11)
    ps = PersistentSolver(mod)
    ps.solve(time_limit_s=1.0, mip_rel_gap=0.0)
    lp = ps.solve(relax_integrality=True, time_limit_s=30.0)
    assert lp.status is Status.OPTIMAL and lp.bound == pytest.approx(lp.objective)


def test_fix_applies_to_one_solve_only():
    m = _pick_model([3.0, 2.0, 2.5], 1)
    ps = PersistentSolver(m)
    assert ps.solve(fix={m.x: [0.0, np.nan, np.nan]}).objective == pytest.approx(3.5)  # 2.5 + 1
    from pyomo.common.collections import ComponentMap

    single = ComponentMap([(m.x[2], 0.0), (m.x[0], 0.0)])  # VarData are not hashable: ComponentMap
    assert ps.solve(fix=single).objective == pytest.approx(3.0)  # 2 + 1
    assert ps.solve().objective == pytest.approx(4.0)  # nothing fixed any more


def test_interrupt_callback_stops_a_solve_that_ignores_its_limit(monkeypatch):
    # HiGHS has run 135 s on a 60 s limit. Simulate a HiGHS that ignores its own time_limit
    # option: only the interrupt callback (checked in simplex / IPM / MIP) can stop it, in the
    # calling thread, with the incumbent it has (nothing is left running).
    import threading
    import time

    import highspy

    original = highspy.Highs.setOptionValue

    def no_time_limit(self, key, val):
        return original(self, key, float("inf") if key == "time_limit" else val)

    monkeypatch.setattr(highspy.Highs, "setOptionValue", no_time_limit)
    mod, rows, w = _hard_cover_model()
    n_threads = threading.active_count()
    t0 = time.perf_counter()
    res = solve(mod, time_limit_s=0.5, grace_s=0.3, mip_rel_gap=0.0)
    assert time.perf_counter() - t0 < 2.0
    assert res.details["interrupted"] and res.status is Status.TIME_LIMIT_FEASIBLE
    assert threading.active_count() == n_threads
    x = np.round(res.values(mod.x)).astype(bool)
    assert x.sum() <= 12
    covered = sum(w[r] for r in range(len(rows)) if x[rows[r]].any())
    assert res.objective == pytest.approx(covered)
    assert res.objective <= res.bound < float("inf")


def test_one_deadline_for_several_solves():
    # A 0.8 s solve and a 5 s solve under one 1 s deadline: the second only gets what is left
    # (about 0.2 s), so the pair ends near 1 s, far from the 5.8 s of two separate limits.
    import time

    from gzcharge.solve import Deadline

    mod, _, _ = _hard_cover_model(n=3000, m=600, seed=11)
    dl = Deadline(1.0)
    t0 = time.perf_counter()
    first = solve(mod, time_limit_s=0.8, mip_rel_gap=0.0, deadline=dl)
    if first.status is Status.OPTIMAL:
        pytest.skip("instance solved within the first limit on this machine")
    try:
        solve(mod, time_limit_s=5.0, mip_rel_gap=0.0, deadline=dl)
    except SolverError:
        pass  # no incumbent in the ~0.2 s left is a correct outcome
    assert time.perf_counter() - t0 < 3.0


def _array_pick_model(values, p):
    from gzcharge.solve import ArrayModel

    n = len(values)
    return ArrayModel(
        c=np.asarray(values, float),
        a=np.ones((1, n)),
        row_lower=np.array([-np.inf]),
        row_upper=np.array([float(p)]),
        lower=np.zeros(n),
        upper=np.ones(n),
        integer=np.ones(n, bool),
        blocks={"x": (0, n)},
        row_blocks={"card": (0, 1)},
        offset=1.0,
        sense="max",
    )


def test_array_model_solves_like_its_pyomo_twin(tmp_path):
    # the same pick model as _pick_model: values 3, 2, 2.5, p = 2 -> 3 + 2.5 + 1 = 6.5
    am = _array_pick_model([3.0, 2.0, 2.5], 2)
    res = solve(am)
    assert res.objective == pytest.approx(6.5)
    np.testing.assert_allclose(res.values("x"), [1, 0, 1], atol=1e-9)
    twin = am.to_pyomo()
    assert solve(twin).objective == pytest.approx(6.5)
    # the Pyomo twin translated back to HiGHS has the arrays of the ArrayModel
    lp = PersistentSolver(twin).highs.getLp()
    np.testing.assert_allclose(np.asarray(lp.col_cost_), [3.0, 2.0, 2.5])
    assert lp.offset_ == pytest.approx(1.0)
    np.testing.assert_allclose(np.asarray(lp.row_upper_), [2.0])
    twin.write(str(tmp_path / "pick.lp"), io_options={"symbolic_solver_labels": True})
    assert "card" in (tmp_path / "pick.lp").read_text()
    # warm start and fix by block name
    ps = PersistentSolver(am)
    assert ps.solve(fix={"x": [0.0, np.nan, np.nan]}).objective == pytest.approx(5.5)
    assert ps.solve(warm_start={"x": [1.0, 1.0, 0.0]}).objective == pytest.approx(6.5)


def test_large_models_solve_in_a_child_process(monkeypatch):
    # above CHILD_PROCESS_MIN_NNZ a time-limited solve runs in a child process; the result is
    # checked in the parent like any other (objective recomputed from the returned columns)
    import gzcharge.solve as gsolve

    monkeypatch.setattr(gsolve, "CHILD_PROCESS_MIN_NNZ", 0)
    m = _pick_model([3.0, 2.0, 2.5], 2)
    res = solve(m, time_limit_s=30)
    assert res.objective == pytest.approx(6.5) and res.status is Status.OPTIMAL
    np.testing.assert_allclose(res.values(m.x), [1, 0, 1], atol=1e-9)


def test_a_child_that_ignores_its_limit_is_killed_at_the_deadline(monkeypatch):
    # A HiGHS that never stops by itself (no time limit, no interrupt): the parent kills the
    # child process 2 x grace after the deadline and uses its last improving solution.
    import time

    import gzcharge._solve_child as child
    import gzcharge.solve as gsolve

    monkeypatch.setattr(gsolve, "CHILD_PROCESS_MIN_NNZ", 0)
    original = child.write_model

    def unlimited(path, lp, *, start, options):
        options = {**options, "_deadline_epoch": float("inf")}
        original(path, lp, start=start, options=options)

    monkeypatch.setattr(child, "write_model", unlimited)
    mod, rows, w = _hard_cover_model()
    t0 = time.perf_counter()
    res = solve(mod, time_limit_s=3.0, grace_s=0.5, mip_rel_gap=0.0)
    assert time.perf_counter() - t0 < 3.0 + 2 * 0.5 + 1.0
    assert res.details["interrupted"] and res.status is Status.TIME_LIMIT_FEASIBLE
    x = np.round(res.values(mod.x)).astype(bool)
    covered = sum(w[r] for r in range(len(rows)) if x[rows[r]].any())
    assert res.objective == pytest.approx(covered)
