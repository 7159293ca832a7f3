"""Report tables as an Excel workbook (openpyxl): one sheet per table, ready to paste into a briefing.

Numbers stay numbers (costs in the column's unit, 万元/亿元 in Chinese, million CNY in English;
counts with a thousands format); headers and category words follow the report language
(:func:`gzcharge.export.i18n.sheet_table`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gzcharge.errors import ExportError
from gzcharge.export.outputs import output_file

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["write_xlsx", "sheet_name"]

_BAD = re.compile(r"[\[\]\*\?/\\:]")


def sheet_name(title: str, taken: set[str]) -> str:
    """An Excel sheet name from a title: no ``[]*?/\\:``, at most 31 characters, unique in ``taken``."""
    base = _BAD.sub(" ", title).strip().strip("'")[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in {t.lower() for t in taken}:
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def write_xlsx(path: str | os.PathLike[str], tables: Sequence[tuple[Any, pd.DataFrame]], *, lang: str = "en") -> Path:
    """Write ``(title, DataFrame)`` tables to an ``.xlsx`` workbook (atomically), one sheet each.

    Parameters
    ----------
    path
        Target ``.xlsx`` file.
    tables
        Sheet title (text or :class:`~gzcharge.export.i18n.Msg`, rendered in ``lang``) and table.
    lang
        ``zh`` or ``en``: headers, category words and cost units.

    Returns
    -------
    Path
        The written file.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from gzcharge.export.i18n import check_lang, sheet_table, tr

    check_lang(lang)
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise ExportError(f"workbook path {target} must end in .xlsx")
    if not tables:
        raise ExportError(f"cannot write {target}: no table to write")
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="EEEEEE")
    for title, frame in tables:
        sheet, formats = sheet_table(frame, lang)
        ws = wb.create_sheet(sheet_name(tr(title, lang), taken))
        ws.append([str(c) for c in sheet.columns])
        for cell in ws[1]:
            cell.font, cell.fill = head_font, head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in sheet.itertuples(index=False):
            ws.append([None if v is None or (isinstance(v, float) and v != v) else
                       (v.item() if hasattr(v, "item") else v) for v in row])
        for j, col in enumerate(sheet.columns, start=1):
            letter = get_column_letter(j)
            fmt = formats.get(col)
            if fmt:
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
            width = max([len(str(col))] + [len(str(v)) for v in sheet[col].tolist()[:200]])
            ws.column_dimensions[letter].width = min(max(8, width * (2 if lang == "zh" else 1.1) + 2), 60)
        ws.freeze_panes = "A2"
    from gzcharge.export.outputs import output_timestamp

    stamp = output_timestamp().replace(tzinfo=None)  # reproducible: SOURCE_DATE_EPOCH or 1970
    wb.properties.created = wb.properties.modified = stamp
    with output_file(target) as tmp:
        wb.save(tmp)
        _reproducible_zip(tmp, stamp)
    return target


def _reproducible_zip(path: Path | str, stamp: Any) -> None:
    """Rewrite the saved workbook so equal tables give equal bytes.

    openpyxl stamps ``docProps/core.xml`` with the save time and every zip entry with the clock;
    both are set to ``stamp`` (zip entries: at least 1980-01-01, the zip format's first date).
    """
    import zipfile

    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    when = max((stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second), (1980, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(path) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in items:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + iso.encode() + rb"\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=when)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            zout.writestr(zi, data)
