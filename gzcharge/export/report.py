"""Run report: Markdown and a self-contained HTML page with a PNG map.

:func:`write_report` takes a title, sections (Markdown text or DataFrames, shown as tables)
and the map layers (GeoDataFrames, styled with the same :class:`LayerStyle` specs the
GeoPackage carries). It writes ``<stem>.md``, ``<stem>.html`` (map embedded as a data URI,
no external files needed) and ``<stem>.png``, each atomically.

The map is drawn with matplotlib (Agg backend) in a metric CRS with axes in kilometres,
a scale bar and a north arrow. Chinese text uses Noto Sans SC (SIL Open Font License 1.1),
shipped by the PyPI dependency ``pylopdf-fonts-zh-cn`` so every machine draws the same
glyphs; a system CJK font (WenQuanYi Micro Hei, Noto Sans CJK, …) is the fallback, and without
any the map uses English labels and logs a warning.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gzcharge.errors import ExportError
from gzcharge.export.outputs import output_file, pending_path
from gzcharge.export.styles import LayerStyle, style_for_layer

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

CJK_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
_CJK_FONT_NAMES = (
    "WenQuanYi",
    "Noto Sans CJK",
    "Noto Sans SC",
    "Source Han Sans",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
)
#: English stand-ins for the map's Chinese labels when no CJK font exists.
LATIN_FALLBACK = {
    "城市核心区": "city core",
    "县城": "county seat",
    "乡镇": "township",
    "新建": "new",
    "现有": "existing",
    "已覆盖": "covered",
    "未覆盖": "not covered",
    "其他": "other",
    "高速公路": "expressway",
}
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+")
_MARKERS = {
    "circle": "o",
    "square": "s",
    "triangle": "^",
    "diamond": "D",
    "star": "*",
    "cross": "+",
    "pentagon": "p",
    "hexagon": "h",
}
_PT_PER_MM = 72 / 25.4
_LINESTYLES = {"solid": "-", "dash": "--", "dot": ":", "dash dot": "-."}

#: ``(title, content)``: title text or :class:`~gzcharge.export.i18n.Msg`; content Markdown text, a
#: ``Msg``, a list of texts/``Msg`` (a bulleted list) or a DataFrame (a table).
Section = tuple[Any, Any]


def packaged_cjk_font() -> str | None:
    """Path of the Noto Sans SC font shipped by the ``pylopdf-fonts-zh-cn`` dependency, or ``None``."""
    try:
        from importlib.resources import files

        path = files("pylopdf_fonts_zh_cn").joinpath("NotoSansSC-Regular.otf")
    except (ImportError, ModuleNotFoundError):
        return None
    return str(path) if path.is_file() else None


def find_cjk_font() -> str | None:
    """Return the path of a font with Chinese glyphs, or ``None``.

    The packaged Noto Sans SC comes first (the same map on every machine), then the system
    fonts of :data:`CJK_FONT_PATHS`, then any CJK family matplotlib knows.
    """
    packaged = packaged_cjk_font()
    if packaged is not None:
        return packaged
    for path in CJK_FONT_PATHS:
        if os.path.exists(path):
            return path
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if any(name.lower() in entry.name.lower() for name in _CJK_FONT_NAMES):
            return entry.fname
    return None


def _latin(text: str) -> str:
    for zh, en in LATIN_FALLBACK.items():
        text = text.replace(zh, en)
    return _CJK.sub("?", text)  # glyphs no Latin font has


# ---------------------------------------------------------------------- map
def render_map(
    png_path: str | os.PathLike[str],
    map_layers: Mapping[str, gpd.GeoDataFrame],
    *,
    title: str = "",
    styles: Mapping[str, LayerStyle] | None = None,
    metric_crs: str | None = None,
    size_in: tuple[float, float] = (8.0, 8.0),
    dpi: int = 150,
    write_to: str | os.PathLike[str] | None = None,
) -> Path:
    """Draw the layers to a PNG (atomically) and return its path.

    Parameters
    ----------
    png_path
        Output PNG.
    map_layers
        Layer name -> GeoDataFrame (any CRS); drawn polygons first, then lines, then points.
    styles
        Layer name -> :class:`LayerStyle`; others use :func:`style_for_layer` by name.
    metric_crs
        Projected CRS of the map (axes in km); default: the Gauss-Krüger zone of the centroid.
    write_to
        Write the PNG exactly here instead of through :func:`output_file` (a temporary that
        an open :class:`~gzcharge.export.outputs.OutputSet` already holds for ``png_path``;
        used by :class:`MapJob`).
    """
    from matplotlib import font_manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    from gzcharge.crs import metric_crs_for

    layers = {
        k: v for k, v in map_layers.items() if v is not None and len(v) and v.geometry.notna().any()
    }
    if not layers:
        raise ExportError(f"cannot draw {png_path}: no map layer has geometries")
    for name, gdf in layers.items():
        if gdf.crs is None:
            raise ExportError(f"map layer {name!r} has no CRS; set it with gdf.set_crs(...)")
    if metric_crs is None:
        lon = float(next(iter(layers.values())).to_crs(4326).geometry.union_all().centroid.x)
        metric_crs = metric_crs_for(lon)

    font_path = find_cjk_font()
    fprop = None
    if font_path is not None:
        font_manager.fontManager.addfont(font_path)
        fprop = font_manager.FontProperties(fname=font_path)
        text = str
    else:
        logger.warning(
            "no CJK font found (reinstall gzcharge to get pylopdf-fonts-zh-cn, or install fonts-wqy-microhei); "
            "the map uses English labels"
        )
        text = _latin

    def family(gdf: gpd.GeoDataFrame) -> str:
        kind = gdf.geom_type.dropna().iloc[0]
        return "point" if "Point" in kind else "line" if "Line" in kind else "polygon"

    def rank(name: str, gdf: gpd.GeoDataFrame) -> float:
        geometry = family(gdf)
        default = (styles or {}).get(name) or style_for_layer(name, geometry, gdf.columns)  # type: ignore[arg-type]
        if geometry == "polygon":
            return 0.5 if not default.symbol.filled else 0.0  # outlines over fills
        return 1.0 if geometry == "line" else 2.0

    items = sorted((rank(n, g), i, n, g) for i, (n, g) in enumerate(layers.items()))
    # A figure outside pyplot (no global state, no backend selection) on an Agg canvas that draws
    # once, at savefig: GeoDataFrame.plot calls canvas.draw_idle() after every layer, and on a
    # plain Agg canvas each of those is a full render (9 layers: ~1.8 of 2.5 s for 安顺市).
    class SaveOnlyCanvas(FigureCanvasAgg):
        def draw_idle(self, *args: Any, **kwargs: Any) -> None:
            return None

    fig = Figure(figsize=size_in, dpi=dpi)
    SaveOnlyCanvas(fig)
    ax = fig.subplots()
    try:
        handles: list[Any] = []
        for _, _, name, gdf in items:
            geometry = family(gdf)
            gdf = gdf.to_crs(metric_crs)
            columns = [c for c in gdf.columns if c != gdf.geometry.name]
            style = (styles or {}).get(name) or style_for_layer(name, geometry, columns)  # type: ignore[arg-type]
            if style.geometry != geometry or not set(style.fields) <= set(columns):
                style = style_for_layer(name, geometry, columns)  # type: ignore[arg-type]
            codes, legend = style.classify(gdf)
            import numpy as np

            codes_arr = np.asarray(codes)
            for i, (label, sym) in enumerate(legend):
                part = gdf[codes_arr == i]
                if not len(part):
                    continue
                caption = text(f"{name}: {label}" if label else name)
                if geometry == "polygon":
                    part.plot(
                        ax=ax,
                        facecolor=sym.color if sym.filled else "none",
                        alpha=None,
                        edgecolor=sym.outline_color,
                        linewidth=sym.size_mm * _PT_PER_MM,
                    )
                    if sym.filled:
                        for coll in ax.collections[-1:]:
                            coll.set_alpha(sym.opacity)
                    handles.append(
                        Patch(
                            facecolor=sym.color if sym.filled else "none",
                            edgecolor=sym.outline_color,
                            alpha=sym.opacity,
                            label=caption,
                        )
                    )
                elif geometry == "line":
                    part.plot(
                        ax=ax,
                        color=sym.color,
                        linewidth=sym.size_mm * _PT_PER_MM,
                        alpha=sym.opacity,
                        linestyle=_LINESTYLES.get(sym.stroke, "-"),
                    )
                    handles.append(
                        Line2D(
                            [],
                            [],
                            color=sym.color,
                            linewidth=sym.size_mm * _PT_PER_MM,
                            label=caption,
                        )
                    )
                else:
                    marker = _MARKERS.get(sym.shape, "o")
                    size_pt = sym.size_mm * _PT_PER_MM
                    part.plot(
                        ax=ax,
                        color=sym.color,
                        marker=marker,
                        markersize=size_pt**2,
                        edgecolor=sym.outline_color,
                        linewidth=0.4,
                        alpha=sym.opacity,
                        zorder=3,
                    )
                    handles.append(
                        Line2D(
                            [],
                            [],
                            color="none",
                            marker=marker,
                            markerfacecolor=sym.color,
                            markeredgecolor=sym.outline_color,
                            markersize=size_pt,
                            label=caption,
                        )
                    )
            if style.label_field and len(gdf) <= 60:
                pts = gdf.geometry.representative_point()
                for x, y, value in zip(pts.x, pts.y, gdf[style.label_field], strict=True):
                    if value is not None and str(value) != "nan":
                        ax.annotate(
                            text(str(value)),
                            (x, y),
                            xytext=(3, 3),
                            textcoords="offset points",
                            fontsize=7,
                            fontproperties=fprop,
                        )
        km = FuncFormatter(lambda v, _pos: f"{v / 1000:.0f}")
        ax.xaxis.set_major_formatter(km)
        ax.yaxis.set_major_formatter(km)
        ax.set_xlabel(f"km ({metric_crs})", fontsize=8)
        ax.set_ylabel("km", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_aspect("equal")
        _scale_bar(ax)
        ax.annotate(
            "N",
            xy=(0.95, 0.95),
            xytext=(0.95, 0.86),
            xycoords="axes fraction",
            ha="center",
            va="center",
            fontsize=10,
            arrowprops={"arrowstyle": "-|>", "color": "black"},
        )
        if title:
            ax.set_title(text(title), fontproperties=fprop, fontsize=12)
        if handles:
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                fontsize=7,
                prop=fprop and font_manager.FontProperties(fname=font_path, size=7),
                framealpha=0.85,
            )
        target = Path(png_path)
        if write_to is not None:
            fig.savefig(write_to, format="png", bbox_inches="tight")
        else:
            with output_file(target) as tmp:
                fig.savefig(tmp, format="png", bbox_inches="tight")
    finally:
        fig.clear()
    return target


class MapJob:
    """The report map (:func:`render_map`), drawn by a forked child while this process writes the rest.

    Drawing the map (matplotlib's import and the drawing, ~0.6–0.9 s of a prefecture plan) needs
    nothing the GeoPackage, QGIS project and workbook writers produce, so on POSIX systems a
    child forked from this process draws it into the temporary the open
    :class:`~gzcharge.export.outputs.OutputSet` holds for the PNG, while the parent writes the
    other files; :meth:`wait` collects it. The child runs the same code on a copy of the same
    data, so the PNG is byte-identical to one drawn in-process. It never touches the output
    set (it leaves with ``os._exit``; SIGINT/SIGTERM kill it outright): the parent still
    commits or removes every file. When ``fork`` is unavailable, there is no open output set,
    ``GZCHARGE_MAP_INLINE=1`` is set, or the child fails or takes longer than
    ``timeout_s``, the map is drawn in this process instead (same bytes, only slower).
    """

    def __init__(self, png_path: str | os.PathLike[str], map_layers: Mapping[str, gpd.GeoDataFrame], *,
                 timeout_s: float = 120.0, **kwargs: Any) -> None:
        from gzcharge.export.outputs import _hook, active

        self.target = Path(png_path)
        self._args = (map_layers, kwargs)
        self._timeout = timeout_s
        self._pid: int | None = None
        self._tmp: Path | None = None
        s = active()
        if s is None or not hasattr(os, "fork") or os.environ.get("GZCHARGE_MAP_INLINE") == "1":
            return
        _hook(f"before:{self.target.name}")
        self._tmp = s.temp_for(self.target)
        pid = os.fork()
        if pid == 0:  # child: draw, then leave without unwinding the parent's stack or atexit handlers
            code = 1
            try:
                import signal

                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                render_map(self.target, map_layers, write_to=self._tmp, **kwargs)
                code = 0
            except BaseException:  # the parent draws it again and reports any error itself
                pass
            finally:
                os._exit(code)
        self._pid = pid

    def cancel(self) -> None:
        """Stop the child (if running) and remove what it wrote: the run failed before :meth:`wait`."""
        import contextlib
        import signal

        if self._pid is not None:
            pid, self._pid = self._pid, None
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()

    def wait(self) -> Path:
        """The map's final path once it is written (drawn here when the child did not)."""
        import time

        from gzcharge.export.outputs import _hook

        if self._pid is not None:
            pid, self._pid = self._pid, None
            deadline = time.monotonic() + self._timeout
            status = None
            while status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
                elif time.monotonic() > deadline:
                    import signal

                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    logger.info("the map child took longer than %.0f s; drawing the map here", self._timeout)
                    break
                else:
                    time.sleep(0.01)
            if status == 0 and self._tmp is not None and self._tmp.exists():
                _hook(f"after:{self.target.name}")
                return self.target
            logger.debug("the map child failed (status %s); drawing the map here", status)
        map_layers, kwargs = self._args
        if self._tmp is not None:  # the output set holds the temporary already
            render_map(self.target, map_layers, write_to=self._tmp, **kwargs)
            _hook(f"after:{self.target.name}")
        else:
            render_map(self.target, map_layers, **kwargs)
        return self.target


def legend_layers(
    map_layers: Mapping[str, gpd.GeoDataFrame],
    lang: str,
    styles: Mapping[str, LayerStyle] | None = None,
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, LayerStyle]]:
    """Map layers keyed by their name in ``lang`` (the legend's captions), with the styles resolved.

    Styles are looked up under the original layer name (``styles`` first, else
    :func:`style_for_layer`) so renaming keeps each layer's look.
    """
    from gzcharge.export.i18n import LAYER_NAMES

    layers: dict[str, Any] = {}
    resolved: dict[str, LayerStyle] = {}
    for name, gdf in map_layers.items():
        if gdf is None or not len(gdf) or not gdf.geometry.notna().any():
            continue
        kind = gdf.geom_type.dropna().iloc[0]
        geometry = "point" if "Point" in kind else "line" if "Line" in kind else "polygon"
        columns = [c for c in gdf.columns if c != gdf.geometry.name]
        style = (styles or {}).get(name)
        if style is None or style.geometry != geometry or not set(style.fields) <= set(columns):
            style = style_for_layer(name, geometry, columns)  # type: ignore[arg-type]
        label = LAYER_NAMES.get(name, (name, name))[0 if lang == "en" else 1]
        layers[label], resolved[label] = gdf, style
    return layers, resolved


