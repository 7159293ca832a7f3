"""Open a GeoPackage in headless QGIS and check it against expectations; print JSON results.

Run with Debian's Python (which has PyQGIS), not the project's::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_check.py plan.gpkg expect.json --png map.png

``expect.json`` (a file path or inline JSON)::

    {"layers": {"public_stations": {"count": 3, "crs": "EPSG:4326", "geometry": "point",
                                    "renderer": "categorizedSymbol", "labels": false},
                "summary": {"count": 3}}}

For every expected layer: it is valid, has the feature count, CRS, geometry type; for
spatial layers the default style loads from the database (``loadDefaultStyle``), the
renderer is the expected one, each feature's legend class is reported (``legend_counts``),
and the layer alone renders to a non-blank image. All spatial layers are then rendered
together with ``QgsMapRendererParallelJob`` to ``--png`` and the image must not be blank.
Exit code 0 when every check passes, 1 otherwise; the JSON is printed either way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

GEOMETRY_NAMES = {0: "point", 1: "line", 2: "polygon", 3: "unknown", 4: "null"}


def _image_stats(img, background: int, step: int = 2) -> dict:
    """Distinct colours and share of non-background pixels, sampled on a grid."""
    colors = set()
    total = nonbg = 0
    values = []
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            px = img.pixel(x, y)
            colors.add(px)
            total += 1
            if px != background:
                nonbg += 1
            values.append(((px >> 16) & 255) + ((px >> 8) & 255) + (px & 255))
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    return {"distinct_colors": len(colors), "nonblank_fraction": nonbg / total, "variance": var}


def _render(layers, extent, size, path=None):
    from qgis.core import QgsCoordinateReferenceSystem, QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setOutputSize(QSize(*size))
    ext = extent.buffered(max(extent.width(), extent.height(), 1e-4) * 0.05)
    settings.setExtent(ext)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    if path:
        img.save(path, "PNG")
    return img, [e.message for e in job.errors()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gpkg")
    parser.add_argument("expect", help="JSON file or inline JSON with the expected layers")
    parser.add_argument("--png", help="write the rendered map here")
    args = parser.parse_args(argv)
    expect = (
        json.loads(args.expect)
        if args.expect.lstrip().startswith("{")
        else json.load(open(args.expect, encoding="utf-8"))
    )

    from qgis.core import (
        Qgis,
        QgsApplication,
        QgsExpressionContextUtils,
        QgsFeatureRequest,
        QgsRectangle,
        QgsRenderContext,
        QgsVectorLayer,
    )

    app = QgsApplication([], False)
    app.initQgis()
    result: dict = {
        "qgis_version": Qgis.QGIS_VERSION,
        "gpkg": args.gpkg,
        "layers": {},
        "errors": [],
    }
    errors = result["errors"]

    probe = QgsVectorLayer(args.gpkg, "probe", "ogr")
    sublayers = (
        [s.split("!!::!!")[1] for s in probe.dataProvider().subLayers()] if probe.isValid() else []
    )
    result["sublayers"] = sublayers
    del probe

    spatial = []
    extent = QgsRectangle()
    extent.setMinimal()
    for name, exp in expect["layers"].items():
        info: dict = {}
        result["layers"][name] = info
        layer = QgsVectorLayer(f"{args.gpkg}|layername={name}", name, "ogr")
        info["valid"] = layer.isValid()
        if not layer.isValid():
            errors.append(f"{name}: layer is not valid")
            continue
        info["count"] = layer.featureCount()
        if "count" in exp and info["count"] != exp["count"]:
            errors.append(f"{name}: {info['count']} features, expected {exp['count']}")
        info["fields"] = [f.name() for f in layer.fields()]
        if not layer.isSpatial():
            info["geometry"] = None
            if exp.get("geometry"):
                errors.append(f"{name}: no geometry, expected {exp['geometry']}")
            continue
        info["geometry"] = GEOMETRY_NAMES.get(int(layer.geometryType()), str(layer.geometryType()))
        info["crs"] = layer.crs().authid()
        if "geometry" in exp and info["geometry"] != exp["geometry"]:
            errors.append(f"{name}: geometry {info['geometry']}, expected {exp['geometry']}")
        if info["crs"] != exp.get("crs", "EPSG:4326"):
            errors.append(f"{name}: CRS {info['crs']}, expected {exp.get('crs', 'EPSG:4326')}")

        message, ok = layer.loadDefaultStyle()
        info["style_message"] = message
        info["style_loaded"] = bool(ok)
        if exp.get("styled", True) and not ok:
            errors.append(f"{name}: default style did not load: {message}")
        renderer = layer.renderer()
        info["renderer"] = renderer.type() if renderer else None
        if "renderer" in exp and info["renderer"] != exp["renderer"]:
            errors.append(f"{name}: renderer {info['renderer']}, expected {exp['renderer']}")
        info["labels"] = bool(layer.labelsEnabled())
        if info["labels"] and layer.labeling() is not None:
            settings = layer.labeling().settings()
            info["label_field"] = settings.fieldName
            info["label_font"] = settings.format().font().family()
        if "labels" in exp and info["labels"] != exp["labels"]:
            errors.append(f"{name}: labels enabled {info['labels']}, expected {exp['labels']}")

        # legend class of every feature, as QGIS's renderer assigns it
        ctx = QgsRenderContext()
        ctx.expressionContext().appendScopes(
            QgsExpressionContextUtils.globalProjectLayerScopes(layer)
        )
        items = renderer.legendSymbolItems()
        labels_by_key = {item.ruleKey(): item.label() for item in items}
        # QGIS 3.22 draws values outside the categories with the catch-all symbol but gives
        # them no legend key: recognise the drawn symbol by its description instead
        labels_by_symbol: dict[str, list[str]] = {}
        for item in items:
            if item.symbol() is not None:
                labels_by_symbol.setdefault(item.symbol().dump(), []).append(item.label())
        counts: dict[str, int] = {}
        renderer.startRender(ctx, layer.fields())
        try:
            for feat in layer.getFeatures(QgsFeatureRequest()):
                ctx.expressionContext().setFeature(feat)
                keys = renderer.legendKeysForFeature(feat, ctx)
                if keys:
                    label = labels_by_key.get(sorted(keys)[0], "?")
                else:
                    symbol = renderer.symbolForFeature(feat, ctx)
                    label = (
                        "<not drawn>"
                        if symbol is None
                        else "/".join(labels_by_symbol.get(symbol.dump(), ["<unlisted symbol>"]))
                    )
                if info["renderer"] == "singleSymbol":
                    label = "<single>"
                counts[label] = counts.get(label, 0) + 1
        finally:
            renderer.stopRender(ctx)
        info["legend_counts"] = counts

        if layer.featureCount() > 0:
            layer_extent = layer.extent()
            img, render_errors = _render([layer], layer_extent, (300, 300))
            stats = _image_stats(img, 0xFFFFFFFF)  # white background
            info["render"] = stats
            if render_errors:
                errors.append(f"{name}: render errors {render_errors}")
            if stats["nonblank_fraction"] == 0:
                errors.append(f"{name}: rendered alone, the layer draws nothing")
            extent.combineExtentWith(layer_extent)
        spatial.append(layer)

    missing = [n for n in expect["layers"] if n not in sublayers]
    if missing:
        errors.append(f"layers missing from the GeoPackage: {missing}")

    if spatial:
        # draw polygons first, points last (QGIS draws the first layer on top)
        order = sorted(spatial, key=lambda lyr: -int(lyr.geometryType()))[::-1]
        img, render_errors = _render(order, extent, (800, 600), args.png)
        stats = _image_stats(img, 0xFFFFFFFF)
        result["render"] = {"png": args.png, "width": img.width(), "height": img.height(), **stats}
        if render_errors:
            errors.append(f"map render errors: {render_errors}")
        if stats["variance"] < 1.0 or stats["distinct_colors"] < 3:
            errors.append(f"rendered map looks blank: {stats}")

    result["ok"] = not errors
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()
    sys.stderr.flush()
    # leave without tearing QGIS down: exitQgis() with layers alive segfaults in 3.22
    os._exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
