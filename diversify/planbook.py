"""The plan workbook of SPEC §5: written by `solve` and `evaluate`, read by `evaluate`.

Layout (fixed, so that edited plans can always be read back):
    Summary, Plan, Substitution plan (when the input has options), Charts, Scenario
    costs, Recovery, Shares, Concentration, Scenario tree, Explain (after a solve),
    Breaches, Warnings, Run, then
    `Input <sheet>` copies of every input sheet.
`Plan`: header exactly supplier, material, one column per year; one row per offer.
`Substitution plan`: header exactly option, start_year; one row per option, the year
it takes effect or blank when it is not taken.
"""

from __future__ import annotations

import math
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from diversify.data import Problem
from diversify.errors import InputError, Issue
from diversify.excel_out import (
    FORMATS,
    SUBTITLE_FONT,
    TITLE_FONT,
    add_series,
    copy_sheet,
    safe_value,
    save_atomic,
    table_sheet,
    title_sheet,
    write_run_sheet,
    write_table,
)
from diversify.results import SUMMARY_FIGURES, Results

INPUT_PREFIX = "Input "
PLAN_SHEET = "Plan"
SUBSTITUTION_SHEET = "Substitution plan"
SUBSTITUTION_HEADER = ("option", "start_year")
WARNING_FONT = Font(bold=True, color="C00000")
UNIT_FORMAT = {"USD": "USD", "t": "t", "%": "share", "s": "s", "count": "int"}
NAMED_AT_MOST = 5  # offers named in a warning about the Plan sheet


def write_plan_workbook(
    path: Path,
    problem: Problem,
    results: Results,
    input_sheets: dict[str, list[list]],
    run_info: dict[str, object],
    force: bool = False,
) -> None:
    """Lay out the results, the run's metadata and the input copies; save atomically."""
    wb = Workbook()
    _summary_sheet(wb.active, results, run_info)
    ws = wb.create_sheet(PLAN_SHEET)
    write_table(
        ws,
        results.plan,
        {t: "t" for t in problem.years},
        freeze="C2",
        comments={
            str(t): f"tonnes contracted in {t}; edit and run `diversify evaluate`"
            for t in problem.years
        },
    )
    if problem.substitutions:
        ws = wb.create_sheet(SUBSTITUTION_SHEET)
        write_table(
            ws,
            results.substitutions[list(SUBSTITUTION_HEADER)],
            {"start_year": "int"},
            comments={
                "start_year": "the year the option takes effect, blank = not taken; edit "
                "and run `diversify evaluate`"
            },
        )
    _charts_sheet(wb.create_sheet("Charts"), results)
    ws = wb.create_sheet("Scenario costs")
    costs = results.scenario_costs
    write_table(
        ws, costs, {c: "USD" for c in costs.columns if c.endswith("_usd")} | {"probability": "prob"}
    )
    _cost_chart(ws, len(costs), len(costs.columns))
    stock = {c: "t" for c in results.tree.columns if c.startswith("stock_t ")}
    long_tables = {  # thousands of rows: streamed (excel_out.table_sheet)
        "Recovery": table_sheet(
            results.recovery, {c: "t" for c in ("spot_t", "stock_t", "shortfall_t", "surplus_t")}
        ),
        "Shares": table_sheet(results.shares, {"volume_t": "t", "share": "share"}),
        "Concentration": table_sheet(
            results.concentration, {"volume_t": "t", "hhi": "hhi", "avg_risk": "risk"}
        ),
        "Scenario tree": table_sheet(results.tree, stock | {"scenario_count": "int"}),
    }
    if results.explain is not None:
        long_tables["Explain"] = table_sheet(results.explain, {"usd_per_t": "USD", "usd": "USD"})
    for title in long_tables:
        wb.create_sheet(title)
    _list_sheet(
        wb.create_sheet("Breaches"), "breach", results.breaches, "The plan keeps every rule."
    )
    _list_sheet(wb.create_sheet("Warnings"), "warning", results.warnings, "No warnings.")
    write_run_sheet(wb, run_info)
    for name, rows in input_sheets.items():
        copy_sheet(wb.create_sheet(input_sheet_title(name)), rows)
    save_atomic(wb, path, force, long_tables)


