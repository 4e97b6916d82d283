"""Round trips: input workbook -> plan workbook -> the same input and plan again."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from workbooks import example_1, example_2, example_4, write_workbook

from diversify.errors import InputError
from diversify.pipeline import evaluate_workbook, input_copy, solve_workbook
from diversify.planbook import read_plan_sheet, split_plan_workbook
from diversify.reader import load_raw, parse, read_problem

SAMPLE = Path(__file__).parent.parent / "inputs" / "rare_earths_sample.xlsx"


def stored_problem(plan_path: Path):
    raw = load_raw(plan_path)
    inputs, plan_sheet = split_plan_workbook(raw)
    problem = parse(input_copy(raw, inputs))
    return problem, read_plan_sheet(raw.sheets[plan_sheet], problem)


@pytest.mark.parametrize("sheets", [example_1(), example_2(), example_4("clairvoyant"), None])
def test_the_plan_workbook_holds_the_input_and_the_plan(tmp_path, sheets):
    src = SAMPLE if sheets is None else write_workbook(tmp_path / "in.xlsx", sheets)
    out = tmp_path / "plan.xlsx"
    run = solve_workbook(src, out, with_figures=False)
    problem, plan = stored_problem(out)
    original = read_problem(src)
    assert problem == original
    solved = {
        (r.supplier, r.material, t): q
        for r in run.results.plan.itertuples(index=False)
        for t, q in zip(original.years, r[2:], strict=True)
        if q
    }
    assert plan == pytest.approx(solved, rel=1e-15)  # openpyxl writes 16 significant digits


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 1), st.floats(0, 50, allow_nan=False)),
        min_size=1,
        max_size=4,
    )
)
def test_edited_plans_read_back_exactly(tmp_path, edits):
    src = write_workbook(tmp_path / "in.xlsx", example_2())
    out = tmp_path / "plan.xlsx"
    if not out.exists():
        solve_workbook(src, out, with_figures=False)
    edited = tmp_path / "edited.xlsx"
    wb = load_workbook(out)
    ws = wb["Plan"]
    for row, col, value in edits:
        ws.cell(row + 2, col + 3).value = value
    wb.save(edited)
    expected = {}
    for r in ws.iter_rows(min_row=2):
        for cell, t in zip(r[2:], (2025, 2026), strict=True):
            if cell.value:
                expected[(r[0].value, r[1].value, t)] = cell.value
    _, plan = stored_problem(edited)
    assert plan == pytest.approx(expected, rel=1e-15)
    ev = evaluate_workbook(edited, None)
    assert ev.results.summary["objective_usd"] is not None


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Lynas\x07 Malaysia", "Lynas Malaysia"),  # a control character is dropped
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),  # stays text, never a formula
        ("Tab\there", "Tab\there"),  # tab and newline are kept
        ("Société Générale", "Société Générale"),
    ],
)
def test_text_is_written_as_text_without_control_characters(tmp_path, text, written):
    from openpyxl import Workbook

    from diversify.excel_out import safe_value

    wb = Workbook()
    safe_value(wb.active.cell(1, 1), text)
    wb.save(tmp_path / "t.xlsx")
    cell = load_workbook(tmp_path / "t.xlsx").active.cell(1, 1)
    assert cell.value == written
    assert cell.data_type == "s"


def test_a_plan_sheets_missing_rows_and_years_beyond_the_horizon_are_said(tmp_path):
    """SPEC §5: one row per offer, one column per horizon year. A deleted row orders
    nothing and a year beyond the horizon counts for nothing: both warned of, as the
    input sheets' extra year columns are; the plan is still evaluated."""
    src = write_workbook(tmp_path / "in.xlsx", example_2())
    out = tmp_path / "plan.xlsx"
    solve_workbook(src, out, with_figures=False)
    wb = load_workbook(out)
    ws = wb["Plan"]
    gone = (ws.cell(2, 1).value, ws.cell(2, 2).value)
    ws.delete_rows(2)
    ws.cell(1, ws.max_column + 1).value = 2040
    ws.cell(2, ws.max_column).value = 7.0
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    warnings = evaluate_workbook(edited, None).results.warnings
    assert "Plan row 1: year columns 2040 lie outside the horizon 2025-2026 and are ignored" in (
        warnings
    )
    assert f"Plan: no row for 1 offer(s) of the input ({gone[0]} / {gone[1]})" in " ".join(warnings)
    _, plan = stored_problem(edited)
    assert all(t in (2025, 2026) for _, _, t in plan) and gone not in {(s, m) for s, m, _ in plan}
    assert evaluate_workbook(out, None).results.warnings == []  # as solve wrote it: nothing to say


def test_a_year_header_with_its_unit_is_told_where_the_unit_goes(tmp_path):
    src = write_workbook(tmp_path / "in.xlsx", example_2())
    out = tmp_path / "plan.xlsx"
    solve_workbook(src, out, with_figures=False)
    wb = load_workbook(out)
    wb["Plan"].cell(1, 3).value = "2025 (t)"
    wb.save(tmp_path / "edited.xlsx")
    with pytest.raises(InputError) as e:
        evaluate_workbook(tmp_path / "edited.xlsx", None)
    assert any("a unit goes in a cell comment" in i.message for i in e.value.issues)


def test_values_alone_read_as_openpyxl_reads_them(tmp_path):
    """load_raw's values_only (calamine, for the results tables `compare` reads back)
    gives the values openpyxl gives, cell for cell, on every sheet of a plan workbook
    and on a sheet of odd cells: blanks inside and around, whole numbers, floats, texts
    with spaces, booleans, dates, a formula's cached value."""
    import datetime as dt

    from openpyxl import Workbook

    plan = tmp_path / "plan.xlsx"
    solve_workbook(SAMPLE, plan)
    odd = tmp_path / "odd.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Odd"
    ws["C3"], ws["D3"], ws["F3"] = 2026, 0.1 + 0.2, " padded text "
    ws["C5"], ws["D5"], ws["E5"] = True, dt.datetime(2027, 3, 1), -0.0
    ws["C6"], ws["D6"] = 1e15, 3.0
    wb.save(odd)
    for path in (plan, odd):
        slow = load_raw(path)
        fast = load_raw(path, values_only=lambda title: True)
        assert list(fast.sheets) == list(slow.sheets)
        for name, rows in slow.sheets.items():
            values = [[c.value for c in row] for row in rows]
            while values and not values[-1]:
                values.pop()
            got = [[c.value for c in row] for row in fast.sheets[name]]
            assert got == values, name
            assert [list(map(kind, r)) for r in got] == [list(map(kind, r)) for r in values]


def kind(v) -> type:
    """A value's type, a whole number's as int: calamine sees only floats, so a whole
    float (written `0.0`) comes back an int, equal to it; anything else keeps its type."""
    return int if type(v) is float and v.is_integer() else type(v)
