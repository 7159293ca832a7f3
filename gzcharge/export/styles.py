"""QGIS layer styles (QML) generated from small, data-driven specs.

A :class:`LayerStyle` describes how one layer looks — a single symbol, categories of one or
more fields, or graduated ranges of a numeric field — plus an optional label field. Its
:meth:`LayerStyle.to_qml` produces a QML document that QGIS 3.22 reads (the format QGIS
itself writes with ``exportNamedStyle``), so a GeoPackage whose ``layer_styles`` table holds
it opens styled. Chinese category labels are kept as UTF-8; labels use the font
"WenQuanYi Micro Hei" (Qt substitutes another font when it is missing).

The same spec colours the matplotlib map of the report (:meth:`LayerStyle.classify`), so the
report and QGIS agree.

:data:`DEFAULT_STYLES` holds ready-made specs for the layers gzcharge writes
(``public_stations``, ``demand_points``, ``townships``, ``counties``, ``boundary``, ...);
:func:`style_for_layer` picks one by layer name and falls back to a plain style per geometry.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

logger = logging.getLogger(__name__)

Geometry = Literal["point", "line", "polygon"]

LABEL_FONT = "WenQuanYi Micro Hei"
QGIS_VERSION = "3.22.16-Białowieża"
_GEOMETRY_CODE = {"point": 0, "line": 1, "polygon": 2}
_SYMBOL_TYPE = {"point": "marker", "line": "line", "polygon": "fill"}
_SYMBOL_CLASS = {"point": "SimpleMarker", "line": "SimpleLine", "polygon": "SimpleFill"}
# QgsPalLayerSettings::Placement: OrderedPositionsAroundPoint=6, Line=2, OverPoint=1
_LABEL_PLACEMENT = {"point": 6, "line": 2, "polygon": 1}
#: Key of the catch-all category ("all other values" in QGIS: an empty category value).
OTHER = ""


def _rgba(color: str, alpha: float = 1.0) -> str:
    """Convert ``#rrggbb`` / ``#rrggbbaa`` to QGIS's ``r,g,b,a`` (alpha multiplied in)."""
    c = color.strip().lstrip("#")
    if len(c) not in (6, 8) or any(ch not in "0123456789abcdefABCDEF" for ch in c):
        raise ValueError(f"colour {color!r} is not #rrggbb or #rrggbbaa")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    a = int(c[6:8], 16) if len(c) == 8 else 255
    return f"{r},{g},{b},{round(a * alpha)}"


def value_key(value: Any) -> str:
    """Return the string QGIS compares a category value with (``QVariant::toString``).

    Booleans become ``"true"``/``"false"``, integral floats lose their ``.0``, ``None`` maps to
    the catch-all key ``""``.
    """
    if value is None:
        return OTHER
    if isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    ):
        return "true" if bool(value) else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Symbol:
    """One simple symbol.

    Parameters
    ----------
    color
        Fill (marker/polygon) or stroke (line) colour, ``#rrggbb`` or ``#rrggbbaa``.
    size_mm
        Marker diameter, line width, or polygon outline width, in millimetres.
    outline_color
        Marker/polygon outline colour.
    shape
        Marker shape name (``circle``, ``square``, ``triangle``, ``diamond``, ``star``...).
    stroke
        Line/outline style: ``solid``, ``dash``, ``dot``, ``dash dot``.
    filled
        Polygons only: ``False`` draws the outline alone.
    opacity
        0–1, multiplied into the colours.
    """

    color: str
    size_mm: float = 2.4
    outline_color: str = "#232323"
    shape: str = "circle"
    stroke: str = "solid"
    filled: bool = True
    opacity: float = 1.0

    def qgis_properties(self, geometry: Geometry) -> dict[str, str]:
        """Return the symbol layer properties QGIS stores for this symbol."""
        if geometry == "point":
            return {
                "angle": "0",
                "color": _rgba(self.color, self.opacity),
                "joinstyle": "bevel",
                "name": self.shape,
                "outline_color": _rgba(self.outline_color, self.opacity),
                "outline_style": "solid",
                "outline_width": "0.2",
                "outline_width_unit": "MM",
                "scale_method": "diameter",
                "size": f"{self.size_mm:g}",
                "size_unit": "MM",
            }
        if geometry == "line":
            return {
                "capstyle": "round",
                "joinstyle": "round",
                "line_color": _rgba(self.color, self.opacity),
                "line_style": self.stroke,
                "line_width": f"{self.size_mm:g}",
                "line_width_unit": "MM",
            }
        return {
            "color": _rgba(self.color, self.opacity),
            "joinstyle": "bevel",
            "outline_color": _rgba(self.outline_color),
            "outline_style": self.stroke,
            "outline_width": f"{self.size_mm:g}",
            "outline_width_unit": "MM",
            "style": "solid" if self.filled else "no",
        }


