"""Command-line interface (typer).

Only this module prints and exits. Library code raises :class:`gzcharge.errors.GzchargeError`
subclasses; :func:`main` turns them into one clear line on stderr and the class's exit code
(full traceback only with ``--debug``). Heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import atexit
import gc
import logging
import sys

import typer

from gzcharge import __version__
from gzcharge.errors import GzchargeError

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="gzcharge",
    help="Charging-network siting for Guizhou: regions, OSM road networks and facility-location plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _escape(text: str) -> str:
    """Escape rich markup in user-facing text (e.g. ``[swap]`` in a message)."""
    from rich.markup import escape

    return escape(text)


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks and debug logging."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show info logging."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the gzcharge version and exit."),
) -> None:
    """gzcharge: plan public, highway, swap and hydrogen facilities for Guizhou."""
    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    from rich.logging import RichHandler

    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=_stderr(), show_path=False)])
    if not debug:
        # third-party chatter (Pyomo's solver log stream, dask) stays out of --verbose
        for name in ("pyomo", "distributed", "tornado", "bokeh", "fiona", "pyogrio", "matplotlib"):
            logging.getLogger(name).setLevel(logging.WARNING)


@app.command()
def version() -> None:
    """Print the gzcharge version."""
    typer.echo(__version__)


# --------------------------------------------------------------------------- shared helpers
class _Progress:
    """A rich progress bar driven by ``callback(message, fraction_done)`` calls."""

    def __init__(self, title: str, *, enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled and sys.stderr.isatty() or enabled == "force"
        self._progress = None
        self._task = None

    def __enter__(self) -> _Progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.fields[title]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=_stderr(),
            transient=False,
            disable=not sys.stderr.isatty(),
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("", total=1.0, title=self.title)
        return self

    def __call__(self, message: str, fraction: float | None = None) -> None:
        logger.info("%s: %s", self.title, message)
        if self._progress is not None:
            kw = {"description": message}
            if fraction is not None:
                kw["completed"] = max(0.0, min(1.0, float(fraction)))
            self._progress.update(self._task, **kw)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            if exc[0] is None:
                self._progress.update(self._task, completed=1.0)
            self._progress.__exit__(*exc)


def _resolve_region(
    name: str | None,
    *,
    boundary: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    crs: str = "wgs84",
    townships: str | None = None,
):
    """Region from a built-in name/adcode or a user boundary file, with optional township seats."""
    from gzcharge.errors import ConfigError
    from gzcharge.region import Region, get_region
    from gzcharge.sources.files import _check_crs_choice

    crs = _check_crs_choice(crs)
    if boundary and name:
        raise ConfigError("give either a region name or --boundary FILE, not both")
    if boundary:
        # default attribute names code / name; a file with names only gets derived codes (a warning says so)
        region = Region.from_file(boundary, code_field=code_field, name_field=name_field or "name", crs=crs)
    elif name:
        region = get_region(name)
    else:
        raise ConfigError("no region: give a name or adcode (e.g. 安顺市, 520400) or --boundary FILE")
    if townships:
        region = region.with_townships(townships, crs=crs)
    return region


class _SeenWarnings(logging.Handler):
    """Collects the warnings logged during a command, so its closing notes do not repeat them."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed log call must not break the command
            pass

    def __enter__(self) -> _SeenWarnings:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

    def already_shown(self, note: str) -> bool:
        """Whether ``note`` (possibly with a ``tier: `` prefix) was printed as a warning."""
        return any(m and (m == note or note.endswith(m)) for m in self.messages)


