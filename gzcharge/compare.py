"""Compare two plan GeoPackages: which sites were added, removed or resized; how coverage and
cost changed per county and tier; which townships gained or lost coverage.

:func:`compare_plans` reads two files written by ``gzcharge plan`` (A = the reference, B = the
what-if) and returns a :class:`Comparison`; :func:`write_comparison_report` writes its report
(Markdown/HTML with a diff map, tables as ``.xlsx``); :func:`write_comparison` writes it as a styled
GeoPackage (``site_changes`` points categorised 新增/移除/扩容/缩减/不变, ``county_changes``
polygons graduated by the change of coverage, ``township_changes`` points, a ``summary``
table and ``run_metadata`` recording both inputs); :func:`comparison_tables` gives rich
tables for the command line.

Matching rules
--------------
* Sites are matched within each site layer (``public_stations``, ``highway_stations``,
  ``swap_stations``, ``hydrogen_stations``) by ``site_id`` (swap stations by ``site_id`` and
  ``station_type``). Sites left unmatched are then matched by position: the nearest unmatched
  site of the other plan within :data:`POSITION_TOLERANCE_M` (1 m, in the plans' metric CRS),
  one to one, closest pairs first.
* A matched site is *resized* when any of its size columns (:data:`SIZE_COLUMNS`: plugs, kW,
  daily capacity, units) differs; 扩容 (enlarged) or 缩减 (reduced) by the sign of the first
  size column that changed, in the order listed. Otherwise it is *unchanged*.
* Counties are matched by ``adcode``, townships by ``demand_id`` (else ``settlement_id``).
* Region-wide coverage per tier is EV-weighted over ``demand_points`` (as the plan computes
  county coverage).

Two plans of different regions (``region_code`` in ``run_metadata``) are an error by default:
every site outside the smaller area would show as added or removed and the cost and coverage
totals would compare different areas, so the usual cause is a wrong file. Pass
``allow_different_regions=True`` to compare anyway (a notice says so).
"""

from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gzcharge import __version__
from gzcharge._util import file_sha256, preview_ids
from gzcharge.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "POSITION_TOLERANCE_M",
    "SITE_LAYERS",
    "SIZE_COLUMNS",
    "Comparison",
    "compare_plans",
    "comparison_tables",
    "tier_coverage",
    "write_comparison",
    "write_comparison_report",
]

#: Site layers compared, in output order.
SITE_LAYERS = ("public_stations", "highway_stations", "swap_stations", "hydrogen_stations")
#: Size columns per site layer (first = the capacity measure reported as ``capacity_*``).
SIZE_COLUMNS: dict[str, tuple[str, ...]] = {
    "public_stations": ("plugs", "kw"),
    "highway_stations": ("plugs", "kw"),
    "swap_stations": ("capacity_swaps_day", "n_stations", "batteries"),
    "hydrogen_stations": ("capacity_kg_day", "units"),
}
_EXTRA_KEY = {"swap_stations": ("station_type",)}
_LAYER_TIER = {"highway_stations": "highway", "swap_stations": "swap", "hydrogen_stations": "hydrogen"}
#: Largest distance (m) between two sites with different ids that are taken as the same site.
POSITION_TOLERANCE_M = 1.0
REQUIRED_LAYERS = ("run_metadata", "counties")
PUBLIC_TIERS = ("city", "county", "township")
COUNTY_METRICS = (
    "coverage_pct",
    "city_coverage_pct",
    "county_coverage_pct",
    "township_coverage_pct",
    "townships_covered",
    "stations",
    "plugs",
    "plugs_per_1000_evs",
    "cost_cny",
)
_META_KEYS = ("region", "region_code", "region_kind", "scenario_name", "scenario_overrides", "status",
              "distance_mode", "township_source", "gzcharge_version", "created_by")
_RTOL = 1e-9
_ATOL = 1e-6


# =========================================================================== reading
@dataclass
class _PlanFile:
    path: Path
    label: str
    meta: dict[str, str]
    layers: list[str]

    def read(self, layer: str) -> gpd.GeoDataFrame | None:
        import geopandas as gpd
        import pyogrio

        if layer not in self.layers:
            return None
        try:
            frame = pyogrio.read_dataframe(self.path, layer=layer)
        except Exception as exc:  # GDAL errors
            raise DataError(f"plan {self.label} {self.path}: cannot read layer {layer!r}: {exc}") from exc
        if not isinstance(frame, gpd.GeoDataFrame):
            raise DataError(f"plan {self.label} {self.path}: layer {layer!r} has no geometry; is it a gzcharge plan?")
        return frame