@dataclass(frozen=True)
class Category:
    """A category: features whose field value(s) equal ``value`` get ``symbol``.

    ``value`` is one value, or a tuple (one per field) when the style categorises several
    fields at once. ``OTHER`` (``""``) is the catch-all for values not listed.
    """

    value: Any
    label: str
    symbol: Symbol


@dataclass(frozen=True)
class Range:
    """A graduated class: ``lower <= value <= upper`` gets ``symbol``."""

    lower: float
    upper: float
    label: str
    symbol: Symbol


@dataclass(frozen=True)
class LayerStyle:
    """How one layer looks: a single symbol, categories or graduated ranges, plus labels.

    Parameters
    ----------
    geometry
        ``point``, ``line`` or ``polygon``; must match the layer it is applied to.
    symbol
        The symbol of a single-symbol style, and the fallback of the others.
    fields
        Fields the categories or ranges classify by (several fields: categories by their
        values joined with ``|``). Empty for a single-symbol style.
    categories, ranges
        Classes; at most one of the two is given.
    label_field
        Field whose value labels each feature, or ``None``.
    label_size_pt
        Label font size in points.
    """

    geometry: Geometry
    symbol: Symbol
    fields: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    ranges: tuple[Range, ...] = ()
    label_field: str | None = None
    label_size_pt: float = 9.0
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.geometry not in _GEOMETRY_CODE:
            raise ValueError(f"geometry must be point, line or polygon, not {self.geometry!r}")
        if self.categories and self.ranges:
            raise ValueError("a style has categories or ranges, not both")
        if (self.categories or self.ranges) and not self.fields:
            raise ValueError("a categorised or graduated style needs the field(s) it classifies by")
        if self.ranges and len(self.fields) != 1:
            raise ValueError("a graduated style classifies exactly one numeric field")
        for cat in self.categories:
            if len(self.fields) > 1 and cat.value != OTHER:
                if not isinstance(cat.value, tuple) or len(cat.value) != len(self.fields):
                    raise ValueError(
                        f"category {cat.label!r}: value {cat.value!r} must be a tuple of "
                        f"{len(self.fields)} values, one per field {self.fields}"
                    )

    # ------------------------------------------------------------------ helpers
    @property
    def kind(self) -> str:
        """``single``, ``categorized`` or ``graduated``."""
        return "categorized" if self.categories else "graduated" if self.ranges else "single"

    @property
    def used_fields(self) -> tuple[str, ...]:
        """Every field the style reads (classification and label)."""
        extra = (self.label_field,) if self.label_field else ()
        return tuple(dict.fromkeys(self.fields + extra))

    def without_labels(self) -> LayerStyle:
        """The same style with labels switched off."""
        return replace(self, label_field=None)

    def _category_key(self, value: Any) -> str:
        if value == OTHER:
            return OTHER
        if len(self.fields) > 1:
            return "|".join(value_key(v) for v in value)
        return value_key(value)

    def _attr(self) -> str:
        bool_values = any(
            isinstance(v, bool)
            for c in self.categories
            for v in (c.value if isinstance(c.value, tuple) else (c.value,))
        )
        if len(self.fields) == 1 and not bool_values:
            return self.fields[0]
        if len(self.fields) == 1:
            # QGIS 3.22 files a NULL boolean under "false"; to_string() keeps NULL apart
            return f'to_string("{self.fields[0]}")'
        # a QGIS expression: concatenation of the fields' text values with "|"
        parts = ", '|', ".join(f'to_string("{f}")' for f in self.fields)
        return f"concat({parts})"

    def classify(self, frame: pd.DataFrame) -> tuple[list[int], list[tuple[str, Symbol]]]:
        """Assign each row of ``frame`` to a class, as QGIS would.

        Returns
        -------
        codes
            Per row, the index into ``legend`` (``-1``: not drawn — no class matches and
            there is no catch-all).
        legend
            ``(label, symbol)`` per class, in style order.
        """
        import numpy as np
        import pandas as pd

        n = len(frame)
        if self.kind == "single":
            return [0] * n, [("", self.symbol)]
        legend = [(c.label, c.symbol) for c in self.categories] or [
            (r.label, r.symbol) for r in self.ranges
        ]
        codes = np.full(n, -1, dtype=int)
        if self.kind == "categorized":
            texts = [  # fresh Series: the frame's attrs (e.g. DataFrames) would break pd.concat
                pd.Series(frame[f].map(lambda v: OTHER if pd.isna(v) else value_key(v)).to_numpy(dtype=object))
                for f in self.fields
            ]
            keys = texts[0] if len(texts) == 1 else pd.concat(texts, axis=1).agg("|".join, axis=1)
            lookup = {self._category_key(c.value): i for i, c in enumerate(self.categories)}
            other = lookup.get(OTHER, -1)
            if n:
                codes = keys.map(lambda k: lookup.get(k, other)).to_numpy(dtype=int)
        else:
            values = pd.to_numeric(frame[self.fields[0]], errors="coerce").to_numpy(dtype=float)
            for i in range(len(self.ranges) - 1, -1, -1):  # first matching range wins
                r = self.ranges[i]
                hit = (values >= r.lower) & (values <= r.upper)
                codes[hit] = i
        return [int(c) for c in codes], legend

    # ------------------------------------------------------------------ QML
    def to_qml(self) -> str:
        """Return the QML document (QGIS 3.22) for this style."""
        root = ET.Element(
            "qgis",
            {
                "version": QGIS_VERSION,
                "styleCategories": "Symbology|Labeling",
                "labelsEnabled": "1" if self.label_field else "0",
            },
        )
        root.append(self._renderer_element())
        if self.label_field:
            root.append(self._labeling_element())
        ET.SubElement(root, "blendMode").text = "0"
        ET.SubElement(root, "featureBlendMode").text = "0"
        ET.SubElement(root, "layerGeometryType").text = str(_GEOMETRY_CODE[self.geometry])
        ET.indent(root, space=" ")
        body = ET.tostring(root, encoding="unicode")
        return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"

    def _symbol_element(self, symbol: Symbol, name: str) -> ET.Element:
        el = ET.Element(
            "symbol",
            {
                "type": _SYMBOL_TYPE[self.geometry],
                "name": name,
                "alpha": "1",
                "clip_to_extent": "1",
                "force_rhr": "0",
            },
        )
        layer = ET.SubElement(
            el,
            "layer",
            {"class": _SYMBOL_CLASS[self.geometry], "enabled": "1", "locked": "0", "pass": "0"},
        )
        opts = ET.SubElement(layer, "Option", {"type": "Map"})
        for key, value in symbol.qgis_properties(self.geometry).items():
            ET.SubElement(opts, "Option", {"type": "QString", "name": key, "value": value})
        return el

    def _renderer_element(self) -> ET.Element:
        common = {"forceraster": "0", "symbollevels": "0", "enableorderby": "0"}
        symbols = ET.Element("symbols")
        if self.kind == "single":
            r = ET.Element("renderer-v2", {"type": "singleSymbol", **common})
            symbols.append(self._symbol_element(self.symbol, "0"))
            r.append(symbols)
            return r
        if self.kind == "categorized":
            r = ET.Element(
                "renderer-v2", {"type": "categorizedSymbol", "attr": self._attr(), **common}
            )
            cats = ET.SubElement(r, "categories")
            for i, cat in enumerate(self.categories):
                ET.SubElement(
                    cats,
                    "category",
                    {
                        "value": self._category_key(cat.value),
                        "label": cat.label,
                        "symbol": str(i),
                        "render": "true",
                    },
                )
                symbols.append(self._symbol_element(cat.symbol, str(i)))
        else:
            r = ET.Element(
                "renderer-v2",
                {
                    "type": "graduatedSymbol",
                    "attr": self.fields[0],
                    "graduatedMethod": "GraduatedColor",
                    **common,
                },
            )
            ranges = ET.SubElement(r, "ranges")
            for i, rng in enumerate(self.ranges):
                ET.SubElement(
                    ranges,
                    "range",
                    {
                        "lower": f"{rng.lower:.15g}",
                        "upper": f"{rng.upper:.15g}",
                        "label": rng.label,
                        "symbol": str(i),
                        "render": "true",
                    },
                )
                symbols.append(self._symbol_element(rng.symbol, str(i)))
        r.append(symbols)
        source = ET.SubElement(r, "source-symbol")
        source.append(self._symbol_element(self.symbol, "0"))
        if self.kind == "graduated":
            method = ET.SubElement(r, "classificationMethod", {"id": "Custom"})
            ET.SubElement(
                method,
                "labelFormat",
                {"format": "%1 - %2", "labelprecision": "4", "trimtrailingzeroes": "1"},
            )
        return r

    def _labeling_element(self) -> ET.Element:
        lab = ET.Element("labeling", {"type": "simple"})
        settings = ET.SubElement(lab, "settings", {"calloutType": "simple"})
        text = ET.SubElement(
            settings,
            "text-style",
            {
                "fieldName": self.label_field or "",
                "isExpression": "0",
                "fontFamily": LABEL_FONT,
                "fontSize": f"{self.label_size_pt:g}",
                "fontSizeUnit": "Point",
                "fontWeight": "50",
                "textColor": "20,20,20,255",
                "textOpacity": "1",
                "namedStyle": "Regular",
                "multilineHeight": "1",
            },
        )
        ET.SubElement(
            text,
            "text-buffer",
            {
                "bufferDraw": "1",
                "bufferSize": "0.8",
                "bufferSizeUnits": "MM",
                "bufferColor": "255,255,255,255",
                "bufferOpacity": "0.9",
                "bufferNoFill": "1",
                "bufferJoinStyle": "128",
            },
        )
        ET.SubElement(
            settings,
            "placement",
            {
                "placement": str(_LABEL_PLACEMENT[self.geometry]),
                "placementFlags": "10",
                "dist": "1" if self.geometry == "point" else "0",
                "distUnits": "MM",
                "centroidInside": "1",
                "centroidWhole": "0",
            },
        )
        ET.SubElement(
            settings,
            "rendering",
            {
                "drawLabels": "1",
                "obstacle": "1",
                "obstacleFactor": "1",
                "labelPerPart": "0",
                "displayAll": "0",
                "mergeLines": "1" if self.geometry == "line" else "0",
            },
        )
        return lab