def input_sheet_title(name: str) -> str:
    return (INPUT_PREFIX + name)[:31]


def _summary_sheet(ws, results: Results, run_info: dict[str, object]) -> None:
    title_sheet(ws, "Summary", "diversify — sourcing plan")
    safe_value(
        ws["A2"],
        f"Input: {run_info.get('input_file', '')}   "
        f"Status: {results.summary.get('status')}   "
        f"MIP gap: {_pct(results.summary.get('mip_gap'))}",
    )
    if results.summary.get("status") == "time_limit":
        safe_value(
            ws["A3"],
            f"Stopped at the time limit: this is the best plan found, its cost within "
            f"{_pct(results.summary.get('mip_gap'))} of the optimum (raise time_limit_s).",
        )
        ws["A3"].font = WARNING_FONT
    if results.breaches:
        safe_value(ws["A3"], f"This plan breaks {len(results.breaches)} rule(s): see Breaches.")
        ws["A3"].font = WARNING_FONT
    rows = [(label, results.summary.get(key), unit, key) for key, label, unit in SUMMARY_FIGURES]
    import pandas as pd

    df = pd.DataFrame(rows, columns=["figure", "value", "unit", "key"])
    write_table(ws, df, start_row=4, freeze="A5")
    for i, (_, _, unit, _) in enumerate(rows, start=5):
        fmt = UNIT_FORMAT.get(unit)
        if fmt:
            ws.cell(i, 2).number_format = FORMATS[fmt]
    below = _dependence_block(ws, results, col=6, row=4)
    _substitution_block(ws, results, col=6, row=below + 2)
    ws.column_dimensions["A"].width = 60
    ws.column_dimensions["B"].width = 20
    ws.column_dimensions["E"].width = 3


def _dependence_block(ws, results: Results, col: int, row: int) -> int:
    """Beside the figures: dependence on China by material and year, and shortfall risk;
    returns the last row written."""
    dep = results.dependence
    target = next((t for t in dep["target"] if t), None)
    title = (
        f"Share of contracted volume linked to {target} (mined, processed or shipped there)"
        if target
        else "No supplier is linked to China"
    )
    safe_value(ws.cell(row, col), title)
    ws.cell(row, col).font = SUBTITLE_FONT
    if target:
        wide = dep.pivot(index="material", columns="year", values="linked_share")
        wide = wide.reindex(list(dict.fromkeys(dep["material"]))).reset_index()
        write_table(
            ws,
            wide,
            {c: "share" for c in wide.columns if c != "material"},
            start_row=row + 1,
            start_col=col,
            freeze="A5",
            autofilter=False,
        )
        last = row + 1 + len(wide)
        ws.conditional_formatting.add(
            f"{get_column_letter(col + 1)}{row + 2}:"
            f"{get_column_letter(col + len(wide.columns) - 1)}{last}",
            ColorScaleRule(
                start_type="num",
                start_value=0,
                start_color="FFFFFF",
                end_type="num",
                end_value=1,
                end_color="F8696B",
            ),
        )
        row = last + 2
    else:
        row += 2
    safe_value(ws.cell(row, col), "Shortfall risk (t over the horizon)")
    ws.cell(row, col).font = SUBTITLE_FONT
    short = results.shortfall
    write_table(
        ws,
        short,
        {"expected_shortfall_t": "t", "worst_shortfall_t": "t"},
        start_row=row + 1,
        start_col=col,
        freeze="A5",
        autofilter=False,
    )
    return row + 1 + len(short)


def _substitution_block(ws, results: Results, col: int, row: int) -> None:
    """Below the shortfall risk: every option, the year it takes effect (blank: not
    taken) and what it saves: the same plan's expected cost without it, less the plan's."""
    subs = results.substitutions
    if subs.empty:
        return
    safe_value(
        ws.cell(row, col),
        "Substitution options (saving: expected cost of this plan without the option, "
        "less with it)",
    )
    ws.cell(row, col).font = SUBTITLE_FONT
    write_table(
        ws,
        subs,
        {"reduction": "share", "start_year": "int", "saving_usd": "USD"},
        start_row=row + 1,
        start_col=col,
        freeze="A5",
        autofilter=False,
    )


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:.4%}"


