"""Write workbooks with openpyxl: tidy tables laid out for planners, written atomically.

Nothing here computes a figure; it lays out what `diversify.results` computed.
Text that came from inputs stays text: a name starting with `=` is never a formula.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import Reference
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from diversify.errors import OutputExistsError, UsageError
from diversify.files import replaced_atomically

HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14)
SUBTITLE_FONT = Font(bold=True, size=11)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FORMATS = {
    "USD": "#,##0;[Red]-#,##0",
    "t": "#,##0.00",
    "share": "0.0%",
    "x": "0.00",
    "prob": "0.00%",
    "int": "0",
    "hhi": "#,##0",
    "risk": "0.000",
    "s": "0.00",
}


def safe_value(cell, value) -> None:
    """Set a cell's value; text stays text (no formula, no control characters)."""
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    if isinstance(value, str):
        if not value.isprintable():  # control characters (a cheap test before the regex)
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = value
        if value.startswith(FORMULA_START):
            cell.data_type = "s"
            cell.quotePrefix = True
        return
    cell.value = value


def write_table(
    ws: Worksheet,
    df: pd.DataFrame,
    formats: dict[str, str] | None = None,
    start_row: int = 1,
    start_col: int = 1,
    comments: dict[str, str] | None = None,
    freeze: str | None = None,
    autofilter: bool = True,
) -> None:
    """A header row and the frame's rows, number formats per column, frozen, filtered.

    `formats` maps a column name to a key of FORMATS (or a number format).
    """
    formats = {str(k): v for k, v in (formats or {}).items()}
    comments = {str(k): v for k, v in (comments or {}).items()}
    for j, name in enumerate(df.columns, start=start_col):
        cell = ws.cell(start_row, j)
        safe_value(cell, name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if str(name) in comments:
            cell.comment = Comment(comments[str(name)], "diversify")
    fmts = [FORMATS.get(f, f) if (f := formats.get(str(name))) else None for name in df.columns]
    for i, row in enumerate(df.itertuples(index=False), start=start_row + 1):
        for j, (value, fmt) in enumerate(zip(row, fmts, strict=True), start=start_col):
            cell = ws.cell(i, j)
            safe_value(cell, _plain(value))
            if fmt:
                cell.number_format = fmt
    if autofilter and len(df.columns):
        first, last = (
            get_column_letter(start_col),
            get_column_letter(start_col + len(df.columns) - 1),
        )
        ws.auto_filter.ref = f"{first}{start_row}:{last}{start_row + max(len(df), 1)}"
    ws.freeze_panes = freeze or f"A{start_row + 1}"
    fit_columns(ws, df, start_col)


def title_sheet(ws: Worksheet, title: str, heading: str) -> None:
    """A sheet's tab title and its bold heading in A1."""
    ws.title = title
    ws["A1"] = heading
    ws["A1"].font = TITLE_FONT


def write_run_sheet(wb: Workbook, run_info: dict[str, object]) -> None:
    """The `Run` sheet every output ends with: item, value (what a cell cannot hold as
    it is, as text; blanks stay blank)."""
    pairs = [
        (k, v if isinstance(v, int | float | str) or v is None else str(v))
        for k, v in run_info.items()
    ]
    write_table(wb.create_sheet("Run"), pd.DataFrame(pairs, columns=["item", "value"]))


def _plain(value):
    """numpy/pandas scalars to Python; NaN to blank."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def column_widths(df: pd.DataFrame, minimum: int = 8, maximum: int = 60) -> list[int]:
    """Each column's width from its header and longest value."""
    widths = []
    for j, name in enumerate(df.columns):
        values = df.iloc[:, j]
        present = values.dropna()
        if values.dtype.kind == "f":
            longest = max((len(f"{v:,.2f}") for v in present), default=0)
        else:
            longest = max((len(str(v)) for v in present), default=0)
        widths.append(max(minimum, min(maximum, max(len(str(name)), longest) + 2)))
    return widths


def fit_columns(ws: Worksheet, df: pd.DataFrame, start_col: int = 1) -> None:
    """Column widths from a table's header and longest value (never narrower than now)."""
    for j, width in enumerate(column_widths(df), start=start_col):
        dim = ws.column_dimensions[get_column_letter(j)]
        dim.width = max(dim.width, width) if dim.customWidth else width


def write_rows(ws: Worksheet, rows: Iterable[Sequence], start_row: int = 1) -> int:
    """Plain rows (e.g. a copy of an input sheet); returns the next free row."""
    i = start_row
    for i, row in enumerate(rows, start=start_row):
        for j, value in enumerate(row, start=1):
            safe_value(ws.cell(i, j), _plain(value))
    return i + 1


def copy_sheet(ws: Worksheet, rows: list[list]) -> None:
    """Copy cell values and number formats (a percent-formatted tariff stays percent)."""
    for i, row in enumerate(rows, start=1):
        for j, raw in enumerate(row, start=1):
            if raw.value is None:
                continue
            cell = ws.cell(i, j)
            value = raw.value
            if isinstance(value, dt.time | dt.timedelta):
                value = str(value)
            safe_value(cell, value)
            if raw.number_format and raw.number_format != "General":
                cell.number_format = raw.number_format


@dataclass
class BulkSheet:
    """A sheet too long for openpyxl's cell objects (a million rows), streamed as XML:
    its rows (header first) and a number format per column name (a key of FORMATS or a
    format; other columns plain). The header is styled as every table's."""

    rows: Iterable[Sequence] | Columns
    formats: dict[str, str] = field(default_factory=dict)
    widths: Sequence[float] = ()  # per column from the first; none given: BULK_WIDTH each


@dataclass
class Columns:
    """A long table as its header and one list or numpy array per column (all as long):
    streamed as they are, with no row tuples made, and an array's values made Python
    objects only a block at a time as it is written (a million samples' 15 million
    event cells: 2 GB of objects otherwise, all at once)."""

    header: list
    columns: list[Sequence]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def part(self, start: int, stop: int) -> Columns:
        return Columns(self.header, [c[start:stop] for c in self.columns])

    def lists(self) -> list[list]:
        """The columns as lists (an array's values as Python numbers and texts)."""
        return [c.tolist() if isinstance(c, np.ndarray) else c for c in self.columns]


def table_sheet(df: pd.DataFrame, formats: dict[str, str] | None = None) -> BulkSheet:
    """A results table alone on its sheet, as `write_table` lays it out (header, number
    formats per column, widths fitted, frozen, filtered), streamed for `save_atomic`:
    a table of thousands of rows costs a tenth of openpyxl's cells."""
    columns = Columns(list(df.columns), [df[c].tolist() for c in df.columns])  # NaN blank
    return BulkSheet(columns, {str(k): v for k, v in (formats or {}).items()}, column_widths(df))


def check_workbook_name(path: Path) -> None:
    """An output workbook is named .xlsx: Excel and LibreOffice open a file by its ending
    (a plan written as plan.csv opened as garbled text, one without an ending not at all)."""
    if Path(path).suffix.lower() != ".xlsx":
        raise UsageError(
            f"{path}: the output is an Excel workbook, so its name ends in .xlsx "
            f"({Path(path).with_suffix('.xlsx').name}, say)"
        )


def save_atomic(
    wb: Workbook,
    path: Path,
    force: bool,
    bulk: dict[str, Iterable[Sequence] | BulkSheet] | None = None,
    verify: Callable[[Path], None] | None = None,
) -> None:
    """Write to a temporary file beside the target, then rename it into place
    (`verify`, given, sees the written file first and may refuse it: nothing is left).

    `bulk`: sheet title -> its rows (or a `BulkSheet`); each titled sheet must exist in
    `wb` (left empty) and its XML is streamed in place of the empty one.
    The file gets the permissions of any file the planner creates (umask), not the
    owner-only ones of a temporary file.
    """
    check_workbook_name(path)
    shown, path = path, Path(path).resolve()  # `new/../x.xlsx` is x.xlsx, `new` or not
    if path.exists() and not force:
        raise OutputExistsError(f"{shown} exists: pass --force to overwrite it")
    if path.exists() and path.is_dir():
        raise OutputExistsError(f"{shown} is a directory")
    for ws in wb.worksheets:  # printed or converted to PDF: landscape, one page wide
        ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    sheets = {
        title: sheet if isinstance(sheet, BulkSheet) else BulkSheet(sheet)
        for title, sheet in (bulk or {}).items()
    }
    styles = {title: _bulk_styles(wb[title], sheet) for title, sheet in sheets.items()}
    with replaced_atomically(path) as tmp:
        wb.save(tmp)
        if sheets:
            _stream_sheets(tmp, sheets, styles)
        if verify is not None:
            verify(tmp)


def _bulk_styles(ws: Worksheet, sheet: BulkSheet) -> tuple[str, dict[str, str]]:
    """The style ids (` s="k"`) of a bulk sheet's header and number formats: registered
    in the workbook through placeholder cells that the streamed XML replaces."""
    header = ws.cell(1, 1)
    header.font, header.fill = HEADER_FONT, HEADER_FILL
    ids = {}
    for j, (name, fmt) in enumerate(sheet.formats.items(), start=2):
        ws.cell(1, j).number_format = FORMATS.get(fmt, fmt)
        ids[name] = f' s="{ws.cell(1, j).style_id}"'
    return f' s="{header.style_id}"', ids


def add_series(
    chart,
    ws: Worksheet,
    header_row: int,
    n: int,
    first_col: int,
    last_col: int,
    cat_col: int = 1,
) -> None:
    """Columns first_col..last_col of a table (header at header_row, n rows) as the
    chart's series, column cat_col as its categories."""
    data = Reference(
        ws, min_col=first_col, max_col=last_col, min_row=header_row, max_row=header_row + n
    )
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(
        Reference(ws, min_col=cat_col, min_row=header_row + 1, max_row=header_row + n)
    )
    chart.height, chart.width = 7.5, 16


_SHEET_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
_SHEET_VIEWS = (
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
)
BULK_WIDTH = 16
ROWS_AT_ONCE = 10_000
SWITCH_INTERVAL_S = 0.0005  # while a sheet's XML is compressed behind (`_Behind`)


def _stream_sheets(
    path: Path, bulk: dict[str, BulkSheet], styles: dict[str, tuple[str, dict[str, str]]]
) -> None:
    """Replace the XML of the named (empty) sheets of a saved .xlsx by their rows."""
    import re
    import zipfile

    tmp = path.with_suffix(".bulk")
    try:  # Ctrl-C or a full disk: no half-written file left beside
        with zipfile.ZipFile(path) as z:
            book = z.read("xl/workbook.xml").decode()
            rels = z.read("xl/_rels/workbook.xml.rels").decode()
            target = dict(re.findall(r'Id="(rId\d+)"[^>]*?Target="([^"]+)"', rels))
            target |= {k: v for v, k in re.findall(r'Target="([^"]+)"[^>]*?Id="(rId\d+)"', rels)}
            parts = {}
            sheets = re.findall(r'<sheet[^>]*?name="([^"]+)"[^>]*?r:id="(rId\d+)"', book)
            for name, rid in sheets:
                title = name.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                if title in bulk:
                    parts["xl/" + target[rid].lstrip("/").removeprefix("xl/")] = title
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
                for item in z.infolist():
                    if item.filename in parts:
                        title = parts[item.filename]
                        with out.open(item.filename, "w") as fh, _Behind(fh) as sink:
                            sheet = bulk[title]
                            _write_sheet_xml(sink, sheet.rows, *styles[title], sheet.widths)
                    else:
                        out.writestr(item, z.read(item.filename))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Behind:
    """A file written by a thread of its own, a few blocks behind the writer: a zip entry
    compresses what it is given, and zlib does so without holding the GIL, so the next
    block's XML is made here meanwhile. The thread needs the GIL back after each block;
    at Python's default switch interval (5 ms) the wait for it cost as much as the
    compression saved, so the interval is 0.5 ms while the thread runs. A context
    manager: on the way out every block is written (or the thread's error raised here)."""

    def __init__(self, fh, blocks: int = 4) -> None:
        import queue
        import threading

        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self.interval, SWITCH_INTERVAL_S))
        self.fh = fh
        self.blocks: queue.Queue = queue.Queue(maxsize=blocks)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write, name="diversify-writer", daemon=True)
        self.thread.start()

    def _write(self) -> None:
        while (data := self.blocks.get()) is not None:
            if self.error is None:
                try:
                    self.fh.write(data)
                except BaseException as exc:  # noqa: BLE001 - raised in the writer's thread
                    self.error = exc

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.blocks.put(data)

    def __enter__(self) -> _Behind:
        return self

    def __exit__(self, *exc) -> None:
        self.blocks.put(None)
        self.thread.join()
        sys.setswitchinterval(self.interval)
        if self.error is not None and exc[0] is None:
            raise self.error