# ---------------------------------------------------------------------- generators
CategorySpec = tuple  # (value, label_zh, color[, size_mm[, shape]])


def _categories(specs: Iterable[CategorySpec], base: Symbol) -> tuple[Category, ...]:
    out = []
    for spec in specs:
        if len(spec) < 3:
            raise ValueError(f"category {spec!r}: give (value, label, colour[, size_mm[, shape]])")
        value, label, color, *rest = spec
        sym = replace(base, color=color)
        if rest and rest[0] is not None:
            sym = replace(sym, size_mm=float(rest[0]))
        if len(rest) > 1 and rest[1] is not None:
            sym = replace(sym, shape=str(rest[1]))
        out.append(Category(value, str(label), sym))
    return tuple(out)


def _fields(field_: str | Sequence[str]) -> tuple[str, ...]:
    return (field_,) if isinstance(field_, str) else tuple(field_)


def categorized_point_style(
    field: str | Sequence[str],
    categories: Iterable[CategorySpec],
    *,
    label_field: str | None = None,
    size_mm: float = 2.4,
    shape: str = "circle",
    other: tuple[str, str] | None = ("其他", "#9e9e9e"),
) -> str:
    """QML for points coloured by category.

    Parameters
    ----------
    field
        Field (or fields; values joined with ``|``) to categorise by.
    categories
        ``(value, label_zh, colour[, size_mm[, shape]])`` per category.
    label_field
        Field to label points with.
    other
        ``(label, colour)`` of the catch-all category, or ``None`` to hide other values.
    """
    return categorized_style(
        "point",
        field,
        categories,
        label_field=label_field,
        base=Symbol("#000000", size_mm, shape=shape),
        other=other,
    ).to_qml()