def _scale_bar(ax: Any) -> None:
    """A scale bar of a round length (1, 2, 5 × 10^k m) about a fifth of the map width."""
    import math

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    exp = 10 ** math.floor(math.log10(target))
    length = max(m * exp for m in (1, 2, 5) if m * exp <= target)
    x, y = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.05
    ax.plot([x, x + length], [y, y], color="black", linewidth=3, solid_capstyle="butt")
    ax.text(
        x + length / 2,
        y + (y1 - y0) * 0.012,
        f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m",
        ha="center",
        va="bottom",
        fontsize=8,
    )


# ---------------------------------------------------------------------- text
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def table_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown pipe table (index dropped unless named)."""
    if frame.index.name is not None:
        frame = frame.reset_index()
    cols = [str(c) for c in frame.columns]

    def esc(s: str) -> str:
        return s.replace("|", r"\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(esc(c) for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(esc(_cell(v)) for v in row) + " |")
    return "\n".join(lines)


def table_html(frame: pd.DataFrame) -> str:
    """A DataFrame as an HTML table (escaped) inside a horizontally scrollable box."""
    if frame.index.name is not None:
        frame = frame.reset_index()
    numeric = frame.attrs.get("numeric") or [frame[c].dtype.kind in "iuf" for c in frame.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = "".join(
            f'<td class="num">{html.escape(_cell(v))}</td>'
            if num
            else f"<td>{html.escape(_cell(v))}</td>"
            for v, num in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _inline(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out


def markdown_to_html(text: str) -> str:
    """Minimal Markdown -> HTML: paragraphs, ``-``/``*`` lists, ``###`` headings, bold, code."""
    blocks: list[str] = []
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith(("- ", "* ")):
            if para:
                flush()
            items.append(stripped[2:])
        elif m := re.match(r"(#{1,6})\s+(.*)", stripped):
            flush()
            level = min(len(m.group(1)) + 2, 6)
            blocks.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        else:
            if items:
                flush()
            para.append(stripped)
    flush()
    return "\n".join(blocks)