def _read_plan(path: str | Path, label: str) -> _PlanFile:
    import pyogrio

    p = Path(path)
    if not p.is_file():
        raise DataError(f"plan {label} {p} does not exist; give a GeoPackage written by `gzcharge plan`")
    try:
        layers = [str(n) for n in pyogrio.list_layers(p)[:, 0]]
    except Exception as exc:  # not a GDAL-readable file
        raise DataError(f"plan {label} {p} is not a GeoPackage ({exc}); give a file written by `gzcharge plan`") from None
    meta: dict[str, str] = {}
    if "run_metadata" in layers:
        meta_frame = pyogrio.read_dataframe(p, layer="run_metadata", read_geometry=False)
        if not {"key", "value"} <= set(meta_frame.columns):
            raise DataError(f"plan {label} {p}: run_metadata has no key/value columns; is it a gzcharge plan?")
        meta = dict(zip(meta_frame["key"].astype(str), meta_frame["value"].fillna("").astype(str), strict=True))
    if meta.get("created_by") == "gzcharge compare":
        raise DataError(f"plan {label} {p} is a comparison written by `gzcharge compare`, not a plan; "
                        "compare two files written by `gzcharge plan`")
    missing = [x for x in REQUIRED_LAYERS if x not in layers]
    if missing:
        raise DataError(
            f"plan {label} {p} is not a gzcharge plan: it lacks layer(s) {', '.join(missing)} "
            f"(it has {', '.join(layers) or 'no layers'}); give a GeoPackage written by `gzcharge plan`"
        )
    if meta.get("command") in ("region", "network") or (meta and meta.get("created_by", "") != "gzcharge plan"
                                                         and "scenario_toml" not in meta):
        what = meta.get("command") or meta.get("created_by") or "another command"
        raise DataError(f"plan {label} {p} was written by `gzcharge {what}`, not `gzcharge plan`; "
                        "compare two files written by `gzcharge plan`")
    if "region_code" not in meta:
        raise DataError(f"plan {label} {p} is not a gzcharge plan: run_metadata has no region_code "
                        "(written by another command?); give a GeoPackage written by `gzcharge plan`")
    return _PlanFile(p, label, meta, layers)


# =========================================================================== helpers
def _take(frame: pd.DataFrame | None, idx: np.ndarray, col: str, *, numeric: bool = False) -> np.ndarray:
    """``frame[col]`` at row positions ``idx`` (``-1`` -> missing)."""
    if numeric:
        out = np.full(len(idx), np.nan)
    else:
        out = np.full(len(idx), None, dtype=object)
    if frame is None or col not in frame.columns or len(frame) == 0:
        return out
    import pandas as pd

    values = frame[col]
    if numeric:
        arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    else:
        arr = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    ok = idx >= 0
    out[ok] = arr[idx[ok]]
    return out