def categorized_style(
    geometry: Geometry,
    field: str | Sequence[str],
    categories: Iterable[CategorySpec],
    *,
    label_field: str | None = None,
    base: Symbol | None = None,
    other: tuple[str, str] | None = ("其他", "#9e9e9e"),
) -> LayerStyle:
    """Build a categorised :class:`LayerStyle` (see :func:`categorized_point_style`)."""
    base = base or Symbol("#000000")
    cats = _categories(categories, base)
    if not cats:
        raise ValueError("a categorised style needs at least one category")
    if other is not None:
        cats = cats + (Category(OTHER, other[0], replace(base, color=other[1])),)
    return LayerStyle(
        geometry,
        replace(base, color=cats[0].symbol.color),
        _fields(field),
        categories=cats,
        label_field=label_field,
    )


def graduated_style(
    geometry: Geometry,
    field: str,
    breaks: Sequence[float],
    colors: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    unit: str = "",
    label_field: str | None = None,
    base: Symbol | None = None,
) -> LayerStyle:
    """Build a graduated :class:`LayerStyle`: class ``i`` spans ``breaks[i]..breaks[i+1]``."""
    if len(breaks) != len(colors) + 1:
        raise ValueError(f"{len(colors)} colours need {len(colors) + 1} breaks, got {len(breaks)}")
    if list(breaks) != sorted(breaks) or len(set(breaks)) != len(breaks):
        raise ValueError(f"breaks must strictly increase: {list(breaks)}")
    if labels is not None and len(labels) != len(colors):
        raise ValueError(f"{len(colors)} classes need {len(colors)} labels, got {len(labels)}")
    base = base or Symbol("#000000", 0.26)
    ranges = tuple(
        Range(
            float(lo),
            float(hi),
            labels[i] if labels is not None else f"{lo:g}–{hi:g}{unit}",
            replace(base, color=colors[i]),
        )
        for i, (lo, hi) in enumerate(zip(breaks[:-1], breaks[1:], strict=True))
    )
    return LayerStyle(
        geometry, replace(base, color=colors[0]), (field,), ranges=ranges, label_field=label_field
    )


