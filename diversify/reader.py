"""Read the input workbook of SPEC §2-§3 into a validated `Problem`.

Two steps: `load_raw` turns an .xlsx into plain cells (value and number format), and
`parse` checks those cells against the schema table (`diversify.schema`), collecting
every problem as an `Issue` before raising one `InputError`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from diversify.data import (
    CLAIRVOYANT,
    NONANTICIPATIVE,
    Country,
    Disruption,
    Material,
    Offer,
    Problem,
    Risk,
    Rule,
    Scenario,
    Settings,
    Substitution,
    Supplier,
)
from diversify.errors import InputError, Issue
from diversify.schema import (
    REQUIRED,
    REQUIRED_SHEETS,
    SCHEMA,
    SETTING_RANGES,
    SETTINGS,
    SHEETS,
    Column,
    columns,
)

MAX_ABS = 1e12  # SPEC §2: larger numbers are input errors
PROBABILITY_TOL = 1e-6
BASE = "base"  # the one scenario when the Scenarios sheet is absent or empty
SHEETS_NAMED = 12  # a missing sheet's message names at most this many of those found
SHARE_RULES = ("max_share", "min_share")
RECALCULATE = (
    "the formula has no saved result: open the workbook in Excel, recalculate and "
    "save it (LibreOffice: Data > Calculate > Recalculate Hard, then save)"
)

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]')
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
_EXCEL_ERRORS = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#EXTERNAL!",
        "#PYTHON!",
    }
)
_SETTINGS_COLUMNS = (
    Column("Settings", "setting", "text", "", REQUIRED, "Name of the setting"),
    Column("Settings", "value", "raw", "", None, "Value of the setting (blank = default)"),
)
_SETTINGS_NEEDS = ("setting", "value")


# ---------------------------------------------------------------- the raw workbook


class RawCell(NamedTuple):
    """One cell as stored: its (cached) value and its Excel number format."""

    value: Any
    number_format: str = "General"


@dataclass
class RawWorkbook:
    """Every sheet's rows in workbook order; row i of a list is Excel row i + 1."""

    sheets: dict[str, list[list[RawCell]]]
    uncached_formulas: dict[str, set[tuple[int, int]]] = field(default_factory=dict)