def _equal(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(va) & np.isnan(vb)
    with np.errstate(invalid="ignore"):
        close = np.isclose(va, vb, rtol=_RTOL, atol=_ATOL)
    return both_nan | close


def _metric_xy(frame: gpd.GeoDataFrame, crs: str) -> np.ndarray:
    if len(frame) == 0:
        return np.empty((0, 2))
    pts = frame.geometry.to_crs(crs)
    rep = pts.representative_point() if not (pts.geom_type == "Point").all() else pts
    return np.column_stack([rep.x.to_numpy(), rep.y.to_numpy()])


def _keys(frame: gpd.GeoDataFrame, cols: tuple[str, ...]) -> pd.Index:
    import pandas as pd

    parts = [frame[c].astype(str).fillna("") for c in cols]
    key = parts[0]
    for p in parts[1:]:
        key = key + "\x1f" + p
    return pd.Index(key.to_numpy(dtype=object))


def _check_unique(keys: pd.Index, layer: str, plan: _PlanFile) -> None:
    dup = keys[keys.duplicated()]
    if len(dup):
        shown = preview_ids(sorted({str(k).replace(chr(31), '/') for k in dup}), 5)
        raise DataError(f"plan {plan.label} {plan.path}: layer {layer} repeats site ids ({shown}); "
                        "a plan's sites must have unique ids")


def _position_pairs(xy_a: np.ndarray, xy_b: np.ndarray, tol_m: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest pairs within ``tol_m`` (closest first); positions into xy_a, xy_b."""
    from scipy.spatial import cKDTree

    if len(xy_a) == 0 or len(xy_b) == 0:
        return np.empty(0, int), np.empty(0, int)
    tree = cKDTree(xy_b)
    k = min(4, len(xy_b))
    dist, j = tree.query(xy_a, k=k, distance_upper_bound=tol_m)
    dist, j = dist.reshape(len(xy_a), k), j.reshape(len(xy_a), k)
    ia = np.repeat(np.arange(len(xy_a)), k)
    dist, j = dist.ravel(), j.ravel()
    ok = np.isfinite(dist) & (j < len(xy_b))
    ia, ib, dist = ia[ok], j[ok], dist[ok]
    order = np.argsort(dist, kind="stable")
    ia, ib = ia[order], ib[order]
    used_a: set[int] = set()
    used_b: set[int] = set()
    keep = []
    for n, (x, y) in enumerate(zip(ia.tolist(), ib.tolist(), strict=True)):  # few candidates
        if x not in used_a and y not in used_b:
            used_a.add(x)
            used_b.add(y)
            keep.append(n)
    keep_idx = np.asarray(keep, dtype=int)
    return ia[keep_idx], ib[keep_idx]


# =========================================================================== sites
def _compare_layer(layer: str, a: gpd.GeoDataFrame | None, b: gpd.GeoDataFrame | None,
                   pa: _PlanFile, pb: _PlanFile, metric_crs: str) -> pd.DataFrame:
    """One row per site of either plan: indices into a/b, match kind, change, deltas."""
    import pandas as pd

    for frame, plan in ((a, pa), (b, pb)):
        if frame is not None and len(frame) and "site_id" not in frame.columns:
            raise DataError(f"plan {plan.label} {plan.path}: layer {layer} has no site_id column; "
                            "is it a gzcharge plan?")
    n_a = 0 if a is None else len(a)
    n_b = 0 if b is None else len(b)
    extra = tuple(c for c in _EXTRA_KEY.get(layer, ())
                  if (a is None or c in a.columns) and (b is None or c in b.columns))
    key_cols = ("site_id", *extra)
    ka = _keys(a, key_cols) if n_a else pd.Index([], dtype=object)
    kb = _keys(b, key_cols) if n_b else pd.Index([], dtype=object)
    _check_unique(ka, layer, pa)
    _check_unique(kb, layer, pb)

    pos = kb.get_indexer(ka) if n_a and n_b else np.full(n_a, -1)
    ia_id = np.flatnonzero(pos >= 0)
    ib_id = pos[ia_id]
    ua = np.flatnonzero(pos < 0)
    ub = np.setdiff1d(np.arange(n_b), ib_id)

    ia_pos = np.empty(0, int)
    ib_pos = np.empty(0, int)
    if len(ua) and len(ub):
        xy_a = _metric_xy(a.iloc[ua], metric_crs)
        xy_b = _metric_xy(b.iloc[ub], metric_crs)
        ga = a.iloc[ua][list(extra)].astype(str).agg("|".join, axis=1).to_numpy() if extra else np.zeros(len(ua))
        gb = b.iloc[ub][list(extra)].astype(str).agg("|".join, axis=1).to_numpy() if extra else np.zeros(len(ub))
        got_a, got_b = [], []
        for g in np.unique(ga):
            sa, sb = np.flatnonzero(ga == g), np.flatnonzero(gb == g)
            x, y = _position_pairs(xy_a[sa], xy_b[sb], POSITION_TOLERANCE_M)
            got_a.append(ua[sa[x]])
            got_b.append(ub[sb[y]])
        ia_pos = np.concatenate(got_a) if got_a else ia_pos
        ib_pos = np.concatenate(got_b) if got_b else ib_pos
    rest_a = np.setdiff1d(ua, ia_pos)
    rest_b = np.setdiff1d(ub, ib_pos)

    ia = np.concatenate([ia_id, ia_pos, rest_a, np.full(len(rest_b), -1)]).astype(int)
    ib = np.concatenate([ib_id, ib_pos, np.full(len(rest_a), -1), rest_b]).astype(int)
    matched_by = np.array(["id"] * len(ia_id) + ["position"] * len(ia_pos) + [""] * (len(rest_a) + len(rest_b)),
                          dtype=object)

    # sizes: compare the columns both plans have
    sizes = [c for c in SIZE_COLUMNS.get(layer, ())
             if (a is not None and c in a.columns) and (b is not None and c in b.columns)]
    if not sizes:  # one plan lacks the layer: report the sizes it has
        sizes = [c for c in SIZE_COLUMNS.get(layer, ()) if any(f is not None and c in f.columns for f in (a, b))]
    matched = (ia >= 0) & (ib >= 0)
    direction = np.zeros(len(ia))
    changed_any = np.zeros(len(ia), dtype=bool)
    text = np.full(len(ia), "", dtype=object)
    values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for c in sizes:
        va, vb = _take(a, ia, c, numeric=True), _take(b, ib, c, numeric=True)
        values[c] = (va, vb)
        changed = matched & ~_equal(va, vb)
        first = changed & (direction == 0)
        direction[first] = np.sign(np.nan_to_num(vb[first] - va[first]))
        changed_any |= changed
        for i in np.flatnonzero(changed):
            part = f"{c} {va[i]:g}→{vb[i]:g}"
            text[i] = f"{text[i]}; {part}" if text[i] else part
    change = np.where(ia < 0, "added", np.where(ib < 0, "removed", np.where(changed_any, "resized", "unchanged")))
    detail = np.where(change == "resized", np.where(direction < 0, "reduced", "enlarged"), change)

    out: dict[str, Any] = {
        "layer": np.full(len(ia), layer, dtype=object),
        "change": change.astype(object),
        "detail": detail.astype(object),
        "matched_by": matched_by,
        "site_id_a": _take(a, ia, "site_id"),
        "site_id_b": _take(b, ib, "site_id"),
    }
    for c in extra:
        out[c] = np.where(ib >= 0, _take(b, ib, c), _take(a, ia, c))
    for c in ("name", "county_adcode"):
        out[c] = np.where(ib >= 0, _take(b, ib, c), _take(a, ia, c))
    if layer == "public_stations":
        out["tier"] = np.where(ib >= 0, _take(b, ib, "tier"), _take(a, ia, "tier"))
        out["tier_a"] = _take(a, ia, "tier")  # a site's tier can change between plans
        out["tier_b"] = _take(b, ib, "tier")
    else:
        out["tier"] = np.full(len(ia), _LAYER_TIER.get(layer, layer), dtype=object)
        out["tier_a"] = out["tier_b"] = out["tier"]
    out["status_a"] = _take(a, ia, "status")
    out["status_b"] = _take(b, ib, "status")
    primary = sizes[0] if sizes else None
    out["capacity_unit"] = np.full(len(ia), primary or "", dtype=object)
    va, vb = values.get(primary, (np.full(len(ia), np.nan),) * 2) if primary else (np.full(len(ia), np.nan),) * 2
    out["capacity_a"], out["capacity_b"] = va, vb
    out["d_capacity"] = np.nan_to_num(vb) - np.nan_to_num(va)
    ka_, kb_ = values.get("kw", (_take(a, ia, "kw", numeric=True), _take(b, ib, "kw", numeric=True)))
    out["kw_a"], out["kw_b"] = ka_, kb_
    out["d_kw"] = np.where(np.isnan(ka_) & np.isnan(kb_), np.nan, np.nan_to_num(kb_) - np.nan_to_num(ka_))
    ca, cb = _take(a, ia, "cost_cny", numeric=True), _take(b, ib, "cost_cny", numeric=True)
    out["cost_cny_a"], out["cost_cny_b"] = ca, cb
    out["d_cost_cny"] = np.where(np.isnan(ca) & np.isnan(cb), np.nan, np.nan_to_num(cb) - np.nan_to_num(ca))
    out["size_changes"] = text
    frame = pd.DataFrame(out)
    frame["_ia"], frame["_ib"] = ia, ib
    return frame


# =========================================================================== result
@dataclass
class Comparison:
    """Differences between plan A (reference) and plan B (what-if).

    Attributes
    ----------
    a_path, b_path
        The compared files.
    a_meta, b_meta
        Their ``run_metadata`` (key -> text).
    site_changes
        GeoDataFrame, one row per site of either plan: ``layer, change`` (added / removed /
        resized / unchanged), ``change_zh`` (新增/移除/扩容/缩减/不变), ``detail`` (resized split
        into enlarged / reduced), ``matched_by`` (id / position / empty), ``site_id`` (B's id,
        else A's), ``site_id_a, site_id_b, name, county_adcode, tier, status_a, status_b,
        capacity_unit, capacity_a, capacity_b, d_capacity, kw_a, kw_b, d_kw, cost_cny_a,
        cost_cny_b, d_cost_cny, size_changes`` (text); geometry B's, else A's.
    county_changes
        GeoDataFrame per county (``adcode``): ``<metric>_a, <metric>_b, d_<metric>`` for the
        coverage (overall and per tier), station, plug and cost columns both plans have,
        ``unmet_targets_a/_b``.
    township_changes
        GeoDataFrame per township: ``covered_a, covered_b, change`` (newly_covered / lost /
        still_covered / still_uncovered / only_a / only_b), ``change_zh``; ``None`` when
        neither plan has townships.
    summary
        DataFrame ``section, item, a, b, delta``; counts of changes sit in ``delta``.
    notes
        Statements about the comparison (scenario differences, different inputs).
    scenario_diff
        ``dotted.key -> (value A, value B)`` for the resolved scenario keys that differ.
    metric_crs
        Projected CRS used for position matching.
    """

    a_path: Path
    b_path: Path
    a_meta: dict[str, str]
    b_meta: dict[str, str]
    site_changes: Any
    county_changes: Any
    township_changes: Any
    summary: Any
    notes: list[str] = field(default_factory=list)
    scenario_diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    metric_crs: str | None = None

    def counts(self) -> pd.DataFrame:
        """Sites per layer and change (``added, removed, resized, unchanged``; also enlarged/reduced)."""
        import pandas as pd

        sc = self.site_changes
        cols = ["added", "removed", "resized", "enlarged", "reduced", "unchanged"]
        rows = []
        for layer in dict.fromkeys(sc["layer"]):
            s = sc[sc["layer"] == layer]
            row = {"layer": layer, **{c: int((s["change"] == c).sum()) for c in ("added", "removed", "resized", "unchanged")}}
            row["enlarged"] = int((s["detail"] == "enlarged").sum())
            row["reduced"] = int((s["detail"] == "reduced").sum())
            rows.append(row)
        return pd.DataFrame(rows, columns=["layer", *cols])

    def layers(self) -> dict[str, Any]:
        """Layers of the comparison GeoPackage, in drawing order."""
        out: dict[str, Any] = {"county_changes": self.county_changes}
        if self.township_changes is not None:
            out["township_changes"] = self.township_changes
        out["site_changes"] = self.site_changes
        out["summary"] = self.summary
        return out

    def metadata(self) -> dict[str, Any]:
        """Run metadata of the comparison: both inputs' scenario, overrides and input hashes."""
        def side(path: Path, meta: dict[str, str]) -> dict[str, Any]:
            d: dict[str, Any] = {"path": str(path.resolve()), "sha256": file_sha256(path)}
            d.update({k: meta.get(k, "") for k in _META_KEYS})
            hashes = {k.removeprefix("input_sha256."): v for k, v in meta.items() if k.startswith("input_sha256.")}
            d["input_sha256"] = hashes
            return d

        counts = self.counts()
        return {
            "gzcharge_version": __version__,
            "created_by": "gzcharge compare",
            "region": self.b_meta.get("region", ""),
            "region_code": self.b_meta.get("region_code", ""),
            "a": side(self.a_path, self.a_meta),
            "b": side(self.b_path, self.b_meta),
            "scenario_diff": {k: f"{_fmt(v[0])} → {_fmt(v[1])}" for k, v in self.scenario_diff.items()},
            "changes": {r["layer"]: {c: int(r[c]) for c in counts.columns if c != "layer"}
                        for _, r in counts.iterrows()},
            "position_tolerance_m": POSITION_TOLERANCE_M,
            "notes": " | ".join(self.notes),
        }


def _fmt(v: Any) -> str:
    if v is None:
        return "(unset)"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _scenario_diff(ma: dict[str, str], mb: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    ta, tb = ma.get("scenario_toml", ""), mb.get("scenario_toml", "")
    if not ta or not tb:
        return {}
    try:
        fa, fb = _flatten(tomllib.loads(ta)), _flatten(tomllib.loads(tb))
    except tomllib.TOMLDecodeError:
        return {}
    skip = {"name", "description"}
    return {k: (fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb))
            if k not in skip and fa.get(k) != fb.get(k)}


# =========================================================================== counties, townships
def _compare_counties(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, pa: _PlanFile, pb: _PlanFile) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    for frame, plan in ((a, pa), (b, pb)):
        if "adcode" not in frame.columns:
            raise DataError(f"plan {plan.label} {plan.path}: layer counties has no adcode column; is it a gzcharge plan?")
    a = a.assign(adcode=a["adcode"].astype(str))
    b = b.assign(adcode=b["adcode"].astype(str))
    codes = list(dict.fromkeys([*b["adcode"], *a["adcode"]]))
    ia = pd.Index(a["adcode"]).get_indexer(codes)
    ib = pd.Index(b["adcode"]).get_indexer(codes)
    out: dict[str, Any] = {"adcode": codes}
    out["name"] = np.where(ib >= 0, _take(b, ib, "name"), _take(a, ia, "name"))
    for m in COUNTY_METRICS:
        if m not in a.columns and m not in b.columns:
            continue
        va, vb = _take(a, ia, m, numeric=True), _take(b, ib, m, numeric=True)
        out[f"{m}_a"], out[f"{m}_b"] = va, vb
        out[f"d_{m}"] = vb - va
    for m in ("unmet_targets",):
        if m in a.columns or m in b.columns:
            out[f"{m}_a"], out[f"{m}_b"] = _take(a, ia, m), _take(b, ib, m)
    geom = np.where(ib >= 0, _take(b, ib, "geometry"), _take(a, ia, "geometry"))
    return gpd.GeoDataFrame(pd.DataFrame(out), geometry=list(geom), crs=b.crs or a.crs)


def _compare_townships(a: gpd.GeoDataFrame | None, b: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    import geopandas as gpd
    import pandas as pd

    from gzcharge.export.compare_styles import TOWNSHIP_CHANGE_LABELS

    frames = [f for f in (a, b) if f is not None]
    if not frames:
        return None
    key = "demand_id" if all("demand_id" in f.columns for f in frames) else "settlement_id"
    if not all(key in f.columns for f in frames):
        return None
    empty = frames[0].iloc[0:0]
    a = a if a is not None else empty
    b = b if b is not None else empty
    ids = list(dict.fromkeys([*b[key].astype(str), *a[key].astype(str)]))
    ia = pd.Index(a[key].astype(str)).get_indexer(ids)
    ib = pd.Index(b[key].astype(str)).get_indexer(ids)
    ca = _take(a, ia, "covered")
    cb = _take(b, ib, "covered")
    in_a, in_b = ia >= 0, ib >= 0
    ca_t = np.array([bool(v) if v is not None else False for v in ca])
    cb_t = np.array([bool(v) if v is not None else False for v in cb])
    change = np.select(
        [~in_b, ~in_a, ~ca_t & cb_t, ca_t & ~cb_t, ca_t & cb_t],
        ["only_a", "only_b", "newly_covered", "lost", "still_covered"],
        default="still_uncovered",
    ).astype(object)
    out = pd.DataFrame({
        key: ids,
        "name": np.where(in_b, _take(b, ib, "name"), _take(a, ia, "name")),
        "county_adcode": np.where(in_b, _take(b, ib, "county_adcode"), _take(a, ia, "county_adcode")),
        "change": change,
        "change_zh": [TOWNSHIP_CHANGE_LABELS[c] for c in change],
        "covered_a": pd.array([None if v is None else bool(v) for v in ca], dtype="boolean"),
        "covered_b": pd.array([None if v is None else bool(v) for v in cb], dtype="boolean"),
        "station_id_a": _take(a, ia, "station_id"),
        "station_id_b": _take(b, ib, "station_id"),
        "distance_m_a": _take(a, ia, "distance_m", numeric=True),
        "distance_m_b": _take(b, ib, "distance_m", numeric=True),
        "unmet_reason_b": _take(b, ib, "unmet_reason"),
    })
    geom = np.where(in_b, _take(b, ib, "geometry"), _take(a, ia, "geometry"))
    return gpd.GeoDataFrame(out, geometry=list(geom), crs=frames[0].crs)


def tier_coverage(demand: gpd.GeoDataFrame | None) -> dict[str, float]:
    """EV-weighted coverage % per public tier and overall (``all``) from ``demand_points``."""
    import pandas as pd

    if demand is None or not {"tier", "covered", "weight_evs"} <= set(demand.columns) or not len(demand):
        return {}
    w = pd.to_numeric(demand["weight_evs"], errors="coerce").fillna(0.0).to_numpy()
    cov = demand["covered"].fillna(False).astype(bool).to_numpy()
    tier = demand["tier"].astype(str).to_numpy()
    out = {}
    for t in (*PUBLIC_TIERS, "all"):
        sel = np.ones(len(w), bool) if t == "all" else tier == t
        tot = w[sel].sum()
        if sel.any() and tot > 0:
            out[t] = 100.0 * w[sel & cov].sum() / tot
    return out


# =========================================================================== main entry
def compare_plans(
    a_path: str | Path,
    b_path: str | Path,
    *,
    allow_different_regions: bool = False,
) -> Comparison:
    """Compare plan B (what-if) with plan A (reference).

    Parameters
    ----------
    a_path, b_path
        GeoPackages written by ``gzcharge plan``.
    allow_different_regions
        Compare plans of different regions instead of raising (see the module docstring).

    Returns
    -------
    Comparison

    Raises
    ------
    DataError
        A file is missing, not a GeoPackage, not a gzcharge plan (lacks ``run_metadata`` or
        ``counties``, or its metadata has no region), has repeated site ids, or the two plans
        cover different regions (unless ``allow_different_regions``), or neither has sites.
    """
    import geopandas as gpd
    import pandas as pd

    from gzcharge.export.compare_styles import CHANGE_LABELS

    pa, pb = _read_plan(a_path, "A"), _read_plan(b_path, "B")
    from gzcharge.export.i18n import msg

    notes: list[str] = []
    ra, rb = pa.meta.get("region_code", ""), pb.meta.get("region_code", "")
    if ra != rb:
        regions = msg("compare.regions", a=pa.path, a_name=pa.meta.get("region", "?"), a_code=ra, b=pb.path,
                      b_name=pb.meta.get("region", "?"), b_code=rb)
        if not allow_different_regions:
            raise DataError(regions + "; compare two plans of the same region, or pass --allow-different-regions (allow_different_regions=True) to compare anyway")
        notes.append(msg("compare.regions_note", note=regions))
    for k in ("township_source", "distance_mode"):
        if pa.meta.get(k, "") != pb.meta.get(k, ""):
            a, b = (pa.meta.get(k, "") or "?"), (pb.meta.get(k, "") or "?")
            if k == "distance_mode":
                a, b = (msg(f"mode.{v}") if v in ("network", "screening") else v for v in (a, b))
            notes.append(msg(f"compare.{k}_differs", a=a, b=b))
    for k in sorted({k for k in (*pa.meta, *pb.meta) if k.startswith("input_sha256.")} - {"input_sha256.scenario_file"}):
        if k in pa.meta and k in pb.meta and pa.meta[k] != pb.meta[k]:
            notes.append(msg("compare.input_differs", name=k.removeprefix("input_sha256.")))
    diff = _scenario_diff(pa.meta, pb.meta)
    if diff:
        notes.append(msg("compare.scenario_notes", diff="; ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in diff.items())))
    metric_crs = pb.meta.get("metric_crs") or pa.meta.get("metric_crs") or "EPSG:4544"

    site_layers = [x for x in SITE_LAYERS if x in pa.layers or x in pb.layers]
    if not site_layers:
        raise DataError(f"neither plan has a site layer ({', '.join(SITE_LAYERS)}): nothing to compare in "
                        f"A {pa.path} and B {pb.path}")
    frames = []
    sums: list[dict[str, Any]] = []
    for layer in site_layers:
        la, lb = pa.read(layer), pb.read(layer)
        if la is not None and lb is not None and la.crs != lb.crs:
            lb = lb.to_crs(la.crs)
        rows = _compare_layer(layer, la, lb, pa, pb, metric_crs)
        ga = _take(la, rows["_ia"].to_numpy(), "geometry")
        gb = _take(lb, rows["_ib"].to_numpy(), "geometry")
        rows["geometry"] = np.where(rows["_ib"].to_numpy() >= 0, gb, ga)
        frames.append(rows.drop(columns=["_ia", "_ib"]))
        sums.append({"layer": layer, "n_a": 0 if la is None else len(la), "n_b": 0 if lb is None else len(lb)})
    sites = pd.concat(frames, ignore_index=True)
    sites.insert(2, "change_zh", sites["detail"].map(CHANGE_LABELS))
    sites.insert(4, "site_id", sites["site_id_b"].where(sites["site_id_b"].notna(), sites["site_id_a"]))
    site_gdf = gpd.GeoDataFrame(sites.drop(columns="geometry"), geometry=list(sites["geometry"]), crs="EPSG:4326")

    ca, cb = pa.read("counties"), pb.read("counties")
    counties = _compare_counties(ca, cb, pa, pb)
    townships = _compare_townships(pa.read("townships"), pb.read("townships"))
    cov_a = tier_coverage(pa.read("demand_points"))
    cov_b = tier_coverage(pb.read("demand_points"))
    summary = _summary(site_gdf, sums, counties, townships, cov_a, cov_b)
    comp = Comparison(a_path=pa.path, b_path=pb.path, a_meta=pa.meta, b_meta=pb.meta, site_changes=site_gdf,
                      county_changes=counties, township_changes=townships, summary=summary, notes=notes,
                      scenario_diff=diff, metric_crs=metric_crs)
    logger.info("compared %s with %s: %s", pa.path, pb.path,
                ", ".join(f"{k} {v}" for k, v in site_gdf["change"].value_counts().items()))
    return comp


def _summary(sites: gpd.GeoDataFrame, sums: list[dict[str, Any]], counties: gpd.GeoDataFrame,
             townships: gpd.GeoDataFrame | None, cov_a: dict[str, float], cov_b: dict[str, float]) -> pd.DataFrame:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    nan = math.nan

    def add(section: str, item: str, a: float = nan, b: float = nan, delta: float | None = None) -> None:
        d = (b - a) if delta is None else delta
        rows.append({"section": section, "item": item, "a": float(a), "b": float(b), "delta": float(d)})

    for s in sums:
        layer = s["layer"]
        sl = sites[sites["layer"] == layer]
        add("sites", f"{layer}: sites", s["n_a"], s["n_b"])
        unit = sl["capacity_unit"].iloc[0] if len(sl) else ""
        if unit:
            add("sites", f"{layer}: {unit}", np.nansum(sl["capacity_a"]), np.nansum(sl["capacity_b"]))
        for c, label in (("added", "新增 added"), ("removed", "移除 removed"), ("resized", "扩容/缩减 resized"),
                         ("unchanged", "不变 unchanged")):
            add("sites", f"{layer}: {label}", delta=float((sl["change"] == c).sum()))
        if (sl["change"] == "resized").any():
            add("sites", f"{layer}: 扩容 enlarged", delta=float((sl["detail"] == "enlarged").sum()))
            add("sites", f"{layer}: 缩减 reduced", delta=float((sl["detail"] == "reduced").sum()))

    has_cost = sites["cost_cny_a"].notna() | sites["cost_cny_b"].notna()
    if has_cost.any():
        add("cost", "total (CNY)", np.nansum(sites["cost_cny_a"]), np.nansum(sites["cost_cny_b"]))
        tiers = [t for t in (*PUBLIC_TIERS, "highway", "swap", "hydrogen") if ((sites["tier"] == t) & has_cost).any()]
        for t in tiers:  # each plan's cost under its own tier label of the site
            add("cost", f"{t} (CNY)", np.nansum(sites.loc[sites["tier_a"] == t, "cost_cny_a"]),
                np.nansum(sites.loc[sites["tier_b"] == t, "cost_cny_b"]))

    for t in (*PUBLIC_TIERS, "all"):
        if t in cov_a or t in cov_b:
            label = "all demand" if t == "all" else t
            add("coverage", f"{label} coverage % (EV-weighted)", cov_a.get(t, nan), cov_b.get(t, nan))
    if townships is not None:
        ch = townships["change"]
        add("coverage", "townships covered", float(townships["covered_a"].fillna(False).sum()),
            float(townships["covered_b"].fillna(False).sum()))
        add("coverage", "townships newly covered", delta=float((ch == "newly_covered").sum()))
        add("coverage", "townships lost coverage", delta=float((ch == "lost").sum()))
    if "d_coverage_pct" in counties.columns:
        d = counties["d_coverage_pct"]
        add("counties", "coverage up", delta=float((d > 1e-9).sum()))
        add("counties", "coverage down", delta=float((d < -1e-9).sum()))
    if "unmet_targets_a" in counties.columns:
        ua = counties["unmet_targets_a"].fillna("").astype(str).str.len().gt(0).sum()
        ub = counties["unmet_targets_b"].fillna("").astype(str).str.len().gt(0).sum()
        add("counties", "counties with unmet targets", float(ua), float(ub))
    return pd.DataFrame(rows, columns=["section", "item", "a", "b", "delta"])


# =========================================================================== output
def write_comparison(comparison: Comparison, out_path: str | Path) -> Path:
    """Write the comparison as a styled GeoPackage 1.2 (atomically); return its path.

    Layers: ``county_changes``, ``township_changes`` (when the plans have townships),
    ``site_changes``, the ``summary`` table and ``run_metadata``.
    """
    from gzcharge.export.compare_styles import COMPARE_STYLES
    from gzcharge.export.gpkg import write_geopackage

    layers = comparison.layers()
    styles = {k: v for k, v in COMPARE_STYLES.items() if k in layers}
    if "county_changes" in layers and "d_coverage_pct" not in layers["county_changes"].columns:
        styles.pop("county_changes")  # no public tier: plain style
    return write_geopackage(out_path, layers, styles=styles, metadata=comparison.metadata(),
                            metric_crs=comparison.metric_crs)


def comparison_tables(comparison: Comparison) -> list[Any]:
    """Rich tables for the command line: the summary and the county changes."""
    from rich.table import Table

    def num(v: float, signed: bool = False) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if abs(v) >= 1e5:
            s = f"{v / 1e6:+,.2f}M" if signed else f"{v / 1e6:,.2f}M"
        elif float(v).is_integer():
            s = f"{v:+,.0f}" if signed else f"{v:,.0f}"
        else:
            s = f"{v:+,.1f}" if signed else f"{v:,.1f}"
        return s

    name_a = comparison.a_meta.get("scenario_name", "A")
    name_b = comparison.b_meta.get("scenario_name", "B")
    t1 = Table(title=f"compare A {comparison.a_path.name} ({name_a}) → B {comparison.b_path.name} ({name_b})")
    for head in ("section", "item", "A", "B", "change"):
        t1.add_column(head, justify="left" if head in ("section", "item") else "right")
    last = None
    for _, r in comparison.summary.iterrows():
        t1.add_row("" if r["section"] == last else r["section"], r["item"], num(r["a"]), num(r["b"]),
                   num(r["delta"], signed=not (math.isnan(r["a"]) and math.isnan(r["b"]))))
        last = r["section"]
    tables = [t1]
    cc = comparison.county_changes
    if "d_coverage_pct" in cc.columns:
        t2 = Table(title="coverage change by county (percentage points) and cost change")
        spec = [("name", "county")] + [(f"d_{m}", head) for m, head in (
            ("coverage_pct", "all %"), ("city_coverage_pct", "city %"), ("county_coverage_pct", "county seat %"),
            ("township_coverage_pct", "township %"), ("stations", "stations"), ("plugs", "plugs"),
            ("cost_cny", "cost (CNY)")) if f"d_{m}" in cc.columns]
        for _, head in spec:
            t2.add_column(head, justify="left" if head == "county" else "right")
        for _, r in cc.iterrows():
            t2.add_row(*[str(r[c]) if c == "name" else num(r[c], signed=True) for c, _ in spec])
        tables.append(t2)
    return tables


# =========================================================================== report
def comparison_sections(comparison: Comparison, lang: str) -> list[tuple[Any, Any]]:
    """Report sections of a comparison: what changed, the counts, the changed sites and counties."""
    import pandas as pd

    from gzcharge.export.i18n import msg

    c = comparison
    counts = c.counts()
    sc = c.site_changes
    total = {k: int(counts[k].sum()) if len(counts) else 0 for k in ("added", "removed", "resized", "unchanged")}
    overview: list[Any] = [
        msg("compare.files", a=c.a_path.name, b=c.b_path.name, sa=c.a_meta.get("scenario_name", "?"),
            sb=c.b_meta.get("scenario_name", "?")),
        msg("compare.counts", **total),
    ]
    if (sc["cost_cny_a"].notna() | sc["cost_cny_b"].notna()).any():
        ca, cb = float(np.nansum(sc["cost_cny_a"])), float(np.nansum(sc["cost_cny_b"]))
        overview.append(msg("compare.cost", a=ca, b=cb, d=cb - ca))
    if c.scenario_diff:
        overview.append(msg("compare.scenario_diff", diff="; ".join(
            f"`{k}` {_fmt(va)} → {_fmt(vb)}" for k, (va, vb) in c.scenario_diff.items())))
    else:
        overview.append(msg("compare.no_diff"))
    sections: list[tuple[Any, Any]] = [("Overview", overview), ("Summary", counts)]
    changed = sc[sc["change"] != "unchanged"]
    if len(changed):
        cols = [x for x in ("layer", "detail", "site_id", "name", "county_adcode", "tier", "capacity_unit",
                            "capacity_a", "capacity_b", "cost_cny_a", "cost_cny_b", "d_cost_cny") if x in changed]
        sections.append(("Site changes", pd.DataFrame(changed[cols])))
    cc = c.county_changes
    cols = [x for x in ("adcode", "name", "coverage_pct_a", "coverage_pct_b", "d_coverage_pct", "d_township_coverage_pct",
                        "stations_a", "stations_b", "d_plugs", "cost_cny_a", "cost_cny_b", "d_cost_cny") if x in cc]
    if len(cols) > 2:
        sections.append(("Coverage change by county", pd.DataFrame(cc[cols])))
    tw = c.township_changes
    if tw is not None and len(tw):
        moved = tw[tw["change"].isin(["newly_covered", "lost"])]
        if len(moved):
            sections.append(("Township changes", pd.DataFrame(moved[["name", "county_adcode", "change_zh"]])))
    if c.notes:
        sections.append(("Notes", list(c.notes)))
    return sections


def write_comparison_report(comparison: Comparison, stem: str | Path, *, lang: str = "en") -> list[Path]:
    """Write ``<stem>_report.md``/``.html`` with a diff map (``.png``) and ``<stem>_tables.xlsx``.

    The map shows the sites added, removed, enlarged and reduced (styles of
    :mod:`gzcharge.export.compare_styles`) over the counties shaded by the change of coverage.
    """
    import pandas as pd

    from gzcharge.export.compare_styles import COMPARE_STYLES
    from gzcharge.export.i18n import msg
    from gzcharge.export.report import legend_layers, write_report
    from gzcharge.export.xlsx import write_xlsx

    stem = Path(stem)
    c = comparison
    region = c.b_meta.get("region") or c.a_meta.get("region") or ""
    sections = comparison_sections(c, lang)
    sites = c.site_changes
    layers: dict[str, Any] = {"county_changes": c.county_changes}
    if c.township_changes is not None and len(c.township_changes):
        layers["township_changes"] = c.township_changes
    layers["site_changes"] = sites[sites["change"] != "unchanged"] if (sites["change"] != "unchanged").any() else sites
    styles = {k: v for k, v in COMPARE_STYLES.items() if k in layers}
    if "d_coverage_pct" not in c.county_changes.columns:
        styles.pop("county_changes", None)
    layers, styles = legend_layers(layers, lang, styles)
    paths = write_report(stem.with_name(stem.name + "_report.md"),
                         title=msg("compare.title", region=region, a=c.a_meta.get("scenario_name", "A"),
                                   b=c.b_meta.get("scenario_name", "B")),
                         sections=sections, map_layers=layers, styles=styles, metric_crs=c.metric_crs,
                         map_title=msg("compare.map_title", region=region), lang=lang)
    out = list(paths.values())
    tables = [(t, x) for t, x in sections if isinstance(x, pd.DataFrame) and len(x)]
    if tables:
        out.append(write_xlsx(stem.with_name(stem.name + "_tables.xlsx"), tables, lang=lang))
    return out
