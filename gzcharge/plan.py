"""Orchestrate a plan: region -> (road network) -> tiers -> GeoPackage + report.

:func:`run_plan` prepares every tier the scenario enables (the registry
:data:`gzcharge.tiers.REGISTRY`, through the one :class:`~gzcharge.tiers.base.Tier`
interface), solves each alone or all together in the joint model, and returns a
:class:`Plan`; :func:`write_plan` writes its layers (styled GeoPackage 1.2), run metadata and
the report. This module names no tier. A tier whose inputs are missing (e.g. the highway
tier without expressway data) is skipped with a one-line notice that says how to supply
them; it never invents data.
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
from gzcharge.export.i18n import msg
from gzcharge.inputs import PlanInputs
from gzcharge.locate._common import Status
from gzcharge.tiers import tier_names

if TYPE_CHECKING:  # pragma: no cover
    from gzcharge.region import Region
    from gzcharge.scenario import Scenario
    from gzcharge.tiers.base import TierResult

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]


@dataclass
class Plan:
    """A finished plan: one :class:`~gzcharge.tiers.base.TierResult` per tier, notices, timings, metadata.

    ``plan.<tier>`` (e.g. ``plan.public``) is that tier's own result object, or None when the
    tier did not run; ``plan.results[<tier>]`` is the uniform :class:`TierResult`.
    """

    region: Region
    scenario: Scenario
    inputs: PlanInputs
    distance_mode: str
    results: dict[str, TierResult] = field(default_factory=dict)
    joint: Any = None
    network_summary: dict | None = None
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        results = self.__dict__.get("results")
        if results is not None and name in results:
            return results[name].raw
        if name in tier_names():
            return None
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def ran(self) -> list[TierResult]:
        """Results of the tiers that ran (skipped tiers left out)."""
        return [r for r in self.results.values() if r.skipped is None]

    # ------------------------------------------------------------------ layers
    def layers(self) -> dict[str, Any]:
        """All layers for the GeoPackage, in drawing order (a tier's ``counties`` replaces the census layer)."""
        reg = self.region.to_layers()
        out: dict[str, Any] = {"boundary": reg["boundary"], "counties": reg["counties"]}
        for r in self.ran():
            out.update(r.layers)
        if self.joint is not None:
            out.update(self.joint.layers())
        return out

    def planned_anything(self) -> bool:
        """True when at least one tier produced a plan (a skipped tier does not count)."""
        return bool(self.ran())

    def unmet(self) -> list[str]:
        """Hard rules missed, over every tier that ran (``"<tier>: <sentence>"``)."""
        return [f"{r.tier}: {u}" for r in self.ran() for u in r.unmet]

    def headline(self) -> str:
        """One line: the hard rules missed when there are any, else the solver status."""
        miss = self.unmet()
        if miss:
            return (f"HARD RULES MISSED ({len(miss)}): " + "; ".join(miss[:3])
                    + (f"; … {len(miss) - 3} more (see the report)" if len(miss) > 3 else "")
                    + f" — solver status {self.status()}")
        return f"all hard rules met — solver status {self.status()}"

    def status(self) -> str:
        """Worst solver status over the tiers that ran (``not_run`` when none did)."""
        statuses = [r.status.value for r in self.ran()]
        if not statuses:
            return Status.NOT_RUN.value
        return Status.OPTIMAL.value if all(s == Status.OPTIMAL.value for s in statuses) else \
            ",".join(dict.fromkeys(statuses))

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
            "input_crs": self.inputs.crs,
            "gcj02_converted": ", ".join(self.inputs.crs_converted) or "none",
            "distance_mode": self.distance_mode,
            "township_source": self.region.township_source or "estimated",
            "solver": f"HiGHS (highspy {pkg_version('highspy')}) via Pyomo {pkg_version('pyomo')}",
            "status": self.status(),
            "headline": self.headline(),
            "hard_rules_missed": len(self.unmet()),
            "notices": " | ".join(self.notices),
        }
        meta["input_sha256"] = {name: file_sha256(p) for name, p in self.inputs.files().items() if Path(p).is_file()}
        for name, r in self.results.items():
            meta[name] = {"status": r.status.value, "objective": r.objective, "gap": r.gap, **r.metadata}
        if self.joint is not None:
            meta["joint"] = self.joint.metadata(self.scenario.joint)
        if self.network_summary:
            meta["network"] = self.network_summary
        return meta

    def timings_record(self) -> dict[str, Any]:
        """Wall-clock facts of the run: seconds per stage and per tier's solve, and when it ran.

        Kept out of the GeoPackage and the report (those are byte-for-byte reproducible);
        written to ``<stem>_timings.json`` with ``gzcharge plan --timings``.
        """
        from datetime import UTC, datetime

        return {"finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "stages_s": {k: round(v, 3) for k, v in self.timings.items()},
                "solve_s": {name: round(r.seconds, 3) for name, r in self.results.items()}}

    def summary_rows(self) -> list[tuple[str, Any]]:
        """Key figures for the CLI's summary table."""
        rows: list[tuple[str, Any]] = [("headline", self.headline()),
                                       ("region", f"{self.region.name} ({self.region.code})"),
                                       ("distance mode", self.distance_mode),
                                       ("townships", self.region.township_source or "estimated (labelled)")]
        if self.joint is not None:
            rows += self.joint.summary_rows()
        for r in self.results.values():
            rows += r.summary
        return rows


