"""Joint multi-type plan: every tier in one model with a shared budget, shared sites and phasing.

Orchestration side of :mod:`gzcharge.locate.joint` (the numeric core; its docstring has the
formulation). :func:`plan_joint` takes the tiers' prepared blocks — the very same
:class:`~gzcharge.tiers.base.Prepared` data each tier solves alone — groups co-located
candidates of different tiers into physical sites, solves one model over the plan years and
lets every tier assess its part of that one solution (``phase_year`` on site layers). It
adds the joint tables: physical sites hosting several tiers, cost by tier and year, service
by tier and year, and what a marginal budget buys. This module names no tier.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gzcharge.errors import ConfigError
from gzcharge.export.i18n import msg
from gzcharge.locate.joint import JointSolution, SiteRegistry, solve_joint
from gzcharge.scenario.joint import JointParams

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.tiers.base import PlanContext, Prepared, Tier, TierResult

logger = logging.getLogger(__name__)

__all__ = ["JointResult", "colocate", "joint_blocks", "marginal_budget", "plan_joint"]


# =========================================================================== result
@dataclass
class JointResult:
    """The joint plan's own tables (the tiers' layers are in their :class:`TierResult`).

    Attributes
    ----------
    joint_sites
        Physical sites hosting several tiers: ``group_id, tiers, n_tiers, phase_year,
        shared_cost_cny, geometry``.
    joint_costs
        Cost by tier and year (``tier, year, cost_cny, share_of_total``), shared site costs as
        tier ``shared``, plus one ``year = "total"`` row per tier.
    joint_service
        Service by tier and year (``tier, year, served, total, share``).
    joint_marginal
        What a marginal budget buys: one row per re-solve (``change, extra_budget_cny,
        objective, delta_objective, delta_per_million_cny``, per-tier last-year share change,
        ``method = "re-solve"``).
    solution
        The core's :class:`~gzcharge.locate.joint.JointSolution`.
    tiers
        Tiers in the model, in plan order.
    cost_driver
        Tier with the largest spend.
    notes, timings
        Statements and seconds per stage.
    """

    joint_sites: Any = None
    joint_costs: pd.DataFrame | None = None
    joint_service: pd.DataFrame | None = None
    joint_marginal: pd.DataFrame | None = None
    solution: JointSolution | None = None
    tiers: list[str] = field(default_factory=list)
    cost_driver: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def layers(self) -> dict[str, Any]:
        """GeoPackage layers and tables of the joint plan."""
        out: dict[str, Any] = {}
        for name in ("joint_sites", "joint_costs", "joint_service", "joint_marginal"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    def total_cost(self) -> float:
        """Cost over all tiers and years (CNY)."""
        c = self.joint_costs
        if c is None or not len(c):
            return 0.0
        return float(c.loc[c["year"].astype(str) == "total", "cost_cny"].sum())

    def summary_rows(self) -> list[tuple[str, Any]]:
        """Key figures for the CLI summary."""
        sol = self.solution
        rows: list[tuple[str, Any]] = [("joint plan", f"{sol.status}, gap {sol.gap:.3%}" if sol is not None
                                        else "not solved"),
                                       ("joint cost (CNY)", f"{self.total_cost():,.0f}"),
                                       ("cost driver", self.cost_driver or "–")]
        return rows

    def metadata(self, jp: JointParams) -> dict[str, Any]:
        """Flat values for ``run_metadata``."""
        sol = self.solution
        return {"status": "" if sol is None else str(sol.status), "gap": "" if sol is None else sol.gap,
                "cost_driver": self.cost_driver or "", "tiers": " ".join(self.tiers),
                "years": " ".join(map(str, jp.years)), "total_cost_cny": self.total_cost()}

    def sections(self, jp: JointParams) -> list[tuple[str, Any]]:
        """Report sections of the joint plan (the tiers add their own)."""
        sol = self.solution
        none = msg("none")
        text: list[Any] = [
            msg("joint.model", tiers=list(self.tiers), years=", ".join(map(str, jp.years)), objective=jp.objective),
            msg("joint.budgets", budgets=jp.budgets_cny if jp.budgets_cny is not None else none,
                carry=msg("joint.carry") if jp.carry_over else "",
                total=f"{jp.total_budget_cny:,.0f} CNY" if jp.total_budget_cny is not None else none),
            msg("joint.targets", targets=dict(jp.targets), hard=jp.hard_from_year or jp.years[-1]),
            msg("joint.stay", m=jp.colocation_m),
        ]
        if sol is not None:
            text.append(msg("joint.solver", status=sol.status, gap=sol.gap))
        text.append(msg("joint.driver", tier=self.cost_driver or "–"))
        out: list[tuple[str, Any]] = [("Joint plan with phasing", text)]
        for title, table in (("Cost by tier and year", self.joint_costs), ("Service by tier and year", self.joint_service),
                             ("What a marginal budget buys", self.joint_marginal)):
            if table is not None and len(table):
                out.append((title, table))
        return out


# =========================================================================== blocks
def joint_blocks(preps: list[Prepared], jp: JointParams, year_scale: dict[str, np.ndarray] | None = None) -> list:
    """The tiers' blocks with the joint plan's per-tier options (targets, hard year, weight, growth).

    The prepared blocks are copied (:func:`dataclasses.replace`), never changed: a tier's own
    plan and the joint plan start from the same data. A tier's own share target (e.g. the
    highway ``target_flow_share``) holds in every year unless ``[joint.targets]`` names the tier.
    """
    out = []
    for prep in preps:
        blk = prep.block
        kw: dict[str, Any] = {"hard_from": jp.hard_index(), "hard": jp.hard_targets,
                              "tier_weight": jp.tier_weights.get(prep.tier, 1.0)}
        target = jp.target_array(prep.tier)
        if target is not None:  # yearly targets of [joint.targets]; else the tier's own rule stays
            kw["target_share"] = target
        elif getattr(blk, "target_share", None) is not None and len(blk.target_share) != len(jp.years):
            kw["target_share"] = [blk.target_share[-1]] * len(jp.years)
        names = {f.name for f in dataclasses.fields(blk)}
        if year_scale is not None and prep.tier in year_scale and "year_scale" in names:
            kw["year_scale"] = year_scale[prep.tier]
        out.append(dataclasses.replace(blk, **{k: v for k, v in kw.items() if k in names}))
    return out


def _metric_xy(sites: pd.DataFrame, crs: Any) -> np.ndarray:
    from pyproj import Transformer

    lon = pd.to_numeric(sites["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(sites["lat"], errors="coerce").to_numpy(float)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    xy = np.column_stack([x, y])
    xy[~np.isfinite(xy).all(axis=1)] = np.nan
    return xy


def colocate(members: list[tuple[str, Any, np.ndarray]], colocation_m: float, shared_cost_cny: float,
             compatible: list[tuple[str, str]] | None) -> tuple[SiteRegistry, list]:
    """Group candidates of different tiers within ``colocation_m`` into physical sites.

    ``members`` are ``(tier, block, xy)`` in anchor order (metric coordinates per block site;
    tiers whose sites never share land are not passed). Each anchor takes the nearest
    unassigned candidate of every other tier within reach, so a physical site holds at most one
    candidate per tier. Only sites with two or more tiers become groups; their shared cost is
    ``min(shared_cost_cny, cheapest new member cost)`` and every member's own cost is reduced by
    it (tier costs include land and grid connection, which co-located tiers pay once).

    Returns the registry and the blocks with the reduced site costs (copies).
    """
    from scipy.spatial import cKDTree

    names = [m[0] for m in members]
    xy = {m[0]: m[2] for m in members}
    blocks = {m[0]: m[1] for m in members}
    assigned = {n: np.full(len(xy[n]), -1) for n in names}
    trees = {n: cKDTree(np.nan_to_num(xy[n], nan=1e15)) for n in names}
    ok_pairs = None if compatible is None else {frozenset(p) for p in compatible}
    groups: list[dict[str, int]] = []
    for a in names:
        for i in range(len(xy[a])):
            if assigned[a][i] >= 0 or not np.isfinite(xy[a][i]).all():
                continue
            chosen = {a: i}
            for b in names:
                if b == a or (ok_pairs is not None and frozenset((a, b)) not in ok_pairs):
                    continue
                if any(ok_pairs is not None and frozenset((b, m)) not in ok_pairs for m in chosen):
                    continue
                near = [j for j in trees[b].query_ball_point(xy[a][i], r=colocation_m + 1e-6) if assigned[b][j] < 0]
                if near:
                    d = np.hypot(*(xy[b][near] - xy[a][i]).T)
                    chosen[b] = int(near[int(np.argmin(d))])
            if len(chosen) >= 2:
                for n, j in chosen.items():
                    assigned[n][j] = len(groups)
                groups.append(chosen)
    cost = {n: np.asarray(blocks[n].site_cost, float).copy() for n in names}
    existing = {n: (np.zeros(len(cost[n]), bool) if getattr(blocks[n], "existing", None) is None
                    else np.asarray(blocks[n].existing, bool)) for n in names}
    shared = np.zeros(len(groups))
    for g, chosen in enumerate(groups):
        costs = [float(cost[n][j]) for n, j in chosen.items() if not existing[n][j]]
        shared[g] = min([shared_cost_cny, *costs]) if costs else 0.0
        for n, j in chosen.items():
            cost[n][j] = max(cost[n][j] - shared[g], 0.0)
    ids = pd.Index([f"JS-{g + 1:04d}" for g in range(len(groups))])
    reg = SiteRegistry(group_ids=ids, shared_cost=shared, members=assigned, compatible=compatible)
    return reg, [dataclasses.replace(blocks[n], site_cost=cost[n]) for n in names]


# =========================================================================== the plan
def plan_joint(ctx: PlanContext, tiers: list[Tier], preps: list[Prepared]) -> tuple[JointResult, dict[str, TierResult]]:
    """Solve the prepared tiers in one model over ``[joint]`` years; every tier assesses its part.

    Parameters
    ----------
    ctx
        The plan context (scenario with its ``[joint]`` section).
    tiers, preps
        The enabled tiers and their prepared data (same order). Skipped tiers are left out
        with their notice.

    Returns
    -------
    (JointResult, dict)
        The joint tables and one :class:`~gzcharge.tiers.base.TierResult` per tier.
    """
    from gzcharge.tiers.base import TierResult

    t0 = time.perf_counter()
    jp = ctx.scenario.joint
    notes: list[str] = []
    results: dict[str, TierResult] = {}
    active = []
    for tier, prep in zip(tiers, preps, strict=True):
        if prep.skipped:
            results[tier.name] = TierResult.skipped_result(tier.name, tier.title, prep.skipped)
            notes.append(msg("joint.left_out", tier=tier.name, reason=prep.skipped))
        else:
            active.append((tier, prep))
    if not active:
        raise ConfigError("the joint plan has no tier to plan: enable tiers in [tiers] / joint.tiers and give their "
                          "inputs")
    for name in jp.targets:
        if name not in {t.name for t, _ in active}:
            notes.append(msg("joint.target_ignored", tier=name))
    # demand grows with the EV stock by year (blocks whose demand is sized for the scenario's EV year)
    growth = np.asarray(ctx.scenario.ev.year_scale(list(jp.years)), float)
    blocks = joint_blocks([p for _, p in active], jp, {t.name: growth for t, _ in active})
    ctx.say("joint: co-locating candidates", 0.55)
    sharing = sorted((t.site_sharing, k) for k, (t, _) in enumerate(active) if t.site_sharing is not None)
    members = [(active[k][0].name, blocks[k], _metric_xy(active[k][1].sites, ctx.region.metric_crs))
               for _, k in sharing]
    reg, shared_blocks = colocate(members, jp.colocation_m, jp.shared_cost_cny, jp.compatible)
    for (_, k), b in zip(sharing, shared_blocks, strict=True):
        blocks[k] = b
    kw = dict(years=jp.years, budgets=jp.budgets_cny, total_budget=jp.total_budget_cny, carry_over=jp.carry_over,
              registry=reg, objective=jp.objective, discount_rate=jp.discount_rate,
              monotone_targets=jp.monotone_targets, time_limit_s=jp.time_limit_s, mip_rel_gap=jp.mip_rel_gap,
              threads=ctx.scenario.solver.threads)
    ctx.say("joint: solving", 0.6)
    from gzcharge.solve import Deadline

    # one time budget for the whole joint call: main solve, LP bounds and the marginal re-solves
    deadline = Deadline(jp.time_limit_s)
    timings = {"prepare": sum(p.seconds for _, p in active)}
    t1 = time.perf_counter()
    marginal = jp.marginal and (jp.budgets_cny is not None or jp.total_budget_cny is not None)
    # the main solve may use the whole budget (the plan comes first; keeping 1/4 for the re-solves gave a
    # worse province plan: benchmarks/README.md Session 4); the re-solves get what it leaves
    sol = solve_joint(blocks, **kw, deadline=deadline)
    timings["solve"] = time.perf_counter() - t1
    for (tier, prep), blk in zip(active, blocks, strict=True):
        results[tier.name] = tier.assess(ctx, dataclasses.replace(prep, block=blk), sol)
    out = _tables(active, reg, sol)
    out.tiers = [t.name for t, _ in active]
    if marginal:
        ctx.say("joint: marginal budget", 0.8)
        t1 = time.perf_counter()
        out.joint_marginal = marginal_budget(blocks, sol, kw, jp.marginal_step, deadline=deadline)
        timings["marginal"] = time.perf_counter() - t1
        skipped = out.joint_marginal["status"].astype(str).str.startswith("skipped")
        if skipped.any():
            notes.append(msg("joint.marginal_skipped", n=int(skipped.sum()), total=len(skipped), min_s=_MIN_RESOLVE_S,
                             limit=jp.time_limit_s))
    elif jp.marginal:
        notes.append(msg("joint.no_marginal"))
    out.notes = notes + [msg("joint.shared_sites", n=len(reg.group_ids), m=jp.colocation_m, cny=jp.shared_cost_cny)]
    timings["total"] = time.perf_counter() - t0
    out.timings = timings
    return out, {t.name: results[t.name] for t in tiers}  # plan order


#: Seconds a marginal-budget re-solve needs at least to be worth starting (assumption: the
#: province model's presolve alone takes 7-10 s on 2 shared cores, benchmarks/README.md Session 3;
#: plausible 2-20 s). With less left, the re-solve is skipped and its row says so.
_MIN_RESOLVE_S = 5.0


def marginal_budget(blocks: list, base: JointSolution, kw: dict, step: float, deadline: Any = None) -> pd.DataFrame:
    """Re-solve with each year's budget (and the total budget) raised by ``step``; one row per re-solve.

    ``delta_per_million_cny`` is the objective change per extra million CNY: extra normalised
    service (``max_service``) or cost saved (``min_cost``, positive = cheaper). Estimates by
    re-solving the MIP (``method = "re-solve"``), so they include the integrality of sites. Every
    re-solve starts from the base plan (feasible under a larger budget) and gets an equal share of
    what is left of ``deadline`` (the joint call's one time budget; without it, of one more
    ``time_limit_s``); a re-solve stopped by it reports its gap in ``gap``, and one with less than
    ``_MIN_RESOLVE_S`` seconds left is not started (``status = "skipped: ..."``).
    """
    from gzcharge.solve import Deadline

    rows = []
    last_year = kw["years"][-1]
    base_share = base.service[base.service["year"] == last_year].set_index("block")["share"]
    cases = []
    if kw["budgets"] is not None:
        for k, y in enumerate(kw["years"]):
            b = list(map(float, kw["budgets"]))
            extra = step * b[k]
            if extra <= 0:
                continue
            b[k] += extra
            cases.append((f"budget {y} +{step:.0%}", extra, {**kw, "budgets": b}))
    if kw["total_budget"] is not None and kw["total_budget"] > 0:
        extra = step * float(kw["total_budget"])
        cases.append((f"total budget +{step:.0%}", extra, {**kw, "total_budget": float(kw["total_budget"]) + extra}))
    dl = deadline if deadline is not None else Deadline(kw.get("time_limit_s"))
    for k, (label, extra, kwk) in enumerate(cases):
        left = dl.left()
        if left is not None:
            if left < _MIN_RESOLVE_S:
                rows.append({"change": label, "extra_budget_cny": extra,
                             "status": f"skipped: {left:.0f} s of the time limit left", "method": "re-solve"})
                continue
            # an equal share of what is left for this and the remaining re-solves
            kwk = {**kwk, "time_limit_s": left / (len(cases) - k)}
        try:
            s = solve_joint(blocks, **kwk, start_x=base.values.get("x"), deadline=dl)  # the base plan fits
        except Exception as exc:  # a re-solve that fails is reported, not fatal
            rows.append({"change": label, "extra_budget_cny": extra, "status": f"failed: {exc}"})
            continue
        delta = s.objective - base.objective
        per = (-delta if kw["objective"] == "min_cost" else delta) / (extra / 1e6)
        row = {"change": label, "extra_budget_cny": extra, "objective": s.objective, "delta_objective": delta,
               "delta_per_million_cny": per, "status": s.status, "gap": s.gap, "method": "re-solve"}
        share = s.service[s.service["year"] == last_year].set_index("block")["share"]
        for blk in share.index:
            row[f"delta_share_{blk}"] = float(share[blk] - base_share.get(blk, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def _tables(active: list, reg: SiteRegistry, sol: JointSolution) -> JointResult:
    """Physical shared sites, cost by tier and year, service by tier and year."""
    import geopandas as gpd
    import shapely

    out = JointResult(solution=sol)
    g = sol.groups.copy()
    if len(g):
        pos = reg.group_ids.get_indexer(g["group_id"])
        lon, lat = np.full(len(g), np.nan), np.full(len(g), np.nan)
        for tier, prep in active:
            mem = reg.members.get(tier.name)
            if mem is None:
                continue
            first = pd.Series(np.arange(len(mem)), index=mem)
            first = first[~first.index.duplicated()]
            j = first.reindex(pos).to_numpy()
            ok = np.isfinite(j) & np.isnan(lon)
            lon[ok] = prep.sites["lon"].to_numpy(float)[j[ok].astype(int)]
            lat[ok] = prep.sites["lat"].to_numpy(float)[j[ok].astype(int)]
        g = gpd.GeoDataFrame({"group_id": g["group_id"], "tiers": g["blocks"],
                              "n_tiers": g["blocks"].str.count(",") + 1, "existing": g["existing"],
                              "phase_year": pd.array([None if v is None or pd.isna(v) else int(v)
                                                      for v in g["build_year"]], dtype="Int64"),
                              "shared_cost_cny": g["shared_cost_cny"]},
                             geometry=shapely.points(lon, lat), crs="EPSG:4326")
        out.joint_sites = g[g["n_tiers"] >= 2].reset_index(drop=True)
    else:
        out.joint_sites = gpd.GeoDataFrame({"group_id": [], "tiers": [], "n_tiers": [], "existing": [],
                                            "phase_year": pd.array([], dtype="Int64"), "shared_cost_cny": []},
                                           geometry=[], crs="EPSG:4326")
    c = sol.costs.rename(columns={"block": "tier"})
    total = float(c["cost_cny"].sum())
    c["share_of_total"] = c["cost_cny"] / total if total > 0 else 0.0
    by_tier = c.groupby("tier")["cost_cny"].sum().sort_values(ascending=False, kind="stable")
    tot_rows = pd.DataFrame({"tier": by_tier.index, "year": "total", "cost_cny": by_tier.to_numpy(),
                             "share_of_total": by_tier.to_numpy() / total if total > 0 else 0.0})
    out.joint_costs = pd.concat([c.astype({"year": str}), tot_rows], ignore_index=True)
    out.cost_driver = str(by_tier.index[0]) if len(by_tier) and total > 0 else None
    out.joint_service = sol.service.rename(columns={"block": "tier"})
    return out
