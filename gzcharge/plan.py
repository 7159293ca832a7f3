"""Orchestrate a plan: region -> (road network) -> tiers -> GeoPackage + report.

:func:`run_plan` runs the tiers a scenario asks for on one region and returns a
:class:`Plan`; :func:`write_plan` writes its layers (styled GeoPackage 1.2), run metadata and
the report. A tier whose inputs are missing (e.g. the highway tier without expressway data)
is skipped with a one-line notice that says how to supply them; it never invents data.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gzcharge import __version__
from gzcharge._util import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.region import Region
    from gzcharge.scenario import Scenario

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]


@dataclass
class PlanInputs:
    """Files and options that feed a plan (hashed into the run metadata)."""

    osm_file: str | None = None
    online: bool = False
    endpoint: str | None = None
    timeout_s: float | None = None
    townships: str | None = None
    existing_stations: str | None = None
    expressways: str | None = None
    service_areas: str | None = None
    existing_fast: str | None = None
    od_file: str | None = None
    fleets: str | None = None
    h2_sources: str | None = None
    freight_od: str | None = None
    scenario_file: str | None = None
    overrides: list[str] = field(default_factory=list)

    def osm_pois(self, polygon: Any, tags: dict) -> Any:
        """OSM points of interest from the local file or, with ``online``, from Overpass."""
        from gzcharge.sources import osm

        if self.osm_file:
            return osm.pois_from_file(self.osm_file, polygon, tags=tags)
        return osm.pois_from_overpass(polygon, tags=tags, endpoint=self.endpoint,
                                      timeout_s=self.timeout_s or osm.DEFAULT_TIMEOUT_S)

    def osm_builtup(self, polygon: Any) -> Any:
        """OSM built-up (landuse) polygons from the local file or, with ``online``, from Overpass."""
        from gzcharge.sources import osm

        if self.osm_file:
            return osm.builtup_from_file(self.osm_file, polygon)
        return osm.builtup_from_overpass(polygon, endpoint=self.endpoint,
                                         timeout_s=self.timeout_s or osm.DEFAULT_TIMEOUT_S)

    def files(self) -> dict[str, str]:
        """Input name -> path, for the inputs that are files."""
        names = ("osm_file", "townships", "existing_stations", "expressways", "service_areas",
                 "existing_fast", "od_file", "fleets", "h2_sources", "freight_od", "scenario_file")
        return {n: getattr(self, n) for n in names if getattr(self, n)}


@dataclass
class Plan:
    """A finished plan: per-tier results, notices, timings and metadata."""

    region: Region
    scenario: Scenario
    inputs: PlanInputs
    distance_mode: str
    public: Any = None
    highway: Any = None
    swap: Any = None
    hydrogen: Any = None
    joint: Any = None
    network_summary: dict | None = None
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ layers
    def layers(self) -> dict[str, Any]:
        """All layers for the GeoPackage, in a sensible drawing order."""
        reg = self.region.to_layers()
        out: dict[str, Any] = {"boundary": reg["boundary"]}
        if self.joint is not None:
            out["counties"] = reg["counties"]
            out.update(self.joint.layers())  # the joint plan's county compliance replaces the census layer
            return out
        if self.public is not None:
            out["counties"] = self.public.counties
            out["townships"] = self.public.townships
            out["demand_points"] = self.public.demand
            out["public_stations"] = self.public.stations
        else:
            out["counties"] = reg["counties"]
        if self.highway is not None and not self.highway.skipped:
            out.update(self.highway.layers())
        if self.swap is not None:
            out.update(self.swap.layers())
        if self.hydrogen is not None:
            out.update(self.hydrogen.layers())
        return out

    def planned_anything(self) -> bool:
        """True when at least one tier produced a plan (a skipped tier does not count)."""
        return any(x is not None for x in (self.public, self.swap, self.hydrogen, self.joint)) or (
            self.highway is not None and not self.highway.skipped)

    def status(self) -> str:
        """Worst solver status over the tiers that ran."""
        statuses = []
        if self.joint is not None and self.joint.solution is not None:
            statuses.append(str(getattr(self.joint.solution.status, "value", self.joint.solution.status)))
        if self.public is not None:
            statuses.append(str(self.public.status))
        if self.highway is not None and self.highway.locate is not None:
            statuses.append(str(getattr(self.highway.locate.status, "value", self.highway.locate.status)))
        if self.swap is not None:
            statuses.append(str(self.swap.status))
        if not statuses:
            return "not_run"
        return "optimal" if all(s == "optimal" for s in statuses) else ",".join(statuses)

    def metadata(self) -> dict[str, Any]:
        """Run metadata (flattened by the GeoPackage writer into ``run_metadata``)."""
        from importlib.metadata import version as pkg_version

        from gzcharge.scenario import scenario_to_toml

        meta: dict[str, Any] = {
            "gzcharge_version": __version__,
            "created_by": "gzcharge plan",
            "python": platform.python_version(),
            "region": self.region.name,
            "region_code": str(self.region.code),
            "region_kind": self.region.kind,
            "scenario_name": self.scenario.name,
            "scenario_toml": scenario_to_toml(self.scenario),
            "scenario_overrides": " ".join(self.inputs.overrides),
            "distance_mode": self.distance_mode,
            "township_source": self.region.township_source or "estimated",
            "solver": f"HiGHS (highspy {pkg_version('highspy')}) via Pyomo {pkg_version('pyomo')}",
            "status": self.status(),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "notices": " | ".join(self.notices),
        }
        meta["input_sha256"] = {name: file_sha256(p) for name, p in self.inputs.files().items() if Path(p).is_file()}
        if self.public is not None:
            pub = self.public
            meta["public"] = {"mode": pub.mode, "status": pub.status, "objective": pub.objective,
                              "gap": pub.gap, "solver_seconds": round(pub.solver_seconds, 3),
                              "unmet": " | ".join(pub.unmet)}
        if self.highway is not None:
            hw = self.highway
            loc = hw.locate
            meta["highway"] = {"skipped": hw.skipped, "notice": hw.notice or "",
                               "status": "" if loc is None else str(getattr(loc.status, "value", loc.status)),
                               "gap": "" if loc is None else loc.gap}
        if self.swap is not None:
            sw = self.swap
            meta["swap"] = {"mode": sw.mode, "status": sw.status, "objective": sw.objective, "gap": sw.gap,
                            "station_cost_cny": sw.station_cost_cny, "seconds": round(sw.seconds, 3)}
        if self.joint is not None and self.joint.solution is not None:
            sol = self.joint.solution
            meta["joint"] = {"status": str(getattr(sol.status, "value", sol.status)), "gap": sol.gap,
                             "cost_driver": self.joint.cost_driver or "",
                             "years": " ".join(map(str, self.scenario.joint.years))}
        if self.network_summary:
            meta["network"] = self.network_summary
        return meta

    def summary_rows(self) -> list[tuple[str, Any]]:
        """Key figures for the CLI's summary table."""
        rows: list[tuple[str, Any]] = [("region", f"{self.region.name} ({self.region.code})"),
                                       ("distance mode", self.distance_mode),
                                       ("townships", self.region.township_source or "estimated (labelled)")]
        if self.joint is not None:
            j = self.joint
            sol = j.solution
            rows.append(("joint plan", f"{getattr(sol.status, 'value', sol.status)}, gap {sol.gap:.3%}"
                         if sol is not None else "not solved"))
            for name in ("public_stations", "highway_stations", "swap_stations", "hydrogen_stations"):
                lay = getattr(j, name)
                if lay is not None and len(lay):
                    by_year = lay["phase_year"].value_counts().sort_index()
                    rows.append((name, f"{len(lay)} ({', '.join(f'{int(y)}: {n}' for y, n in by_year.items())})"))
            if j.joint_costs is not None and len(j.joint_costs):
                total = j.joint_costs.loc[j.joint_costs["year"].astype(str) == "total", "cost_cny"] \
                    if "year" in j.joint_costs.columns else None
                if total is not None and len(total):
                    rows.append(("joint cost (CNY)", f"{float(total.sum()):,.0f}"))
            rows.append(("cost driver", j.cost_driver or "–"))
            return rows
        if self.public is not None:
            st = self.public.stations
            rows += [("public stations", f"{len(st)} ({int((st['status'] == 'new').sum())} new)"),
                     ("public plugs", int(st["plugs"].sum())),
                     ("public cost (CNY)", f"{float(st['cost_cny'].sum()):,.0f}"),
                     ("public solver", f"{self.public.mode}: {self.public.status}, gap {self.public.gap:.3%}")]
        if self.highway is not None:
            if self.highway.skipped:
                rows.append(("highway", "skipped"))
            else:
                hs = self.highway.highway_stations
                rows += [("highway stations", len(hs)), ("highway plugs", int(hs["plugs"].sum()))]
        if self.hydrogen is not None:
            hs = self.hydrogen.stations
            rows += [("hydrogen stations", len(hs))]
        if self.swap is not None:
            ss = self.swap.stations
            rows += [("swap stations", f"{int(ss['n_stations'].sum())} at {len(ss)} sites"),
                     ("swaps/day served", f"{float(ss['swaps_served'].sum()):,.0f}"),
                     ("swap cost (CNY)", f"{float(ss['cost_cny'].sum()):,.0f}"),
                     ("swap solver", f"{self.swap.status}, gap {self.swap.gap:.3%}")]
        return rows