def graduated_fill_style(
    field: str,
    breaks: Sequence[float],
    colors: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    unit: str = "",
    label_field: str | None = None,
    outline_color: str = "#444444",
    opacity: float = 0.8,
) -> str:
    """QML for polygons filled by numeric class (choropleth)."""
    base = Symbol("#000000", 0.26, outline_color=outline_color, opacity=opacity)
    return graduated_style(
        "polygon",
        field,
        breaks,
        colors,
        labels=labels,
        unit=unit,
        label_field=label_field,
        base=base,
    ).to_qml()


def line_style(
    color: str = "#e66101",
    width_mm: float = 0.6,
    *,
    stroke: str = "solid",
    label_field: str | None = None,
    opacity: float = 1.0,
) -> str:
    """QML for lines drawn with one symbol."""
    return LayerStyle(
        "line", Symbol(color, width_mm, stroke=stroke, opacity=opacity), label_field=label_field
    ).to_qml()


def single_style(
    geometry: Geometry, symbol: Symbol, *, label_field: str | None = None
) -> LayerStyle:
    """A single-symbol :class:`LayerStyle`."""
    return LayerStyle(geometry, symbol, label_field=label_field)


# ---------------------------------------------------------------------- defaults
TIER_LABELS = {"city": "城市核心区", "county": "县城", "township": "乡镇"}
STATUS_LABELS = {"new": "新建", "existing": "现有"}
COVERED_LABELS = {True: "已覆盖", False: "未覆盖"}
TIER_COLORS = {"city": "#d7191c", "county": "#fd8d3c", "township": "#2c7bb6"}
TIER_SIZES_MM = {"city": 3.4, "county": 3.0, "township": 2.4}

