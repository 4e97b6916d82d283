"""The workbook reader against SPEC §2-§3: values, defaults, and every input error."""

from __future__ import annotations

import re
import sys
import types
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from diversify.data import (
    Country,
    Disruption,
    Material,
    Offer,
    Problem,
    Rule,
    Scenario,
    Settings,
    Supplier,
)
from diversify.errors import InputError, Issue
from diversify.reader import (
    RawCell,
    RawWorkbook,
    load_raw,
    number_or_issue,
    parse,
    read_problem,
)

BASE = {
    "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2026]],
    "Materials": [
        ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg"],
        ["M", 100, 1000],
    ],
    "Demand": [["material", 2025, 2026], ["M", 10, 12]],
    "Suppliers": [["supplier", "country"], ["A", "CN"]],
    "Offers": [["supplier", "material", "price_usd_per_kg", 2025, 2026], ["A", "M", 50, 8, 9]],
}
SCENARIOS = [["scenario", "probability"], ["normal", 0.8], ["ban", 0.2]]
COUNTRIES = [["country", "risk_score"], ["CN", 0.9]]


def book(changes: dict | None = None) -> dict:
    """BASE with some sheets replaced (a value of None removes the sheet)."""
    sheets = {**BASE, **(changes or {})}
    return {name: rows for name, rows in sheets.items() if rows is not None}


