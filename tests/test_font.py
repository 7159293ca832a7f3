"""The map's Chinese font comes from a Python dependency, not from the system.

The checks do not depend on ``fonts-wqy-microhei`` being installed: the font lookup is forced
to the packaged file (the system paths are emptied) and the glyphs are tested in that file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from gzcharge.export import report

LABELS = "安顺市贵州省西秀区平坝区普定县镇宁布依族苗族自治县关岭紫云充电设施规划新建现有乡镇已覆盖未覆盖"


@pytest.fixture
def packaged_only(monkeypatch) -> str:
    """Make the packaged font the only CJK font the project can find."""
    path = report.packaged_cjk_font()
    assert path is not None, "pylopdf-fonts-zh-cn is a dependency of gzcharge; pip install it"
    monkeypatch.setattr(report, "CJK_FONT_PATHS", ())
    monkeypatch.setattr(report, "_CJK_FONT_NAMES", ())
    return path


def test_lookup_resolves_to_the_packaged_font(packaged_only: str) -> None:
    assert report.find_cjk_font() == packaged_only
    assert Path(packaged_only).name == "NotoSansSC-Regular.otf"


def test_packaged_font_has_the_map_glyphs(packaged_only: str) -> None:
    from fontTools.ttLib import TTFont

    cmap = TTFont(packaged_only, lazy=True).getBestCmap()
    missing = [ch for ch in LABELS if ord(ch) not in cmap]
    assert missing == []
    assert 0xE000 not in cmap  # private use: drawn as the .notdef box (used as the control below)


def _render(text: str, fname: str | None) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    prop = font_manager.FontProperties(fname=fname, size=40) if fname else font_manager.FontProperties(
        family="DejaVu Sans", size=40)
    fig = plt.figure(figsize=(2.4, 1.0), dpi=100)
    try:
        fig.text(0.05, 0.2, text, fontproperties=prop)
        fig.canvas.draw()
        img = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)
    finally:
        plt.close(fig)
    return img


def test_rendered_glyphs_are_not_the_missing_glyph_box(packaged_only: str) -> None:
    # Two missing glyphs are the same .notdef box, so their order does not change the image;
    # two real, different glyphs do. The same holds for the font without CJK glyphs (control).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DejaVu Sans warns about the missing glyphs
        box_a, box_b = _render("安顺", None), _render("顺安", None)
    assert np.array_equal(box_a, box_b), "control: a Latin-only font draws both as identical boxes"
    a, b = _render("安顺", packaged_only), _render("顺安", packaged_only)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the private-use code points are missing on purpose
        notdef = _render("\ue000\ue001", packaged_only)
    assert (a < 128).sum() > 200  # ink drawn
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, notdef)


def test_map_draws_chinese_labels_without_missing_glyphs(packaged_only: str, tmp_path: Path, caplog) -> None:
    import geopandas as gpd
    from shapely.geometry import Point, box

    counties = gpd.GeoDataFrame({"name": ["西秀区", "平坝区"], "adcode": ["520402", "520403"]},
                                geometry=[box(105.8, 26.1, 106.1, 26.4), box(106.1, 26.3, 106.4, 26.6)], crs=4326)
    towns = gpd.GeoDataFrame({"name": ["安顺", "平坝"], "kind": ["县城", "乡镇"]},
                             geometry=[Point(105.93, 26.25), Point(106.25, 26.4)], crs=4326)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("WARNING"):
        warnings.simplefilter("always")
        report.render_map(tmp_path / "m.png", {"counties": counties, "townships": towns}, title="安顺市 充电设施规划")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert missing == []
    assert "no CJK font" not in caplog.text  # the labels were drawn in Chinese, not replaced by "?"
    assert (tmp_path / "m.png").stat().st_size > 5000