def _stdout():
    """Console for results: wide enough for Chinese county names when piped to a file."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _summary_table(title: str, rows: list[tuple[str, object]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    for k, v in rows:
        table.add_row(str(k), f"{v:,.1f}" if isinstance(v, float) else str(v))
    _stdout().print(table)


def _check_out(out: str, *, suffix: str = ".gpkg") -> None:
    """Fail before any work when the output cannot be written (folder missing/not writable, wrong suffix)."""
    import os
    from pathlib import Path

    from gzcharge.errors import ConfigError, ExportError

    p = Path(out)
    if suffix and p.suffix.lower() != suffix:
        raise ConfigError(f"--out {out}: the output is a GeoPackage; give a file name ending in {suffix}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write {out}: folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {out}: folder {folder} is not writable")
    if p.is_dir():
        raise ExportError(f"cannot write {out}: it is a folder")


def _check_timeout(timeout: float | None) -> None:
    """Refuse a non-positive, infinite or absurd ``--timeout`` before any work."""
    if timeout is not None:
        from gzcharge.sources.osm import check_timeout

        check_timeout(timeout)


_OUT_HELP = "Output GeoPackage (written atomically; opens styled in QGIS)."
_CRS_HELP = ("Coordinate system of input files: wgs84 (default; OSM, GPS), gcj02 (Amap/DataV/Tencent), bd09 (Baidu) "
             "or a projected EPSG:<code> (x/y columns in metres).")


@app.command()
def region(
    name: str = typer.Argument(None, help="Prefecture, county or province: name (安顺市, 安顺, anshun) or adcode."),
    out: str = typer.Option(..., "--out", "-o", help=_OUT_HELP),
    boundary: str = typer.Option(None, "--boundary", help="User boundary file (GPKG/GeoJSON/SHP) instead of a built-in region."),
    code_field: str = typer.Option(None, "--code-field", help="Code attribute of --boundary features (default: code)."),
    name_field: str = typer.Option(None, "--name-field", help="Name attribute of --boundary features (default: name)."),
    townships: str = typer.Option(None, "--townships", help="Township seats (CSV/GPKG: code, name, county_adcode, lon, lat)."),
    crs: str = typer.Option("wgs84", "--crs", help=_CRS_HELP),
) -> None:
    """Write a region's boundary, counties (2020 census) and settlements to a GeoPackage."""
    from gzcharge.export.gpkg import write_geopackage

    _check_out(out)
    with _Progress("region") as say:
        say("loading region", 0.1)
        reg = _resolve_region(name, boundary=boundary, code_field=code_field, name_field=name_field,
                              crs=crs, townships=townships)
        say("writing GeoPackage", 0.6)
        layers = reg.to_layers()
        write_geopackage(out, layers, metric_crs=reg.metric_crs,
                         metadata={"command": "region", "region": reg.name, "region_code": reg.code,
                                   "township_source": reg.township_source or "none"})
    kinds = reg.settlements["kind"].value_counts()
    _summary_table(
        f"{reg.name} ({reg.code}) → {out}",
        [("counties", len(reg.counties)), ("population 2020", f"{int(reg.pop_total):,}"),
         ("county seats", int(kinds.get("county_seat", 0))), ("townships", int(kinds.get("township", 0))),
         ("townships note", reg.township_note or reg.township_source), ("metric CRS", reg.metric_crs)],
    )