def write(path: Path, sheets: dict, formats: dict | None = None) -> Path:
    """An .xlsx with one sheet per entry, rows as given; `formats`: (sheet, cell) -> format."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    for (name, ref), fmt in (formats or {}).items():
        wb[name][ref].number_format = fmt
    wb.save(path)
    return path


def read(tmp_path: Path, changes: dict | None = None, formats: dict | None = None) -> Problem:
    return read_problem(write(tmp_path / "in.xlsx", book(changes), formats))


def issues(tmp_path: Path, changes: dict | None = None) -> list[Issue]:
    with pytest.raises(InputError) as e:
        read(tmp_path, changes)
    return e.value.issues


def where(found: list[Issue]) -> set[tuple]:
    return {(i.sheet, i.row, i.column) for i in found}


# ---------------------------------------------------------------- valid workbooks


def test_minimal_workbook(tmp_path):
    assert read(tmp_path) == Problem(
        settings=Settings(2025, 2026),
        materials={"M": Material("M", 100.0, 1000.0)},
        demand_t={("M", 2025): 10.0, ("M", 2026): 12.0},
        countries={},
        suppliers={"A": Supplier("A", "CN", "CN", "CN", "CN")},
        offers={("A", "M"): Offer("A", "M", 50.0, 0.0, {2025: 8.0, 2026: 9.0})},
        scenarios=[Scenario("base", 1.0)],
    )


def test_every_column_read(tmp_path):
    p = read(
        tmp_path,
        {
            "Settings": [
                ["setting", "value"],
                ["first_year", 2025],
                ["last_year", 2027],
                ["discount_rate", 0.08],
                ["risk_aversion", 2],
                ["cvar_alpha", 0.95],
                ["min_supplier_share", 0.2],
                ["recourse", "clairvoyant"],
                ["time_limit_s", 30],
                ["mip_gap", 0.01],
            ],
            "Materials": [
                [
                    "material",
                    "spot_price_usd_per_kg",
                    "spot_max_t",
                    "shortfall_penalty_usd_per_kg",
                    "holding_cost_usd_per_kg_year",
                    "initial_stock_t",
                    "max_stock_t",
                ],
                ["M", 100, 5, 1000, 1, 2, 50],
            ],
            "Demand": [["material", 2025, 2026, 2027], ["M", 10, None, 12]],
            "Countries": [["country", "risk_score", 2026], ["CN", 0.9, 25], ["BR", None, None]],
            "Suppliers": [
                [
                    "supplier",
                    "country",
                    "ore_origin",
                    "processing_country",
                    "tariff_country",
                    "qualified",
                    "lead_time_years",
                    "qualification_cost_usd",
                    "annual_fixed_cost_usd",
                    "risk_score",
                ],
                ["A", "JP", "BR", "CN", "CN", "yes", 2, 1e5, 1e4, 0.3],
            ],
            "Offers": [
                ["supplier", "material", "price_usd_per_kg", "min_order_t", 2025, 2026, 2027],
                ["A", "M", 50, 1, 8, None, 9],
            ],
            "Scenarios": [
                [
                    "scenario",
                    "probability",
                    "demand_multiplier",
                    "spot_price_multiplier",
                    "description",
                ],
                ["normal", 0.8, None, None, None],
                ["ban", 0.2, 1.1, 3, "export ban"],
            ],
            "Disruptions": [
                [
                    "scenario",
                    "scope",
                    "target",
                    "material",
                    "from_year",
                    "to_year",
                    "availability",
                    "price_multiplier",
                ],
                ["ban", "any_link", "CN", "M", 2026, 2026, 0.5, 2],
            ],
            "Policy": [
                ["rule", "scope", "target", "material", "from_year", "to_year", "value"],
                ["max_share", "country", "JP", "M", 2026, None, 0.5],
            ],
        },
    )
    assert p.settings == Settings(2025, 2027, 0.08, 2.0, 0.95, 0.2, "clairvoyant", 30.0, 0.01)
    assert p.materials["M"] == Material("M", 100.0, 1000.0, 5.0, 1.0, 2.0, 50.0)
    assert p.demand_t == {("M", 2025): 10.0, ("M", 2026): 0.0, ("M", 2027): 12.0}
    assert p.countries == {
        "CN": Country("CN", 0.9, {2026: 25.0}),
        "BR": Country("BR", 0.0, {2026: 0.0}),
    }
    assert p.suppliers["A"] == Supplier("A", "JP", "BR", "CN", "CN", True, 2, 1e5, 1e4, 0.3)
    assert p.offers[("A", "M")] == Offer("A", "M", 50.0, 1.0, {2025: 8.0, 2026: 0.0, 2027: 9.0})
    assert p.scenarios == [Scenario("normal", 0.8), Scenario("ban", 0.2, 1.1, 3.0, "export ban")]
    assert p.disruptions == [Disruption("ban", "any_link", "CN", "M", (2026,), 0.5, 2.0, row=2)]
    assert p.rules == [Rule("max_share", "country", "JP", "M", (2026, 2027), 0.5, row=2)]
    assert p.warnings == ["Suppliers row 2: supplier 'A': 'JP' not listed in Countries"]


def test_defaults_of_blank_cells(tmp_path):
    p = read(
        tmp_path,
        {
            "Settings": [
                ["setting", "value"],
                ["first_year", 2025],
                ["last_year", 2026],
                ["discount_rate", None],
                ["recourse", "  "],
            ],
            "Materials": [
                [
                    "material",
                    "spot_price_usd_per_kg",
                    "spot_max_t",
                    "shortfall_penalty_usd_per_kg",
                    "holding_cost_usd_per_kg_year",
                    "initial_stock_t",
                    "max_stock_t",
                ],
                ["M", 100, None, 1000, None, None],
            ],
            "Suppliers": [
                [
                    "supplier",
                    "country",
                    "ore_origin",
                    "processing_country",
                    "tariff_country",
                    "qualified",
                    "lead_time_years",
                    "risk_score",
                ],
                ["A", "CN", None, " ", None, None, None, None],
            ],
            "Scenarios": SCENARIOS,
            "Disruptions": [
                [
                    "scenario",
                    "scope",
                    "target",
                    "material",
                    "from_year",
                    "to_year",
                    "availability",
                    "price_multiplier",
                ],
                ["ban", "spot"],
            ],
            "Policy": [["rule", "value"], ["min_suppliers", 2]],
        },
    )
    assert p.settings == Settings(2025, 2026)
    assert p.materials["M"] == Material("M", 100.0, 1000.0)
    assert p.suppliers["A"] == Supplier("A", "CN", "CN", "CN", "CN")
    assert p.scenarios[1] == Scenario("ban", 0.2)
    assert p.disruptions == [Disruption("ban", "spot", None, None, (2025, 2026), row=2)]
    assert p.rules == [Rule("min_suppliers", None, None, None, (2025, 2026), 2.0, row=2)]


@pytest.mark.parametrize("header", [2026, 2026.0, "2026", " 2026 "])
def test_year_headers(tmp_path, header):
    p = read(tmp_path, {"Demand": [["material", " 2025", header], ["M", 10, 12]]})
    assert p.demand_t == {("M", 2025): 10.0, ("M", 2026): 12.0}


def test_ordinary_columns_that_look_like_years_are_ignored(tmp_path):
    p = read(
        tmp_path, {"Demand": [["material", 2025, 2026, 2026.5, "2026a"], ["M", 10, 12, "x", "y"]]}
    )
    assert p.demand_t[("M", 2026)] == 12.0


def test_numbers_typed_as_text(tmp_path):
    p = read(
        tmp_path,
        {
            "Materials": [
                ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg"],
                ["M", "12.5", " 1e3 "],
            ]
        },
    )
    assert p.materials["M"] == Material("M", 12.5, 1000.0)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (25, "General", 25.0),
        (0.25, "0%", 25.0),
        (0.075, "0.0%", 7.5),
        (25, '0"%"', 25.0),  # a literal % sign: the cell shows 25 %, holding 25
        ("12.5", "General", 12.5),
        ("12.5", "0%", 12.5),  # Excel does not format text
    ],
)
def test_tariff_cells_hold_percent(tmp_path, value, fmt, expected):
    changes = {"Countries": [["country", 2025], ["CN", value]]}
    p = read(tmp_path, changes, {("Countries", "B2"): fmt})
    assert p.countries["CN"].tariff_pct == {2025: expected}
    assert p.tariff("A", 2025) == pytest.approx(expected / 100)


def test_numbers_as_identifiers(tmp_path):
    p = read(
        tmp_path,
        {
            "Materials": [
                ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg"],
                [123, 1, 2],
                [1.5, 1, 2],
            ],
            "Demand": [["material", 2025, 2026], [123.0, 1, 1], ["1.5", 2, 2]],
            "Offers": [
                ["supplier", "material", "price_usd_per_kg", 2025, 2026],
                ["A", " 123 ", 5, 1, 1],
            ],
        },
    )
    assert list(p.materials) == ["123", "1.5"]
    assert p.demand_t[("1.5", 2025)] == 2.0
    assert ("A", "123") in p.offers


def test_identifiers_are_case_sensitive_and_stripped(tmp_path):
    p = read(tmp_path, {"Suppliers": [["supplier", "country"], [" A ", "CN"], ["a", "cn"]]})
    assert list(p.suppliers) == ["A", "a"]


def test_names_headers_and_words_ignore_case_and_spaces(tmp_path):
    sheets = {
        " settings ": [
            [" Setting", "VALUE "],
            [" First_Year ", 2025],
            ["LAST_YEAR", 2026],
            ["Recourse", " Clairvoyant "],
        ],
        "MATERIALS": [
            ["Material", "Spot_Price_USD_per_kg", " shortfall_penalty_usd_per_kg "],
            ["M", 100, 1000],
        ],
        "demand": BASE["Demand"],
        "Suppliers ": [["SUPPLIER", "Country", "Qualified"], ["A", "CN", " Y "]],
        "offers": BASE["Offers"],
        "SCENARIOS": SCENARIOS,
        "Disruptions": [["Scenario", "Scope", "Target"], ["ban", " Any_Link ", "CN"]],
        "policy": [["RULE", "scope", "target", "value"], ["Max_Share", "COUNTRY", "CN", 1]],
    }
    p = read_problem(write(tmp_path / "in.xlsx", sheets))
    assert p.settings.recourse == "clairvoyant"
    assert p.suppliers["A"].qualified is True
    assert p.disruptions[0].scope == "any_link"
    assert (p.rules[0].rule, p.rules[0].scope) == ("max_share", "country")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("yes", True),
        (" Y ", True),
        ("TRUE", True),
        ("1", True),
        (1, True),
        (True, True),
        ("no", False),
        ("n", False),
        ("False", False),
        (0, False),
        (False, False),
        (None, False),
    ],
)
def test_yes_no(tmp_path, cell, expected):
    p = read(tmp_path, {"Suppliers": [["supplier", "country", "qualified"], ["A", "CN", cell]]})
    assert p.suppliers["A"].qualified is expected


def test_blank_rows_and_unknown_columns_are_skipped(tmp_path):
    p = read(
        tmp_path,
        {
            "Materials": [
                ["material", "spot_price_usd_per_kg", "notes", "shortfall_penalty_usd_per_kg"],
                [None, None, None, None],
                ["M", 100, "ok", 1000],
                ["  "],
                [None, None, "a note"],
                ["N", 5, None, 50],
            ],
            "Demand": [["material", 2025, 2026], ["M", 10, 12], [], ["N", 1, 1]],
        },
    )
    assert list(p.materials) == ["M", "N"]


def test_scenarios_sheet_with_no_rows_means_base(tmp_path):
    p = read(
        tmp_path,
        {"Scenarios": [["scenario", "probability"], [None, None]], "Countries": [], "Policy": []},
    )
    assert p.scenarios == [Scenario("base", 1.0)]
    assert (p.countries, p.rules) == ({}, [])


def test_disruption_years_clipped_to_the_horizon(tmp_path):
    p = read(
        tmp_path,
        {
            "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2027]],
            "Demand": [["material", 2025, 2026, 2027], ["M", 1, 1, 1]],
            "Offers": [
                ["supplier", "material", "price_usd_per_kg", 2025, 2026, 2027],
                ["A", "M", 5, 1, 1, 1],
            ],
            "Disruptions": [
                ["scenario", "scope", "target", "from_year", "to_year", "availability"],
                ["base", "country", "CN", 2020, 2026, 0],
                ["base", "country", "CN", 2026, 2040, 0],
                ["base", "country", "CN", 2030, None, 0],
                ["base", "country", "CN", None, 2024, 0],
            ],
        },
    )
    assert [d.years for d in p.disruptions] == [(2025, 2026), (2026, 2027), (), ()]
    assert [w for w in p.warnings if "covers nothing" in w] == [
        "Disruptions row 4: years 2030-2027 lie outside the horizon 2025-2027: "
        "the row covers nothing",
        "Disruptions row 5: years 2025-2024 lie outside the horizon 2025-2027: "
        "the row covers nothing",
    ]


def test_warnings(tmp_path):
    p = read(
        tmp_path,
        {
            "Settings": BASE["Settings"] + [["colour", "blue"]],
            "Materials": BASE["Materials"] + [["N", 1, 2]],
            "Demand": [["material", 2024, 2025, 2026, 2030], ["M", 1, 10, 12, 1]],
            "Countries": COUNTRIES,
            "Suppliers": [["supplier", "country", "tariff_country"], ["A", "CN", "XX"]],
            "Scenarios": SCENARIOS,
            "Disruptions": [
                ["scenario", "scope", "target", "availability", "price_multiplier"],
                ["ban", "country", "Chna", 0, None],
                ["ban", "spot", "CN", 0, None],
                ["normal", "supplier", "A", None, 2],
            ],
            "Policy": [["rule", "scope", "target", "value"], ["max_share", "ore_origin", "A", 0.5]],
        },
    )
    assert p.warnings == [
        "Settings row 4: unknown setting 'colour' is ignored (settings: first_year, "
        "last_year, discount_rate, risk_aversion, cvar_alpha, min_supplier_share, recourse, "
        "time_limit_s, mip_gap)",
        "Demand row 1: year columns 2024, 2030 lie outside the horizon 2025-2026 and are ignored",
        "Materials row 3: material 'N' has no Demand row: it has no demand",
        "Suppliers row 2: supplier 'A': 'XX' not listed in Countries (no tariff applies to it)",
        "Disruptions row 2: target 'Chna' matches no supplier's country (check the spelling): "
        "the row changes nothing",
        "Disruptions row 3: target 'CN' is ignored: a spot row hits the spot market",
        "Disruptions row 4: price_multiplier is set but availability is blank, so the row is a "
        "stop (availability 0); for a price shock alone set availability 1",
        "Disruptions: the first scenario 'normal' is the normal world, yet rows 4 disrupt it",
        "Policy row 2: target 'A' matches no supplier's ore_origin (check the spelling): the "
        "row changes nothing",
    ]


def test_scope_and_target_ignored_for_min_suppliers_and_max_avg_risk(tmp_path):
    p = read(
        tmp_path,
        {
            "Policy": [
                ["rule", "scope", "target", "value"],
                ["min_suppliers", "spot", "nobody", 1],
                ["max_avg_risk", "bogus", None, 0.4],
            ]
        },
    )
    assert [(r.scope, r.target, r.value) for r in p.rules] == [(None, None, 1.0), (None, None, 0.4)]
    assert p.warnings == []


def test_sheet_prefix_reads_the_input_copy_of_a_plan(tmp_path):
    sheets = {f"Input {name}": rows for name, rows in BASE.items()}
    sheets["Settings"] = [["setting", "value"], ["first_year", 1990], ["last_year", 1991]]
    path = write(tmp_path / "plan.xlsx", sheets)
    assert read_problem(path, "Input ").years == [2025, 2026]
    bad = {**sheets, "Input Materials": [["material"], ["M"]]}
    with pytest.raises(InputError) as e:
        read_problem(write(tmp_path / "bad.xlsx", bad), "Input ")
    assert ("Input Materials", 1, "spot_price_usd_per_kg") in where(e.value.issues)


# ---------------------------------------------------------------- input errors

MAT = ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg"]
DIS = ["scenario", "scope", "target", "material", "from_year", "to_year", "availability"]
POL = ["rule", "scope", "target", "material", "from_year", "to_year", "value"]


def settings(*rows: list) -> dict:
    return {"Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2026], *rows]}


ERRORS = [
    # (changes, (sheet, row, column), words in the message)
    ({"Materials": None}, ("Materials", None, None), "no sheet 'Materials'"),
    (
        {"Settings": [["setting", "value"], ["last_year", 2026]]},
        ("Settings", None, "setting"),
        "no first_year row",
    ),
    (
        {"Settings": [["setting", "value"], ["first_year", None], ["last_year", 2026]]},
        ("Settings", 2, "value"),
        "first_year is required",
    ),
    (
        {"Settings": [["setting", "value"], ["first_year", 2025.5], ["last_year", 2026]]},
        ("Settings", 2, "value"),
        "whole number, found 2025.5",
    ),
    (
        {"Settings": [["setting", "value"], ["first_year", 2027], ["last_year", 2026]]},
        ("Settings", 3, "value"),
        "last_year 2026 is before first_year 2027",
    ),
    ({"Settings": [["setting"], ["first_year"]]}, ("Settings", 1, "value"), "'value' is missing"),
    (settings(["first_year", 2025]), ("Settings", 4, "setting"), "already on row 2"),
    (settings(["discount_rate", -1]), ("Settings", 4, "value"), "> -1, found -1"),
    (settings(["risk_aversion", -0.5]), ("Settings", 4, "value"), ">= 0"),
    (settings(["cvar_alpha", 1]), ("Settings", 4, "value"), "in [0, 1), found 1"),
    (settings(["min_supplier_share", 1.5]), ("Settings", 4, "value"), "in [0, 1]"),
    (settings(["time_limit_s", 0]), ("Settings", 4, "value"), "> 0"),
    (settings(["mip_gap", "1"]), ("Settings", 4, "value"), "in [0, 1)"),
    (
        settings(["recourse", "later"]),
        ("Settings", 4, "value"),
        "one of nonanticipative, clairvoyant; found the text 'later'",
    ),
    (
        {"Materials": [["material", "shortfall_penalty_usd_per_kg"], ["M", 1]]},
        ("Materials", 1, "spot_price_usd_per_kg"),
        "required column",
    ),
    (
        {"Materials": [[*MAT, " Material "], ["M", 1, 2, "x"]]},
        ("Materials", 1, "material"),
        "columns A and D",
    ),
    (
        {"Materials": [MAT, ["M", 1, 2], [None, 1, 2]]},
        ("Materials", 3, "material"),
        "has values but material is required",
    ),
    (
        {"Materials": [MAT, ["M", 1, 2], ["M", 1, 2]]},
        ("Materials", 3, "material"),
        "duplicate material 'M': already on row 2",
    ),
    ({"Materials": [MAT, ["M", None, 2]]}, ("Materials", 2, "spot_price_usd_per_kg"), "blank"),
    (
        {"Materials": [MAT, ["M", "1,000", 2]]},
        ("Materials", 2, "spot_price_usd_per_kg"),
        "number, found the text '1,000'",
    ),
    ({"Materials": [MAT, ["M", "25%", 2]]}, ("Materials", 2, "spot_price_usd_per_kg"), "'25%'"),
    ({"Materials": [MAT, ["M", "n/a", 2]]}, ("Materials", 2, "spot_price_usd_per_kg"), "'n/a'"),
    (
        {"Materials": [MAT, ["M", True, 2]]},
        ("Materials", 2, "spot_price_usd_per_kg"),
        "the yes/no value TRUE",
    ),
    (
        {"Materials": [MAT, ["M", datetime(2025, 1, 1), 2]]},
        ("Materials", 2, "spot_price_usd_per_kg"),
        "the date/time 2025-01-01",
    ),
    (
        {"Materials": [MAT, ["M", "#N/A", 2]]},
        ("Materials", 2, "spot_price_usd_per_kg"),
        "the Excel error #N/A",
    ),
    (
        {"Materials": [MAT, ["M", -1, 2]]},
        ("Materials", 2, "spot_price_usd_per_kg"),
        "not negative, found -1",
    ),
    (
        {"Materials": [MAT, ["M", 1, 2e12]]},
        ("Materials", 2, "shortfall_penalty_usd_per_kg"),
        "no larger than 1e12",
    ),
    (
        {"Materials": [MAT, ["M", 1, "nan"]]},
        ("Materials", 2, "shortfall_penalty_usd_per_kg"),
        "'nan'",
    ),
    ({"Materials": [MAT, [True, 1, 2]]}, ("Materials", 2, "material"), "must be a name"),
    ({"Demand": [["material", 2025], ["M", 1]]}, ("Demand", 1, "2026"), "no column for year 2026"),
    (
        {"Demand": [["material", 2025, 2026, "2025"], ["M", 1, 1, 1]]},
        ("Demand", 1, "2025"),
        "columns B and D",
    ),
    (
        {"Demand": [["material", 2025, 2026], ["M", 1, 1], ["X", 1, 1]]},
        ("Demand", 3, "material"),
        "'X' does not exist: it is not listed in Materials",
    ),
    (
        {"Demand": [["material", 2025, 2026], ["M", 1, 1], ["M", 1, 1]]},
        ("Demand", 3, "material"),
        "already on row 2",
    ),
    ({"Demand": [["material", 2025, 2026], ["M", 1, -2]]}, ("Demand", 2, "2026"), "negative"),
    (
        {"Countries": [["country", "risk_score"], ["CN", 1.5]]},
        ("Countries", 2, "risk_score"),
        "between 0 and 1, found 1.5",
    ),
    (
        {"Countries": [["country", 2025], ["CN", 1001]]},
        ("Countries", 2, "2025"),
        "between 0 and 1000",
    ),
    (
        {"Suppliers": [["supplier", "country", "qualified"], ["A", "CN", "maybe"]]},
        ("Suppliers", 2, "qualified"),
        "yes or no",
    ),
    (
        {"Suppliers": [["supplier", "country", "lead_time_years"], ["A", "CN", 1.5]]},
        ("Suppliers", 2, "lead_time_years"),
        "whole number",
    ),
    (
        {"Suppliers": [["supplier", "country", "lead_time_years"], ["A", "CN", -1]]},
        ("Suppliers", 2, "lead_time_years"),
        "not negative",
    ),
    (
        {"Suppliers": [["supplier", "country"], ["A", None]]},
        ("Suppliers", 2, "country"),
        "country is required",
    ),
    (
        {"Offers": [BASE["Offers"][0], ["B", "M", 1, 1, 1]]},
        ("Offers", 2, "supplier"),
        "'B' does not exist",
    ),
    (
        {"Offers": [BASE["Offers"][0], ["A", "X", 1, 1, 1]]},
        ("Offers", 2, "material"),
        "'X' does not exist",
    ),
    (
        {"Offers": [BASE["Offers"][0], ["A", "M", 1, 1, 1], ["A", "M", 2, 1, 1]]},
        ("Offers", 3, "material"),
        "already on row 2",
    ),
    (
        {"Offers": [["supplier", "material", "price_usd_per_kg", 2026], ["A", "M", 1, 1]]},
        ("Offers", 1, "2025"),
        "no column for year 2025",
    ),
    (
        {"Scenarios": [["scenario", "probability"], ["a", 0.5], ["b", 0.4]]},
        ("Scenarios", None, "probability"),
        "sum to 0.9;",
    ),
    (
        {"Scenarios": [["scenario", "probability"], ["a", 1.2], ["b", -0.2]]},
        ("Scenarios", 2, "probability"),
        "between 0 and 1",
    ),
    (
        {"Scenarios": [["scenario", "probability"], ["a", 0.5], ["a", 0.5]]},
        ("Scenarios", 3, "scenario"),
        "duplicate scenario 'a'",
    ),
    (
        {"Scenarios": [["scenario", "probability"], ["a", None]]},
        ("Scenarios", 2, "probability"),
        "required",
    ),
    (
        {"Scenarios": [["scenario", "probability", "demand_multiplier"], ["a", 1, -1]]},
        ("Scenarios", 2, "demand_multiplier"),
        "not negative",
    ),
    (
        {"Scenarios": SCENARIOS, "Disruptions": [DIS, ["war", "country", "CN"]]},
        ("Disruptions", 2, "scenario"),
        "'war' does not exist",
    ),
    (
        {"Disruptions": [DIS, ["ban", "country", "CN"]]},
        ("Disruptions", 2, "scenario"),
        "it must be 'base'",
    ),
    ({"Disruptions": [DIS, [None, "country", "CN"]]}, ("Disruptions", 2, "scenario"), "required"),
    (
        {"Disruptions": [DIS, ["base", "countries", "CN"]]},
        ("Disruptions", 2, "scope"),
        "one of country, ore_origin",
    ),
    (
        {"Disruptions": [DIS, ["base", "country", None]]},
        ("Disruptions", 2, "target"),
        "target is required for scope country",
    ),
    (
        {"Disruptions": [DIS, ["base", "spot", None, "X"]]},
        ("Disruptions", 2, "material"),
        "'X' does not exist",
    ),
    (
        {"Disruptions": [DIS, ["base", "spot", None, None, 2026, 2025]]},
        ("Disruptions", 2, "from_year"),
        "from_year 2026 is after to_year 2025",
    ),
    (
        {"Disruptions": [DIS, ["base", "spot", None, None, "soon"]]},
        ("Disruptions", 2, "from_year"),
        "from_year must be a number, found the text 'soon'",
    ),
    (
        {"Disruptions": [DIS, ["base", "spot", None, None, None, None, 0.5]]},
        ("Disruptions", 2, "availability"),
        "give a spot_max_t in Materials for 'M'",
    ),
    (
        {"Disruptions": [DIS, ["base", "country", "CN", None, None, None, 1.5]]},
        ("Disruptions", 2, "availability"),
        "between 0 and 1",
    ),
    (
        {"Policy": [POL, ["max_sharez", "country", "CN", None, None, None, 1]]},
        ("Policy", 2, "rule"),
        "one of max_share, min_share",
    ),
    (
        {"Policy": [POL, ["max_share", None, "CN", None, None, None, 1]]},
        ("Policy", 2, "scope"),
        "scope is required for rule max_share",
    ),
    (
        {"Policy": [POL, ["min_share", "spot", "CN", None, None, None, 1]]},
        ("Policy", 2, "scope"),
        "found the text 'spot'",
    ),
    (
        {"Policy": [POL, ["min_share", "country", None, None, None, None, 0.1]]},
        ("Policy", 2, "target"),
        "target is required",
    ),
    (
        {"Policy": [POL, ["max_avg_risk", None, None, None, None, None, None]]},
        ("Policy", 2, "value"),
        "value is required",
    ),
    (
        {"Policy": [POL, ["max_share", "country", "CN", None, None, None, 1.5]]},
        ("Policy", 2, "value"),
        "value of max_share must be between 0 and 1, found 1.5",
    ),
    (
        {"Policy": [POL, ["min_suppliers", None, None, None, None, None, 1.5]]},
        ("Policy", 2, "value"),
        "whole number of suppliers, found 1.5",
    ),
    (
        {"Policy": [POL, ["min_suppliers", None, None, "X", None, None, 1]]},
        ("Policy", 2, "material"),
        "'X' does not exist",
    ),
    (
        {"Policy": [POL, ["min_suppliers", None, None, None, 2026, 2025, 1]]},
        ("Policy", 2, "from_year"),
        "after to_year",
    ),
]


@pytest.mark.parametrize(("changes", "at", "words"), ERRORS)
def test_input_error(tmp_path, changes, at, words):
    found = issues(tmp_path, changes)
    assert [i for i in found if (i.sheet, i.row, i.column) == at and words in i.message], found


def test_every_error_is_reported_at_once_in_sheet_order(tmp_path):
    found = issues(
        tmp_path,
        {
            "Policy": [POL, ["max_share", "country", "CN", None, None, None, 2]],
            "Materials": [MAT, ["M", "cheap", 2], ["M", 1, 2]],
            "Settings": [
                ["setting", "value"],
                ["first_year", 2025],
                ["last_year", 2026],
                ["cvar_alpha", 1],
            ],
            "Offers": [BASE["Offers"][0], ["B", "M", -5, 1, 1]],
        },
    )
    assert [(i.sheet, i.row, i.column) for i in found] == [
        ("Settings", 4, "value"),
        ("Materials", 2, "spot_price_usd_per_kg"),
        ("Materials", 3, "material"),
        ("Offers", 2, "supplier"),
        ("Offers", 2, "price_usd_per_kg"),
        ("Policy", 2, "value"),
    ]


def test_formula_without_cached_value_is_an_error():
    sheets = {name: [[RawCell(v) for v in row] for row in rows] for name, rows in BASE.items()}
    sheets["Materials"] = [[RawCell(v) for v in row] for row in [MAT, ["M", None, 2], ["N", 1]]]
    raw = RawWorkbook(sheets, {"Materials": {(2, 2), (3, 3)}, "Demand": {(2, 3)}})
    with pytest.raises(InputError) as e:
        parse(raw)
    assert where(e.value.issues) == {
        ("Materials", 2, "spot_price_usd_per_kg"),
        ("Materials", 3, "shortfall_penalty_usd_per_kg"),
        ("Demand", 2, "2026"),
    }
    assert all("recalculate and save" in i.message for i in e.value.issues)


# ---------------------------------------------------------------- load_raw


def test_load_raw_keeps_every_sheet_in_order_and_trims_rows(tmp_path):
    path = write(tmp_path / "in.xlsx", {"Notes": [["hello"]], **BASE})
    raw = load_raw(path)
    assert list(raw.sheets) == ["Notes", *BASE]
    assert raw.sheets["Demand"][1] == [RawCell("M"), RawCell(10), RawCell(12)]
    assert raw.uncached_formulas == {name: set() for name in raw.sheets}


def test_load_raw_ignores_a_wrong_dimension_tag(tmp_path):
    path = write(tmp_path / "in.xlsx", {"Sheet": [[1], [2], [3, 4]]})
    fixed = tmp_path / "fixed.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(fixed, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
            dst.writestr(item, data)
    assert [[c.value for c in row] for row in load_raw(fixed).sheets["Sheet"]] == [[1], [2], [3, 4]]


def test_load_raw_number_formats(tmp_path):
    path = write(tmp_path / "in.xlsx", {"S": [[0.25, None, 1]]}, {("S", "A1"): "0%"})
    assert load_raw(path).sheets["S"] == [[RawCell(0.25, "0%"), RawCell(None), RawCell(1)]]


@pytest.mark.parametrize("content", [None, b"not a zip", b"PK\x03\x04broken"])
def test_load_raw_rejects_missing_and_unreadable_files(tmp_path, content, monkeypatch):
    monkeypatch.setitem(sys.modules, "diversify.safety", None)  # the reader's own checks
    path = tmp_path / "in.xlsx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as e:
        load_raw(path)
    assert e.value.issues[0].sheet is None
    assert str(path) in e.value.issues[0].message


def test_load_raw_takes_uncached_formulas_from_the_safety_guard(tmp_path, monkeypatch):
    path = write(tmp_path / "in.xlsx", book())
    scan = types.SimpleNamespace(
        sheets={"Materials": types.SimpleNamespace(uncached_formulas={(2, 2)})}
    )
    guard = types.ModuleType("diversify.safety")
    guard.inspect_workbook = lambda p, keep=None: scan
    monkeypatch.setitem(sys.modules, "diversify.safety", guard)
    raw = load_raw(path)
    assert raw.uncached_formulas["Materials"] == {(2, 2)}
    assert raw.uncached_formulas["Demand"] == set()

    def reject(p, keep=None):
        raise InputError([Issue(None, None, None, "hostile")])

    guard.inspect_workbook = reject
    with pytest.raises(InputError, match="hostile"):
        load_raw(path)


@pytest.mark.parametrize(
    ("cell", "expected", "words"),
    [
        (None, 0.0, None),
        (" ", 0.0, None),
        (3, 3.0, None),
        (" 2.5 ", 2.5, None),
        (-1, 0.0, "not negative, found -1"),
        ("1,000", 0.0, "the text '1,000'"),
        (True, 0.0, "yes/no value TRUE"),
    ],
)
def test_number_or_issue_for_other_sheets(cell, expected, words):
    q, issue = number_or_issue(cell, "Plan", 3, "2026")
    assert q == expected
    assert (issue is None) == (words is None)
    if issue:
        assert (issue.sheet, issue.row, issue.column) == ("Plan", 3, "2026")
        assert words in issue.message