class _Cells:
    """Cell XML of plain values (no references: cells follow in order, blanks as <c/>).
    A text's cell is made once and reused (names, scopes and years repeat down a sheet)."""

    def __init__(self) -> None:
        from xml.sax.saxutils import escape

        self.escape = escape
        self.texts: dict[str, str] = {}

    def one(self, v, style: str = "") -> str:
        kind = type(v)
        if kind is str:
            xml = self.texts.get(v)
            if xml is None:
                text = self.escape(ILLEGAL_CHARACTERS_RE.sub("", v))
                xml = self.texts[v] = f'<c t="inlineStr"><is><t>{text}</t></is></c>'
            return xml
        if kind is int:
            return f"<c{style}><v>{v}</v></c>"
        if kind is float:
            return f"<c{style}><v>{v!r}</v></c>" if math.isfinite(v) else "<c/>"
        if v is None:
            return "<c/>"
        v = _plain(v)
        if isinstance(v, bool):
            return f'<c t="b"><v>{int(v)}</v></c>'
        return self.one(v if isinstance(v, int | float | type(None)) else str(v), style)

    def column(self, values: Sequence, style: str) -> tuple[str, Sequence]:
        """A column of a block of rows as (its cell's %-template, the values to put in
        it): ints and finite floats as they are (`%d`, `%r`: one format per row, not
        per cell), texts and anything else as their cells' XML (`%s`)."""
        kinds = set(map(type, values))
        if kinds == {float} and all(map(math.isfinite, values)):
            return f"<c{style}><v>%r</v></c>", values
        if kinds == {int}:
            return f"<c{style}><v>%d</v></c>", values
        if kinds == {str}:  # most texts repeat: their cells are looked up, in C
            xml = list(map(self.texts.get, values))
            if None in xml:
                xml = [x or self.one(v) for x, v in zip(xml, values, strict=True)]
            return "%s", xml
        return "%s", [self.one(v, style) for v in values]