def load_raw(
    path: str | os.PathLike[str],
    keep: Callable[[str], bool] | None = None,
    values_only: Callable[[str], bool] | None = None,
) -> RawWorkbook:
    """Read every sheet's cells (those whose title `keep` accepts, if given); `InputError`
    when the file is missing or not an .xlsx.

    Sheets `values_only` accepts (of those kept) are read for their values alone, by
    calamine (`_values`): ~20 times faster, but blind to number formats, which SPEC §2
    reads on input sheets; so only for the results tables that diversify itself wrote."""
    path = Path(path)
    if path.is_dir():
        raise InputError([Issue(None, None, None, f"{path} is a folder: name the workbook in it")])
    if not path.is_file():
        raise InputError([Issue(None, None, None, f"{path}: no such file")])
    uncached = _uncached_formulas(path, keep)  # the guard: calamine reads only what it passed
    fast = values_only if values_only and uncached is not None else (lambda _title: False)
    uncached, keep = uncached or {}, keep or (lambda _title: True)
    # opened here, not by name: openpyxl refuses a name that does not end in .xlsx (an
    # .xlsx workbook saved as .xls, say), and the guard has checked what the file holds
    with path.open("rb") as fh:
        try:
            wb = load_workbook(fh, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many kinds on a corrupt file
            raise _unreadable(path, e) from e
        try:
            titles = [ws.title for ws in wb.worksheets]  # (not chartsheets)
            sheets = {
                ws.title: _sheet_rows(ws)
                for ws in wb.worksheets
                if keep(ws.title) and not fast(ws.title)
            }
        except Exception as e:
            raise _unreadable(path, e) from e
        finally:
            wb.close()
    quick = [t for t in titles if keep(t) and fast(t)]
    if quick:
        sheets |= _values(path, quick)
        sheets = {t: sheets[t] for t in titles if t in sheets}  # in workbook order
    return RawWorkbook(sheets, {name: set(uncached.get(name, ())) for name in sheets})


def _values(path: Path, titles: list[str]) -> dict[str, list[list[RawCell]]]:
    """The named sheets' cached values by calamine, as openpyxl reads them (a blank is
    None, a whole number an int, a date a datetime), each cell in the "General" format.
    Only for a file the guard has passed: calamine aborts on some hostile ones."""
    from python_calamine import CalamineWorkbook

    def cell(v: Any) -> RawCell:
        if v == "":
            return RawCell(None)
        if type(v) is float and v.is_integer() and abs(v) < 2**53:
            return RawCell(int(v))
        if type(v) is date:  # a date at midnight: openpyxl's datetime
            return RawCell(datetime.combine(v, time()))
        return RawCell(v)

    out = {}
    try:
        book = CalamineWorkbook.from_path(str(path))
        try:
            for title in titles:
                rows = []
                for row in book.get_sheet_by_name(title).to_python(skip_empty_area=False):
                    cells = list(map(cell, row))
                    while cells and cells[-1].value is None:
                        cells.pop()
                    rows.append(cells)
                while rows and not rows[-1]:
                    rows.pop()
                out[title] = rows
        finally:
            book.close()
    except Exception as e:  # calamine's errors (zip, XML) and what it finds odd
        raise _unreadable(path, e) from e
    return out


def _uncached_formulas(
    path: Path, keep: Callable[[str], bool] | None = None
) -> dict[str, set[tuple[int, int]]] | None:
    """Formula cells without a saved result, from the safety guard (which may reject the
    file); None when there is no guard to run."""
    try:
        from diversify.safety import inspect_workbook
    except ImportError:  # the guard is optional: without it no formula is flagged
        return None
    scan = inspect_workbook(path, keep)
    return {name: set(sheet.uncached_formulas) for name, sheet in scan.sheets.items()}


def _unreadable(path: Path, e: Exception) -> InputError:
    detail = str(e) or type(e).__name__
    return InputError(
        [Issue(None, None, None, f"{path} is not a readable .xlsx workbook: {detail}")]
    )


def _sheet_rows(ws: Any) -> list[list[RawCell]]:
    ws.reset_dimensions()  # read-only mode otherwise trusts the file's <dimension> tag
    rows = []
    for row in ws.iter_rows():
        cells = [RawCell(c.value, c.number_format or "General") for c in row]
        while cells and cells[-1].value is None:
            cells.pop()
        rows.append(cells)
    return rows


def read_problem(path: str | os.PathLike[str], sheet_prefix: str = "") -> Problem:
    """The validated problem of an input workbook (or of the input copy in a plan)."""
    return parse(load_raw(path), sheet_prefix)


def parse(raw: RawWorkbook, sheet_prefix: str = "") -> Problem:
    """Check a workbook against SPEC §2-§3; `InputError` lists every problem found."""
    return _Reader(raw, sheet_prefix).problem()


def number_or_issue(value: Any, sheet: str, row: int, column: str) -> tuple[float, Issue | None]:
    """A quantity cell outside the input sheets (e.g. `Plan`): blank is 0, else SPEC §2 rules."""
    if _blank(value):
        return 0.0, None
    try:
        return _bounded(_number(value), (0.0, None)), None
    except _Bad as e:
        return 0.0, Issue(sheet, row, column, f"the cell {e}")


# ---------------------------------------------------------------- single cells


class _Bad(Exception):
    """A cell holds a value its column does not accept; the message completes '<column> …'."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_date(value: Any) -> bool:
    return isinstance(value, date | time | timedelta)


def _number_text(x: float) -> str:
    """123 for 123.0, 1.5 for 1.5: how a number reads as a name or in a message."""
    if isinstance(x, int):
        return str(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _show(value: Any) -> str:
    """A found value, for a message."""
    if isinstance(value, bool):
        return f"the yes/no value {str(value).upper()}"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        if value.strip() in _EXCEL_ERRORS:
            return f"the Excel error {value.strip()}"
        return f"the text {value!r}"
    if _is_date(value):
        return f"the date/time {value}"
    return repr(value)


def _ident(value: Any) -> str:
    if (
        isinstance(value, bool)
        or _is_date(value)
        or (isinstance(value, str) and value.strip() in _EXCEL_ERRORS)
    ):
        raise _Bad(f"must be a name, found {_show(value)}")
    if isinstance(value, int | float):
        return _number_text(value)
    return str(value).strip()


def _text(value: Any) -> str:
    return (
        _number_text(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value).strip()
    )


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        x = value
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        x = value.strip()
    else:
        raise _Bad(f"must be a number, found {_show(value)}")
    try:
        x = float(x)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x) or abs(x) > MAX_ABS:
        raise _Bad(f"must be a finite number no larger than 1e12, found {_show(value)}")
    return x


def _whole(value: Any) -> int:
    x = _number(value)
    if not x.is_integer():
        raise _Bad(f"must be a whole number, found {_show(value)}")
    return int(x)


def _bounded(x: float, bounds: tuple[float | None, float | None]) -> float:
    low, high = bounds
    if low is not None and high is not None and not low <= x <= high:
        raise _Bad(f"must be between {low:g} and {high:g}, found {_number_text(x)}")
    if low is not None and x < low:
        what = "not negative" if low == 0 else f"at least {low:g}"
        raise _Bad(f"must be {what}, found {_number_text(x)}")
    return x


def _yesno(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _YES or word in _NO:
        return word in _YES
    raise _Bad(f"must be yes or no (y/n, true/false, 1/0), found {_show(value)}")


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    word = value.strip().lower() if isinstance(value, str) else None
    if word in choices:
        return word
    raise _Bad(f"must be one of {', '.join(choices)}; found {_show(value)}")


def _shows_percent(number_format: str) -> bool:
    """Does the format show the value times 100 (a % outside quotes, escapes and [..])?"""
    return "%" in _FORMAT_LITERALS.sub("", number_format or "")


def _convert(col: Column, cell: RawCell) -> Any:
    """A non-blank cell's value for its column; `_Bad` when the column does not accept it."""
    value = cell.value
    match col.kind:
        case "raw":
            return cell
        case "id":
            return _ident(value)
        case "text":
            return _text(value)
        case "yesno":
            return _yesno(value)
        case "choice":
            return _choice(value, col.choices)
        case "year":
            return _whole(value)
        case "integer":
            return int(_bounded(_whole(value), col.bounds))
        case "fraction":
            return _bounded(_number(value), (0.0, 1.0))
    x = _number(value)
    if col.unit == "%" and not isinstance(value, str) and _shows_percent(cell.number_format):
        x = round(x * 100.0, 9)  # a cell showing 25 % means 25
    return _bounded(x, col.bounds)


def _year_header(value: Any) -> int | None:
    """The year a header names (2025, 2025.0, ' 2025 '), or None for an ordinary column."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _norm(text: Any) -> str:
    return str(text).strip().lower()


# ---------------------------------------------------------------- tables


@dataclass
class _Row:
    """One data row: converted values (defaults where blank or wrong) and what was typed."""

    number: int  # Excel row
    cells: list[RawCell]
    values: dict[str, Any] = field(default_factory=dict)
    years: dict[int, float] = field(default_factory=dict)
    given: set[str] = field(default_factory=set)  # columns with a non-blank cell
    bad: set[str] = field(default_factory=set)  # columns whose cell was reported

    def ok(self, *names: str) -> bool:
        return self.bad.isdisjoint(names)


@dataclass
class _Table:
    sheet: str
    schema: tuple[Column, ...]
    found: bool = False
    usable: bool = False  # found, with every required column
    columns: dict[str, int] = field(default_factory=dict)  # column name -> 0-based index
    years: dict[int, int] = field(default_factory=dict)  # year read -> 0-based index
    rows: list[_Row] = field(default_factory=list)
    uncached: set[tuple[int, int]] = field(default_factory=set)  # (row, column), 1-based
    needs: tuple[str, ...] = ()  # columns the header must have

    def col(self, name: str) -> Column:
        return next(c for c in self.schema if c.name == name)


class _Reader:
    """Reads one workbook, collecting issues and warnings as it goes."""

    def __init__(self, raw: RawWorkbook, prefix: str):
        self.raw = raw
        self.prefix = prefix
        self.issues: list[Issue] = []
        self.warnings: list[str] = []
        self.years: list[int] | None = None  # the horizon, once Settings is read
        self.reliable: dict[str, bool] = {}  # sheet -> may references be checked against it
        self.material_rows: dict[str, int] = {}  # material -> its Materials row

    # -- reporting

    def label(self, sheet: str) -> str:
        return self.prefix + sheet

    def error(self, sheet: str, row: int | None, column: str | None, message: str) -> None:
        self.issues.append(Issue(self.label(sheet), row, column, message))

    def warn(self, sheet: str, row: int | None, message: str) -> None:
        where = f"{self.label(sheet)} row {row}" if row else self.label(sheet)
        self.warnings.append(f"{where}: {message}")

    def _sorted_issues(self) -> list[Issue]:
        """By sheet (in SHEETS order), row, then column (in schema order)."""
        order = {self.label(s): i for i, s in enumerate(SHEETS)}
        position = {
            (self.label(c.sheet), c.name): i for i, c in enumerate((*_SETTINGS_COLUMNS, *SCHEMA))
        }

        def key(i: Issue) -> tuple:
            year = _year_header(i.column)
            column = i.column if year is None else "<year>"
            return (
                -1 if i.sheet is None else order.get(i.sheet, len(order)),
                i.row or 0,
                position.get((i.sheet, column), -1),
                year or 0,
            )

        return sorted(self.issues, key=key)

    # -- the whole workbook

    def problem(self) -> Problem:
        settings = self.settings()
        self.years = settings.years if settings else None
        materials = self.materials()
        demand = self.demand(materials)
        countries, has_countries = self.countries()
        suppliers = self.suppliers(countries, has_countries)
        offers = self.prices(self.offers(suppliers, materials))
        scenarios = self.scenarios()
        disruptions = self.disruptions(scenarios, materials, suppliers)
        rules = self.policy(materials, suppliers)
        risks = self.risks(materials, suppliers)
        substitutions = self.substitutions(materials)
        if self.issues or settings is None:
            raise InputError(self._sorted_issues())
        return Problem(
            settings,
            materials,
            demand,
            countries,
            suppliers,
            offers,
            scenarios,
            disruptions,
            rules,
            self.warnings,
            risks,
            substitutions,
        )

    # -- reading a sheet

    def find(self, sheet: str) -> str | None:
        """The workbook's name of a sheet, matched ignoring case and surrounding spaces."""
        want = _norm(self.label(sheet))
        names = [n for n in self.raw.sheets if _norm(n) == want]
        if len(names) > 1:
            self.error(
                sheet,
                None,
                None,
                f"sheets {', '.join(map(repr, names))} all read as {self.label(sheet)!r}; keep one",
            )
        return names[0] if names else None

    def table(
        self,
        sheet: str,
        schema: tuple[Column, ...] | None = None,
        lazy: tuple[str, ...] = (),
        needs: tuple[str, ...] | None = None,
    ) -> _Table:
        """Read a sheet against its schema: header, then each non-blank row's values.

        Columns in `lazy` are not read here: the caller `read`s them where they matter.
        `needs` are the columns the header must have (default: the required ones).
        """
        t = _Table(sheet, schema or columns(sheet))
        t.needs = needs or tuple(c.name for c in t.schema if c.required)
        name = self.find(sheet)
        self.reliable[sheet] = name is None and sheet not in REQUIRED_SHEETS
        if name is None:
            if sheet in REQUIRED_SHEETS:
                names = list(map(repr, self.raw.sheets))
                found = ", ".join(names[:SHEETS_NAMED]) or "none"
                if len(names) > SHEETS_NAMED:
                    found += f", ... ({len(names)} in all)"
                self.error(
                    sheet,
                    None,
                    None,
                    f"the workbook has no sheet {self.label(sheet)!r} (sheets found: {found})",
                )
            return t
        t.found = True
        rows = self.raw.sheets[name]
        t.uncached = self.raw.uncached_formulas.get(name, set())
        n_rows = max([len(rows), *(r for r, _ in t.uncached)])
        cells_of = [rows[i] if i < len(rows) else [] for i in range(n_rows)]
        widest_uncached: dict[int, int] = {}
        for r, k in t.uncached:
            widest_uncached[r] = max(widest_uncached.get(r, 0), k)
        widths = [max(len(c), widest_uncached.get(i + 1, 0)) for i, c in enumerate(cells_of)]
        header = next(
            (i for i in range(n_rows) if self._filled(t, cells_of[i], range(widths[i]), i + 1)),
            None,
        )
        if header is None:  # an entirely blank sheet: no rows
            t.usable = sheet not in REQUIRED_SHEETS
            header = n_rows
        t.usable = t.usable or self._header(
            t, cells_of[header] if header < n_rows else [], header + 1
        )
        self.reliable[sheet] = t.usable
        if not t.usable:
            return t
        read = [*t.columns.values(), *t.years.values()]
        for i in range(header + 1, n_rows):
            if self._filled(t, cells_of[i], read, i + 1):
                t.rows.append(self._row(t, _Row(i + 1, cells_of[i]), lazy))
        return t

    @staticmethod
    def _filled(t: _Table, cells: list[RawCell], indices: Any, row: int) -> bool:
        return any(
            (i < len(cells) and not _blank(cells[i].value)) or (row, i + 1) in t.uncached
            for i in indices
        )

    def _header(self, t: _Table, cells: list[RawCell], row: int) -> bool:
        """Map the header's columns; report missing, repeated and out-of-horizon ones."""
        names = {c.name for c in t.schema} - {"<year>"}
        has_years = len(names) < len(t.schema)
        found: dict[str, list[int]] = {}
        years: dict[int, list[int]] = {}
        for i, cell in enumerate(cells):
            if (row, i + 1) in t.uncached:
                self.error(t.sheet, row, get_column_letter(i + 1), f"header: {RECALCULATE}")
            elif (year := _year_header(cell.value) if has_years else None) is not None:
                years.setdefault(year, []).append(i)
            elif not _blank(cell.value) and _norm(cell.value) in names:
                found.setdefault(_norm(cell.value), []).append(i)
        for key, where in [*found.items(), *years.items()]:
            if len(where) > 1:
                letters = " and ".join(get_column_letter(i + 1) for i in where)
                self.error(
                    t.sheet,
                    row,
                    str(key),
                    f"column {str(key)!r} appears more than once (columns {letters}); keep one",
                )
        t.columns = {k: v[0] for k, v in found.items()}
        if has_years:
            self._year_columns(t, {y: v[0] for y, v in years.items()}, row)
        missing = [name for name in t.needs if name not in t.columns]
        for name in missing:
            self.error(
                t.sheet,
                row,
                name,
                f"required column {name!r} is missing from the header (row {row})",
            )
        return not missing

    def _year_columns(self, t: _Table, years: dict[int, int], row: int) -> None:
        if self.years is None:  # no horizon: read every year column
            t.years = dict(sorted(years.items()))
            return
        t.years = {y: years[y] for y in self.years if y in years}
        outside = sorted(y for y in years if y not in t.years)
        if outside:
            self.warn(
                t.sheet,
                row,
                f"year columns {', '.join(map(str, outside))} lie outside "
                f"the horizon {self.years[0]}-{self.years[-1]} and are "
                f"ignored",
            )
        if t.sheet in ("Demand", "Offers"):
            for y in self.years:
                if y not in years:
                    self.error(
                        t.sheet,
                        row,
                        str(y),
                        f"no column for year {y}: {t.sheet} needs "
                        f"one column per year of the horizon",
                    )

    def _row(self, t: _Table, r: _Row, lazy: tuple[str, ...]) -> _Row:
        for col in t.schema:
            if col.name != "<year>" and col.name not in lazy:
                r.values[col.name] = self.read(t, r, col)
        for y, i in t.years.items():
            r.years[y] = self.read(t, r, t.col("<year>"), i, str(y))
        return r

    def read(
        self,
        t: _Table,
        r: _Row,
        col: Column | str,
        index: int | None = None,
        label: str | None = None,
    ) -> Any:
        """One cell's value: converted, or the default when blank or absent; issues recorded."""
        col = t.col(col) if isinstance(col, str) else col
        fallback = None if col.required else col.default
        index = t.columns.get(col.name) if index is None else index
        if index is None:  # an optional column the sheet does not have
            return fallback
        label = label or col.name
        cell = r.cells[index] if index < len(r.cells) else RawCell(None)
        if (r.number, index + 1) in t.uncached:
            return self._reject(t, r, label, RECALCULATE, fallback)
        if _blank(cell.value):
            if col.required:
                what = "this row has values but" if col.kind == "id" else "the cell is blank:"
                return self._reject(
                    t, r, label, f"{what} {col.name} is required ({col.meaning})", None
                )
            return col.default
        r.given.add(label)
        try:
            return _convert(col, cell)
        except _Bad as e:
            return self._reject(t, r, label, f"{col.name} {e}", fallback)

    def _reject(self, t: _Table, r: _Row, label: str, message: str, fallback: Any) -> Any:
        self.error(t.sheet, r.number, label, message)
        r.bad.add(label)
        return fallback

    def unique(
        self, t: _Table, r: _Row, seen: dict[Any, int], key: Any, column: str, what: str
    ) -> bool:
        """Is this the first row with this key? A repeat is an input error."""
        if key in seen:
            self.error(
                t.sheet, r.number, column, f"duplicate {what} {key!r}: already on row {seen[key]}"
            )
            return False
        seen[key] = r.number
        return True

    def exists(
        self, t: _Table, r: _Row, column: str, name: str | None, known: Any, sheet: str
    ) -> None:
        """A name this row refers to must be listed on `sheet` (when that sheet is readable)."""
        if name is None or not r.ok(column) or not self.reliable.get(sheet) or name in known:
            return
        if list(known) == [BASE] and sheet == "Scenarios":
            where = f"it must be {BASE!r}, the one scenario when Scenarios has no rows"
        else:
            where = f"it is not listed in {self.label(sheet)}"
        self.error(t.sheet, r.number, column, f"{column} {name!r} does not exist: {where}")

    # -- Settings

    def settings(self) -> Settings | None:
        t = self.table("Settings", _SETTINGS_COLUMNS, needs=_SETTINGS_NEEDS)
        values: dict[str, Any] = {}
        rows: dict[str, int] = {}
        for r in t.rows:
            name = r.values["setting"]
            if name is None:
                continue
            key = name.lower()
            if key not in SETTINGS:
                self.warn(
                    "Settings",
                    r.number,
                    f"unknown setting {name!r} is ignored (settings: {', '.join(SETTINGS)})",
                )
            elif self.unique(t, r, rows, key, "setting", "setting"):
                cell = r.values["value"]
                if cell is not None:
                    values[key] = self._setting(t, r, key, cell)
                elif not r.ok("value"):
                    values[key] = None  # reported
        return self._settings_object(t, values, rows)

    def _setting(self, t: _Table, r: _Row, key: str, cell: RawCell) -> Any:
        kind = SETTINGS[key][0]
        try:
            if kind == "year":
                return _whole(cell.value)
            if kind == "choice":
                return _choice(cell.value, (NONANTICIPATIVE, CLAIRVOYANT))
            x = _number(cell.value)
            if x not in SETTING_RANGES[key]:
                raise _Bad(f"must be {SETTING_RANGES[key]}, found {_number_text(x)}")
            return x
        except _Bad as e:
            return self._reject(t, r, "value", f"{key} {e}", None)

    def _settings_object(
        self, t: _Table, values: dict[str, Any], rows: dict[str, int]
    ) -> Settings | None:
        if not t.usable:
            return None
        for key in ("first_year", "last_year"):
            if key not in rows:
                self.error(
                    "Settings",
                    None,
                    "setting",
                    f"no {key} row: {key} is required ({SETTINGS[key][2]})",
                )
            elif key not in values:
                self.error(
                    "Settings",
                    rows[key],
                    "value",
                    f"the cell is blank: {key} is required ({SETTINGS[key][2]})",
                )
        first, last = values.get("first_year"), values.get("last_year")
        if first is None or last is None:
            return None
        if first > last:
            self.error(
                "Settings",
                rows["last_year"],
                "value",
                f"last_year {last} is before first_year {first}",
            )
            return None
        return Settings(**{k: v for k, v in values.items() if v is not None})

    # -- Materials, Demand, Countries, Suppliers, Offers

    def materials(self) -> dict[str, Material]:
        t = self.table("Materials")
        out: dict[str, Material] = {}
        seen = self.material_rows
        for r in t.rows:
            v = r.values
            name = v["material"]
            if r.ok("material") and self.unique(t, r, seen, name, "material", "material"):
                out[name] = Material(
                    name,
                    v["spot_price_usd_per_kg"],
                    v["shortfall_penalty_usd_per_kg"],
                    v["spot_max_t"],
                    v["holding_cost_usd_per_kg_year"],
                    v["initial_stock_t"],
                    v["max_stock_t"],
                )
        return out

    def demand(self, materials: dict[str, Material]) -> dict[tuple[str, int], float]:
        t = self.table("Demand")
        rows: dict[Any, int] = {}
        demand: dict[tuple[str, int], float] = {}
        for r in t.rows:
            name = r.values["material"]
            self.exists(t, r, "material", name, materials, "Materials")
            if r.ok("material") and self.unique(t, r, rows, name, "material", "material"):
                demand.update({(name, y): q for y, q in r.years.items()})
        if t.usable and self.reliable["Materials"]:
            for name in materials:
                if name not in rows:
                    self.warn(
                        "Materials",
                        self.material_rows[name],
                        f"material {name!r} has no Demand row: it has no demand",
                    )
        return {(m, y): demand.get((m, y), 0.0) for m in materials for y in self.years or ()}

    def countries(self) -> tuple[dict[str, Country], bool]:
        t = self.table("Countries")
        out: dict[str, Country] = {}
        seen: dict[Any, int] = {}
        for r in t.rows:
            name = r.values["country"]
            if r.ok("country") and self.unique(t, r, seen, name, "country", "country"):
                out[name] = Country(name, r.values["risk_score"], dict(r.years))
        return out, t.found

    def suppliers(self, countries: dict[str, Country], has_countries: bool) -> dict[str, Supplier]:
        t = self.table("Suppliers")
        out: dict[str, Supplier] = {}
        seen: dict[Any, int] = {}
        for r in t.rows:
            v = r.values
            name = v["supplier"]
            if not (r.ok("supplier") and self.unique(t, r, seen, name, "supplier", "supplier")):
                continue
            country = v["country"] or ""
            s = out[name] = Supplier(
                name,
                country,
                v["ore_origin"] or country,
                v["processing_country"] or country,
                v["tariff_country"] or country,
                v["qualified"],
                v["lead_time_years"],
                v["qualification_cost_usd"],
                v["annual_fixed_cost_usd"],
                v["risk_score"],
            )
            if has_countries and self.reliable["Countries"] and country:
                self._unknown_countries(r, s, countries)
        return out

    def _unknown_countries(self, r: _Row, s: Supplier, countries: dict[str, Country]) -> None:
        missing = [c for c in dict.fromkeys((s.country, s.tariff_country)) if c not in countries]
        if not missing:
            return
        effects = []
        if s.country in missing and s.risk_score is None:
            effects.append("its risk is taken as 0")
        if s.tariff_country in missing:
            effects.append("no tariff applies to it")
        self.warn(
            "Suppliers",
            r.number,
            f"supplier {s.name!r}: {' and '.join(map(repr, missing))} not listed in "
            f"Countries" + (f" ({', '.join(effects)})" if effects else ""),
        )

    def offers(
        self, suppliers: dict[str, Supplier], materials: dict[str, Material]
    ) -> dict[tuple[str, str], Offer]:
        t = self.table("Offers")
        out: dict[tuple[str, str], Offer] = {}
        seen: dict[Any, int] = {}
        for r in t.rows:
            v = r.values
            s, m = v["supplier"], v["material"]
            self.exists(t, r, "supplier", s, suppliers, "Suppliers")
            self.exists(t, r, "material", m, materials, "Materials")
            if r.ok("supplier", "material") and self.unique(
                t, r, seen, (s, m), "material", "offer (supplier, material)"
            ):
                capacity = {y: r.years.get(y, 0.0) for y in self.years or r.years}
                term = v["min_contract_years"]
                out[(s, m)] = Offer(s, m, v["price_usd_per_kg"], v["min_order_t"], capacity, term)
            self._contract_term(r)
        return out

    def _contract_term(self, r: _Row) -> None:
        """A contract term above one year is a promise of a minimum volume every year."""
        term, floor = r.values["min_contract_years"], r.values["min_order_t"]
        if r.ok("min_contract_years", "min_order_t") and term > 1 and floor <= 0:
            self.error(
                "Offers",
                r.number,
                "min_contract_years",
                f"min_contract_years {term} needs a min_order_t above 0 (a contract term is "
                "a promise to take a minimum volume every year)",
            )

    def prices(self, offers: dict[tuple[str, str], Offer]) -> dict[tuple[str, str], Offer]:
        """Offers with the `Prices` sheet's year-by-year prices (blank = the offer's own)."""
        t = self.table("Prices")
        seen: dict[Any, int] = {}
        out = dict(offers)
        for r in t.rows:
            key = (r.values["supplier"], r.values["material"])
            if not r.ok("supplier", "material"):
                continue
            if self.reliable["Offers"] and key not in offers:
                self.error(
                    "Prices",
                    r.number,
                    "supplier",
                    f"no offer ({key[0]!r}, {key[1]!r}) in Offers: a Prices row must name "
                    "an offer of the Offers sheet",
                )
            elif self.unique(t, r, seen, key, "supplier", "Prices row for the offer") and (
                key in out
            ):
                given = {y: p for y, p in r.years.items() if p is not None}
                out[key] = replace(out[key], prices_usd_per_kg=given)
        return out

    # -- Scenarios, Disruptions, Policy

    def scenarios(self) -> list[Scenario]:
        t = self.table("Scenarios")
        if not t.rows:
            return [Scenario(BASE, 1.0)]
        out: list[Scenario] = []
        seen: dict[Any, int] = {}
        for r in t.rows:
            v = r.values
            if r.ok("scenario") and self.unique(t, r, seen, v["scenario"], "scenario", "scenario"):
                out.append(
                    Scenario(
                        v["scenario"],
                        v["probability"],
                        v["demand_multiplier"],
                        v["spot_price_multiplier"],
                        v["description"],
                    )
                )
        if all(r.ok("probability") for r in t.rows):
            total = math.fsum(r.values["probability"] for r in t.rows)
            if abs(total - 1.0) > PROBABILITY_TOL:
                self.error(
                    "Scenarios",
                    None,
                    "probability",
                    f"the probabilities sum to {total:.10g}; they must sum to 1 (within 1e-6)",
                )
        return out

    def span(self, t: _Table, r: _Row) -> tuple[int, ...]:
        """The horizon years a row covers: from_year..to_year (blank = horizon ends), clipped."""
        start, end = r.values["from_year"], r.values["to_year"]
        if start is not None and end is not None and start > end:
            self.error(t.sheet, r.number, "from_year", f"from_year {start} is after to_year {end}")
            return ()
        if self.years is None or not r.ok("from_year", "to_year"):
            return ()
        first, last = self.years[0], self.years[-1]
        start = first if start is None else start
        end = last if end is None else end
        years = tuple(range(max(start, first), min(end, last) + 1))
        if not years:
            self.warn(
                t.sheet,
                r.number,
                f"years {start}-{end} lie outside the horizon "
                f"{first}-{last}: the row covers nothing",
            )
        return years

    def check_target(
        self, t: _Table, r: _Row, scope: str, target: str, suppliers: dict[str, Supplier]
    ) -> None:
        """Warn about a target that matches no supplier along the row's scope."""
        if not self.reliable["Suppliers"]:
            return
        links = {
            "country": lambda s: (s.country,),
            "ore_origin": lambda s: (s.ore_origin,),
            "processing_country": lambda s: (s.processing_country,),
            "supplier": lambda s: (s.name,),
            "any_link": lambda s: (s.country, s.ore_origin, s.processing_country),
        }[scope]
        if not any(target in links(s) for s in suppliers.values()):
            self.warn(
                t.sheet,
                r.number,
                f"target {target!r} matches no supplier's {scope} "
                f"(check the spelling): the row changes nothing",
            )

    def disruptions(
        self,
        scenarios: list[Scenario],
        materials: dict[str, Material],
        suppliers: dict[str, Supplier],
    ) -> list[Disruption]:
        t = self.table("Disruptions")
        names = [s.name for s in scenarios]
        out: list[Disruption] = []
        for r in t.rows:
            v = r.values
            self.exists(t, r, "scenario", v["scenario"], names, "Scenarios")
            self.exists(t, r, "material", v["material"], materials, "Materials")
            target = self._disruption_target(t, r, suppliers)
            self._price_without_availability(t, r)
            if v["scope"] == "spot":
                self._spot_limit(t, r, materials)
            out.append(
                Disruption(
                    v["scenario"],
                    v["scope"],
                    target,
                    v["material"],
                    self.span(t, r),
                    v["availability"],
                    v["price_multiplier"],
                    r.number,
                )
            )
        hit = [d.row for d in out if names and d.scenario == names[0]]
        if hit:
            self.warn(
                "Disruptions",
                None,
                f"the first scenario {names[0]!r} is the normal world, yet rows "
                f"{', '.join(map(str, hit))} disrupt it",
            )
        return out

    def _price_without_availability(self, t: _Table, r: _Row) -> None:
        if "price_multiplier" in r.given and "availability" not in r.given:
            self.warn(
                t.sheet,
                r.number,
                "price_multiplier is set but availability is blank, so the row is a "
                "stop (availability 0); for a price shock alone set availability 1",
            )

    def risks(self, materials: dict[str, Material], suppliers: dict[str, Supplier]) -> list[Risk]:
        """The `Risks` sheet (SPEC §3, §7): as Disruptions, plus event odds and lengths."""
        t = self.table("Risks")
        out: list[Risk] = []
        seen: dict[Any, int] = {}
        for r in t.rows:
            v = r.values
            self.exists(t, r, "material", v["material"], materials, "Materials")
            target = self._disruption_target(t, r, suppliers)
            self._price_without_availability(t, r)
            lengths = self._event_lengths(t, r)
            if v["scope"] == "spot":
                self._spot_limit(t, r, materials)
                ignored = [c for c in ("spot_availability", "spot_price_multiplier") if v[c] != 1]
                if ignored:
                    self.warn(
                        t.sheet,
                        r.number,
                        f"{' and '.join(ignored)} ignored: a spot row hits the spot market "
                        "through availability and price_multiplier",
                    )
            elif v["scope"] is not None:
                self._spot_limit(t, r, materials, "spot_availability")
            years = self.span(t, r)
            if not (r.ok("risk") and self.unique(t, r, seen, v["risk"], "risk", "risk")):
                continue
            if lengths is not None and v["scope"] is not None and v["probability"] is not None:
                out.append(
                    Risk(
                        v["risk"],
                        v["scope"],
                        target if v["scope"] != "spot" else None,
                        v["material"],
                        v["probability"],
                        years,
                        *lengths,
                        v["availability"],
                        v["price_multiplier"],
                        v["spot_availability"],
                        v["spot_price_multiplier"],
                        r.number,
                    )
                )
        return out

    def _event_lengths(self, t: _Table, r: _Row) -> tuple[int, int] | None:
        """min_years, max_years: positive whole numbers, min <= max (max blank = min)."""
        low, high = r.values["min_years"], r.values["max_years"]
        for name, value in (("min_years", low), ("max_years", high)):
            if value == 0 and r.ok(name):
                self._reject(t, r, name, f"{name} must be at least 1 (whole years), found 0", None)
        if not r.ok("min_years", "max_years") or low is None:
            return None
        high = low if high is None else high
        if low > high:
            self._reject(t, r, "max_years", f"max_years {high} is below min_years {low}", None)
            return None
        return low, high

    def _disruption_target(self, t: _Table, r: _Row, suppliers: dict[str, Supplier]) -> str | None:
        scope, target = r.values["scope"], r.values["target"]
        if scope == "spot":
            if target is not None:
                self.warn(
                    t.sheet,
                    r.number,
                    f"target {target!r} is ignored: a spot row hits the spot market",
                )
            return None
        if scope is not None and target is None and r.ok("target"):
            self._reject(
                t,
                r,
                "target",
                f"target is required for scope {scope} (the "
                f"country or supplier hit; only spot rows leave it "
                f"blank)",
                None,
            )
        elif scope is not None and target is not None:
            self.check_target(t, r, scope, target, suppliers)
        return target

    def _spot_limit(
        self, t: _Table, r: _Row, materials: dict[str, Material], column: str = "availability"
    ) -> None:
        """A partial spot availability (`column`) needs a finite spot_max_t to scale."""
        v = r.values
        if not r.ok(column, "material") or not 0.0 < v[column] < 1.0:
            return
        reached = (
            [materials[v["material"]]]
            if v["material"] in materials
            else ([] if v["material"] else list(materials.values()))
        )
        unlimited = [m.name for m in reached if m.spot_max_t is None]
        if unlimited:
            self.error(
                t.sheet,
                r.number,
                column,
                f"{column} {v[column]:g} of an unlimited spot market is "
                f"still unlimited: give a spot_max_t in Materials for "
                f"{', '.join(map(repr, unlimited))}",
            )

    def policy(self, materials: dict[str, Material], suppliers: dict[str, Supplier]) -> list[Rule]:
        t = self.table("Policy", lazy=("scope", "target"))
        out: list[Rule] = []
        for r in t.rows:
            v = r.values
            rule = v["rule"]
            self.exists(t, r, "material", v["material"], materials, "Materials")
            scope, target = (
                self._rule_link(t, r, suppliers) if rule in SHARE_RULES else (None, None)
            )
            self._rule_value(t, r)
            out.append(
                Rule(rule, scope, target, v["material"], self.span(t, r), v["value"], r.number)
            )
        return out

    def _rule_link(
        self, t: _Table, r: _Row, suppliers: dict[str, Supplier]
    ) -> tuple[str | None, str | None]:
        """Scope and target of a share rule: both required, the target should match."""
        scope, target = self.read(t, r, "scope"), self.read(t, r, "target")
        for name, value in (("scope", scope), ("target", target)):
            if value is None and r.ok(name):
                self._reject(
                    t,
                    r,
                    name,
                    f"{name} is required for rule {r.values['rule']} ({t.col(name).meaning})",
                    None,
                )
        if scope is not None and target is not None:
            self.check_target(t, r, scope, target, suppliers)
        return scope, target

    def _rule_value(self, t: _Table, r: _Row) -> None:
        rule, value = r.values["rule"], r.values["value"]
        if rule is None or value is None or not r.ok("value"):
            return
        if rule == "min_suppliers" and not value.is_integer():
            self._reject(
                t,
                r,
                "value",
                f"value of min_suppliers must be a whole number of "
                f"suppliers, found {_number_text(value)}",
                None,
            )
        elif rule != "min_suppliers" and value > 1.0:
            self._reject(
                t,
                r,
                "value",
                f"value of {rule} must be between 0 and 1, found {_number_text(value)}",
                None,
            )

    # -- Substitutions

    def substitutions(self, materials: dict[str, Material]) -> dict[str, Substitution]:
        """Options that cut a material's demand; one material's reductions sum to <= 1."""
        t = self.table("Substitutions")
        out: dict[str, Substitution] = {}
        seen: dict[Any, int] = {}
        for r in t.rows:
            v = r.values
            self.exists(t, r, "material", v["material"], materials, "Materials")
            if r.ok("reduction") and v["reduction"] is not None and v["reduction"] <= 0:
                self._reject(
                    t, r, "reduction", "reduction must be above 0 (and at most 1), found 0", None
                )
            if not (r.ok("option") and self.unique(t, r, seen, v["option"], "option", "option")):
                continue
            if not r.ok("material", "reduction", "from_year") or v["material"] is None:
                continue
            start = v["from_year"]
            if self.years and start is not None and start > self.years[-1]:
                self.warn(
                    "Substitutions",
                    r.number,
                    f"option {v['option']!r} takes effect from {start}, after the last year "
                    f"{self.years[-1]}: it can never be taken",
                )
            out[v["option"]] = Substitution(
                v["option"],
                v["material"],
                v["reduction"],
                start,
                v["investment_usd"],
                v["annual_cost_usd"],
                r.number,
            )
        self._total_reductions(out)
        return out

    def _total_reductions(self, options: dict[str, Substitution]) -> None:
        by_material: dict[str, list[Substitution]] = {}
        for o in options.values():
            by_material.setdefault(o.material, []).append(o)
        for m, group in by_material.items():
            total = math.fsum(o.reduction for o in group)
            if total > 1.0 + 1e-9:
                rows = ", ".join(str(o.row) for o in group)
                self.error(
                    "Substitutions",
                    group[-1].row,
                    "reduction",
                    f"the reductions of material {m!r} (rows {rows}) sum to {total:.10g}; "
                    "they may sum to at most 1 (demand cannot fall below zero)",
                )
