"""QGIS styles of the layers ``gzcharge compare`` writes (``site_changes``, ``county_changes``,
``township_changes``).

Kept apart from :mod:`gzcharge.export.styles` (the plan layers' styles); built with the same
generators so QGIS and any matplotlib rendering agree.
"""

from __future__ import annotations

from gzcharge.export.styles import LayerStyle, Symbol, categorized_style, graduated_style

__all__ = ["COMPARE_STYLES", "CHANGE_LABELS", "TOWNSHIP_CHANGE_LABELS", "COVERAGE_CHANGE_BREAKS"]

#: ``change`` / direction -> Chinese category written in ``site_changes.change_zh``.
CHANGE_LABELS = {
    "added": "新增",
    "removed": "移除",
    "enlarged": "扩容",
    "reduced": "缩减",
    "unchanged": "不变",
}

#: Township coverage flip -> Chinese category written in ``township_changes.change_zh``.
TOWNSHIP_CHANGE_LABELS = {
    "newly_covered": "新覆盖",
    "lost": "失去覆盖",
    "still_covered": "仍覆盖",
    "still_uncovered": "仍未覆盖",
    "only_a": "仅方案A有",
    "only_b": "仅方案B有",
}

#: Class breaks (percentage points) of the county coverage change choropleth.
COVERAGE_CHANGE_BREAKS = (-100.0, -5.0, -1e-6, 1e-6, 5.0, 100.0)

_site_changes = categorized_style(
    "point",
    "change_zh",
    [
        ("新增", "新增", "#1a9641", 3.2, "circle"),
        ("移除", "移除", "#d7191c", 3.2, "square"),
        ("扩容", "扩容", "#2c7bb6", 3.2, "triangle"),
        ("缩减", "缩减", "#fdae61", 3.2, "diamond"),
        ("不变", "不变", "#bdbdbd", 2.0, "circle"),
    ],
    base=Symbol("#000000", 2.6, outline_color="#1a1a1a"),
    other=None,
)

_county_changes = graduated_style(
    "polygon",
    "d_coverage_pct",
    COVERAGE_CHANGE_BREAKS,
    ["#d7191c", "#fdae61", "#f7f7f7", "#a6d96a", "#1a9641"],
    labels=["下降 > 5 个百分点", "下降 0–5 个百分点", "不变", "上升 0–5 个百分点", "上升 > 5 个百分点"],
    label_field="name",
    base=Symbol("#000000", 0.3, outline_color="#555555", opacity=0.6),
)

_township_changes = categorized_style(
    "point",
    "change_zh",
    [
        ("新覆盖", "新覆盖", "#1a9641", 3.0, "triangle"),
        ("失去覆盖", "失去覆盖", "#d7191c", 3.0, "triangle"),
        ("仍覆盖", "仍覆盖", "#a6d96a", 1.8, "triangle"),
        ("仍未覆盖", "仍未覆盖", "#7f0000", 2.2, "triangle"),
    ],
    base=Symbol("#000000", 2.2, shape="triangle"),
    other=("仅一方有", "#9e9e9e"),
)

#: Styles by layer name, passed to :func:`gzcharge.export.gpkg.write_geopackage`.
COMPARE_STYLES: dict[str, LayerStyle] = {
    "site_changes": _site_changes,
    "county_changes": _county_changes,
    "township_changes": _township_changes,
}