def _charts_sheet(ws, results: Results) -> None:
    """Per material: sourcing mix by country per year, and stock over time per scenario.

    Each chart's data stand in a small table at its left.
    """
    ws["A1"] = "Sourcing mix by country (t contracted) and stock at year end (t)"
    ws["A1"].font = TITLE_FONT
    row = 3
    country = results.shares[results.shares["dimension"] == "country"]
    for m in dict.fromkeys(results.recovery["material"]):
        mix = (
            country[country["material"] == m]
            .pivot_table(index="year", columns="origin", values="volume_t", aggfunc="sum")
            .fillna(0.0)
        )
        years = sorted(set(results.recovery["year"]))
        mix = mix.reindex(years, fill_value=0.0).reset_index()
        stock = (
            results.recovery[results.recovery["material"] == m]
            .pivot_table(
                index="year", columns="scenario", values="stock_t", aggfunc="sum", sort=False
            )
            .reset_index()
        )
        safe_value(ws.cell(row, 1), m)
        ws.cell(row, 1).font = SUBTITLE_FONT
        write_table(
            ws,
            mix,
            {c: "t" for c in mix.columns if c != "year"},
            start_row=row + 1,
            freeze="A2",
            autofilter=False,
        )
        height = max(len(mix), 12) + 4
        if len(mix.columns) > 1:
            chart = BarChart()
            chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
            chart.title, chart.y_axis.title = f"{m}: contracted volume by country", "t"
            add_series(chart, ws, row + 1, len(mix), 2, len(mix.columns))
            ws.add_chart(chart, f"{get_column_letter(len(mix.columns) + 2)}{row}")
        col = len(mix.columns) + 12
        write_table(
            ws,
            stock,
            {c: "t" for c in stock.columns if c != "year"},
            start_row=row + 1,
            start_col=col,
            freeze="A2",
            autofilter=False,
        )
        line = LineChart()
        line.title, line.y_axis.title = f"{m}: stock at year end by scenario", "t"
        add_series(
            line, ws, row + 1, len(stock), col + 1, col + len(stock.columns) - 1, cat_col=col
        )
        ws.add_chart(line, f"{get_column_letter(col + len(stock.columns) + 1)}{row}")
        row += height + 2


def _cost_chart(ws, n_rows: int, n_cols: int) -> None:
    """Stacked bars: each scenario's cost by part."""
    if n_rows == 0:
        return
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    chart.title, chart.y_axis.title = "Cost by scenario (discounted USD)", "USD"
    data = Reference(ws, min_col=3, max_col=n_cols - 1, min_row=1, max_row=n_rows + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n_rows + 1))
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, f"A{n_rows + 4}")


def _list_sheet(ws, header: str, items: list[str], empty: str | None) -> None:
    import pandas as pd

    write_table(ws, pd.DataFrame({header: items or [empty]}))


# ---------------------------------------------------------------- reading a plan back