def run_plan(
    region: Region,
    scenario: Scenario,
    inputs: PlanInputs | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Plan:
    """Run the scenario's tiers on a region.

    Every enabled tier (:data:`gzcharge.tiers.REGISTRY`) is prepared once; then each block is
    solved alone (one year) or, with ``joint.enabled``, all blocks together over the plan
    years (:func:`gzcharge.joint.plan_joint`); each tier assesses its part of the solution.

    Parameters
    ----------
    region
        The area (townships already attached with ``with_townships`` when a file was given).
    scenario
        Validated scenario.
    inputs
        Files and OSM options. With ``osm_file`` or ``online`` a road network is built and
        used for network distances (``distance.mode = "network"``) and the corridor tiers.
    progress
        ``progress(message, fraction)``.
    """
    from gzcharge.errors import ConfigError
    from gzcharge.tiers import all_tiers
    from gzcharge.tiers.base import PlanContext

    inputs = inputs or PlanInputs()
    say = progress or (lambda m, f: None)
    timings: dict[str, float] = {}
    notices: list[str] = []
    t0 = time.perf_counter()
    jp = scenario.joint
    tiers = [t for t in all_tiers() if t.enabled(scenario) and (not jp.enabled or t.name in jp.tiers)]
    notices += inputs.check(region)  # every input table read once, by meaning (header mappings, rows outside)

    network = pois = builtup = net_summary = None
    want_network = scenario.distance.mode == "network"
    has_osm = bool(inputs.osm_file or inputs.online)
    if want_network and not has_osm:
        raise ConfigError(
            "distance.mode = \"network\" needs road data: pass --osm-file FILE or --online "
            "(or --set distance.mode=\"screening\")"
        )
    settlements = any(t.uses_settlements for t in tiers)
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
        if settlements:
            # built-up areas (OSM landuse) spread city-core and county-seat demand over the real town shape
            t1 = time.perf_counter()
            builtup = inputs.osm_builtup(region.boundary)
            timings["osm_builtup"] = time.perf_counter() - t1
        if region.township_source is None and settlements:
            # township seats from OSM place nodes when no township file was given
            t1 = time.perf_counter()
            places = inputs.osm_pois(region.boundary, osm.TOWNSHIP_PLACE_TAGS)
            seats = osm.township_seats_from_pois(places, region.counties)
            if len(seats):
                region = region.with_townships(seats, source=f"osm:{len(seats)} place nodes")
                notices.append(msg("notes.osm_townships", n=len(seats)))
            else:
                notices.append(msg("notes.osm_no_townships"))
            timings["osm_townships"] = time.perf_counter() - t1
    distance_mode = "network" if network is not None and want_network else "screening"
    if network is not None and not want_network and settlements:
        notices.append(msg("notes.network_unused"))

    ctx = PlanContext(region=region, scenario=scenario, inputs=inputs, network=network,
                      distance_network=network if distance_mode == "network" else None, pois=pois, builtup=builtup,
                      year=scenario.ev.year, notices=notices, progress=say)
    n = max(len(tiers), 1)
    preps = []
    for k, tier in enumerate(tiers):
        say(f"{tier.name}: preparing", 0.3 + 0.2 * k / n)
        prep = tier.timed_prepare(ctx)
        timings[f"{tier.name}_prepare"] = prep.seconds
        notices += [msg("notes.tier", tier=tier.name, note=x) for x in dict.fromkeys(prep.notes)]
        if prep.skipped:
            notices.append(prep.skipped)
        preps.append(prep)

    results: dict[str, TierResult] = {}
    joint = None
    if jp.enabled:
        from gzcharge.joint import plan_joint

        say("joint plan of all tiers", 0.5)
        t1 = time.perf_counter()
        joint, results = plan_joint(ctx, tiers, preps)
        timings["joint"] = time.perf_counter() - t1
        notices += [msg("notes.joint", note=x) for x in joint.notes]
    else:
        for k, (tier, prep) in enumerate(zip(tiers, preps, strict=True)):
            say(f"{tier.name}: solving", 0.5 + 0.45 * k / n)
            t1 = time.perf_counter()
            results[tier.name] = tier.run(ctx, prep)
            timings[tier.name] = time.perf_counter() - t1
    from gzcharge.candidates import site_rules_section

    for prep in preps:  # the planner's site rules per tier, with what the forced sites cost in the plan
        sec = site_rules_section(prep, results[prep.tier]) if prep.tier in results else None
        if sec is not None:
            results[prep.tier].sections.append(sec)
    for r in results.values():
        notices += [msg("notes.tier", tier=r.tier, note=x) for x in dict.fromkeys(r.notes) if r.skipped is None]
    timings["total"] = time.perf_counter() - t0
    say("done", 1.0)
    return Plan(region=ctx.region, scenario=scenario, inputs=inputs, distance_mode=distance_mode, results=results,
                joint=joint, network_summary=net_summary, notices=list(dict.fromkeys(notices)), timings=timings)


def write_plan(plan: Plan, out: str | Path, *, report: bool = True, timings: bool = False, lang: str | None = None,
               qgis_project: bool = True) -> list[Path]:
    """Write the plan's GeoPackage, its QGIS project (``.qgz``) and, with ``report``, the report.

    The report (Markdown/HTML + PNG map + ``_tables.xlsx``) is in ``lang`` (``zh``/``en``;
    default Chinese for Guizhou regions); ``qgis_project=False`` leaves out the ``.qgz``.
    Returns the written paths. The files are one :class:`~gzcharge.export.outputs.OutputSet`:
    all are renamed into place together when every one is complete, or none is; files of the
    set that this run does not write (an earlier run's report or timings) are removed then.
    The GeoPackage, report and map are reproducible byte for byte; with ``timings`` the
    wall-clock facts go to ``<stem>_timings.json`` (:meth:`Plan.timings_record`).
    """
    import json

    from gzcharge.export.gpkg import write_geopackage
    from gzcharge.export.outputs import OutputSet, output_file

    out = Path(out)
    stem = out.with_suffix("")
    from gzcharge.export.i18n import check_lang, default_lang
    from gzcharge.export.qgz import write_qgz

    lang = check_lang(lang or default_lang(plan.region.code))
    family = [stem.with_name(stem.name + suffix)
              for suffix in ("_report.md", "_report.html", "_report.png", "_tables.xlsx", ".qgz", "_timings.json")]
    with OutputSet(replaces=family) as outputs:
        map_job = None
        if report:  # the map is drawn (in a child where possible) while the other files are written
            from gzcharge.export.plan_report import start_plan_map

            map_job = start_plan_map(plan, stem, lang=lang)
        try:
            t0 = time.perf_counter()
            write_geopackage(out, plan.layers(), metadata=plan.metadata(), metric_crs=plan.region.metric_crs)
            plan.timings["export_gpkg"] = time.perf_counter() - t0
            if qgis_project:
                write_qgz(out.with_suffix(".qgz"), out, title=f"{plan.region.name} — {plan.scenario.name}", lang=lang)
            if report:
                from gzcharge.export.plan_report import write_plan_report

                t0 = time.perf_counter()
                write_plan_report(plan, stem, lang=lang, map_job=map_job)
                plan.timings["export_report"] = time.perf_counter() - t0
            if timings:
                with output_file(family[-1]) as tmp:
                    tmp.write_text(json.dumps(plan.timings_record(), indent=2) + "\n", encoding="utf-8")
        except BaseException:
            if map_job is not None:  # no map child may outlive a failed set
                map_job.cancel()
            raise
    order = {p: k for k, p in enumerate([out, *family])}  # the GeoPackage first, then the family's order
    return sorted(outputs.paths, key=lambda p: order.get(p, len(order)))
