"""Scenario sweeps: run a grid of ``--set`` overrides in parallel on dask and summarise them.

:func:`sweep` takes ``--vary key=v1,v2,...`` strings, builds their Cartesian grid, checks every
combination with the scenario loader before anything runs (a typo or an invalid value fails
at once), runs one plan per combination on a dask cluster and writes

* ``run_NNN_<slug>.gpkg`` — each run's plan GeoPackage (no report),
* ``sweep_summary.csv`` — one row per run: overrides, status, gap, stations, plugs, cost,
  coverage per tier, unmet targets, seconds (written atomically, in run order),
* ``sweep_tradeoff.png`` — total cost against EV-weighted coverage, each point labelled by its
  varied values, the cost-efficient runs joined.

Runs that fail (an :class:`~gzcharge.errors.InfeasibleError` for a budget the targets cannot
fit, any other error) become rows with ``status`` ``infeasible``/``error`` and the message;
the sweep goes on.

Cluster
-------
``scheduler=None`` uses the address in the environment variable ``GZCHARGE_SCHEDULER`` when
set, else starts a ``LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)``
for the sweep and closes it afterwards. ``scheduler="tcp://host:8786"`` connects to an
existing cluster (its workers need gzcharge installed and must see the same paths: the
output folder, scenario and input files). ``scheduler="inprocess"`` runs the grid serially in
this process (no dask). Workers receive plain data only — region name, file paths and
override strings — and import gzcharge themselves; nothing heavy is pickled.

Relative budgets
----------------
``public.budget_cny=*0.7,*1.0`` gives budgets as factors of the cost of the *base* plan: the
scenario with ``base_overrides`` solved once in ``min_cost`` mode without budget or station
cap (one extra run before the grid; its cost is reported in ``budget_reference_cny``). Only
``public.budget_cny`` takes relative values. Absolute and relative values can be mixed.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gzcharge.errors import ConfigError, GzchargeError, InfeasibleError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["SCHEDULER_ENV", "SUMMARY_NAME", "PLOT_NAME", "parse_vary", "plan_row", "sweep", "sweep_table"]

SCHEDULER_ENV = "GZCHARGE_SCHEDULER"
SUMMARY_NAME = "sweep_summary.csv"
PLOT_NAME = "sweep_tradeoff.png"
INPROCESS = "inprocess"
RELATIVE_KEYS = ("public.budget_cny",)
_PLAN_INPUT_FIELDS = ("osm_file", "online", "endpoint", "timeout_s", "existing_stations", "expressways",
                      "service_areas", "existing_fast", "od_file", "fleets", "h2_sources")
_FILE_INPUTS = ("osm_file", "existing_stations", "expressways", "service_areas", "existing_fast", "od_file",
                "fleets", "h2_sources")
ProgressCallback = Callable[[str, float], None]


# =========================================================================== parsing
def _split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` at top-level commas (not inside ``[]``, ``{}`` or quotes)."""
    out, cur, depth, quote = [], [], 0, ""
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_vary(varies: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Parse ``--vary key=v1,v2,...`` strings into ``[(key, [v1, v2, ...]), ...]``.

    Raises
    ------
    ConfigError
        Malformed text, an empty value, a key given twice, or a relative value (``*0.7``) for
        a key other than ``public.budget_cny`` or with a factor that is not a positive number.
    """
    if isinstance(varies, str):
        varies = [varies]
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for item in varies:
        if "=" not in item:
            raise ConfigError(f"--vary {item!r}: expected section.key=v1,v2,... e.g. public.township_radius_km=5,8,10")
        key, _, raw = item.partition("=")
        key = key.strip()
        values = _split_values(raw)
        if not key or any(v == "" for v in values):
            raise ConfigError(f"--vary {item!r}: empty key or value; expected section.key=v1,v2,...")
        if key in seen:
            raise ConfigError(f"--vary {key} is given twice; list all its values in one --vary")
        seen.add(key)
        if len(set(values)) != len(values):
            raise ConfigError(f"--vary {item!r}: repeated value")
        for v in values:
            if v.startswith("*"):
                if key not in RELATIVE_KEYS:
                    raise ConfigError(f"--vary {key}={v}: relative values (*factor) work only for "
                                      f"{', '.join(RELATIVE_KEYS)}")
                try:
                    factor = float(v[1:])
                except ValueError:
                    factor = math.nan
                if not (math.isfinite(factor) and factor > 0):
                    raise ConfigError(f"--vary {key}={v}: the factor after * must be a number > 0, e.g. *0.7")
        out.append((key, values))
    if not out:
        raise ConfigError("nothing to sweep: give at least one --vary section.key=v1,v2,...")
    return out


def _slug(combo: Sequence[tuple[str, str]], limit: int = 60) -> str:
    parts = []
    for key, value in combo:
        v = value.replace("*", "x")
        v = re.sub(r"[^A-Za-z0-9.+-]+", "", v) or "v"
        parts.append(f"{key.rpartition('.')[2]}-{v}")
    s = "_".join(parts)
    return s[:limit].rstrip("_-") or "run"


# =========================================================================== worker side
def _resolve_region(spec: Mapping[str, Any]):
    """Region from a plain spec (name or boundary file), with township seats when given."""
    from gzcharge.region import Region, get_region

    crs = spec.get("crs", "wgs84")
    if spec.get("boundary"):
        region = Region.from_file(spec["boundary"], code_field=spec["code_field"], name_field=spec["name_field"],
                                  crs=crs)
    else:
        region = get_region(spec["name"])
    if spec.get("townships"):
        region = region.with_townships(spec["townships"], crs=crs)
    return region


def _gap(plan: Any) -> float:
    """Largest relative gap over the tiers that ran (NaN when none reports one)."""
    gaps = [float(r.gap) for r in plan.ran() if r.gap is not None and math.isfinite(float(r.gap))]
    return max(gaps) if gaps else math.nan


def plan_row(plan: Any) -> dict[str, Any]:
    """Key figures of a finished plan (one row of the sweep summary), from its layers."""
    import pandas as pd

    from gzcharge.compare import tier_coverage

    layers = plan.layers()
    row: dict[str, Any] = {"solver_status": plan.status(), "gap": _gap(plan)}
    st = layers.get("public_stations")
    if st is not None:
        row["stations"] = len(st)
        row["stations_new"] = int((st["status"] == "new").sum()) if "status" in st else len(st)
        row["plugs"] = int(st["plugs"].sum())
        row["cost_cny"] = float(st["cost_cny"].sum())
    total = 0.0
    for name in ("highway_stations", "swap_stations", "hydrogen_stations"):
        f = layers.get(name)
        if f is not None:
            row[name] = len(f)
            if "cost_cny" in f:
                row[f"{name.removesuffix('_stations')}_cost_cny"] = float(f["cost_cny"].sum())
    for name in ("public_stations", "highway_stations", "swap_stations", "hydrogen_stations"):
        f = layers.get(name)
        if f is not None and "cost_cny" in f:
            total += float(pd.to_numeric(f["cost_cny"], errors="coerce").fillna(0).sum())
    row["total_cost_cny"] = total
    # the swap tier's cost does not move with public budgets or radii: without it, budget variants differ visibly
    row["cost_excl_swap_cny"] = total - row.get("swap_cost_cny", 0.0)
    cov = tier_coverage(layers.get("demand_points"))
    for t in ("city", "county", "township"):
        row[f"coverage_{t}_pct"] = cov.get(t, math.nan)
    row["coverage_pct"] = cov.get("all", math.nan)
    tw = layers.get("townships")
    if tw is not None and "covered" in tw:
        row["townships_covered"] = int(tw["covered"].fillna(False).astype(bool).sum())
        row["townships_total"] = len(tw)
    pub = plan.public
    row["unmet_count"] = len(pub.unmet) if pub is not None else 0
    row["unmet"] = " | ".join(pub.unmet) if pub is not None else ""
    return row


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one plan of the grid (on a worker); never raises — failures become the row's status."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"run": job["run"], "status": "ok", "error": ""}
    try:
        from gzcharge.plan import PlanInputs, run_plan, write_plan
        from gzcharge.scenario import load_scenario

        region = _resolve_region(job["region"])
        scen = load_scenario(job["scenario"], overrides=job["overrides"])
        if job.get("reference"):
            scen.public.mode = "min_cost"
            scen.public.budget_cny = None
            scen.public.max_stations = None
        inputs = PlanInputs(**job["inputs"], townships=job["region"].get("townships"),
                            scenario_file=job["scenario"], overrides=list(job["overrides"]))
        plan = run_plan(region, scen, inputs)
        row.update(plan_row(plan))
        if job.get("out"):
            write_plan(plan, job["out"], report=False, qgis_project=False)
            row["gpkg"] = Path(job["out"]).name
    except InfeasibleError as exc:
        row.update(status="infeasible", error=str(exc))
    except GzchargeError as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug: keep the sweep going, report it
        logger.exception("sweep run %s failed", job["run"])
        row.update(status="error", error=f"internal error {type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


# =========================================================================== execution
def _quiet_dask() -> None:
    """Keep dask's scheduler/nanny INFO lines out of the output unless info logging is on (``-v``).

    Importing ``distributed`` sets its logger to INFO (dask's ``logging`` config), whatever the
    command line asked for before, so the level is set again after the import.
    """
    if logging.getLogger().isEnabledFor(logging.INFO):
        return
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _Runner:
    """Submit jobs to dask (local or remote cluster) or run them in this process."""

    def __init__(self, scheduler: str | None, workers: int) -> None:
        self.scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        self.workers = workers
        self.client = None
        self.cluster = None

    def __enter__(self) -> _Runner:
        if self.scheduler == INPROCESS:
            return self
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigError('sweeps run on dask: pip install "dask[distributed]" '
                              f"(or use scheduler={INPROCESS!r} to run serially): {exc}") from None
        _quiet_dask()
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except OSError as exc:
                raise ConfigError(f"cannot reach the dask scheduler {self.scheduler} ({exc}); check the address "
                                  f"(--scheduler or ${SCHEDULER_ENV}) or leave it unset for a local cluster") from None
        else:
            if self.workers < 1:
                raise ConfigError(f"workers must be >= 1, got {self.workers}")
            self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        return self

    def run(self, jobs: list[dict[str, Any]], on_done: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        if self.client is None:
            for job in jobs:
                row = _run_job(job)
                rows.append(row)
                on_done(row)
            return rows
        from dask.distributed import as_completed

        futures = {self.client.submit(_run_job, job, pure=False, key=f"gzcharge-run-{job['run']}-{id(job)}"): job
                   for job in jobs}
        for fut in as_completed(list(futures)):
            job = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # the worker died or the task could not run
                row = {"run": job["run"], "status": "error", "error": f"worker failure: {type(exc).__name__}: {exc}",
                       "seconds": math.nan}
            rows.append(row)
            on_done(row)
        return rows

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# =========================================================================== main entry
def _abs(p: str | os.PathLike[str] | None) -> str | None:
    return None if p is None else str(Path(p).expanduser().resolve())


def _region_spec(region_spec: str | Mapping[str, Any], townships: str | None) -> dict[str, Any]:
    if isinstance(region_spec, str | int):
        spec: dict[str, Any] = {"name": str(region_spec)}
    elif isinstance(region_spec, Mapping):
        spec = dict(region_spec)
    else:
        raise ConfigError(f"region {region_spec!r}: give a name/adcode or a mapping with name or boundary")
    unknown = set(spec) - {"name", "boundary", "code_field", "name_field", "crs", "townships"}
    if unknown:
        raise ConfigError(f"region spec: unknown key(s) {sorted(unknown)}")
    if townships:
        spec["townships"] = townships
    if not spec.get("name") and not spec.get("boundary"):
        raise ConfigError("region spec needs a name (e.g. 安顺市) or a boundary file")
    for k in ("boundary", "townships"):
        if spec.get(k):
            spec[k] = _abs(spec[k])
    return spec


def _default_scenario(region: Any) -> Path:
    from gzcharge.scenario import default_scenario_path

    if region.kind == "province":
        return default_scenario_path(None).with_name("province.toml")
    if region.kind in ("prefecture", "county"):
        return default_scenario_path(str(region.code))
    return default_scenario_path(None)


def _grid_key_names(varies: Sequence[str]) -> list[str]:
    """The dotted keys of ``--vary KEY=v1,v2`` strings."""
    return [str(v).split("=", 1)[0].strip() for v in varies]


def sweep(
    region_spec: str | Mapping[str, Any],
    scenario_path: str | os.PathLike[str] | None,
    varies: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int = 2,
    base_overrides: Sequence[str] = (),
    townships: str | None = None,
    plan_inputs: Mapping[str, Any] | None = None,
    plot: bool = True,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Run the Cartesian grid of ``varies`` overrides and summarise the runs.

    Parameters
    ----------
    region_spec
        Region name or adcode (``"安顺市"``, ``"520400"``, ``"西秀区"``, ``"贵州省"``), or a mapping
        with ``name`` or ``boundary``/``code_field``/``name_field``, optional ``crs`` and
        ``townships`` — plain data that each worker turns into a region.
    scenario_path
        Scenario TOML; ``None`` takes the packaged scenario of the region (as ``gzcharge plan``).
    varies
        ``"section.key=v1,v2,..."`` strings (values are TOML literals or bare words;
        ``public.budget_cny`` also takes ``*factor``, see the module docstring).
    out_dir
        Folder for the run GeoPackages, the summary CSV and the plot (created if missing).
    scheduler
        ``None`` (``$GZCHARGE_SCHEDULER`` or a local cluster), a dask scheduler address such as
        ``"tcp://host:8786"``, or ``"inprocess"`` (serial, no dask).
    workers
        Worker processes of the local cluster.
    base_overrides
        ``--set`` overrides applied to every run before the varied ones.
    townships
        Township seats file (shortcut for ``region_spec["townships"]``).
    plan_inputs
        Further :class:`~gzcharge.plan.PlanInputs` fields as plain values (``osm_file``,
        ``expressways``, ``fleets``, ...).
    plot
        Write the trade-off plot.
    progress
        ``progress(message, fraction)`` after each finished run.

    Returns
    -------
    pandas.DataFrame
        The summary (also written to ``out_dir/sweep_summary.csv``), one row per run in grid
        order; ``attrs["files"]`` lists the written files.

    Raises
    ------
    ConfigError
        A malformed ``--vary``, an unknown key or an invalid value in any combination (before
        anything runs), an unknown region, an unreachable scheduler.
    """
    import pandas as pd

    from gzcharge.errors import ExportError
    from gzcharge.export.outputs import output_file
    from gzcharge.scenario import load_scenario

    say = progress or (lambda m, f: None)
    grid_keys = parse_vary(varies)
    base = [str(o) for o in base_overrides]
    # a budget what-if ("cut the budget by 30 %") asks for the best plan within that budget, so a
    # budget the hard targets do not fit gives the best-coverage plan with its unmet targets listed,
    # not a failed run -- unless the caller set public.fallback_max_cover explicitly
    if any(k == "public.budget_cny" for k in _grid_key_names(varies)) and not any(
            o.split("=", 1)[0].strip() == "public.fallback_max_cover" for o in base):
        base.append("public.fallback_max_cover=true")
        logger.info("varying public.budget_cny: public.fallback_max_cover=true for every run")
    spec = _region_spec(region_spec, townships)
    inputs = dict(plan_inputs or {})
    unknown = set(inputs) - set(_PLAN_INPUT_FIELDS)
    if unknown:
        raise ConfigError(f"plan_inputs: unknown field(s) {sorted(unknown)}; known: {', '.join(_PLAN_INPUT_FIELDS)}")
    for k in _FILE_INPUTS:
        if inputs.get(k):
            inputs[k] = _abs(inputs[k])

    # region and scenario checked here, before any run
    region = _resolve_region(spec)
    scen_path = Path(scenario_path) if scenario_path is not None else _default_scenario(region)
    scen_path = Path(_abs(scen_path)) if scen_path.exists() else scen_path
    load_scenario(scen_path, overrides=base)
    combos = list(itertools.product(*[[(k, v) for v in vals] for k, vals in grid_keys]))
    relative = any(v.startswith("*") for _, vals in grid_keys for v in vals)
    for combo in combos:
        trial = [f"{k}={1.0 if v.startswith('*') else v}" for k, v in combo]
        try:
            load_scenario(scen_path, overrides=[*base, *trial])
        except ConfigError as exc:
            # the scenario loader speaks of --set; here the value came from --vary
            msg = str(exc)
            for k, _ in combo:
                msg = msg.replace(f"--set {k}", f"--vary {k}")
            raise ConfigError(msg) from None

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the sweep folder {out}: {exc}") from None
    out = out.resolve()
    width = max(3, len(str(len(combos))))
    jobs = []
    for i, combo in enumerate(combos, start=1):
        jobs.append({"run": i, "combo": list(combo), "region": spec, "scenario": str(scen_path), "inputs": inputs,
                     "out": str(out / f"run_{i:0{width}d}_{_slug(combo)}.gpkg")})
    logger.info("sweep: %d runs of %s on %s", len(jobs), scen_path.name, scheduler or os.environ.get(SCHEDULER_ENV)
                or f"a local cluster of {workers} workers")

    t0 = time.perf_counter()
    ref_cost = math.nan
    with _Runner(scheduler, workers) as runner:
        if relative:
            say("base min-cost plan for relative budgets", 0.0)
            ref = runner.run([{"run": 0, "region": spec, "scenario": str(scen_path), "inputs": inputs,
                               "overrides": base, "reference": True, "out": None}], lambda r: None)[0]
            if ref["status"] != "ok":
                raise ConfigError(f"relative budgets need the base min-cost plan, which failed: {ref['error']}")
            ref_cost = float(ref.get("cost_cny", math.nan))
        for job in jobs:
            ovs = []
            for k, v in job["combo"]:
                if v.startswith("*"):
                    v = repr(float(v[1:]) * ref_cost)
                ovs.append(f"{k}={v}")
            job["overrides"] = [*base, *ovs]
        done = [0]

        def on_done(row: dict[str, Any]) -> None:
            done[0] += 1
            say(f"run {row['run']}: {row['status']}", done[0] / len(jobs))

        rows = runner.run(jobs, on_done)
    logger.info("sweep: %d runs in %.1f s", len(jobs), time.perf_counter() - t0)

    by_run = {r["run"]: r for r in rows}
    records = []
    for job in jobs:
        r = by_run[job["run"]]
        rec: dict[str, Any] = {"run": job["run"], "slug": _slug(job["combo"])}
        for k, v in job["combo"]:
            rec[k] = v
        rec["overrides"] = " ".join(job["overrides"][len(base):])
        rec["status"] = r.get("status", "error")
        rec.update({k: v for k, v in r.items() if k not in ("run", "status")})
        rec.setdefault("gpkg", "")
        records.append(rec)
    front = ["run", "slug", *[k for k, _ in grid_keys], "overrides", "status", "solver_status", "gap", "stations",
             "stations_new", "plugs", "cost_cny", "total_cost_cny", "cost_excl_swap_cny", "coverage_city_pct", "coverage_county_pct",
             "coverage_township_pct", "coverage_pct", "townships_covered", "townships_total", "unmet_count",
             "seconds", "error", "gpkg"]
    table = pd.DataFrame(records)
    for c in front:
        if c not in table.columns:
            table[c] = math.nan if c not in ("error", "gpkg", "solver_status") else ""
    table = table[front + [c for c in table.columns if c not in front]]
    if relative:
        table["budget_reference_cny"] = ref_cost
    table["base_overrides"] = " ".join(base)
    table["scenario"] = str(scen_path)

    files = []
    summary_path = out / SUMMARY_NAME
    with output_file(summary_path) as tmp:
        table.to_csv(tmp, index=False)
    files.append(summary_path)
    if plot:
        png = _plot(table, [k for k, _ in grid_keys], out / PLOT_NAME, title=f"{region.name} — {scen_path.stem}")
        if png is not None:
            files.append(png)
    files += [out / g for g in table["gpkg"] if isinstance(g, str) and g]
    table.attrs["files"] = [str(f) for f in files]
    return table


def sweep_table(table: pd.DataFrame) -> Any:
    """A rich table of the sweep summary for the command line (one row per run)."""
    from rich.table import Table

    keys = [c for c in table.columns if "." in c and c not in ("base_overrides",)]
    out = Table(title=f"sweep: {len(table)} runs, {int((table['status'] == 'ok').sum())} ok")
    heads = ["run", *[k.rpartition(".")[2] for k in keys], "status", "stations", "plugs", "cost (M CNY)",
             "excl. swap (M CNY)", "coverage %", "township %", "unmet", "s"]
    for h in heads:
        out.add_column(h, justify="left" if h == "status" else "right", overflow="fold")

    def f(v: Any, fmt: str) -> str:
        try:
            return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)
        except (TypeError, ValueError):
            return str(v)

    for _, r in table.iterrows():
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {str(r.get('error', ''))[:60]}"
        out.add_row(str(r["run"]), *[str(r[k]) for k in keys], status, f(r["stations"], "{:.0f}"),
                    f(r["plugs"], "{:.0f}"), f(r["total_cost_cny"] / 1e6 if r["status"] == "ok" else math.nan, "{:.2f}"),
                    f(r["cost_excl_swap_cny"] / 1e6 if r["status"] == "ok" else math.nan, "{:.2f}"),
                    f(r["coverage_pct"], "{:.1f}"), f(r["coverage_township_pct"], "{:.1f}"),
                    f(r["unmet_count"], "{:.0f}"), f(r["seconds"], "{:.1f}"))
    return out


# =========================================================================== plot
def _pareto(cost: list[float], cover: list[float]) -> list[int]:
    """Indices of runs no other run beats (cheaper or equal cost with higher coverage)."""
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -cover[i]))
    best = -math.inf
    keep = []
    for i in order:
        if cover[i] > best + 1e-9:
            keep.append(i)
            best = cover[i]
    return keep