def read_plan_sheet(
    rows: list[list], problem: Problem, uncached: set[tuple[int, int]] = frozenset()
) -> dict[tuple[str, str, int], float]:
    """The `Plan` sheet as {(supplier, material, year): t}; every problem found at once.

    `uncached`: (row, column) of formula cells saved without a value.
    """
    from diversify.reader import number_or_issue  # one number parser for every sheet

    issues: list[Issue] = []
    if not rows:
        raise InputError([Issue(PLAN_SHEET, None, None, "the sheet is empty")])
    header = [c.value for c in rows[0]]
    years = problem.years
    cols: dict[int, int] = {}
    outside: dict[int, int] = {}  # year columns beyond the horizon: ignored, as on input sheets
    for j, h in enumerate(header):
        text = str(h).strip().lower() if h is not None else ""
        if j < 2:
            if text != ("supplier", "material")[j]:
                issues.append(
                    Issue(
                        PLAN_SHEET,
                        1,
                        f"column {j + 1}",
                        f"header must be '{('supplier', 'material')[j]}', found {h!r}",
                    )
                )
            continue
        year = _year(h)
        if year is None:
            if h is not None:
                issues.append(
                    Issue(
                        PLAN_SHEET,
                        1,
                        str(h),
                        "only year columns may follow supplier and material (the year alone, "
                        f"e.g. {years[0]}: a unit goes in a cell comment)",
                    )
                )
        elif year in cols.values() or year in outside.values():
            issues.append(Issue(PLAN_SHEET, 1, str(h), f"year {year} appears twice"))
        elif year in years:
            cols[j] = year
        else:
            outside[j] = year
    for t in years:
        if t not in cols.values():
            issues.append(Issue(PLAN_SHEET, 1, None, f"no column for year {t}"))
    for r, c in sorted(uncached):
        issues.append(
            Issue(
                PLAN_SHEET,
                r,
                str(header[c - 1]) if c <= len(header) else None,
                "a formula with no saved value: open the workbook in Excel or "
                "LibreOffice, recalculate and save it",
            )
        )
    plan: dict[tuple[str, str, int], float] = {}
    seen: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows[1:], start=2):
        values = [c.value for c in row]
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        s, m = (_ident(values[k]) if k < len(values) else "" for k in (0, 1))
        if (s, m) not in problem.offers:
            issues.append(
                Issue(
                    PLAN_SHEET,
                    i,
                    "supplier",
                    f"no offer ({s!r}, {m!r}) in the "
                    "input: a plan row must name an offer of the Offers sheet",
                )
            )
            continue
        if (s, m) in seen:
            issues.append(
                Issue(
                    PLAN_SHEET,
                    i,
                    "supplier",
                    f"offer ({s}, {m}) already given on row {seen[(s, m)]}",
                )
            )
            continue
        seen[(s, m)] = i
        for j, t in cols.items():
            v = values[j] if j < len(values) else None
            q, issue = number_or_issue(v, PLAN_SHEET, i, str(t))
            if issue:
                issues.append(issue)
            elif q:
                plan[(s, m, t)] = q
    if issues:
        raise InputError(issues)
    problem.warnings.extend(_plan_warnings(problem, sorted(outside.values()), seen))
    return plan


def _plan_warnings(
    problem: Problem, outside: list[int], seen: dict[tuple[str, str], int]
) -> list[str]:
    """What the Plan sheet holds that counts for nothing, or lacks (SPEC §5: one row
    per offer, one column per horizon year): said, not refused, as on the input sheets."""
    out = []
    if outside:
        out.append(
            f"{PLAN_SHEET} row 1: year columns {', '.join(map(str, outside))} lie outside the "
            f"horizon {problem.years[0]}-{problem.years[-1]} and are ignored"
        )
    missing = [f"{s} / {m}" for s, m in problem.offers if (s, m) not in seen]
    if missing:
        named = ", ".join(missing[:NAMED_AT_MOST])
        more = f" and {len(missing) - NAMED_AT_MOST} more" if len(missing) > NAMED_AT_MOST else ""
        out.append(
            f"{PLAN_SHEET}: no row for {len(missing)} offer(s) of the input ({named}{more}): "
            "nothing is ordered from them"
        )
    return out


def _year(h) -> int | None:
    if isinstance(h, bool):
        return None
    if isinstance(h, int):
        return h
    if isinstance(h, float) and math.isfinite(h) and h.is_integer():
        return int(h)
    if isinstance(h, str):
        try:
            return int(h.strip())
        except ValueError:
            return None
    return None


def _ident(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v).strip()


def plan_sheet(title: str) -> bool:
    """Is this a sheet that says what a plan is (Plan, Substitution plan, the input
    copies)? `evaluate` and `stress` read these alone (`reader.load_raw(path, keep)`)."""
    name = title.strip().lower()
    return name in (PLAN_SHEET.lower(), SUBSTITUTION_SHEET.lower()) or title.startswith(
        INPUT_PREFIX
    )