_station_categories = [
    (
        (tier, status),
        f"{TIER_LABELS[tier]} · {STATUS_LABELS[status]}",
        TIER_COLORS[tier],
        TIER_SIZES_MM[tier],
        "circle" if status == "new" else "square",
    )
    for tier in ("city", "county", "township")
    for status in ("new", "existing")
]
_covered = [(True, "已覆盖", "#1a9641"), (False, "未覆盖", "#d7191c")]

#: Ready-made styles for the layers gzcharge writes, by layer name.
DEFAULT_STYLES: dict[str, LayerStyle] = {
    "public_stations": categorized_style(
        "point",
        ("tier", "status"),
        _station_categories,
        base=Symbol("#000000", 2.6, outline_color="#1a1a1a"),
    ),
    "demand_points": categorized_style(
        "point",
        "covered",
        [(True, "已覆盖", "#1a9641", 1.4), (False, "未覆盖", "#d7191c", 1.8)],
        base=Symbol("#000000", 1.4, outline_color="#ffffff"),
    ),
    # estimated township points (no --townships file) are a class of their own: they are not real seats
    "townships": categorized_style(
        "point",
        ("estimated", "covered"),
        [((False, True), "已覆盖", "#1a9641", 2.2), ((False, False), "未覆盖", "#d7191c", 2.8),
         ((True, True), "估计乡镇点·已覆盖", "#a6dba0", 1.8, "circle"),
         ((True, False), "估计乡镇点·未覆盖", "#f4a582", 2.0, "circle")],
        label_field="name",
        base=Symbol("#000000", 2.2, shape="triangle"),
    ),
    "counties": graduated_style(
        "polygon",
        "coverage_pct",
        [0, 50, 80, 95, 100],
        ["#d7191c", "#fdae61", "#a6d96a", "#1a9641"],
        labels=["< 50%", "50–80%", "80–95%", "≥ 95%"],
        label_field="name",
        base=Symbol("#000000", 0.3, outline_color="#555555", opacity=0.45),
    ),
    "boundary": single_style(
        "polygon", Symbol("#000000", 0.8, outline_color="#202020", filled=False)
    ),
    "highway_stations": categorized_style(
        "point",
        "status",
        [
            ("new", "新建", "#7b3294", 3.0, "diamond"),
            ("existing", "现有", "#c2a5cf", 3.0, "diamond"),
            ("synthetic", "新建(无服务区)", "#e66101", 3.0, "diamond"),
        ],
        base=Symbol("#000000", 3.0, shape="diamond"),
    ),
    "swap_stations": categorized_style(
        "point",
        "station_type",
        [
            ("car", "换电站(乘用车)", "#2b83ba", 3.0, "square"),
            ("bus", "换电站(公交)", "#1a9641", 3.4, "square"),
            ("heavy_truck", "换电站(重卡)", "#d95f0e", 3.8, "square"),
        ],
        # no labels: car, bus and truck stations often share a site and their names would pile up
        base=Symbol("#000000", 3.0, shape="square"),
    ),
    "hydrogen_stations": categorized_style(
        "point",
        "phase",
        [
            (0, "现有加氢站", "#9e9e9e", 3.4, "triangle"),
            (1, "一期", "#41b6c4", 3.6, "triangle"),
            (2, "二期", "#2c7fb8", 3.6, "triangle"),
            (3, "三期", "#253494", 3.6, "triangle"),
        ],
        label_field="name",
        base=Symbol("#000000", 3.4, shape="triangle"),
    ),
    "expressway_segments": categorized_style(
        "line",
        "covered",
        [(True, "已覆盖", "#1a9641", 0.8), (False, "未覆盖", "#d7191c", 0.8)],
        base=Symbol("#000000", 0.8),
        other=("高速公路", "#e66101"),
    ),
    "od_flows": single_style("line", Symbol("#2166ac", 0.3, opacity=0.5)),
    "nodes": single_style("point", Symbol("#707070", 0.6, outline_color="#707070")),
    "edges": single_style("line", Symbol("#9a9a9a", 0.2)),
    "candidates": single_style("point", Symbol("#bdbdbd", 1.6, outline_color="#636363")),
}

