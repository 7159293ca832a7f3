"""The highway fast-charging tier behind the :class:`~gzcharge.tiers.base.Tier` interface.

Preparation (corridors, candidates, traffic with access legs, gap windows, the flow block) is
:func:`gzcharge.highway.model.prepare_highway`; it runs once per plan and is shared with the
hydrogen tier, which plans on the same corridors (:func:`prepared_corridors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gzcharge.export.i18n import msg
from gzcharge.tiers.base import PlanContext, Prepared, Tier, TierResult, status_of

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.highway.model import HighwayPrepared

__all__ = ["HighwayTier", "prepared_corridors"]


def prepared_corridors(ctx: PlanContext) -> HighwayPrepared:
    """The plan's highway preparation (corridors, candidates, traffic), made once per plan."""
    return ctx.memo("highway.prepared", lambda: _prepare(ctx))


def _prepare(ctx: PlanContext) -> HighwayPrepared:
    from gzcharge.highway.model import county_seat_points, prepare_highway

    inputs = ctx.inputs
    service_areas: Any = inputs.service_areas
    if service_areas is None and inputs.online:
        # online runs: service and rest areas from Overpass (a local OSM file is read by prepare_highway)
        from gzcharge.highway.candidates import SERVICE_AREA_TAGS, service_areas_from_pois

        service_areas = service_areas_from_pois(inputs.osm_pois(ctx.region.boundary, SERVICE_AREA_TAGS))
    # the planner's sites for the tiers on the corridors (those that run): snapped once, shared by both
    rules = ctx.memo("site_rules", inputs.site_rules)
    on_corridor = [t for t in ("highway", "hydrogen") if getattr(ctx.scenario.tiers, t, False)]
    user = rules.for_tiers(on_corridor) if rules is not None and on_corridor else None
    return prepare_highway(ctx.scenario.highway, region=ctx.region, network=ctx.network,
                           expressways=inputs.expressways, service_areas=service_areas,
                           existing_sites=inputs.existing_fast, od_file=inputs.od_file,
                           settlements=county_seat_points(ctx.region), user_sites=user,
                           user_label=f"candidate-sites file {rules.path}" if user is not None else "")


class HighwayTier(Tier):
    """Fast chargers along the expressways: flow refuelling with access legs plus the maximum-gap rule."""

    name = "highway"
    title = "Highway fast charging"
    site_sharing = 0

    def prepare(self, ctx: PlanContext) -> Prepared:
        hp = prepared_corridors(ctx)
        notes = [n for n in hp.notes if n != hp.notice]  # a skip notice is reported once, as ``skipped``
        rejected = (hp.details or {}).get("rejected_sites")
        if rejected is not None and len(rejected):
            d = hp.details or {}
            snap = d.get("snap_m", ctx.scenario.highway.candidate_snap_m)
            sites = [msg("highway.rejected_site", name=r["name"], m=r["distance_m"], reason=r["reason"])
                     for _, r in rejected.head(5).iterrows()]
            notes.append(msg("highway.rejected", n=len(rejected), items=msg("notes.joined", items=sites),
                             more=" …" if len(rejected) > 5 else "",
                             name=d.get("snap_name", "highway.candidate_snap_m"), m=snap))
        if hp.skipped:
            return Prepared(self.name, data=hp, notes=notes, skipped=hp.notice)
        return Prepared(self.name, block=hp.block, sites=hp.sites, data=hp, notes=notes)

    def solve(self, ctx: PlanContext, prep: Prepared) -> Any:
        from gzcharge.highway.model import solve_highway

        s = ctx.scenario.solver
        return solve_highway(prep.data, ctx.scenario.highway, year=ctx.year, time_limit_s=s.time_limit_s,
                             mip_rel_gap=s.mip_rel_gap, threads=s.threads)

    def assess(self, ctx: PlanContext, prep: Prepared, sol: Any) -> TierResult:
        from gzcharge.highway.model import assess_highway

        res = assess_highway(prep.data, sol, ctx.scenario.highway)
        hs = res.highway_stations
        hp = ctx.scenario.highway
        source = (prep.data.details or {}).get("road_source") or ""
        text: list[Any] = [msg("highway.corridors", source=source)] if source else []
        text += [msg("highway.rules", range=hp.range_km, derate=hp.range_derate, gap=hp.max_gap_km),
                 msg("highway.sizing", holiday=hp.holiday_peak_factor, peak=hp.peak_hour_factor,
                     share=hp.charging_space_share, spaces=hp.service_area_car_spaces),
                 msg("highway.result", stations=len(hs), plugs=int(hs["plugs"].sum()) if len(hs) else 0)]
        why = _why_no_station(prep.data, res, hp) if len(hs) == 0 else None
        if why is not None:
            text.append(msg("highway.none", reason=why))
        if res.notice:
            text.append(msg("highway.note", note=res.notice))
        sections: list[tuple[str, Any]] = [(self.title, text)]
        if res.summary is not None and len(res.summary):
            sections.append(("Highway corridors", res.summary))
        if res.by_prefecture is not None and len(res.by_prefecture):
            sections.append(("Highway by prefecture", res.by_prefecture))
        summary = [("highway stations", len(hs)), ("highway plugs", int(hs["plugs"].sum()) if len(hs) else 0)]
        if len(hs) == 0:
            summary.append(("highway", str(why) if why is not None else (res.notice or "no station needed")))
        meta = {"notice": res.notice or "", "stations": len(hs), "road_source": source}
        notes = [res.notice] if res.notice else []
        if (res.details or {}).get("capped_plugs"):
            notes.append(msg("highway.capped_plugs", wait=hp.wait_target_min,
                             items=msg("notes.joined", items=list(res.details["capped_plugs"]))))
        if why is not None and not res.notice:
            notes.append(msg("highway.no_station", reason=why))
        return TierResult(tier=self.name, title=self.title, status=status_of(sol.status), objective=sol.objective,
                          gap=sol.gap, seconds=sol.seconds, layers=res.layers(), summary=summary,
                          sections=sections, metadata=meta, notes=notes, raw=res)


def _why_no_station(prep: Any, res: Any, hp: Any) -> Any:
    """Why a highway plan has no station (a message), from the preparation's counts."""
    d = {**(getattr(prep, "details", None) or {}), **(res.details or {})}
    short_km = hp.min_charging_trip_km if hp.min_charging_trip_km is not None else hp.effective_range_km / 2
    if res.notice and not d.get("n_candidates"):
        return None  # the notice (e.g. no expressway data) says it
    if not d.get("n_candidates"):
        return msg("highway.why_no_candidates")
    if not d.get("n_paths"):
        return msg("highway.why_short_trips", n=d.get("n_short_trips", 0), km=short_km)
    if d.get("n_existing"):
        return msg("highway.why_existing", n=d["n_existing"], range=hp.effective_range_km, gap=hp.max_gap_km)
    return msg("highway.why_within_range", range=hp.effective_range_km, gap=hp.max_gap_km)