def _column_blocks(rows: Iterator[Sequence]) -> Iterator[tuple[Sequence, int]]:
    """Rows ROWS_AT_ONCE at a time as (the block's columns, its number of rows)."""
    from itertools import islice, zip_longest
    from operator import itemgetter

    while block := list(islice(rows, ROWS_AT_ONCE)):
        width = max(map(len, block))
        if width == min(map(len, block)):  # 20 times faster than zip(*block)
            yield [list(map(itemgetter(j), block)) for j in range(width)], len(block)
        else:  # short rows end in blanks
            yield list(zip_longest(*block)), len(block)


def _write_sheet_xml(
    fh, rows: Iterable[Sequence] | Columns, header_style: str = "", formats=None, widths=()
) -> None:
    """Rows (header first) or `Columns` as sheet XML, written a block of rows at a time,
    column by column; the header styled, the columns named in `formats` (name ->
    ` s="k"`) number-formatted, the first columns `widths` wide (the others up to the
    16th BULK_WIDTH)."""
    col = '<col min="{}" max="{}" width="{}" customWidth="1"/>'
    cols = [col.format(j, j, w) for j, w in enumerate(widths, start=1)]
    if len(widths) < 16:
        cols.append(col.format(len(widths) + 1, 16, BULK_WIDTH))
    extent = _extent(rows)
    dimension = f'<dimension ref="{_range(*extent)}"/>' if extent else ""
    fh.write(
        f"{_SHEET_XML}{dimension}{_SHEET_VIEWS}<cols>{''.join(cols)}</cols><sheetData>".encode()
    )
    cells = _Cells()
    if isinstance(rows, Columns):
        header = rows.header
        blocks = (
            (rows.part(k, k + ROWS_AT_ONCE).lists(), min(ROWS_AT_ONCE, len(rows) - k))
            for k in range(0, len(rows), ROWS_AT_ONCE)
        )
    else:
        rows = iter(rows)
        header = next(rows, None)
        blocks = _column_blocks(rows)
    n_rows = n_columns = 0
    styles: list[str] = []
    if header is not None:
        heads = (cells.one(v).replace("<c", f"<c{header_style}", 1) for v in header)
        fh.write(f"<row>{''.join(heads)}</row>".encode())
        n_rows, n_columns = 1, len(header)
        styles = [(formats or {}).get(str(name), "") for name in header]
    for columns, length in blocks:
        width = len(columns)
        styles += [""] * (width - len(styles))
        if width:
            parts = [cells.column(col, styles[j]) for j, col in enumerate(columns)]
            row = f"<row>{''.join(piece for piece, _ in parts)}</row>"  # one % per row
            fh.write("".join(map(row.__mod__, zip(*(v for _, v in parts), strict=True))).encode())
        else:
            fh.write(b"<row/>" * length)
        n_rows, n_columns = n_rows + length, max(n_columns, width)
    end = "</sheetData>"
    if n_rows and n_columns:  # a filter on the header, as on every other table
        end += f'<autoFilter ref="{_range(n_rows, n_columns)}"/>'
    fh.write((end + "</worksheet>").encode())
    if extent and _range(*extent) != _range(n_rows, n_columns):  # the <dimension> lied
        raise AssertionError(f"sheet of {n_rows} x {n_columns} cells written as {extent}")


def _extent(rows: Iterable[Sequence] | Columns) -> tuple[int, int] | None:
    """(rows, columns) of a sheet's cells where known before it is written (`Columns`, a
    list of rows; not an iterator): its <dimension>, which readers take as the sheet's
    size. Without one, openpyxl's read-only mode parses the whole sheet to size it (a
    plan's five streamed sheets: 0.9 s of reading large's plan)."""
    if isinstance(rows, Columns):
        return (len(rows) + 1, len(rows.header)) if rows.header else (0, 0)
    if isinstance(rows, list | tuple):
        return len(rows), max(map(len, rows), default=0)
    return None


def _range(n_rows: int, n_columns: int) -> str:
    """A1:<last cell> of a block of cells from A1 (A1 alone when there is none)."""
    return f"A1:{get_column_letter(n_columns)}{n_rows}" if n_rows and n_columns else "A1"
