"""The plan report: what was planned, under which assumptions, and what is still unmet.

Collects the sections of a :class:`gzcharge.plan.Plan` — an overview, the joint plan's tables,
then each tier's own sections (:attr:`gzcharge.tiers.base.TierResult.sections`) — and writes
them with :func:`gzcharge.export.report.write_report` (Markdown + self-contained HTML + PNG map).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.plan import Plan

logger = logging.getLogger(__name__)

def write_plan_report(plan: Plan, stem: str | Path) -> list[Path]:
    """Write ``<stem>_report.md``, ``<stem>_report.html`` and ``<stem>_report.png``; return their paths."""
    from gzcharge.export.report import write_report

    stem = Path(stem)
    reg = plan.region
    miss = plan.unmet()
    headline = (f"**HARD RULES MISSED ({len(miss)})** — the plan below does not meet:\n"
                + "\n".join(f"- {u}" for u in miss) + "\n\n") if miss else ""
    overview = headline + (
        f"- Region: **{reg.name}** ({reg.code}, {reg.kind}), {len(reg.counties)} counties, "
        f"2020 census population {int(reg.pop_total):,}.\n"
        f"- Scenario: `{plan.scenario.name}` {plan.scenario.description}\n"
        f"- Distances: **{plan.distance_mode}**; metric CRS {reg.metric_crs}.\n"
        f"- Township seats: {reg.township_source or 'none given — township demand is an ESTIMATED lattice (labelled)'}.\n"
        f"- Status: {plan.headline()}.\n"
    )
    if plan.inputs.overrides:
        overview += f"- Overrides: `{' '.join(plan.inputs.overrides)}`\n"
    sections: list[tuple[str, Any]] = [("Overview", overview)]
    if plan.joint is not None:
        sections += plan.joint.sections(plan.scenario.joint)
    for result in plan.results.values():
        sections += result.sections
    if plan.notices:
        sections.append(("Notes and assumptions", "\n".join(f"- {n}" for n in plan.notices)))
    # timings are not part of the report (it is byte-for-byte reproducible); see --timings
    layers = plan.layers()
    map_layers = {k: layers[k] for k in ("counties", "boundary", "expressway_segments", "townships",
                                         "public_stations", "swap_stations", "hydrogen_stations", "highway_stations")
                  if k in layers and len(layers[k])}
    paths = write_report(stem.with_name(stem.name + "_report.md"),
                         title=f"gzcharge plan — {reg.name} ({plan.scenario.name})",
                         sections=sections, map_layers=map_layers, metric_crs=reg.metric_crs,
                         map_title=f"{reg.name} 充电设施规划")
    return list(paths.values())