_CSS = """body{font-family:"Noto Sans SC","Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}
.table-wrap{max-width:100%;overflow-x:auto;margin:0.5em 0 1.5em}
table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:0.25em 0.6em;white-space:nowrap}th{background:#eee;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #ccc}h1{border-bottom:2px solid #444}
@media (max-width:700px){body{margin:0.5em auto;font-size:0.9em}th,td{padding:0.2em 0.35em}}"""


def write_report(
    path: str | os.PathLike[str],
    *,
    title: Any,
    sections: Sequence[Section],
    map_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    styles: Mapping[str, LayerStyle] | None = None,
    png_path: str | os.PathLike[str] | None = None,
    metric_crs: str | None = None,
    map_title: Any = None,
    lang: str = "en",
    map_job: MapJob | None = None,
) -> dict[str, Path]:
    """Write the report as Markdown and self-contained HTML, plus the PNG map.

    Parameters
    ----------
    path
        ``report.md`` or ``report.html``; both files are written beside each other
        (same stem), each atomically.
    title
        Report title (Chinese allowed).
    sections
        ``(heading, content)`` pairs (see :data:`Section`): headings and messages are rendered in
        ``lang`` through :mod:`gzcharge.export.i18n`, tables get translated headers and number
        formats for people (:func:`~gzcharge.export.i18n.display_table`).
    map_layers
        Layers for the map (see :func:`render_map`); ``None`` or empty: no map.
    styles
        Layer name -> :class:`LayerStyle` for the map (default: by layer name).
    png_path
        Where the map goes; default ``<stem>.png`` beside the report.
    metric_crs
        Map CRS (default: the Gauss-Krüger zone of the layers' centroid).
    lang
        ``zh`` or ``en``.
    map_job
        A map already being drawn (:class:`MapJob`, started by the caller before its other
        writes); used instead of ``map_layers``/``styles``/``png_path``.

    Returns
    -------
    dict
        ``{"md": Path, "html": Path, "png": Path}`` (``png`` only with a map).
    """
    import pandas as pd

    from gzcharge.export.i18n import Msg, check_lang, display_table, tr

    check_lang(lang)
    target = Path(path)
    if target.suffix.lower() not in (".md", ".html", ".htm"):
        raise ExportError(f"report path {target} must end in .md or .html")
    md_path, html_path = target.with_suffix(".md"), target.with_suffix(".html")
    rendered: list[tuple[str, Any]] = []
    for heading, content in sections:
        if isinstance(content, pd.DataFrame):
            body: Any = display_table(content, lang)
        elif isinstance(content, str | Msg):
            body = tr(content, lang)
        elif isinstance(content, list | tuple) and all(isinstance(x, str | Msg) for x in content):
            body = "\n".join(f"- {tr(x, lang)}" for x in content)
        else:
            raise ExportError(
                f"report section {heading!r}: content must be Markdown text, a message, a list of them or a "
                f"DataFrame, not {type(content).__name__}"
            )
        rendered.append((tr(heading, lang), body))
    title = tr(title, lang)
    out: dict[str, Path] = {}
    png: Path | None = None
    if map_job is not None:
        png = map_job.wait()
        out["png"] = png
    elif map_layers:
        png = Path(png_path) if png_path is not None else target.with_suffix(".png")
        render_map(
            png,
            map_layers,
            title=tr(map_title, lang) if map_title is not None else title,
            styles=styles,
            metric_crs=metric_crs,
        )
        out["png"] = png

    md = [f"# {title}", ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if png is not None:
        rel = os.path.relpath(png, md_path.parent)
        md += [f"![{title}]({Path(rel).as_posix()})", ""]
        data = base64.b64encode(pending_path(png).read_bytes()).decode("ascii")
        body.append(
            f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"></figure>'
        )
    for heading, content in rendered:
        md += [f"## {heading}", ""]
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, pd.DataFrame):
            md += [table_markdown(content), ""]
            body.append(table_html(content))
        else:
            md += [content.strip(), ""]
            body.append(markdown_to_html(content))
    page = (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    with output_file(md_path) as tmp:
        tmp.write_text("\n".join(md), encoding="utf-8")
    with output_file(html_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    out["md"], out["html"] = md_path, html_path
    return out