@app.command()
def network(
    region_name: str = typer.Option(None, "--region", "-r", help="Built-in region name or adcode (e.g. 安顺市)."),
    out: str = typer.Option(..., "--out", "-o", help=_OUT_HELP),
    osm_file: str = typer.Option(None, "--osm-file", help="Local OSM extract (.osm, .osm.bz2, .osm.pbf) covering the region."),
    online: bool = typer.Option(False, "--online", help="Download roads from Overpass (cached under the user cache dir)."),
    endpoint: str = typer.Option(None, "--endpoint", help="Overpass API URL (default: overpass-api.de)."),
    timeout: float = typer.Option(None, "--timeout", help="Overpass request timeout in seconds."),
    boundary: str = typer.Option(None, "--boundary", help="User boundary file instead of a built-in region."),
    code_field: str = typer.Option(None, "--code-field", help="Code attribute of --boundary features (default: code)."),
    name_field: str = typer.Option(None, "--name-field", help="Name attribute of --boundary features (default: name)."),
    crs: str = typer.Option("wgs84", "--crs", help=_CRS_HELP),
    metric_crs: str = typer.Option(None, "--metric-crs", help="Projected CRS for distances (default: Gauss-Krüger zone of the region)."),
) -> None:
    """Build the drivable road graph of a region from OSM and write nodes, edges and expressways."""
    from gzcharge.export.gpkg import write_geopackage
    from gzcharge.network import build_network
    from gzcharge.sources.osm import DEFAULT_BUFFER_M

    _check_out(out)
    _check_timeout(timeout)
    with _Progress("network") as say:
        say("loading region", 0.02)
        reg = _resolve_region(region_name, boundary=boundary, code_field=code_field, name_field=name_field, crs=crs)
        net = build_network(
            reg.boundary, crs=metric_crs or (reg.metric_crs if reg.kind != "custom" else None),
            osm_file=osm_file, online=online, endpoint=endpoint, timeout_s=timeout,
            progress=lambda m, f: say(m, 0.05 + 0.75 * (f or 0.0)),
        )
        say("writing GeoPackage", 0.85)
        layers = {"boundary": reg.to_layers()["boundary"], **net.layers()}
        write_geopackage(out, layers, metric_crs=net.crs,
                         metadata={"command": "network", "region": reg.name, **{f"network.{k}": v for k, v in net.summary().items()}})
    s = net.summary()
    _summary_table(
        f"road network of {reg.name} → {out}",
        [("nodes", s["nodes"]), ("edges", s["edges"]), ("length km", s["length_km"]),
         ("expressway km", s["expressway_km"]), ("components", s["components"]),
         ("largest component share", f"{s['largest_component_share']:.1%}"), ("CRS", s["crs"]), ("source", s["source"]),
         ("area", f"the boundary plus a {DEFAULT_BUFFER_M / 1000:g} km buffer (roads that leave and re-enter stay connected)")],
    )


def _crs_key(crs: str) -> str:
    from gzcharge.sources.files import _check_crs_choice

    return _check_crs_choice(crs)


def _tier_overrides(tiers: str | None) -> list[str]:
    """``--tiers public,swap`` as ``tiers.*`` scenario overrides."""
    if not tiers:
        return []
    from gzcharge.errors import ConfigError

    wanted = {t.strip() for t in tiers.split(",") if t.strip()}
    known = {"public", "highway", "swap", "hydrogen"}
    if not wanted or not wanted <= known:
        raise ConfigError(f"--tiers {tiers!r}: unknown tier(s) {sorted(wanted - known)}; choose from {sorted(known)}")
    return [f"tiers.{t}={'true' if t in wanted else 'false'}" for t in sorted(known)]


#: which tiers read each tier-specific input option (the highway corridors feed the hydrogen tier too)
_INPUT_TIERS = {"--existing": ("public",), "--expressways": ("highway", "hydrogen"),
                "--service-areas": ("highway", "hydrogen"), "--existing-fast": ("highway", "hydrogen"),
                "--od": ("highway", "hydrogen"), "--fleets": ("swap",), "--h2-sources": ("hydrogen",),
                "--freight-od": ("hydrogen",)}


def _unused_inputs(scen, given: dict[str, str | None]) -> list[str]:
    """Notices for input options given although no tier that reads them runs."""
    on = {t for t in _INPUT_TIERS["--od"] + ("public", "swap") if getattr(scen.tiers, t, False)}
    out = []
    for flag, path in given.items():
        readers = _INPUT_TIERS[flag]
        if path and not on & set(readers):
            out.append(f"{flag} {path} was not used: only the {' or '.join(readers)} tier reads it, and "
                       f"{'it does' if len(readers) == 1 else 'they do'} not run (tiers run: {', '.join(sorted(on)) or 'none'})")
    return out