def _plot(table: pd.DataFrame, keys: list[str], path: Path, *, title: str) -> Path | None:
    """Cost (M CNY) against EV-weighted coverage, one labelled point per successful run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gzcharge.export.outputs import output_file
    from gzcharge.export.report import find_cjk_font

    ok = table[(table["status"] == "ok") & table["coverage_pct"].notna() & table["total_cost_cny"].notna()]
    failed = table[table["status"] != "ok"]
    if ok.empty and failed.empty:
        return None
    fprop = None
    font = find_cjk_font()
    if font is not None:
        from matplotlib import font_manager

        font_manager.fontManager.addfont(font)
        fprop = font_manager.FontProperties(fname=font)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    try:
        cost = (ok["total_cost_cny"] / 1e6).tolist()
        cover = ok["coverage_pct"].tolist()
        ax.scatter(cost, cover, s=36, color="#2c7bb6", zorder=3, label="run")
        front = _pareto(cost, cover)
        if len(front) > 1:
            ax.plot([cost[i] for i in front], [cover[i] for i in front], color="#d7191c", lw=1.2, zorder=2,
                    label="cost-efficient runs")
        # label by the varied values; runs at the same point share one label
        spots: dict[tuple[float, float], list[str]] = {}
        for (_, r), x, y in zip(ok.iterrows(), cost, cover, strict=True):
            spots.setdefault((round(x, 6), round(y, 6)), []).append("/".join(str(r[k]) for k in keys))
        for (x, y), labels in spots.items():
            ax.annotate(" | ".join(labels), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
        ax.text(0.0, 1.01, "labels: " + "/".join(k.rpartition(".")[2] for k in keys), transform=ax.transAxes,
                fontsize=7, color="#444444", va="bottom")
        ax.margins(x=0.15, y=0.1)
        if not failed.empty:
            text = "failed: " + "; ".join(f"run {int(r['run'])} ({r['status']})" for _, r in failed.iterrows())
            ax.text(0.01, 0.01, text[:160], transform=ax.transAxes, fontsize=7, color="#b2182b", va="bottom")
        ax.set_xlabel("total cost (million CNY)")
        ax.set_ylabel("coverage of EV demand (%)")
        ax.grid(True, lw=0.3, alpha=0.6)
        if fprop is not None:
            ax.set_title(title, fontproperties=fprop, pad=14)
        else:
            ax.set_title(re.sub(r"[^\x00-\x7f]+", "?", title), pad=14)
        if len(ok):
            ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        with output_file(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path
