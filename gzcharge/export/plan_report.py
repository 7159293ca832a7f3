"""The plan report (规划说明): what was planned, under which rules and assumptions, and what is unmet.

Collects the sections of a :class:`gzcharge.plan.Plan` — an overview, the rules and assumptions
with their sources (the comments of the scenario files), the joint plan's tables, then each
tier's own sections (:attr:`gzcharge.tiers.base.TierResult.sections`) — and writes them in the
report language with :func:`gzcharge.export.report.write_report` (Markdown + self-contained HTML +
PNG map) and every table to an Excel workbook (:func:`gzcharge.export.xlsx.write_xlsx`).
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from gzcharge.plan import Plan

logger = logging.getLogger(__name__)

__all__ = ["plan_sections", "scenario_sources", "start_plan_map", "write_plan_report"]

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=")
_HEADER = re.compile(r"^\[([A-Za-z0-9_.]+)\]\s*(#.*)?$")


def _documented_keys(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, str]:
    """``section.key`` -> the comment block written right above it, over the ``extends`` chain.

    The extending file's comment wins (it says why the prefecture differs).
    """
    if path in seen or not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    out: dict[str, str] = {}
    try:
        parent = tomllib.loads(text).get("extends")
    except tomllib.TOMLDecodeError:
        parent = None
    if isinstance(parent, str):
        out.update(_documented_keys((path.parent / parent).resolve(), (*seen, path)))
    section = ""
    comment: list[tuple[str, str | None]] = []  # (text, key of a commented-out assignment)
    previous: str | None = None  # the comment of the key on the line just above (a group of keys)
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            body = line.lstrip("#").strip()
            if body.startswith("---") or not body or set(body) <= set("-="):
                continue
            m = _KEY.match(body)
            comment.append((body, m.group(1) if m else None))
            continue
        if m := _HEADER.match(line):
            section, comment, previous = m.group(1), [], None
            continue
        if m := _KEY.match(line):
            name = m.group(1)
            # a commented-out assignment of another key (an optional key's example) ends that key's block
            last = max((i for i, (_, k) in enumerate(comment) if k is not None and k != name), default=-1)
            words = [t for t, _ in comment[last + 1:]]
            key = f"{section}.{name}" if section else name
            if words:
                out[key] = previous = " ".join(words)
            elif previous is not None:
                out[key] = previous  # e.g. the three service radii under one comment
            comment = []
        elif not line:
            comment, previous = [], None
        else:
            previous = None  # a continued multi-line value
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if v is None:
        return "–"
    if isinstance(v, dict):
        return ", ".join(f"{k} = {_value_text(x)}" for k, x in v.items()) or "{}"
    return str(v)


def scenario_sources(plan: Plan, lang: str) -> pd.DataFrame | None:
    """Rules and default numbers in force, with the explanation/source of the scenario files.

    One row per documented key of the sections the plan used (``ev``, ``distance`` and the
    enabled tiers; ``joint`` for a joint plan) — documented by a comment in the scenario files or,
    failing that, by the field's description in :mod:`gzcharge.scenario` — with ``key``, the value
    in force (after ``--set``),
    ``kind_of_value`` (assumption or not, as the comment says) and ``explanation``.
    """
    import pandas as pd

    from gzcharge.export.i18n import MESSAGES

    file = getattr(plan.inputs, "scenario_file", None)
    if not file:
        return None
    docs = _documented_keys(Path(file).resolve())
    if not docs:
        return None
    used = {"ev", "distance"} | {t for t in ("public", "highway", "swap", "hydrogen")
                                 if getattr(plan.scenario.tiers, t, False)}
    if plan.joint is not None:
        used.add("joint")
    values = _flatten(plan.scenario.model_dump())
    # keys documented in code (pydantic field descriptions, e.g. [highway]) where the files say nothing
    for section in sorted(used):
        model = getattr(plan.scenario, section, None)
        for name, info in getattr(type(model), "model_fields", {}).items():
            key = f"{section}.{name}"
            if info.description and key not in docs:
                docs[key] = info.description[0].upper() + info.description[1:] + "."
    rows = []
    for key, text in docs.items():
        section = key.split(".", 1)[0]
        if section not in used:
            continue
        value = values[key] if key in values else {
            k[len(key) + 1:]: v for k, v in values.items() if k.startswith(key + ".")} or None
        assumption = "assumption" in text.lower()
        rows.append({"key": key, "value": _value_text(value),
                     "kind_of_value": MESSAGES["assumption" if assumption else "fact"][lang],
                     "explanation": text})
    return pd.DataFrame(rows) if rows else None


def plan_sections(plan: Plan, lang: str) -> list[tuple[Any, Any]]:
    """Every report section of the plan, in order (titles and texts as :class:`Msg` or text)."""
    from gzcharge.export.i18n import msg, untranslated

    reg = plan.region
    overview: list[Any] = [
        msg("overview.region", name=reg.name, code=reg.code, kind=msg(f"kind.{reg.kind}") if reg.kind in (
            "prefecture", "province", "county", "custom") else reg.kind, counties=len(reg.counties),
            pop=int(reg.pop_total)),
        msg("overview.scenario", name=plan.scenario.name, description=plan.scenario.description),
        msg("overview.distances", mode=msg(f"mode.{plan.distance_mode}") if plan.distance_mode in (
            "network", "screening") else plan.distance_mode, crs=reg.metric_crs),
        msg("overview.townships_given", source=reg.township_source) if reg.township_source
        else msg("overview.townships_estimated"),
        msg("overview.status", status=plan.status()),
    ]
    total = _total_cost(plan)
    if total is not None:
        overview.append(msg("overview.totals", cost=total))
    if plan.inputs.overrides:
        overview.append(msg("overview.overrides", overrides=" ".join(plan.inputs.overrides)))
    sections: list[tuple[Any, Any]] = []
    miss = [(r.tier, u) for r in plan.ran() for u in r.unmet]
    if miss:  # a hard rule the plan misses is its headline (the same list as Plan.unmet())
        sections.append(("Hard rules missed", [msg("headline.missed", n=len(miss))]
                         + [msg("headline.item", tier=t, item=u) for t, u in miss]))
    sections.append(("Overview", overview))
    sources = scenario_sources(plan, lang)
    if sources is not None:
        sections.append(("Rules, assumptions and sources",
                         msg("sources.intro", file=Path(plan.inputs.scenario_file).name)))
        sections.append(("Scenario values and sources", sources))
    if plan.joint is not None:
        sections += plan.joint.sections(plan.scenario.joint)
    for result in plan.results.values():
        sections += result.sections
    if plan.notices:
        # a note that is still plain text keeps its English wording: say so, only then
        lead = [msg("notes.english")] if lang != "en" and untranslated(plan.notices) else []
        sections.append(("Notes and assumptions", lead + list(plan.notices)))
    # timings are not part of the report (it is byte-for-byte reproducible); see --timings
    return sections


def _total_cost(plan: Plan) -> float | None:
    if plan.joint is not None:
        return plan.joint.total_cost()
    costs = []
    for result in plan.results.values():
        for layer in result.layers.values():
            if getattr(layer, "columns", None) is not None and "cost_cny" in layer.columns and "geometry" in layer:
                costs.append(float(layer["cost_cny"].fillna(0).sum()))
    return sum(costs) if costs else None


def start_plan_map(plan: Plan, stem: str | Path, *, lang: str = "en") -> Any:
    """Start drawing ``<stem>_report.png`` (a :class:`~gzcharge.export.report.MapJob`), or ``None`` without layers.

    Started by :func:`gzcharge.plan.write_plan` before the GeoPackage so the map is drawn while
    the other files are written; :func:`write_plan_report` collects it.
    """
    from gzcharge.export.i18n import msg, tr
    from gzcharge.export.report import MapJob, legend_layers

    stem = Path(stem)
    reg = plan.region
    layers = plan.layers()
    map_layers = {k: layers[k] for k in ("counties", "boundary", "expressway_segments", "townships",
                                         "public_stations", "swap_stations", "hydrogen_stations", "highway_stations")
                  if k in layers and len(layers[k])}
    if not map_layers:
        return None
    map_layers, styles = legend_layers(map_layers, lang)
    return MapJob(stem.with_name(stem.name + "_report.png"), map_layers,
                  title=tr(msg("report.map_title", region=reg.name), lang), styles=styles,
                  metric_crs=reg.metric_crs)


def write_plan_report(plan: Plan, stem: str | Path, *, lang: str = "en", map_job: Any = None) -> list[Path]:
    """Write ``<stem>_report.md``/``.html``/``.png`` and ``<stem>_tables.xlsx``; return their paths.

    ``map_job`` is the map :func:`start_plan_map` started (started here when not given).
    """
    import pandas as pd

    from gzcharge.export.i18n import msg
    from gzcharge.export.report import write_report
    from gzcharge.export.xlsx import write_xlsx

    stem = Path(stem)
    reg = plan.region
    if map_job is None:
        map_job = start_plan_map(plan, stem, lang=lang)
    sections = plan_sections(plan, lang)
    tables = [(title, content) for title, content in sections if isinstance(content, pd.DataFrame) and len(content)]
    xlsx = write_xlsx(stem.with_name(stem.name + "_tables.xlsx"), tables, lang=lang) if tables else None
    paths = write_report(stem.with_name(stem.name + "_report.md"),
                         title=msg("report.title", region=reg.name, scenario=plan.scenario.name),
                         sections=sections, map_job=map_job, lang=lang)
    out = list(paths.values())
    if xlsx is not None:
        out.append(xlsx)
    return out