def run_plan(
    region: Region,
    scenario: Scenario,
    inputs: PlanInputs | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Plan:
    """Run the scenario's tiers on a region.

    Parameters
    ----------
    region
        The area (townships already attached with ``with_townships`` when a file was given).
    scenario
        Validated scenario.
    inputs
        Files and OSM options. With ``osm_file`` or ``online`` a road network is built and
        used for network distances (``distance.mode = "network"``) and the highway tier.
    progress
        ``progress(message, fraction)``.
    """
    from gzcharge.errors import ConfigError

    inputs = inputs or PlanInputs()
    say = progress or (lambda m, f: None)
    timings: dict[str, float] = {}
    notices: list[str] = []
    t0 = time.perf_counter()

    network = None
    pois = None
    builtup = None
    net_summary = None
    want_network = scenario.distance.mode == "network"
    has_osm = bool(inputs.osm_file or inputs.online)
    if want_network and not has_osm:
        raise ConfigError(
            "distance.mode = \"network\" needs road data: pass --osm-file FILE or --online "
            "(or --set distance.mode=\"screening\")"
        )
    if has_osm:
        from gzcharge.candidates import PUBLIC_POI_TAGS
        from gzcharge.network import build_network
        from gzcharge.sources import osm

        say("building the road network", 0.05)
        network = build_network(region.boundary, crs=region.metric_crs, osm_file=inputs.osm_file,
                                online=inputs.online, endpoint=inputs.endpoint, timeout_s=inputs.timeout_s)
        net_summary = network.summary()
        timings["network"] = time.perf_counter() - t0
        say("reading points of interest", 0.25)
        t1 = time.perf_counter()
        pois = inputs.osm_pois(region.boundary, PUBLIC_POI_TAGS)
        timings["pois"] = time.perf_counter() - t1
        builtup = None
        if scenario.tiers.public or scenario.joint.enabled:
            # built-up areas (OSM landuse) spread city-core and county-seat demand over the real town shape
            t1 = time.perf_counter()
            builtup = inputs.osm_builtup(region.boundary)
            timings["osm_builtup"] = time.perf_counter() - t1
        if region.township_source is None and (scenario.tiers.public or scenario.joint.enabled):
            # township seats from OSM place nodes when no township file was given
            t1 = time.perf_counter()
            places = inputs.osm_pois(region.boundary, osm.TOWNSHIP_PLACE_TAGS)
            seats = osm.township_seats_from_pois(places, region.counties)
            if len(seats):
                region = region.with_townships(seats, source=f"osm:{len(seats)} place nodes")
                notices.append(f"township seats: {len(seats)} from OSM place=town/township (and 乡/镇-named "
                               "villages); pass --townships FILE for the official list")
            else:
                notices.append("no township places in the OSM data: township demand is estimated (labelled)")
            timings["osm_townships"] = time.perf_counter() - t1
    distance_mode = "network" if network is not None and want_network else "screening"
    if network is not None and not want_network and (scenario.tiers.public or scenario.joint.enabled):
        notices.append("road network built, but distance.mode is \"screening\": public-tier distances are "
                       "straight line × circuity (set distance.mode=\"network\" for road distances)")

    if scenario.joint.enabled:
        from gzcharge.joint import plan_joint

        say("joint plan of all tiers", 0.3)
        t1 = time.perf_counter()
        joint = plan_joint(region, scenario, scenario.joint,
                           network=network if distance_mode == "network" else None, pois=pois,
                           existing_stations=inputs.existing_stations, fleets=inputs.fleets,
                           expressways=inputs.expressways, service_areas=inputs.service_areas,
                           existing_fast=inputs.existing_fast, od_file=inputs.od_file, h2_sources=inputs.h2_sources,
                           builtup=builtup, progress=lambda m, f: say(f"joint: {m}", 0.3 + 0.65 * (f or 0.0)))
        timings["joint"] = time.perf_counter() - t1
        notices += [f"joint: {n}" for n in joint.notes]
        timings["total"] = time.perf_counter() - t0
        say("done", 1.0)
        return Plan(region=region, scenario=scenario, inputs=inputs, distance_mode=distance_mode, joint=joint,
                    network_summary=net_summary, notices=notices, timings=timings)

    public = None
    if scenario.tiers.public:
        from gzcharge.tiers.public import plan_public

        say("public charging tier", 0.3)
        t1 = time.perf_counter()
        public = plan_public(region, scenario, network=network if distance_mode == "network" else None,
                             pois=pois, existing_stations=inputs.existing_stations, builtup=builtup,
                             progress=lambda m, f: say(f"public: {m}", 0.3 + 0.4 * (f or 0.0)))
        timings["public"] = time.perf_counter() - t1
        notices += [f"public: {n}" for n in dict.fromkeys(public.notes)]  # notes include the unmet targets

    service_areas = inputs.service_areas
    if service_areas is None and inputs.online and (scenario.tiers.highway or scenario.tiers.hydrogen):
        # online runs: service and rest areas from Overpass (a local file is read by the highway tier itself)
        from gzcharge.highway.candidates import SERVICE_AREA_TAGS, service_areas_from_pois

        service_areas = service_areas_from_pois(inputs.osm_pois(region.boundary, SERVICE_AREA_TAGS))

    highway = None
    if scenario.tiers.highway:
        from gzcharge.highway.model import plan_highway

        say("highway fast-charging tier", 0.7)
        t1 = time.perf_counter()
        highway = plan_highway(scenario.highway, region=region, network=network,
                               expressways=inputs.expressways, service_areas=service_areas,
                               existing_sites=inputs.existing_fast, od_file=inputs.od_file)
        timings["highway"] = time.perf_counter() - t1
        if highway.notice:
            notices.append(highway.notice)
        rejected = highway.details.get("rejected_sites")
        if rejected is not None and len(rejected):
            notices.append(f"highway: {len(rejected)} service area(s)/site(s) not attached to any corridor: "
                           + "; ".join(f"{r['name']} ({r['distance_m']:.0f} m, {r['reason']})"
                                       for _, r in rejected.head(5).iterrows())
                           + (" …" if len(rejected) > 5 else "")
                           + f" (tolerance highway.candidate_snap_m = {scenario.highway.candidate_snap_m:g} m)")
    hydrogen = None
    if scenario.tiers.hydrogen:
        hw_for_h2 = highway
        if hw_for_h2 is None:
            from gzcharge.highway.model import plan_highway

            hw_for_h2 = plan_highway(scenario.highway, region=region, network=network,
                                     expressways=inputs.expressways, service_areas=service_areas,
                                     existing_sites=inputs.existing_fast, od_file=inputs.od_file)
        if hw_for_h2.skipped or "corridors" not in hw_for_h2.details:
            notices.append("hydrogen tier skipped: it plans on the expressway corridors, and there are none "
                           "(give --osm-file, --expressways or --online)")
        else:
            from gzcharge.tiers.hydrogen import plan_hydrogen

            say("hydrogen refuelling tier", 0.8)
            t1 = time.perf_counter()
            d = hw_for_h2.details
            flows = d["traffic"]
            if inputs.freight_od:
                flows = _freight_flows(inputs.freight_od, d["candidates"].corridors, scenario, region)
                notices.append(f"hydrogen: truck flows from {Path(inputs.freight_od).name} (heavy trucks/day × "
                               f"hydrogen_share {scenario.hydrogen.hydrogen_share:g})")
            hydrogen = plan_hydrogen(d["corridors"], flows, d["candidates"], scenario.hydrogen,
                                     sources=inputs.h2_sources, region=region, crs=d["corridors"].crs)
            timings["hydrogen"] = time.perf_counter() - t1
            notices += [f"hydrogen: {n}" for n in hydrogen.notes]

    swap = None
    if scenario.tiers.swap:
        from gzcharge.tiers.swap import plan_swap

        say("battery-swap tier", 0.85)
        t1 = time.perf_counter()
        from gzcharge.scenario import swap_params

        swap = plan_swap(region, swap_params(scenario), fleets=inputs.fleets,
                         time_limit_s=scenario.solver.time_limit_s, mip_rel_gap=scenario.solver.mip_rel_gap)
        timings["swap"] = time.perf_counter() - t1
        if inputs.fleets is None:
            notices.append("swap: no --fleets FILE: fleets are the documented per-capita defaults of [swap]")
    timings["total"] = time.perf_counter() - t0
    say("done", 1.0)
    return Plan(region=region, scenario=scenario, inputs=inputs, distance_mode=distance_mode,
                public=public, highway=highway, swap=swap, hydrogen=hydrogen, network_summary=net_summary, notices=notices,
                timings=timings)


def _freight_flows(path: str, corridors: Any, scenario: Scenario, region: Region) -> Any:
    """Hydrogen truck flows from a user freight OD CSV (``origin, destination, flow`` = heavy trucks/day).

    Origins and destinations are county seats (adcode or name); paths are the shortest corridor
    paths of the highway tier; ``truck_flow = flow × hydrogen.hydrogen_share`` (the fuel-cell share).
    """
    import pandas as pd

    from gzcharge.highway.model import county_seat_points
    from gzcharge.highway.traffic import build_traffic, read_od_csv

    od = read_od_csv(path)
    params = scenario.highway.model_copy(update={"daily_trips_scale": 1.0})
    traffic = build_traffic(corridors, params, county_seat_points(region), od=od)
    t = traffic.od
    return pd.DataFrame({"od_id": t["od_id"].to_numpy(), "path": list(t["path"]),
                         "truck_flow": t["flow"].to_numpy(float) * scenario.hydrogen.hydrogen_share})


def write_plan(plan: Plan, out: str | Path, *, report: bool = True) -> list[Path]:
    """Write the plan's GeoPackage (and, with ``report``, the Markdown/HTML report + PNG map).

    Returns the written paths. Every file is written atomically.
    """
    from gzcharge.export.gpkg import write_geopackage

    t0 = time.perf_counter()
    out = Path(out)
    written = [write_geopackage(out, plan.layers(), metadata=plan.metadata(), metric_crs=plan.region.metric_crs)]
    plan.timings["export_gpkg"] = time.perf_counter() - t0
    if report:
        from gzcharge.export.plan_report import write_plan_report

        written += write_plan_report(plan, out.with_suffix(""))
    return written