def split_plan_workbook(raw) -> tuple[dict[str, list[list]], str | None]:
    """The input copies (by their original sheet names) and the Plan sheet's name."""
    inputs, plan = {}, None
    for name, rows in raw.sheets.items():
        if name.strip().lower() == PLAN_SHEET.lower():
            plan = name
        elif name.startswith(INPUT_PREFIX):
            inputs[name[len(INPUT_PREFIX) :]] = rows
    return inputs, plan


def read_substitution_plan(
    rows: list[list], problem: Problem, uncached: set[tuple[int, int]] = frozenset()
) -> dict[str, int]:
    """The `Substitution plan` sheet as {option: year it takes effect}, taken ones only.

    A blank year, or an option without a row, is not taken; a year outside the horizon,
    an unknown option or an option named twice is an input error (all reported at once).
    """
    from diversify.reader import number_or_issue

    sheet = SUBSTITUTION_SHEET
    issues: list[Issue] = []
    if not rows:
        return {}
    header = [c.value for c in rows[0]]
    while header and (header[-1] is None or not str(header[-1]).strip()):
        header.pop()
    names = [str(h).strip().lower() if h is not None else "" for h in header]
    if names != list(SUBSTITUTION_HEADER):
        raise InputError(
            [Issue(sheet, 1, None, f"header must be exactly option, start_year; found {header}")]
        )
    for r, c in sorted(uncached):
        issues.append(
            Issue(
                sheet,
                r,
                SUBSTITUTION_HEADER[c - 1] if c <= 2 else None,
                "a formula with no saved value: open the workbook in Excel or "
                "LibreOffice, recalculate and save it",
            )
        )
    years = problem.years
    starts: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, row in enumerate(rows[1:], start=2):
        values = [c.value for c in row[:2]] + [None] * (2 - len(row[:2]))
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        option = _ident(values[0])
        if option not in problem.substitutions:
            known = ", ".join(map(repr, problem.substitutions)) or "none"
            issues.append(
                Issue(
                    sheet,
                    i,
                    "option",
                    f"unknown option {option!r}: the input's Substitutions lists {known}",
                )
            )
            continue
        if option in seen:
            issues.append(
                Issue(sheet, i, "option", f"option {option!r} already on row {seen[option]}")
            )
            continue
        seen[option] = i
        cell = values[1]
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        year, issue = number_or_issue(cell, sheet, i, "start_year")
        if issue is None and (not float(year).is_integer() or int(year) not in years):
            issue = Issue(
                sheet,
                i,
                "start_year",
                f"start_year must be a year of the horizon {years[0]}-{years[-1]} "
                f"(or blank: not taken), found {cell!r}",
            )
        if issue:
            issues.append(issue)
        else:
            starts[option] = int(year)
    if issues:
        raise InputError(issues)
    return starts


def read_plan(raw, problem: Problem) -> tuple[dict[tuple[str, str, int], float], dict[str, int]]:
    """A plan workbook's plan: x from `Plan`, the start years from `Substitution plan`
    (none when the sheet is absent: older plan workbooks have none). Every input error
    of both sheets is reported at once."""
    sheets = {name.strip().lower(): name for name in raw.sheets}
    issues: list[Issue] = []
    plan: dict[tuple[str, str, int], float] = {}
    starts: dict[str, int] = {}
    name = sheets.get(PLAN_SHEET.lower())
    try:
        plan = read_plan_sheet(raw.sheets[name], problem, raw.uncached_formulas.get(name, set()))
    except InputError as exc:
        issues += exc.issues
    name = sheets.get(SUBSTITUTION_SHEET.lower())
    if name is not None:
        try:
            starts = read_substitution_plan(
                raw.sheets[name], problem, raw.uncached_formulas.get(name, set())
            )
        except InputError as exc:
            issues += exc.issues
    if issues:
        raise InputError(issues)
    return plan, starts