def _plan_region(prefecture, province, county, boundary, code_field, name_field, crs, townships):
    """The region of a plan command and the packaged scenario that suits it."""
    from gzcharge.errors import ConfigError
    from gzcharge.scenario import default_scenario_path

    chosen = [x for x in (prefecture, county, boundary) if x] + (["province"] if province else [])
    if len(chosen) != 1:
        raise ConfigError("choose exactly one area: --prefecture NAME, --county NAME, --province or --boundary FILE")
    name = prefecture or county or ("贵州省" if province else None)
    reg = _resolve_region(name, boundary=boundary, code_field=code_field, name_field=name_field,
                          crs=crs, townships=townships)
    if reg.kind == "province":
        default = default_scenario_path(None).with_name("province.toml")
    elif reg.kind in ("prefecture", "county"):
        default = default_scenario_path(str(reg.code))
    else:
        default = default_scenario_path(None)
    return reg, default


@app.command()
def plan(
    out: str = typer.Option(..., "--out", "-o", help=_OUT_HELP + " A report (.md, .html, .png) is written beside it."),
    prefecture: str = typer.Option(None, "--prefecture", "-p", help="Prefecture name or adcode (安顺市, 安顺, 520400)."),
    province: bool = typer.Option(False, "--province", help="Plan the whole province (all 9 prefectures)."),
    county: str = typer.Option(None, "--county", help="One county (name or adcode)."),
    boundary: str = typer.Option(None, "--boundary", help="User boundary file (GPKG/GeoJSON/SHP)."),
    code_field: str = typer.Option(None, "--code-field", help="Code attribute of --boundary features (default: code)."),
    name_field: str = typer.Option(None, "--name-field", help="Name attribute of --boundary features (default: name)."),
    scenario: str = typer.Option(None, "--scenario", "-s", help="Scenario TOML (default: the packaged one of the area, see models/)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a scenario key, e.g. --set public.township_radius_km=5 (repeatable)."),
    townships: str = typer.Option(None, "--townships", help="Township seats CSV/GPKG (code, name, county_adcode, lon, lat); else estimated, labelled."),
    existing: str = typer.Option(None, "--existing", help="Existing public charging stations: a station list (name, lon, lat[, plugs, kw]) or a gridded count (lat, lon, count); kept open, counted toward every rule."),
    existing_crs: str = typer.Option(None, "--existing-crs", help="Coordinate system of --existing when it differs from --crs (wgs84, gcj02, bd09, EPSG:<code>)."),
    osm_file: str = typer.Option(None, "--osm-file", help="Local OSM extract (.osm/.osm.bz2/.osm.pbf): road network, POIs, expressways."),
    online: bool = typer.Option(False, "--online", help="Download OSM data from Overpass (cached)."),
    endpoint: str = typer.Option(None, "--endpoint", help="Overpass API URL."),
    timeout: float = typer.Option(None, "--timeout", help="Overpass request timeout in seconds."),
    expressways: str = typer.Option(None, "--expressways", help="Expressway line layer (GPKG/SHP/GeoJSON) for the highway tier."),
    service_areas: str = typer.Option(None, "--service-areas", help="Service areas CSV (name, lon, lat[, existing]) for the highway tier."),
    existing_fast: str = typer.Option(None, "--existing-fast", help="Existing highway fast-charging sites CSV (name, lon, lat)."),
    od: str = typer.Option(None, "--od", help="OD flows CSV (origin, destination, flow) replacing the gravity model."),
    fleets: str = typer.Option(None, "--fleets", help="Fleet file (CSV/TOML) for battery-swap demand; else per-capita defaults."),
    h2_sources: str = typer.Option(None, "--h2-sources", help="Hydrogen sources CSV (name, lon, lat, kind) for the supply rule."),
    freight_od: str = typer.Option(None, "--freight-od", help="Freight OD CSV (origin, destination, flow = heavy trucks/day) for the hydrogen tier."),
    tiers: str = typer.Option(None, "--tiers", help="Comma-separated tiers to run (public, highway, swap, hydrogen); default: the scenario's [tiers]."),
    crs: str = typer.Option("wgs84", "--crs", help=_CRS_HELP),
    candidates: str = typer.Option(None, "--candidates", help="Planner's sites (CSV/XLSX/GPKG: lon, lat[, site_id, name, role = candidate/required/forbidden, tier, plugs, cost_cny]); every tier honours them."),
    exclude: str = typer.Option(None, "--exclude", help="Exclusion polygons (GPKG/GeoJSON/SHP: 生态保护红线, 永久基本农田, water …): no new site inside."),
    strict: bool = typer.Option(False, "--strict", help="Input rows outside the region are an error (default: dropped with a notice)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Also write the Markdown/HTML report with a PNG map and an .xlsx of its tables."),
    joint: bool = typer.Option(False, "--joint", help="One model over all tiers with shared budget/sites and phasing by year (scenario [joint])."),
    timings: bool = typer.Option(False, "--timings", help="Also write <out stem>_timings.json (seconds per stage, wall-clock time); the GeoPackage and report are reproducible byte for byte and carry none."),
    lang: str = typer.Option(None, "--lang", help="Report language: zh (中文规划说明; default for Guizhou regions) or en."),
) -> None:
    """Plan charging facilities for an area and write a styled GeoPackage plus a report."""
    from gzcharge.export.i18n import check_lang
    from gzcharge.plan import PlanInputs, run_plan, write_plan
    from gzcharge.scenario import load_scenario

    if lang is not None:
        check_lang(lang)
    overrides = list(set_) + _tier_overrides(tiers) + (["joint.enabled=true"] if joint else [])
    _check_out(out)
    _check_timeout(timeout)
    with _SeenWarnings() as seen, _Progress("plan") as say:
        say("loading region and scenario", 0.01)
        reg, default_scen = _plan_region(prefecture, province, county, boundary, code_field, name_field, crs, townships)
        scen = load_scenario(scenario or default_scen, overrides=overrides)
        inputs = PlanInputs(osm_file=osm_file, online=online, endpoint=endpoint, timeout_s=timeout,
                            townships=townships, existing_stations=existing, expressways=expressways,
                            service_areas=service_areas, existing_fast=existing_fast, od_file=od,
                            fleets=fleets, h2_sources=h2_sources, freight_od=freight_od, candidates=candidates,
                            exclude=exclude, crs=_crs_key(crs), strict=strict,
                            existing_crs=_crs_key(existing_crs) if existing_crs else None,
                            scenario_file=str(scenario or default_scen), overrides=overrides,
                            crs_converted=[n for n, f, c in (("boundary", boundary, crs), ("townships", townships, crs),
                                                             ("existing", existing, existing_crs or crs),
                                                             ("candidates", candidates, crs), ("exclude", exclude, crs))
                                           if f and _crs_key(c) in ("gcj02", "bd09")])
        unused = _unused_inputs(scen, {"--existing": existing, "--expressways": expressways, "--service-areas": service_areas,
                                       "--existing-fast": existing_fast, "--od": od, "--fleets": fleets,
                                       "--h2-sources": h2_sources, "--freight-od": freight_od})
        result = run_plan(reg, scen, inputs, progress=lambda m, f: say(m, 0.02 + 0.88 * (f or 0.0)))
        result.notices += unused
        if not result.planned_anything():
            from gzcharge.errors import DataError

            raise DataError("nothing was planned: " + "; ".join(result.notices or ["every tier is switched off"]))
        say("writing GeoPackage and report", 0.92)
        written = write_plan(result, out, report=report, timings=timings, lang=lang)
    _print_plan_summary(result, written, seen)


