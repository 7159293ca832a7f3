"""Open a QGIS project (.qgz) in headless QGIS, check its layers and render it; print JSON.

Run with Debian's Python (PyQGIS), not the project's::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_project_check.py plan.qgz --png map.png

Reports per layer: valid, provider, geometry, feature count, renderer type, labels, the
group it sits in; the project's drawing order (custom layer order); then renders every
vector layer in that order (the XYZ basemap is left out: tests run offline) with
``QgsMapRendererParallelJob`` to ``--png`` and reports whether the image is blank.
Exit code 0 when the project reads and every layer is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("qgz")
    parser.add_argument("--png")
    args = parser.parse_args(argv)

    from qgis.core import (
        QgsApplication,
        QgsCoordinateReferenceSystem,
        QgsMapLayerType,
        QgsMapRendererParallelJob,
        QgsMapSettings,
        QgsProject,
        QgsRectangle,
    )
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(args.qgz)
    result: dict = {"read": bool(ok), "title": project.title(), "crs": project.crs().authid(), "layers": {},
                    "errors": []}
    root = project.layerTreeRoot()
    result["groups"] = [g.name() for g in root.children() if g.nodeType() == 0]
    result["has_custom_order"] = bool(root.hasCustomLayerOrder())
    result["order"] = [lyr.name() for lyr in root.layerOrder()]
    vectors = []
    extent = QgsRectangle()
    extent.setMinimal()
    for layer in project.mapLayers().values():
        node = root.findLayer(layer.id())
        info = {"valid": layer.isValid(), "provider": layer.providerType(),
                "group": node.parent().name() if node is not None and node.parent() is not None else None}
        if layer.type() == QgsMapLayerType.VectorLayer:
            info["count"] = layer.featureCount()
            info["spatial"] = layer.isSpatial()
            if layer.isSpatial():
                info["geometry"] = int(layer.geometryType())
                r = layer.renderer()
                info["renderer"] = r.type() if r else None
                info["renderer_attr"] = r.classAttribute() if r is not None and hasattr(r, "classAttribute") else None
                info["classes"] = [i.label() for i in r.legendSymbolItems()] if r else []
                info["labels"] = bool(layer.labelsEnabled())
                info["styles"] = layer.styleManager().styles()
                info["crs"] = layer.crs().authid()
                if layer.featureCount() > 0:
                    vectors.append(layer)
                    tr = project.transformContext()
                    from qgis.core import QgsCoordinateTransform

                    ct = QgsCoordinateTransform(layer.crs(), project.crs(), tr)
                    extent.combineExtentWith(ct.transformBoundingBox(layer.extent()))
        else:
            info["source"] = layer.source()
        if not layer.isValid():
            result["errors"].append(f"{layer.name()}: not valid")
        result["layers"][layer.name()] = info
    if not ok:
        result["errors"].append(f"project did not read: {project.error()}")

    if vectors:
        settings = QgsMapSettings()
        by_id = {v.id(): v for v in vectors}
        settings.setLayers([lyr for lyr in root.layerOrder() if lyr.id() in by_id])
        settings.setDestinationCrs(project.crs() if project.crs().isValid() else QgsCoordinateReferenceSystem("EPSG:3857"))
        settings.setBackgroundColor(QColor(255, 255, 255))
        settings.setOutputSize(QSize(800, 600))
        settings.setExtent(extent.buffered(max(extent.width(), extent.height()) * 0.05))
        job = QgsMapRendererParallelJob(settings)
        job.start()
        job.waitForFinished()
        img = job.renderedImage()
        if args.png:
            img.save(args.png, "PNG")
        colors = set()
        nonwhite = total = 0
        for y in range(0, img.height(), 3):
            for x in range(0, img.width(), 3):
                px = img.pixel(x, y)
                colors.add(px)
                total += 1
                nonwhite += px != 0xFFFFFFFF
        result["render"] = {"distinct_colors": len(colors), "nonblank_fraction": nonwhite / total,
                            "errors": [e.message for e in job.errors()]}
    result["ok"] = not result["errors"]
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()
    os._exit(0 if result["ok"] else 1)  # no exitQgis(): it can segfault in 3.22 with layers alive


if __name__ == "__main__":
    main()
