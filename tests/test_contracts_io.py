"""Prices, min_contract_years and Substitutions through the reader, the plan workbook
and the command line (SPEC §3, §5, §6 examples 5 and 6)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from test_reader import issues, read, where
from workbooks import example_2, example_5, example_6, write_workbook

from diversify.cli import main
from diversify.data import Substitution

OFFERS = [
    ["supplier", "material", "price_usd_per_kg", "min_order_t", "min_contract_years", 2025, 2026],
    ["A", "M", 50, 2, 2, 8, 9],
]
SUBSTITUTIONS = [
    ["option", "material", "reduction", "from_year", "investment_usd", "annual_cost_usd"],
    ["redesign", "M", 0.25, 2026, 1000, 10],
    ["lean", "M", 0.5, None, None, None],
]


# ---------------------------------------------------------------- reader


def test_prices_contract_years_and_substitutions_are_read(tmp_path):
    p = read(
        tmp_path,
        {
            "Offers": OFFERS,
            "Prices": [["supplier", "material", 2025, " 2026 ", 2030], ["A", "M", None, 60, 99]],
            "Substitutions": SUBSTITUTIONS,
        },
    )
    offer = p.offers[("A", "M")]
    assert offer.min_contract_years == 2
    assert [offer.price(t) for t in (2025, 2026)] == [50.0, 60.0]
    assert offer.prices_usd_per_kg == {2026: 60.0}  # 2030 lies outside the horizon
    assert any("2030" in w and "Prices" in w for w in p.warnings)
    assert p.substitutions == {
        "redesign": Substitution("redesign", "M", 0.25, 2026, 1000.0, 10.0, 2),
        "lean": Substitution("lean", "M", 0.5, None, 0.0, 0.0, 3),
    }
    assert p.start_years("redesign") == [2026] and p.start_years("lean") == [2025, 2026]


def test_absent_or_empty_sheets_and_defaults(tmp_path):
    empty = [SUBSTITUTIONS[0]]
    p = read(tmp_path, {"Prices": [["supplier", "material"]], "Substitutions": empty})
    assert p.substitutions == {}
    assert p.offers[("A", "M")].min_contract_years == 1
    assert p.offers[("A", "M")].price(2026) == 50.0


def test_every_new_rule_is_an_input_error_at_once(tmp_path):
    found = issues(
        tmp_path,
        {
            "Offers": [
                OFFERS[0],
                ["A", "M", 50, None, 3, 8, 9],  # a term needs a minimum order
                ["A", "N", 50, 1, 0, 8, 9],  # positive integer
                ["B", "M", 50, 1, 1.5, 8, 9],  # whole number
            ],
            "Materials": [
                ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg"],
                ["M", 100, 1000],
                ["N", 100, 1000],
            ],
            "Suppliers": [["supplier", "country"], ["A", "CN"], ["B", "CN"]],
            "Prices": [
                ["supplier", "material", 2025, 2026],
                ["A", "M", 40, None],
                ["A", "M", 41, None],  # second row for the offer
                ["B", "N", 40, None],  # no such offer
                ["A", "N", "n/a", -1],  # not numbers
            ],
            "Substitutions": [
                SUBSTITUTIONS[0],
                ["x", "M", 0.7, None, None, None],
                ["y", "M", 0.4, None, None, None],  # M's reductions sum to 1.1
                ["z", "Q", 0.1, None, None, None],  # unknown material
                ["w", "N", 0, None, None, None],  # reduction must be above 0
                ["v", "N", 1.2, None, None, None],  # above 1
                ["x", "N", 0.1, None, None, None],  # option twice
                ["u", "N", None, None, -5, None],  # reduction required; negative cost
                [None, "N", 0.1, None, None, None],  # values but no option
            ],
        },
    )
    assert {
        ("Offers", 2, "min_contract_years"),
        ("Offers", 3, "min_contract_years"),
        ("Offers", 4, "min_contract_years"),
        ("Prices", 3, "supplier"),
        ("Prices", 4, "supplier"),
        ("Prices", 5, "2025"),
        ("Prices", 5, "2026"),
        ("Substitutions", 3, "reduction"),
        ("Substitutions", 4, "material"),
        ("Substitutions", 5, "reduction"),
        ("Substitutions", 6, "reduction"),
        ("Substitutions", 7, "option"),
        ("Substitutions", 8, "reduction"),
        ("Substitutions", 8, "investment_usd"),
        ("Substitutions", 9, "option"),
    } <= where(found)
    text = {(i.sheet, i.row, i.column): i.message for i in found}
    assert "min_order_t above 0" in text[("Offers", 2, "min_contract_years")]
    assert "'M'" in text[("Substitutions", 3, "reduction")]
    assert "sum to 1.1" in text[("Substitutions", 3, "reduction")]


def test_an_option_after_the_horizon_warns_and_one_before_starts_in_the_first_year(tmp_path):
    p = read(
        tmp_path,
        {
            "Substitutions": [
                ["option", "material", "reduction", "from_year"],
                ["late", "M", 0.1, 2040],
                ["early", "M", 0.1, 2010],
            ]
        },
    )
    assert p.start_years("late") == [] and p.start_years("early") == [2025, 2026]
    assert any("late" in w and "never be taken" in w for w in p.warnings)


# ---------------------------------------------------------------- command line


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("term", "with_b", "objective"),
    [(2, True, 1_600_000), (1, True, 1_500_000), (None, True, 1_500_000), (2, False, 1_800_000)],
)
def test_spec_example_5_from_a_workbook(tmp_path, term, with_b, objective):
    src = write_workbook(tmp_path / "ex5.xlsx", example_5(term, with_b))
    r = run("solve", src, "-o", tmp_path / "plan.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    out = last_json(r)
    assert out["objective_usd"] == pytest.approx(objective)
    assert out["substitutions"] == {}


@pytest.fixture
def ex6_plan(tmp_path):
    src = write_workbook(tmp_path / "ex6.xlsx", example_6())
    plan = tmp_path / "plan.xlsx"
    r = run("solve", src, "-o", plan, "--json")
    assert r.exit_code == 0, r.stderr
    return plan, last_json(r)


def test_spec_example_6_from_a_workbook(ex6_plan):
    plan, out = ex6_plan
    assert out["objective_usd"] == pytest.approx(1_870_000)
    assert out["scenario_costs_usd"] == pytest.approx({"normal": 1_120_000, "ban": 2_620_000})
    assert out["substitutions"] == {"redesign": 2025}
    assert out["ws_usd"] == pytest.approx(1_810_000)
    assert out["evpi_usd"] == pytest.approx(60_000)
    assert out["eev_usd"] == pytest.approx(1_970_000)
    assert out["vss_usd"] == pytest.approx(100_000)
    assert out["price_of_resilience_usd"] == pytest.approx(120_000)
    assert out["value_of_resilience_usd"] == pytest.approx(380_000)
    wb = load_workbook(plan)
    ws = wb["Substitution plan"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["option", "start_year"],
        ["redesign", 2025],
    ]
    summary = [[c.value for c in row] for row in wb["Summary"].iter_rows()]
    row = next(r for r in summary if "redesign" in r)
    at = row.index("redesign")
    assert row[at + 1] == 2025 and row[at + 4] == pytest.approx(2_550_000 - 1_870_000)
    costs = [[c.value for c in row] for row in wb["Scenario costs"].iter_rows()]
    assert "substitution_usd" in costs[0]


def test_edited_substitution_plan_is_evaluated(ex6_plan, tmp_path):
    plan, _ = ex6_plan
    again = run("evaluate", plan, "-o", tmp_path / "again.xlsx", "--json")
    assert last_json(again)["objective_usd"] == pytest.approx(1_870_000)
    wb = load_workbook(plan)
    wb["Substitution plan"]["B2"] = 2026
    wb.save(plan)
    r = run("evaluate", plan, "-o", tmp_path / "edited.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    out = last_json(r)
    # 2025: 6 t of A + 4 t spot (700,000); option from 2026 (510,000); 2026 normal
    # 300,000, ban 6 t spot at 300 $/kg: 700,000 + 510,000 + 150,000 + 900,000
    assert out["expected_cost_usd"] == pytest.approx(2_260_000)
    assert out["substitutions"] == {"redesign": 2026}
    assert out["breaches"] == []
    wb["Substitution plan"]["B2"] = None  # blank: not taken
    wb.save(plan)
    out = last_json(run("evaluate", plan, "-o", tmp_path / "none.xlsx", "--json"))
    assert out["expected_cost_usd"] == pytest.approx(2_550_000)
    assert out["substitutions"] == {"redesign": None}


def test_a_plan_workbook_without_the_sheet_takes_no_option(ex6_plan, tmp_path):
    plan, _ = ex6_plan
    wb = load_workbook(plan)
    del wb["Substitution plan"]
    wb.save(plan)
    r = run("evaluate", plan, "-o", tmp_path / "old.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    assert last_json(r)["expected_cost_usd"] == pytest.approx(2_550_000)


def test_an_old_plan_workbook_still_evaluates(tmp_path):
    src = write_workbook(tmp_path / "ex2.xlsx", example_2())
    plan = tmp_path / "plan.xlsx"
    solved = last_json(run("solve", src, "-o", plan, "--json"))
    assert "Substitution plan" not in load_workbook(plan).sheetnames
    r = run("evaluate", plan, "-o", tmp_path / "again.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    assert last_json(r)["objective_usd"] == pytest.approx(solved["objective_usd"])
    assert last_json(r)["substitutions"] == {}


def test_substitution_plan_errors_are_input_errors_at_once(ex6_plan, tmp_path):
    plan, _ = ex6_plan
    wb = load_workbook(plan)
    ws = wb["Substitution plan"]
    ws["B2"] = 2030  # not a horizon year
    ws.append(["redesign", 2025])  # named twice
    ws.append(["rebuild", 2025])  # unknown
    wb["Plan"]["C2"] = -1  # and an error in Plan, reported with them
    wb.save(plan)
    r = run("evaluate", plan, "-o", tmp_path / "bad.xlsx", "--json")
    assert r.exit_code == 2
    errors = last_json(r)["errors"]
    got = {(e["sheet"], e["row"], e["column"]) for e in errors}
    assert {
        ("Substitution plan", 2, "start_year"),
        ("Substitution plan", 3, "option"),
        ("Substitution plan", 4, "option"),
        ("Plan", 2, "2025"),
    } <= got
    assert not (tmp_path / "bad.xlsx").exists()


def test_an_early_substitution_and_a_short_contract_are_breaches(tmp_path):
    sheets = example_6()
    sheets["Substitutions"][1][3] = 2026
    plan = tmp_path / "plan.xlsx"
    run("solve", write_workbook(tmp_path / "ex6.xlsx", sheets), "-o", plan)
    wb = load_workbook(plan)
    wb["Substitution plan"]["B2"] = 2025
    wb.save(plan)
    out = last_json(run("evaluate", plan, "-o", tmp_path / "e.xlsx", "--json"))
    assert any("redesign takes effect in 2025" in b for b in out["breaches"])
    src = write_workbook(tmp_path / "ex5.xlsx", example_5(3))
    plan5 = tmp_path / "plan5.xlsx"
    run("solve", src, "-o", plan5)
    wb = load_workbook(plan5)
    rows = {r[0].value: r for r in wb["Plan"].iter_rows(min_row=2)}
    for cell, q in zip(rows["B"][2:], (0, 10, 10, 0), strict=True):
        cell.value = q
    wb.save(plan5)
    out = last_json(run("evaluate", plan5, "-o", tmp_path / "e5.xlsx", "--json"))
    assert any("contract length: B / M ordered in 2026-2027" in b for b in out["breaches"])


def test_compare_shows_the_substitution_differences(ex6_plan, tmp_path):
    plan, _ = ex6_plan
    edited = tmp_path / "later.xlsx"
    wb = load_workbook(plan)
    wb["Substitution plan"]["B2"] = 2026
    wb.save(tmp_path / "edited-input.xlsx")
    run("evaluate", tmp_path / "edited-input.xlsx", "-o", edited)
    out_path = tmp_path / "cmp.xlsx"
    r = run("compare", plan, edited, "-o", out_path, "--json")
    assert r.exit_code == 0, r.stderr
    assert last_json(r)["substitution_differences"] == 1
    rows = list(load_workbook(out_path)["Substitution differences"].values)
    assert rows == [("option", "material", "plan", "later"), ("redesign", "M", 2025, 2026)]
    assert last_json(r)["warnings"] == []
    # the edited but not re-evaluated workbook: its figures are stale
    r = run("compare", plan, tmp_path / "edited-input.xlsx", "-o", tmp_path / "c2.xlsx", "--json")
    assert any("Substitution plan sheet does not match" in w for w in last_json(r)["warnings"])


def test_frontier_takes_substitutions(tmp_path):
    src = write_workbook(tmp_path / "ex6.xlsx", example_6())
    r = run("frontier", src, "-o", tmp_path / "f.xlsx", "--target", "X", "--points", 2, "--json")
    assert r.exit_code == 0, r.stderr
    first, last = last_json(r)["points"]
    assert first["expected_cost_usd"] == pytest.approx(1_870_000)
    assert first["substitutions"] == {"redesign": 2025}
    # nothing from A: redesign from 2025 and 6 t spot a year (at 300 $/kg in the ban):
    # 520,000 + 600,000 + 0.5 * 600,000 + 0.5 * 1,800,000
    assert last["expected_cost_usd"] == pytest.approx(2_320_000)
    assert last["substitutions"] == {"redesign": 2025}