@app.command()
def highway(
    out: str = typer.Option(..., "--out", "-o", help=_OUT_HELP),
    prefecture: str = typer.Option(None, "--prefecture", "-p", help="Prefecture name or adcode."),
    province: bool = typer.Option(False, "--province", help="The whole province (corridors across prefecture borders)."),
    county: str = typer.Option(None, "--county", help="One county (name or adcode)."),
    boundary: str = typer.Option(None, "--boundary", help="User boundary file (GPKG/GeoJSON/SHP)."),
    code_field: str = typer.Option(None, "--code-field", help="Code attribute of --boundary features (default: code)."),
    name_field: str = typer.Option(None, "--name-field", help="Name attribute of --boundary features (default: name)."),
    scenario: str = typer.Option(None, "--scenario", "-s", help="Scenario TOML (default: the packaged one of the area)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override a scenario key, e.g. --set highway.max_gap_km=40."),
    osm_file: str = typer.Option(None, "--osm-file", help="Local OSM extract with the expressways (motorway/trunk)."),
    online: bool = typer.Option(False, "--online", help="Download OSM data from Overpass (cached)."),
    endpoint: str = typer.Option(None, "--endpoint", help="Overpass API URL."),
    timeout: float = typer.Option(None, "--timeout", help="Overpass request timeout in seconds."),
    expressways: str = typer.Option(None, "--expressways", help="Expressway line layer (GPKG/SHP/GeoJSON)."),
    service_areas: str = typer.Option(None, "--service-areas", help="Service areas CSV (name, lon, lat[, existing])."),
    existing_fast: str = typer.Option(None, "--existing-fast", help="Existing fast-charging sites CSV (name, lon, lat)."),
    od: str = typer.Option(None, "--od", help="OD flows CSV (origin, destination, flow)."),
    crs: str = typer.Option("wgs84", "--crs", help=_CRS_HELP),
    report: bool = typer.Option(True, "--report/--no-report", help="Also write the report with a map."),
    lang: str = typer.Option(None, "--lang", help="Report language: zh (default for Guizhou regions) or en."),
) -> None:
    """Plan the highway fast-charging tier only (same as `gzcharge plan --tiers highway`)."""
    plan(out=out, prefecture=prefecture, province=province, county=county, boundary=boundary,
         code_field=code_field, name_field=name_field, scenario=scenario, set_=set_, townships=None,
         existing=None, osm_file=osm_file, online=online, endpoint=endpoint, timeout=timeout,
         expressways=expressways, service_areas=service_areas, existing_fast=existing_fast, od=od,
         fleets=None, h2_sources=None, freight_od=None, tiers="highway", crs=crs, candidates=None, exclude=None,
         strict=False, report=report, joint=False, lang=lang)


