"""`gzcharge plan --joint`: one model over the tiers with yearly budgets and phasing, end to end."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyogrio
import pytest
from pyproj import Geod

from tests.conftest import shared_path

YEARS = [2026, 2027, 2028, 2029, 2030]
GEOD = Geod(ellps="WGS84")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gzcharge", *args], capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_joint_plan_phases_within_budgets(tmp_path):
    towns = shared_path("guizhou", "township_seats_2016.csv")
    out = tmp_path / "j.gpkg"
    # the 2030 plan of 安顺市 (all tiers) costs ~330 M CNY: 120 M a year over five years leaves room to phase;
    # the radius rule alone (the covered years are recomputed from distances below)
    budget = 1.2e8
    res = run_cli("plan", "--prefecture", "安顺市", "--townships", str(towns), "--joint", "--no-report",
                  "--set", f"joint.budgets_cny=[{budget},{budget},{budget},{budget},{budget}]",
                  "--set", "joint.carry_over=true", "--set", "public.township_own_charger=false",
                  "--set", "joint.time_limit_s=120", "--out", str(out))
    assert res.returncode == 0, res.stderr
    pub = pyogrio.read_dataframe(out, layer="public_stations")
    swap = pyogrio.read_dataframe(out, layer="swap_stations")
    costs = pyogrio.read_dataframe(out, layer="joint_costs", read_geometry=False)
    # every site has a build year among the plan years
    for lay in (pub, swap):
        assert set(lay["phase_year"].dropna().astype(int)) <= set(YEARS)
    # spend per year from the cost table: cumulative spend never exceeds the cumulative budget (carry-over)
    yearly = costs[costs["year"] != "total"].astype({"year": int}).groupby("year")["cost_cny"].sum()
    cum_spend = yearly.reindex(YEARS, fill_value=0).cumsum().to_numpy()
    cum_budget = budget * np.arange(1, len(YEARS) + 1)
    assert np.all(cum_spend <= cum_budget * (1 + 1e-6))
    # the default targets ramp public coverage up: a township's covered year is the first year an open
    # station lies within its radius — recomputed here from the station layer (geodesic × circuity 1.3)
    tw = pyogrio.read_dataframe(out, layer="townships")
    assert tw["covered"].astype(bool).all()  # 乡镇全覆盖 by the last year (hard rules from 2030)
    sx, sy, syear = pub.geometry.x.to_numpy(), pub.geometry.y.to_numpy(), pub["phase_year"].astype(int).to_numpy()
    for _, t in tw.iterrows():
        d = GEOD.inv(np.full(len(sx), t.geometry.x), np.full(len(sx), t.geometry.y), sx, sy)[2] * 1.3
        first = syear[d <= 10_000 * 1.001].min()
        assert int(t["covered_year"]) == first
    # public stations are sized like the single-tier plan (plugs from the EVs they serve)
    assert (pub["plugs"] >= 2).all() and set(pub["tier"]) <= {"city", "county", "township"}
    # more than one year is used: phasing, not everything at once
    assert pub["phase_year"].nunique() > 1


def test_joint_budget_mismatch_is_one_line(tmp_path):
    out = tmp_path / "j.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--joint", "--set", "joint.budgets_cny=[4e7,4e7]", "--out", str(out))
    assert res.returncode == 2
    assert "budgets_cny" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()


@pytest.mark.slow
def test_joint_budget_too_small_says_so(tmp_path):
    out = tmp_path / "j.gpkg"
    res = run_cli("plan", "--prefecture", "安顺市", "--joint", "--no-report",
                  "--set", "joint.budgets_cny=[1e6,1e6,1e6,1e6,1e6]", "--set", "joint.time_limit_s=60", "--out", str(out))
    assert res.returncode == 5, res.stderr
    assert "budget" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
