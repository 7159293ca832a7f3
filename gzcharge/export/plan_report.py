"""The plan report: what was planned, under which assumptions, and what is still unmet.

Builds report sections from a :class:`gzcharge.plan.Plan` and writes them with
:func:`gzcharge.export.report.write_report` (Markdown + self-contained HTML + PNG map).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.plan import Plan

logger = logging.getLogger(__name__)

_COUNTY_COLUMNS = {
    "adcode": "县代码 adcode",
    "name": "县 county",
    "evs": "EVs 2025",
    "stations": "stations",
    "stations_new": "new",
    "plugs": "plugs",
    "city_coverage_pct": "city core %",
    "county_coverage_pct": "county seat %",
    "township_coverage_pct": "township %",
    "townships_covered": "townships covered",
    "townships_total": "townships",
    "plugs_per_1000_evs": "plugs / 1,000 EVs",
    "cost_cny": "cost (CNY)",
    "unmet_targets": "unmet targets",
}


def _public_sections(plan: Plan) -> list[tuple[str, Any]]:
    pub = plan.public
    sc = plan.scenario
    p = sc.public
    sections: list[tuple[str, Any]] = []
    rules = (
        f"- Mode: **{pub.mode}**; solver status **{pub.status}**, relative gap {pub.gap:.4%}, "
        f"{pub.solver_seconds:.1f} s.\n"
        f"- Service radius: city core {p.city_core_radius_km:g} km, county seat {p.county_seat_radius_km:g} km, "
        f"township {p.township_radius_km:g} km ({plan.distance_mode} distances"
        + (f", circuity {sc.distance.circuity:g}" if plan.distance_mode == "screening" else "")
        + ").\n"
        f"- Hard targets: every township covered (乡镇全覆盖) = {p.township_full_coverage}; "
        f"each county ≥ {p.min_county_coverage:.0%} of its EVs covered; at least one station per "
        f"{p.evs_per_station:g} EVs per county.\n"
        f"- EV stock {sc.ev.year}: 2020 census households × car-owning share (long-form sample) × "
        f"cars per car household {sc.ev.cars_per_car_household:g} × growth {sc.ev.car_growth:g} × EV share "
        f"{sc.ev.ev_share_of_cars:.0%}.\n"
    )
    if p.budget_cny is not None or p.max_stations is not None:
        rules += f"- Budget {p.budget_cny or '–'} CNY, station limit {p.max_stations or '–'}.\n"
    sections.append(("Public charging (市、县、乡三级): rules", rules))
    sections.append(("Public charging: result by tier", pub.summary))
    cols = [c for c in _COUNTY_COLUMNS if c in pub.counties.columns]
    table = pub.counties[cols].rename(columns=_COUNTY_COLUMNS)
    sections.append(("Public charging: county compliance", table))
    if pub.unmet:
        sections.append(("Unmet targets", "\n".join(f"- {u}" for u in pub.unmet)))
    else:
        sections.append(("Unmet targets", "All hard targets are met."))
    tw = pub.townships
    if len(tw):
        unc = tw.loc[~tw["covered"].astype(bool)]
        text = (f"{int(tw['covered'].astype(bool).sum())} of {len(tw)} township points covered within "
                f"{p.township_radius_km:g} km (source: {plan.region.township_source or 'estimated lattice — not real seats'}).")
        sections.append(("Townships", text))
        if len(unc):
            cols = [c for c in ("name", "county_adcode", "station_id", "distance_m", "unmet_reason") if c in unc.columns]
            sections.append(("Townships not covered", unc[cols]))
    return sections


def _highway_sections(plan: Plan) -> list[tuple[str, Any]]:
    hw = plan.highway
    if hw.skipped:
        return [("Highway fast charging", hw.notice or "skipped")]
    hp = plan.scenario.highway
    text = (
        f"- EV range {hp.range_km:g} km nominal, derated ×{hp.range_derate:g}; maximum gap between "
        f"fast-charging sites {hp.max_gap_km:g} km (JTG service-area spacing).\n"
        f"- {len(hw.highway_stations)} stations, {int(hw.highway_stations['plugs'].sum())} plugs.\n"
    ) if hasattr(hp, "range_derate") else f"- {len(hw.highway_stations)} stations.\n"
    if hw.notice:
        text += f"- Note: {hw.notice}\n"
    out: list[tuple[str, Any]] = [("Highway fast charging", text)]
    if hw.summary is not None and len(hw.summary):
        out.append(("Highway corridors", hw.summary))
    by_pref = getattr(hw, "by_prefecture", None)
    if by_pref is not None and len(by_pref):
        out.append(("Highway by prefecture", by_pref))
    return out


def _swap_sections(plan: Plan) -> list[tuple[str, Any]]:
    sw = plan.swap
    st = sw.stations
    text = (
        f"- Mode **{sw.mode}**; solver status **{sw.status}**, relative gap {sw.gap:.4%}, {sw.seconds:.1f} s.\n"
        f"- Fleets: {plan.inputs.fleets or 'documented per-capita defaults of [swap] (vehicles per 10,000 urban residents)'}.\n"
        f"- {int(st['n_stations'].sum()) if len(st) else 0} swap stations at {len(st)} sites serve "
        f"{float(st['swaps_served'].sum()) if len(st) else 0:,.0f} swaps/day; station cost "
        f"{sw.station_cost_cny:,.0f} CNY.\n"
    )
    out: list[tuple[str, Any]] = [("Battery swap (换电) for fleets", text)]
    if sw.summary is not None and len(sw.summary):
        out.append(("Battery swap by fleet", sw.summary))
    return out


def _joint_sections(plan: Plan) -> list[tuple[str, Any]]:
    j = plan.joint
    jp = plan.scenario.joint
    sol = j.solution
    in_model = (list(dict.fromkeys(j.joint_service["tier"].astype(str))) if j.joint_service is not None
                and len(j.joint_service) else list(jp.tiers))
    text = (
        f"- One model over the tiers {', '.join(in_model)} for the years {', '.join(map(str, jp.years))}; "
        f"objective **{jp.objective}**.\n"
        f"- Budgets per year: {jp.budgets_cny if jp.budgets_cny is not None else 'none'}"
        f"{' (unspent budget carries over)' if jp.carry_over else ''}; total budget: "
        f"{jp.total_budget_cny if jp.total_budget_cny is not None else 'none'}.\n"
        f"- Targets by year: {dict(jp.targets) or 'none'}; hard rules from "
        f"{jp.hard_from_year or jp.years[-1]}.\n"
        f"- Once built a site stays built; co-located sites (within {jp.colocation_m:g} m) pay the shared "
        f"land + grid cost once.\n"
    )
    if sol is not None:
        text += f"- Solver status **{getattr(sol.status, 'value', sol.status)}**, relative gap {sol.gap:.4%}.\n"
    text += f"- The tier that drives cost: **{j.cost_driver or '–'}**.\n"
    out: list[tuple[str, Any]] = [("Joint plan with phasing", text)]
    for title, table in (("Cost by tier and year", j.joint_costs), ("Service by tier and year", j.joint_service),
                         ("What a marginal budget buys", j.joint_marginal)):
        if table is not None and len(table):
            out.append((title, table))
    return out


def write_plan_report(plan: Plan, stem: str | Path) -> list[Path]:
    """Write ``<stem>_report.md``, ``<stem>_report.html`` and ``<stem>_report.png``; return their paths."""
    import pandas as pd

    from gzcharge.export.report import write_report

    stem = Path(stem)
    reg = plan.region
    overview = (
        f"- Region: **{reg.name}** ({reg.code}, {reg.kind}), {len(reg.counties)} counties, "
        f"2020 census population {int(reg.pop_total):,}.\n"
        f"- Scenario: `{plan.scenario.name}` {plan.scenario.description}\n"
        f"- Distances: **{plan.distance_mode}**; metric CRS {reg.metric_crs}.\n"
        f"- Township seats: {reg.township_source or 'none given — township demand is an ESTIMATED lattice (labelled)'}.\n"
        f"- Status: {plan.status()}.\n"
    )
    if plan.inputs.overrides:
        overview += f"- Overrides: `{' '.join(plan.inputs.overrides)}`\n"
    sections: list[tuple[str, Any]] = [("Overview", overview)]
    if plan.joint is not None:
        sections += _joint_sections(plan)
    if plan.public is not None:
        sections += _public_sections(plan)
    if plan.highway is not None:
        sections += _highway_sections(plan)
    if plan.swap is not None:
        sections += _swap_sections(plan)
    if plan.notices:
        sections.append(("Notes and assumptions", "\n".join(f"- {n}" for n in plan.notices)))
    sections.append(("Timings (s)", pd.DataFrame({"stage": list(plan.timings),
                                                  "seconds": [round(v, 2) for v in plan.timings.values()]})))
    layers = plan.layers()
    map_layers = {k: layers[k] for k in ("counties", "boundary", "expressway_segments", "townships",
                                         "public_stations", "swap_stations", "hydrogen_stations", "highway_stations")
                  if k in layers and len(layers[k])}
    paths = write_report(stem.with_name(stem.name + "_report.md"),
                         title=f"gzcharge plan — {reg.name} ({plan.scenario.name})",
                         sections=sections, map_layers=map_layers, metric_crs=reg.metric_crs,
                         map_title=f"{reg.name} 充电设施规划")
    return list(paths.values())
