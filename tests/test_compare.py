"""`diversify compare`: plan workbooks side by side, end to end (SPEC §5)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from test_frontier import three_suppliers
from workbooks import example_1, example_2, write_workbook

from diversify.cli import main
from diversify.compare import plan_names

CAP = [["max_share", "any_link", "China", 0.2]]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def solved(tmp_path, name: str, sheets: dict) -> object:
    src = write_workbook(tmp_path / f"{name}-input.xlsx", sheets)
    plan = tmp_path / f"{name}.xlsx"
    r = run("solve", src, "-o", plan)
    assert r.exit_code == 0, r.stderr
    return plan


@pytest.fixture
def free_and_capped(tmp_path):
    """The same input solved without and with `max_share any_link China 0.2`.

    free: CN1 5 t + BR1 5 t: normal 200,000, ban 850,000 (5 t short at 140 $/kg),
    expected 330,000, China's share 50 %.
    capped: CN1 2 t + BR1 5 t + AU1 3 t: normal 350,000, ban 610,000 (2 t short),
    expected 402,000, China's share 20 %.
    """
    free = solved(tmp_path, "free", three_suppliers(ban=True))
    capped = solved(tmp_path, "capped", three_suppliers(CAP, ban=True))
    return free, capped


def test_a_plan_with_itself_has_no_differences(free_and_capped, tmp_path):
    free, _ = free_and_capped
    out = tmp_path / "self.xlsx"
    r = run("compare", free, free, "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    j = last_json(r)
    assert j["status"] == "ok"
    assert j["plans"] == ["free", "free-2"]
    assert j["plan_differences"] == 0
    assert j["input_differences"] == [] and j["warnings"] == []
    assert all(w == ["free", "free-2"] for w in j["winners"].values())
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "Summary"
    diff = wb["Plan differences"]
    assert diff["A2"].value.startswith("None")
    figures = wb["Figures"]
    header = [c.value for c in figures[1]]
    delta = header.index("Δ free-2 − free") + 1
    for row in figures.iter_rows(min_row=2):
        value = row[delta - 1].value
        assert value is None or value == pytest.approx(0, abs=1e-9)


def test_two_plans_differences_and_winners(free_and_capped, tmp_path):
    free, capped = free_and_capped
    out = tmp_path / "cmp.xlsx"
    r = run("compare", free, capped, "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    j = last_json(r)
    f, c = j["figures"]["free"], j["figures"]["capped"]
    assert f["expected_cost_usd"] == pytest.approx(330_000)
    assert c["expected_cost_usd"] == pytest.approx(402_000)
    assert (f["cvar_usd"], c["cvar_usd"]) == pytest.approx((850_000, 610_000))
    assert (f["dependence_share"], c["dependence_share"]) == pytest.approx((0.5, 0.2))
    assert (f["expected_shortfall_t"], c["expected_shortfall_t"]) == pytest.approx((1.0, 0.4))
    w = j["winners"]
    assert w["expected_cost_usd"] == ["free"]
    assert w["first_scenario_cost_usd"] == ["free"]
    assert w["cvar_usd"] == ["capped"]
    assert w["worst_scenario_cost_usd"] == ["capped"]
    assert w["expected_shortfall_t"] == ["capped"]
    assert w["dependence_share"] == ["capped"] and j["target"] == "China"
    assert w["breaches"] == ["free", "capped"]
    for key, winners in w.items():  # every winner holds the lowest value
        values = {p: j["figures"][p][key] for p in j["plans"]}
        assert all(values[p] == pytest.approx(min(values.values())) for p in winners)
    # the inputs differ in their Policy sheet: said, not refused
    assert [d["sheet"] for d in j["input_differences"]] == ["Policy"]
    assert "Policy" in r.stderr

    wb = load_workbook(out)
    rows = list(wb["Plan differences"].iter_rows(values_only=True))
    assert rows[0] == ("supplier", "material", "year", "free", "capped", "Δ capped − free")
    diffs = {r[0]: r[3:] for r in rows[1:]}
    assert diffs == {
        "CN1": pytest.approx((5, 2, -3)),
        "AU1": pytest.approx((0, 3, 3)),
    }
    assert j["plan_differences"] == 2
    summary = wb["Summary"]
    assert len(summary._charts) == 1 and len(wb["Cost by scenario"]._charts) == 1
    texts = {c.value for row in summary.iter_rows() for c in row if isinstance(c.value, str)}
    assert "Lowest expected cost" in texts
    by_scenario = list(wb["Cost by scenario"].iter_rows(values_only=True))
    assert by_scenario[0] == ("scenario", "free", "capped")
    assert by_scenario[1][1:] == pytest.approx((200_000, 350_000))
    assert by_scenario[2][1:] == pytest.approx((850_000, 610_000))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            assert all(cell.data_type != "f" for cell in row)


def test_evaluated_plan_compares_with_its_solved_plan(free_and_capped, tmp_path):
    free, _ = free_and_capped
    evaluated = tmp_path / "evaluated.xlsx"
    assert run("evaluate", free, "-o", evaluated).exit_code == 0
    j = last_json(run("compare", free, evaluated, "-o", tmp_path / "c.xlsx", "--json"))
    assert j["plan_differences"] == 0
    assert j["figures"]["evaluated"]["expected_cost_usd"] == pytest.approx(330_000)


def test_edited_plan_without_evaluate_is_flagged(free_and_capped, tmp_path):
    free, _ = free_and_capped
    edited = tmp_path / "edited.xlsx"
    shutil.copy(free, edited)
    wb = load_workbook(edited)
    ws = wb["Plan"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "AU1":
            row[2].value = 1
    wb.save(edited)
    r = run("compare", free, edited, "-o", tmp_path / "c.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    j = last_json(r)
    assert j["plan_differences"] == 1
    assert any("edited" in w and "diversify evaluate" in w for w in j["warnings"])


def test_different_materials_or_years_exit_2(tmp_path):
    a = solved(tmp_path, "two", example_2())
    b = solved(tmp_path, "one", example_1())
    out = tmp_path / "c.xlsx"
    r = run("compare", a, b, "-o", out, "--json")
    assert r.exit_code == 2
    j = last_json(r)
    assert j["status"] == "input_error"
    text = " ".join(e["message"] for e in j["errors"])
    assert "materials" in text and "years" in text
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_not_a_plan_workbook_exit_2(tmp_path):
    src = write_workbook(tmp_path / "input.xlsx", example_2())
    plan = solved(tmp_path, "plan", example_2())
    r = run("compare", plan, src, "-o", tmp_path / "c.xlsx")
    assert r.exit_code == 2
    assert "not a plan workbook" in r.stderr


def test_one_plan_is_not_a_comparison(free_and_capped, tmp_path):
    free, _ = free_and_capped
    r = run("compare", free, "-o", tmp_path / "c.xlsx")
    assert r.exit_code == 2 and "two or more" in r.stderr


def test_existing_output_needs_force(free_and_capped, tmp_path):
    free, capped = free_and_capped
    out = tmp_path / "c.xlsx"
    out.write_bytes(b"precious")
    assert run("compare", free, capped, "-o", out).exit_code == 2
    assert out.read_bytes() == b"precious"
    assert run("compare", free, capped, "-o", out, "--force").exit_code == 0
    assert out.read_bytes()[:2] == b"PK"


def test_unknown_target_exit_2(free_and_capped, tmp_path):
    free, capped = free_and_capped
    r = run("compare", free, capped, "-o", tmp_path / "c.xlsx", "--target", "Mars")
    assert r.exit_code == 2 and "Mars" in r.stderr


def test_plan_names_are_unique_file_stems(tmp_path):
    names = plan_names([tmp_path / "a" / "plan.xlsx", tmp_path / "b" / "plan.xlsx", "x/year.xlsx"])
    assert names == ["plan", "plan-2", "year-2"]


def test_formula_like_plan_names_stay_text(free_and_capped, tmp_path):
    free, capped = free_and_capped
    evil = tmp_path / "=1+1.xlsx"
    shutil.copy(capped, evil)
    out = tmp_path / "c.xlsx"
    assert run("compare", free, evil, "-o", out).exit_code == 0
    wb = load_workbook(out)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            assert all(cell.data_type != "f" for cell in row), ws.title
    assert "=1+1" in [c.value for c in wb["Plan differences"][1]]


def test_help_has_an_example():
    r = run("compare", "--help")
    assert r.exit_code == 0 and "Example" in r.stdout


def test_a_plan_read_without_its_tables_is_the_same_plan(free_and_capped, monkeypatch):
    """`stress` reads a plan workbook's own sheets alone (tables=False): the same
    problem, plan, starts and Summary; no results sheet is parsed at all."""
    import diversify.compare as compare

    _, capped = free_and_capped
    whole = compare.read_plan_book(capped, "capped")
    parsed = []
    real = compare.load_raw

    def spy(path, keep=None, values_only=None):
        raw = real(path, keep, values_only)
        parsed.extend(raw.sheets)
        return raw

    monkeypatch.setattr(compare, "load_raw", spy)
    light = compare.read_plan_book(capped, "capped", tables=False)
    assert light.plan == whole.plan and light.starts == whole.starts
    assert light.summary == whole.summary and light.run == whole.run
    assert light.problem.offers == whole.problem.offers
    assert light.recovery.empty and not whole.recovery.empty
    assert not {"Recovery", "Shares", "Scenario tree", "Charts"} & set(parsed)
    assert {"Plan", "Summary", "Run", "Input Offers"} <= set(parsed)