#: Fallback per geometry when a layer has no style of its own.
#: Styles for a default layer that lacks a classification field of its default style, by layer name.
FALLBACK_STYLES: dict[str, LayerStyle] = {
    "townships": categorized_style(
        "point",
        "covered",
        [(True, "已覆盖", "#1a9641", 2.2), (False, "未覆盖", "#d7191c", 2.8)],
        label_field="name",
        base=Symbol("#000000", 2.2, shape="triangle"),
    ),
}

GENERIC_STYLES: dict[str, LayerStyle] = {
    "point": single_style("point", Symbol("#3182bd", 2.0)),
    "line": single_style("line", Symbol("#636363", 0.4)),
    "polygon": single_style(
        "polygon", Symbol("#c6dbef", 0.3, outline_color="#3182bd", opacity=0.6)
    ),
}


def style_for_layer(name: str, geometry: Geometry, columns: Iterable[str] = ()) -> LayerStyle:
    """Pick the default style of layer ``name`` that fits its geometry and columns.

    A default whose classification fields are missing from ``columns`` (or whose geometry
    differs) gives way to the generic style of the geometry; a missing label field only drops
    the labels.
    """
    cols = set(columns)
    style = DEFAULT_STYLES.get(name)
    if style is not None and not set(style.fields) <= cols and name in FALLBACK_STYLES:
        style = FALLBACK_STYLES[name]  # e.g. a townships layer without the "estimated" column
    if style is None or style.geometry != geometry or not set(style.fields) <= cols:
        if style is not None:
            logger.info(
                "layer %s: default style does not fit (geometry %s, columns %s); using a plain style",
                name,
                geometry,
                sorted(cols),
            )
        style = GENERIC_STYLES[geometry]
        if "name" in cols and geometry != "line":
            style = replace(style, label_field="name")
    if style.label_field and style.label_field not in cols:
        style = style.without_labels()
    return style


def qml_summary(qml: str) -> tuple[Geometry | None, tuple[str, ...]]:
    """Return (geometry, plain field names read by the renderer/labels) of a QML document.

    Used to check a caller's QML against the layer it styles. For an expression attribute
    the double-quoted field references are returned.
    """
    try:
        root = ET.fromstring(qml.split("\n", 1)[1] if qml.lstrip().startswith("<!DOCTYPE") else qml)
    except ET.ParseError as exc:
        raise ValueError(f"not a QML document: {exc}") from exc
    if root.tag != "qgis":
        raise ValueError(f"not a QML document: root element is <{root.tag}>, expected <qgis>")
    code = root.findtext("layerGeometryType")
    geometry = (
        {v: k for k, v in _GEOMETRY_CODE.items()}.get(int(code))
        if code and code.strip().isdigit()
        else None
    )
    fields: list[str] = []
    renderer = root.find("renderer-v2")
    attr = renderer.get("attr", "") if renderer is not None else ""
    if attr:
        quoted = re.findall(r'"([^"]+)"', attr)  # an expression's field references
        fields.extend(quoted if quoted else [attr] if attr.isidentifier() else [])
    text = root.find("labeling/settings/text-style")
    if (
        root.get("labelsEnabled") == "1"
        and text is not None
        and text.get("isExpression", "0") == "0"
        and text.get("fieldName")
    ):
        fields.append(text.get("fieldName", ""))
    return geometry, tuple(fields)
