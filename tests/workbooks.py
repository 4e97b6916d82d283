"""Input workbooks for end-to-end tests: SPEC §6's examples as real .xlsx files."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook


def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for row in ws.iter_rows():
            for cell in row:  # a name that looks like a formula stays text, as typed
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
    wb.save(path)
    return path


def example_1() -> dict[str, list[list]]:
    return {
        "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2025]],
        "Materials": [
            ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg"],
            ["NdPr", 100, 1000],
        ],
        "Demand": [["material", 2025], ["NdPr", 10]],
        "Countries": [["country", "risk_score", " 2025 "], ["CN", None, 20]],
        "Suppliers": [["supplier", "country", "qualified"], ["A", "CN", "yes"]],
        "Offers": [["supplier", "material", "price_usd_per_kg", 2025], ["A", "NdPr", 50, 8]],
    }


def example_2() -> dict[str, list[list]]:
    return {
        "Settings": [
            ["setting", "value"],
            ["first_year", 2025],
            ["last_year", 2026],
            ["discount_rate", 0.1],
        ],
        "Materials": [
            [
                "material",
                "spot_price_usd_per_kg",
                "spot_max_t",
                "shortfall_penalty_usd_per_kg",
                "max_stock_t",
            ],
            ["M", 100, 0, 1000, 0],
        ],
        "Demand": [["material", 2025, 2026], ["M", 10, 10]],
        "Suppliers": [
            ["supplier", "country", "qualified", "lead_time_years", "qualification_cost_usd"],
            ["CN1", "CN", "yes", None, None],
            ["BR1", "BR", "no", 1, 100000],
        ],
        "Offers": [
            ["supplier", "material", "price_usd_per_kg", 2025, 2026],
            ["CN1", "M", 40, 20, 20],
            ["BR1", "M", 70, 20, 20],
        ],
        "Scenarios": [["scenario", "probability"], ["normal", 0.8], ["ban", 0.2]],
        "Disruptions": [
            ["scenario", "scope", "target", "material", "from_year", "to_year", "availability"],
            ["ban", "any_link", "CN", None, 2026, None, None],
        ],
    }


def example_4(recourse: str = "nonanticipative") -> dict[str, list[list]]:
    return {
        "Settings": [
            ["setting", "value"],
            ["first_year", 2025],
            ["last_year", 2027],
            ["recourse", recourse],
        ],
        "Materials": [
            [
                "material",
                "spot_price_usd_per_kg",
                "spot_max_t",
                "shortfall_penalty_usd_per_kg",
                "holding_cost_usd_per_kg_year",
            ],
            ["M", 60, 4, 300, 2],
        ],
        "Demand": [["material", 2025, 2026, 2027], ["M", 10, 10, 10]],
        "Suppliers": [["supplier", "country", "qualified"], ["CN1", "CN", "yes"]],
        "Offers": [
            ["supplier", "material", "price_usd_per_kg", 2025, 2026, 2027],
            ["CN1", "M", 20, 10, 10, 10],
        ],
        "Scenarios": [["scenario", "probability"], ["normal", 0.6], ["ban", 0.4]],
        "Disruptions": [
            ["scenario", "scope", "target", "from_year", "availability"],
            ["ban", "any_link", "CN", 2027, 0],
        ],
    }


def example_5(min_contract_years: int | None = 2, with_b: bool = True) -> dict[str, list[list]]:
    offers = [
        [
            "supplier",
            "material",
            "price_usd_per_kg",
            "min_order_t",
            "min_contract_years",
            2025,
            2026,
            2027,
            2028,
        ],
        ["A", "M", 30, None, None, 10, 10, 10, 10],
    ]
    if with_b:
        offers.append(["B", "M", 50, 10, min_contract_years, 10, 10, 10, 10])
    return {
        "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2028]],
        "Materials": [
            [
                "material",
                "spot_price_usd_per_kg",
                "spot_max_t",
                "shortfall_penalty_usd_per_kg",
                "max_stock_t",
            ],
            ["M", 100, 0, 1000, 0],
        ],
        "Demand": [["material", 2025, 2026, 2027, 2028], ["M", 10, 10, 10, 10]],
        "Suppliers": [
            ["supplier", "country", "qualified"],
            ["A", "X", "yes"],
            ["B", "Y", "yes"],
        ],
        "Offers": offers,
        "Prices": [
            ["supplier", "material", 2025, 2026, 2027, 2028],
            ["A", "M", None, None, 80, 40],
        ],
    }


def example_6() -> dict[str, list[list]]:
    return {
        "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2026]],
        "Materials": [
            ["material", "spot_price_usd_per_kg", "shortfall_penalty_usd_per_kg", "max_stock_t"],
            ["M", 100, 1000, 0],
        ],
        "Demand": [["material", 2025, 2026], ["M", 10, 10]],
        "Suppliers": [["supplier", "country", "qualified"], ["A", "X", "yes"]],
        "Offers": [
            ["supplier", "material", "price_usd_per_kg", 2025, 2026],
            ["A", "M", 50, 10, 10],
        ],
        "Scenarios": [["scenario", "probability"], ["normal", 0.5], ["ban", 0.5]],
        "Disruptions": [
            [
                "scenario",
                "scope",
                "target",
                "from_year",
                "availability",
                "price_multiplier",
            ],
            ["ban", "supplier", "A", 2026, None, None],
            ["ban", "spot", None, 2026, 1, 3],
        ],
        "Substitutions": [
            [
                "option",
                "material",
                "reduction",
                "from_year",
                "investment_usd",
                "annual_cost_usd",
            ],
            ["redesign", "M", 0.4, 2025, 500000, 10000],
        ],
    }
