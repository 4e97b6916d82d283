"""The sample workbook of `diversify init`: layout (SPEC §3), consistency, readability."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from diversify import sample
from diversify.schema import SETTINGS, SHEETS, columns

SHIPPED = Path(__file__).resolve().parents[1] / "inputs" / "rare_earths_sample.xlsx"
YEARS = list(range(2026, 2036))


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("sample") / "sample.xlsx"
    sample.write_sample(p)
    return p


@pytest.fixture(scope="module")
def wb(path):
    return load_workbook(path)


def records(ws) -> list[dict]:
    """Data rows as dicts keyed by the header (years as ints)."""
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def header(ws) -> list:
    return [c.value for c in ws[1]]


def test_sheets_in_reading_order(wb):
    assert wb.sheetnames == ["README", *SHEETS, "Sources"]


@pytest.mark.parametrize("sheet", [s for s in SHEETS if s != "Settings"])
def test_headers_are_the_schema_columns(wb, sheet):
    got = header(wb[sheet])
    names = [c.name for c in columns(sheet) if c.name != "<year>"]
    assert [h for h in got if h in names] == names  # every column, in schema order
    if any(c.name == "<year>" for c in columns(sheet)):
        years = [h for h in got if isinstance(h, int)]
        assert years == YEARS  # integer headers, every year of the horizon, in order
    extras = [h for h in got if h not in names and not isinstance(h, int)]
    assert set(extras) <= {"note"}


def test_settings(wb):
    ws = wb["Settings"]
    assert header(ws)[:2] == ["setting", "value"]
    values = {r["setting"]: r["value"] for r in records(ws)}
    assert set(values) <= set(SETTINGS)
    assert values["first_year"] == 2026 and values["last_year"] == 2035
    assert 0 <= values["cvar_alpha"] < 1 and values["risk_aversion"] >= 0


def test_every_header_cell_has_a_comment_and_row_1_is_frozen(wb):
    for ws in wb.worksheets[1:]:
        for cell in ws[1]:
            if cell.value is not None:
                assert cell.comment is not None and cell.comment.text, (ws.title, cell.value)
                assert cell.font.b, (ws.title, cell.value)
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2"), ws.title


def test_year_columns_in_demand_and_offers_are_filled(wb):
    for sheet in ("Demand", "Offers"):
        for r in records(wb[sheet]):
            for t in YEARS:
                assert isinstance(r[t], int | float) and r[t] >= 0, (sheet, r, t)


def test_probabilities_sum_to_one_and_normal_comes_first(wb):
    rows = records(wb["Scenarios"])
    assert 4 <= len(rows) <= 5
    assert math.fsum(r["probability"] for r in rows) == pytest.approx(1.0, abs=1e-9)
    assert rows[0]["scenario"] == "normal"
    assert rows[0]["probability"] == max(r["probability"] for r in rows)
    hit = {r["scenario"] for r in records(wb["Disruptions"])}
    assert "normal" not in hit and hit <= {r["scenario"] for r in rows}


def test_references_exist(wb):
    materials = {r["material"] for r in records(wb["Materials"])}
    suppliers = {r["supplier"] for r in records(wb["Suppliers"])}
    countries = {r["country"] for r in records(wb["Countries"])}
    assert 3 <= len(materials) <= 4 and 8 <= len(suppliers) <= 12
    assert {r["material"] for r in records(wb["Demand"])} == materials
    offers = records(wb["Offers"])
    for r in offers:
        assert r["supplier"] in suppliers and r["material"] in materials, r
    assert {r["supplier"] for r in offers} == suppliers  # no supplier without an offer
    for r in records(wb["Suppliers"]):
        assert r["country"] in countries and (r["tariff_country"] or r["country"]) in countries
    for sheet in ("Disruptions", "Policy"):
        for r in records(wb[sheet]):
            assert r["material"] is None or r["material"] in materials, r


def early(supplier: dict) -> int:
    """First year a supplier may deliver (SPEC §4: qualified now, else after the lead time)."""
    if str(supplier["qualified"]).lower() == "yes":
        return YEARS[0]
    return YEARS[0] + (supplier["lead_time_years"] or 0)


def test_min_suppliers_can_be_met_every_year(wb):
    """Enough offers deliverable (qualified, or after the lead time) for each covered year."""
    sups = {r["supplier"]: r for r in records(wb["Suppliers"])}
    demand = {r["material"]: r for r in records(wb["Demand"])}
    share = {r["setting"]: r["value"] for r in records(wb["Settings"])}["min_supplier_share"]
    offers = records(wb["Offers"])
    for rule in records(wb["Policy"]):
        if rule["rule"] != "min_suppliers":
            continue
        lo, hi = rule["from_year"] or YEARS[0], rule["to_year"] or YEARS[-1]
        for t in range(lo, hi + 1):
            floor = share * demand[rule["material"]][t]
            able = [
                o
                for o in offers
                if o["material"] == rule["material"]
                and early(sups[o["supplier"]]) <= t
                and o[t] >= max(o["min_order_t"] or 0, floor)
            ]
            assert len(able) >= rule["value"], (rule, t)


def test_no_formulas(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)


def test_script_entry(tmp_path):
    out = tmp_path / "sub" / "s.xlsx"
    subprocess.run([sys.executable, "-m", "diversify.sample", str(out)], check=True)
    assert load_workbook(out).sheetnames[0] == "README"


def test_shipped_sample_is_current(wb):
    """inputs/rare_earths_sample.xlsx holds what write_sample writes (regenerate if not)."""
    shipped = load_workbook(SHIPPED)
    assert shipped.sheetnames == wb.sheetnames
    for name in wb.sheetnames:
        assert list(shipped[name].values) == list(wb[name].values), name


def test_reader_reads_it_without_errors_or_warnings(path):
    reader = pytest.importorskip("diversify.reader")
    problem = reader.read_problem(path)
    assert problem.warnings == []
    assert len(problem.years) == 10 and len(problem.scenarios) == 5
    assert len(problem.offers) == len(sample.OFFERS)


def test_it_solves_with_every_rule_kept_and_no_normal_shortfall(path):
    reader = pytest.importorskip("diversify.reader")
    engine = pytest.importorskip("diversify.engine")
    derive = pytest.importorskip("diversify.derive")
    checks = pytest.importorskip("diversify.checks")
    p = reader.read_problem(path)
    out = engine.optimise(
        p, derive.scenario_data(p), p.settings.risk_aversion, engine.settings_options(p)
    )
    assert out.report.status == "optimal"
    assert checks.breaches(p, out.plan) == []
    assert out.cost_parts["normal"]["shortfall"] == pytest.approx(0, abs=1e-3)


def test_price_paths_contract_terms_and_substitutions(wb):
    offers = {(r["supplier"], r["material"]): r for r in records(wb["Offers"])}
    prices = records(wb["Prices"])
    assert all((r["supplier"], r["material"]) in offers and r["note"] for r in prices)
    floor = next(r for r in prices if r["supplier"] == "MP Materials")
    assert [floor[t] for t in YEARS] == [110] * len(YEARS)  # the DoD floor, 10 years
    terms = [r for r in offers.values() if (r["min_contract_years"] or 1) > 1]
    assert len(terms) >= 2
    assert all(r["min_order_t"] > 0 and "term" in r["note"] for r in terms)
    options = records(wb["Substitutions"])
    assert len(options) >= 2 and all(r["note"] and 0 < r["reduction"] <= 1 for r in options)
    assert any(r["reduction"] == 0.25 and "Tesla" in r["note"] for r in options)