def _print_plan_summary(result, written, seen: _SeenWarnings | None = None) -> None:
    from rich.table import Table

    console = _stdout()
    if result.unmet():
        _stderr().print(f"[bold red]{_escape(result.headline())}[/]", highlight=False, soft_wrap=True)
    _summary_table(f"plan {result.region.name} — scenario {result.scenario.name}", result.summary_rows())
    if result.public is not None:
        pub = result.public
        counties = pub.counties
        spec = [("name", "county", "{}"), ("stations", "stations", "{:.0f}"), ("stations_new", "new", "{:.0f}"),
                ("plugs", "plugs", "{:.0f}"), ("city_coverage_pct", "city %", "{:.1f}"),
                ("county_coverage_pct", "county seat %", "{:.1f}"), ("township_coverage_pct", "township %", "{:.1f}"),
                ("plugs_per_1000_evs", "plugs/1k EVs", "{:.1f}"), ("cost_cny", "cost (M CNY)", "{:.2f}"),
                ("unmet_targets", "unmet targets", "{}")]
        spec = [x for x in spec if x[0] in counties.columns]
        table = Table(title="public stations by county (coverage by tier)")
        for _, head, _ in spec:
            table.add_column(head, overflow="fold")
        for _, row in counties.iterrows():
            cells = []
            for col, _, fmt in spec:
                v = row[col]
                if col == "cost_cny":
                    v = v / 1e6
                cells.append("–" if v is None or (isinstance(v, float) and v != v) else fmt.format(v))
            table.add_row(*cells)
        console.print(table)
    for n in result.notices:
        if seen is not None and seen.already_shown(n):
            continue  # printed once already, as a warning while it happened
        _stderr().print(f"[yellow]note:[/] {_escape(n)}", highlight=False, soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in written))
    t = result.timings
    console.print("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))


@app.command()
def compare(
    a: str = typer.Argument(..., help="Plan GeoPackage A (the baseline)."),
    b: str = typer.Argument(..., help="Plan GeoPackage B (the variant)."),
    out: str = typer.Option(..., "--out", "-o", help="Comparison GeoPackage (styled change layers + summary)."),
    allow_different_regions: bool = typer.Option(False, "--allow-different-regions", help="Compare plans of different areas anyway."),
    report: bool = typer.Option(True, "--report/--no-report", help="Also write the comparison report (.md/.html with a diff map, .xlsx) and a QGIS project."),
    lang: str = typer.Option(None, "--lang", help="Report language: zh (default for Guizhou regions) or en."),
) -> None:
    """Compare two plans: added/removed/resized sites, coverage change per county and tier, cost change."""
    from pathlib import Path

    from gzcharge.compare import (
        compare_plans,
        comparison_tables,
        write_comparison,
        write_comparison_report,
    )
    from gzcharge.export.i18n import check_lang, default_lang
    from gzcharge.export.outputs import OutputSet
    from gzcharge.export.qgz import write_qgz

    _check_out(out)
    with _Progress("compare") as say:
        say("reading plans", 0.1)
        c = compare_plans(a, b, allow_different_regions=allow_different_regions)
        say("writing GeoPackage", 0.7)
        stem = Path(out).with_suffix("")
        family = [stem.with_name(stem.name + s) for s in (".qgz", "_report.md", "_report.html", "_report.png",
                                                           "_tables.xlsx")]
        with OutputSet(replaces=family) as outputs:  # the GeoPackage, project and report: all or none
            write_comparison(c, out)
            if report:
                lang = check_lang(lang or default_lang(c.b_meta.get("region_code")))
                say("writing report", 0.8)
                write_qgz(stem.with_suffix(".qgz"), out, title=f"compare {Path(a).name} → {Path(b).name}", lang=lang)
                write_comparison_report(c, stem, lang=lang)
        written = outputs.paths
    console = _stdout()
    for t in comparison_tables(c):
        console.print(t)
    for n in c.notes:
        _stderr().print(f"[yellow]note:[/] {_escape(n)}", highlight=False, soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
def sweep(
    out: str = typer.Option(..., "--out", "-o", help="Output folder: one GeoPackage per run, sweep_summary.csv, sweep_tradeoff.png."),
    vary: list[str] = typer.Option(..., "--vary", metavar="KEY=V1,V2", help="KEY=v1,v2,… (repeatable; the grid is their product). Budgets may be relative: public.budget_cny=*0.7,*1.0"),
    prefecture: str = typer.Option(None, "--prefecture", "-p", help="Prefecture name or adcode."),
    province: bool = typer.Option(False, "--province", help="The whole province."),
    county: str = typer.Option(None, "--county", help="One county (name or adcode)."),
    scenario: str = typer.Option(None, "--scenario", "-s", help="Base scenario TOML (default: the packaged one of the area)."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override applied to every run (repeatable)."),
    townships: str = typer.Option(None, "--townships", help="Township seats CSV/GPKG."),
    existing: str = typer.Option(None, "--existing", help="Existing public stations CSV."),
    fleets: str = typer.Option(None, "--fleets", help="Fleet file for the swap tier."),
    osm_file: str = typer.Option(None, "--osm-file", help="Local OSM extract."),
    tiers: str = typer.Option(None, "--tiers", help="Comma-separated tiers (public, highway, swap, hydrogen)."),
    workers: int = typer.Option(2, "--workers", help="Local dask workers (processes)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Existing dask scheduler (tcp://host:8786); default $GZCHARGE_SCHEDULER or a local cluster; 'inprocess' runs serially."),
) -> None:
    """Run a grid of scenario what-ifs in parallel (dask) and tabulate cost against coverage."""
    from gzcharge.errors import ConfigError
    from gzcharge.sweep import sweep as run_sweep
    from gzcharge.sweep import sweep_table

    chosen = [x for x in (prefecture, county) if x] + (["province"] if province else [])
    if len(chosen) != 1:
        raise ConfigError("choose exactly one area: --prefecture NAME, --county NAME or --province")
    overrides = list(set_) + _tier_overrides(tiers)
    name = prefecture or county or "贵州省"
    import logging as _logging

    for noisy in ("distributed", "tornado", "bokeh"):  # dask's own INFO chatter
        _logging.getLogger(noisy).setLevel(_logging.WARNING if not logger.isEnabledFor(_logging.DEBUG) else _logging.DEBUG)
    inputs = {k: v for k, v in {"existing_stations": existing, "osm_file": osm_file, "fleets": fleets}.items() if v}
    with _Progress("sweep") as say:
        df = run_sweep(name, scenario, vary, out, scheduler=scheduler, workers=workers, base_overrides=overrides,
                       townships=townships, plan_inputs=inputs, progress=say)
    _stdout().print(sweep_table(df))
    _stdout().print("wrote " + ", ".join(str(f) for f in df.attrs.get("files", [out])))


class Interrupted(BaseException):
    """SIGINT or SIGTERM, raised in the main thread so that open output sets clean up.

    A ``BaseException`` (not ``KeyboardInterrupt``) so that click does not turn it into
    "Aborted!" and library ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame) -> None:
    raise Interrupted(signum)


def _install_signal_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (temporaries removed, conventional exit code)."""
    import signal

    old: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread (e.g. called from a test runner thread)
            pass
    return old


def _interrupted_message(signum: int) -> str:
    import signal

    from gzcharge.export.outputs import committed

    name = signal.Signals(signum).name
    done = committed()
    if done:
        return f"interrupted ({name}) after writing {', '.join(map(str, done))}"
    return f"interrupted ({name}) — nothing written (existing output files are unchanged)"


def _warning_lines(caught) -> list[str]:
    """Library warnings as one short line each (no file paths), without repeats."""
    lines = []
    for w in caught:
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        lines.append(f"{w.category.__name__}: {text}")
    return list(dict.fromkeys(lines))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gzcharge`` console script.

    Exit codes: 0 success, the :class:`~gzcharge.errors.GzchargeError` class's code (2–7),
    130 on SIGINT / 143 on SIGTERM (128 + signal number; output temporaries removed), 70 on
    an internal error. Library warnings are collected while the command runs: after an error
    only the one-line error is printed (warnings with ``--debug``); after success each warning
    is one ``warning:`` line.
    """
    import warnings

    from gzcharge.export.outputs import forget_committed

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if argv is None:  # the process's entry point: fewer garbage collections, none at exit
        # A prefecture plan spent ~1.1 s in the cyclic GC, most of it in 5 full collections that
        # walk every live object (imported libraries, Pyomo models); gen-0 after 10,000 instead of
        # 700 net allocations: 0.4 s and no full one. The cost: cyclic garbage lives longer (a
        # full collection after ~1 M container allocations instead of ~70 k); acyclic objects,
        # numpy arrays and frames included, are still freed at once by reference counting.
        gc.set_threshold(10_000, *gc.get_threshold()[1:])
        # The interpreter's last collections visit every object left (~0.7 s after a prefecture
        # plan); frozen ones are left to the OS. atexit runs this after the handlers registered
        # later (LIFO), and the outputs are closed by then.
        atexit.register(gc.freeze)
    forget_committed()
    old_handlers = _install_signal_handlers()
    caught: list = []
    code = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                app(args=args, prog_name="gzcharge")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except GzchargeError as exc:
        if debug:
            for line in _warning_lines(caught):
                _stderr().print(f"[yellow]warning:[/] {_escape(line)}", highlight=False, soft_wrap=True)
            raise
        _stderr().print(f"[bold red]error:[/] {_escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (Interrupted, KeyboardInterrupt) as exc:
        import signal

        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        _stderr().print(_escape(_interrupted_message(signum)), highlight=False, soft_wrap=True)
        sys.exit(128 + int(signum))
    except Exception as exc:  # a bug, not a user error
        if debug:
            raise
        _stderr().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {_escape(str(exc))} (rerun with --debug for the traceback "
            "and report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(70)
    finally:
        import signal

        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    if code == 0:
        for line in _warning_lines(caught):
            _stderr().print(f"[yellow]warning:[/] {_escape(line)}", highlight=False, soft_wrap=True)
    sys.exit(code)
