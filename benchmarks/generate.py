"""Seeded synthetic input workbooks (SPEC §3) for benchmarks and smoke tests.

`make_workbook(path, suppliers, materials, years, scenarios)` writes a valid, feasible
workbook whose shape grows with its arguments: China-centred supply with ex-China
capacity ramping up, unqualified suppliers with lead times, fixed costs, minimum
orders, and scenarios whose bans, halts and delays start in later years (so the
scenario tree branches over time). The same arguments and seed give the same cells.

Feasibility: every first-stage rule holds for an empty plan except `min_suppliers`,
which is met by two qualified, low-risk, non-Chinese suppliers of the first material
whose capacity covers the rule's floor in every year.

    python benchmarks/generate.py OUT.xlsx --suppliers 80 --materials 8 --years 20 \\
        --scenarios 30 --seed 0

The `concentrated` family (issue 14; `make_concentrated`, `--family concentrated`) is the
shape where CBC beat HiGHS: few materials with many suppliers each (most offering one
material, most with a minimum order), 10 years, 12 scenarios, λ = 0.5, and rules over
part of the horizon: min_suppliers and min_share in the middle years, max_share China
from the third year on. Three qualified, low-risk suppliers per material (one of them
Australian) keep every rule feasible. `contracts` adds contract terms and substitution
options, `rules` every kind of rule over part of the horizon and a harder twist per seed
(`RULES_TWISTS`), `orders` minimum orders of half an offer's capacity and more on top
(the LP bound 0.3-0.9 % low: where CBC came closest).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from openpyxl import Workbook

FIRST_YEAR = 2026
CHINA = "China"
# country, risk score, tariff % by year offset from the first year (later years keep the last)
COUNTRIES = (
    (CHINA, 0.8, (0, 25, 25, 50)),
    ("Australia", 0.1, ()),
    ("USA", 0.15, ()),
    ("Malaysia", 0.3, (0, 0, 5)),
    ("Vietnam", 0.35, (10,)),
    ("Brazil", 0.3, ()),
    ("Japan", 0.1, ()),
    ("Estonia", 0.2, ()),
)
# name, base price USD/kg (China FOB), base demand t/year
MATERIALS = (
    ("NdPr oxide", 55.0, 400.0),
    ("Dy oxide", 260.0, 30.0),
    ("Tb oxide", 810.0, 10.0),
    ("NdFeB magnet", 80.0, 900.0),
    ("Sm oxide", 15.0, 60.0),
    ("Gd oxide", 40.0, 40.0),
    ("Ho oxide", 70.0, 15.0),
    ("La oxide", 2.0, 200.0),
    ("Ce oxide", 2.0, 250.0),
    ("Y oxide", 8.0, 80.0),
    ("Er oxide", 40.0, 12.0),
    ("Eu oxide", 30.0, 5.0),
)
MIN_SUPPLIER_SHARE = 0.15
MIN_SUPPLIERS = 2  # on the first material
MAX_CHINA_SHARE = 0.6
MAX_AVG_RISK = 0.55
GUARANTEED_RISK = 0.1  # of the two suppliers that make min_suppliers feasible
FAMILIES = ("spread", "concentrated", "contracts", "rules", "orders")
# the rules family: one harder twist per seed (seed % 5), on top of every rule kind
RULES_TWISTS = ("none", "fixed costs", "min_supplier_share", "minimum orders", "clairvoyant")
CONCENTRATED_GUARANTEED = 3  # qualified, safe suppliers per material; min_suppliers value
# the issue-14 shape: suppliers, materials, years, scenarios; λ by seed (0.5 on most)
CONCENTRATED = dict(suppliers=40, materials=4, years=10, scenarios=12)


def _r(x: float, digits: int = 2) -> float:
    return round(x, digits)


def build_sheets(
    suppliers: int,
    materials: int,
    years: int,
    scenarios: int,
    rules: bool = True,
    seed: int = 0,
    time_limit_s: float = 300.0,
    mip_gap: float = 1e-4,
    risk_aversion: float = 0.0,
    family: str = "spread",
) -> dict[str, list[list]]:
    """The workbook's sheets as rows of cell values (first row = header).

    `family`: "spread" (the default sizes), "concentrated" (issue 14, module docstring),
    "contracts": concentrated, with contract terms and substitution options added, or
    "rules": contracts, with every kind of rule over part of the horizon and a twist
    per seed (`_add_rules_and_twist`), or "orders": rules, with minimum orders of half a
    supplier's capacity and more on every seed besides its twist (`_minimum_orders`).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}")
    concentrated = family in ("concentrated", "contracts", "rules", "orders")
    if suppliers < MIN_SUPPLIERS or materials < 1 or years < 1 or scenarios < 1:
        raise ValueError("need >= 2 suppliers and >= 1 material, year and scenario")
    rng = random.Random(seed)
    yrs = list(range(FIRST_YEAR, FIRST_YEAR + years))
    last = yrs[-1]

    mats = _materials(materials)
    demand = {
        name: [_r(base * rng.uniform(0.8, 1.2) * (1 + growth) ** k) for k in range(years)]
        for (name, _, base), growth in zip(
            mats, [rng.uniform(0.02, 0.08) for _ in mats], strict=True
        )
    }
    sheets: dict[str, list[list]] = {
        "Settings": [
            ["setting", "value"],
            ["first_year", FIRST_YEAR],
            ["last_year", last],
            ["discount_rate", 0.05],
            ["risk_aversion", risk_aversion],
            ["cvar_alpha", 0.9],
            ["min_supplier_share", MIN_SUPPLIER_SHARE],
            ["time_limit_s", time_limit_s],
            ["mip_gap", mip_gap],
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
            ]
        ],
        "Demand": [["material", *yrs]] + [[m, *demand[m]] for m, _, _ in mats],
        "Countries": [["country", "risk_score", *yrs]],
    }
    for k, (name, price, _) in enumerate(mats):
        d0 = demand[name][0]
        sheets["Materials"].append(
            [
                name,
                _r(price * 1.3),
                _r(0.3 * d0),
                _r(price * rng.uniform(4, 8)),
                _r(price * 0.05, 3),
                _r(0.1 * d0),
                _r(d0) if k % 2 else None,
            ]
        )
    for name, risk, tariffs in COUNTRIES:
        row = [tariffs[min(k, len(tariffs) - 1)] if tariffs else None for k in range(years)]
        sheets["Countries"].append([name, risk, *[v or None for v in row]])

    guaranteed = materials * CONCENTRATED_GUARANTEED if concentrated else MIN_SUPPLIERS
    sups = _suppliers(rng, suppliers, years, guaranteed)
    if concentrated:  # one guaranteed supplier per material keeps min_share Australia
        for s in sups[:materials]:
            s["country"] = "Australia"
    sheets["Suppliers"] = [
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
        ]
    ]
    sheets["Suppliers"] += [list(s.values()) for s in sups]
    sheets["Offers"] = [["supplier", "material", "price_usd_per_kg", "min_order_t", *yrs]]
    if concentrated:
        sheets["Offers"] += _concentrated_offers(rng, sups, mats, demand, years)
    else:
        sheets["Offers"] += _offers(rng, sups, mats, demand, years)

    scen_rows, disruptions = _scenarios(rng, scenarios, sups, mats, yrs)
    sheets["Scenarios"] = [
        ["scenario", "probability", "demand_multiplier", "spot_price_multiplier", "description"],
        *scen_rows,
    ]
    sheets["Disruptions"] = [
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
        *disruptions,
    ]
    if rules and concentrated:
        mid = (yrs[min(2, years - 1)], yrs[min(6, years - 1)])
        sheets["Policy"] = [
            ["rule", "scope", "target", "material", "from_year", "to_year", "value"],
            ["max_share", "any_link", CHINA, None, yrs[min(2, years - 1)], None, 0.5],
            ["min_suppliers", None, None, None, *mid, CONCENTRATED_GUARANTEED],
            ["min_share", "country", "Australia", None, *mid, 0.1],
            ["max_avg_risk", None, None, None, None, None, MAX_AVG_RISK],
        ]
    elif rules:
        sheets["Policy"] = [
            ["rule", "scope", "target", "material", "from_year", "to_year", "value"],
            ["max_share", "any_link", CHINA, None, None, None, MAX_CHINA_SHARE],
            ["min_suppliers", None, None, mats[0][0], None, None, MIN_SUPPLIERS],
            ["max_avg_risk", None, None, None, None, None, MAX_AVG_RISK],
        ]
    sheets["Risks"] = _risks(sups, mats)
    if family in ("contracts", "rules", "orders"):
        _add_contracts(sheets, mats, demand, yrs, seed)
    if family in ("rules", "orders"):
        _add_rules_and_twist(sheets, yrs, seed)
    if family == "orders" and RULES_TWISTS[seed % len(RULES_TWISTS)] != "minimum orders":
        _minimum_orders(sheets, random.Random(seed + 99))
    return sheets


def _add_rules_and_twist(sheets: dict[str, list[list]], yrs: list[int], seed: int) -> None:
    """Three more rules over part of the horizon (a Chinese supplier's share, China's
    processing share of the second material, an Australian ore share of the third) and
    the seed's twist, RULES_TWISTS[seed % 5]: fixed costs of 0.3-2 M USD a year on
    every supplier beyond the guaranteed ones; min_supplier_share 0.25; minimum orders
    of 50-80 % of the offer's peak capacity; clairvoyant recourse. Drawn from their own
    generator, so the other sheets stay those of `contracts`."""
    rng = random.Random(seed + 31)
    at = lambda k: yrs[min(k, len(yrs) - 1)]  # noqa: E731
    mats = [row[0] for row in sheets["Materials"][1:]]
    chinese = [row[0] for row in sheets["Suppliers"][1:] if row[1] == CHINA]
    sheets["Policy"] += [
        ["max_share", "supplier", chinese[0], None, at(3), at(8), 0.2],
        ["max_share", "processing_country", CHINA, mats[1 % len(mats)], at(4), None, 0.3],
        ["min_share", "ore_origin", "Australia", mats[2 % len(mats)], at(5), at(9), 0.15],
    ]
    twist = RULES_TWISTS[seed % len(RULES_TWISTS)]
    guaranteed = len(mats) * CONCENTRATED_GUARANTEED
    if twist == "fixed costs":
        for row in sheets["Suppliers"][1 + guaranteed :]:
            row[8] = round(rng.uniform(0.3e6, 2.0e6), -3)
    elif twist == "min_supplier_share":
        for row in sheets["Settings"]:
            if row[0] == "min_supplier_share":
                row[1] = 0.25
    elif twist == "minimum orders":
        _minimum_orders(sheets, rng)
    elif twist == "clairvoyant":
        sheets["Settings"].append(["recourse", "clairvoyant"])


def _minimum_orders(sheets: dict[str, list[list]], rng: random.Random) -> None:
    """Every minimum order raised to 50-80 % of its offer's peak capacity (the LP
    relaxation then ignores most of what an order costs: its bound is 0.3-0.9 % low)."""
    for row in sheets["Offers"][1:]:
        caps = [c for c in row[5:] if c]
        if row[3] and caps:
            row[3] = _r(max(caps) * rng.uniform(0.5, 0.8))


def _add_contracts(
    sheets: dict[str, list[list]],
    mats: list[tuple[str, float, float]],
    demand: dict[str, list[float]],
    yrs: list[int],
    seed: int,
) -> None:
    """Contract terms (SPEC §3 min_contract_years: 2-3 years on 40 % of the offers with a
    minimum order) and one substitution option per material for the first two, drawn
    from their own generator so that the other sheets stay those of `concentrated`."""
    rng = random.Random(seed + 7919)
    offers = sheets["Offers"]
    offers[0].insert(4, "min_contract_years")
    for row in offers[1:]:
        term = rng.choice((2, 3)) if row[3] and rng.random() < 0.4 else None
        row.insert(4, term)
    sheets["Substitutions"] = [
        ["option", "material", "reduction", "from_year", "investment_usd", "annual_cost_usd"]
    ]
    for k, (name, price, _) in enumerate(mats[:2]):
        yearly = 1000 * price * demand[name][0]  # USD of a year's need at the base price
        sheets["Substitutions"].append(
            [
                f"redesign_{k + 1}",
                name,
                rng.choice((0.15, 0.25)),
                yrs[min(k + 1, len(yrs) - 1)],
                _r(yearly * rng.uniform(0.3, 0.8)),
                _r(yearly * rng.uniform(0.02, 0.06)),
            ]
        )


def _risks(sups: list[dict], mats: list[tuple[str, float, float]]) -> list[list]:
    """SPEC §7's Risks for `stress` and `scenarios` (solve reads none): a Chinese export
    ban, quotas on one other country the suppliers name (Malaysia where one does), a
    spot squeeze of the first material, halts of the first ten suppliers. Fixed by the
    shape alone (no draw: the other sheets stay as they were)."""
    header = [
        "risk", "scope", "target", "material", "probability", "from_year", "to_year",
        "min_years", "max_years", "availability", "price_multiplier", "spot_availability",
        "spot_price_multiplier",
    ]  # fmt: skip
    present = list(dict.fromkeys(s["country"] for s in sups))
    others = [c for c in present if c != CHINA]
    quota = "Malaysia" if "Malaysia" in others else (others or [None])[0]
    rows = []
    if CHINA in present:
        rows.append(
            ["china_ban", "country", CHINA, None, 0.08, None, None, 1, 3, 0.0, 1.0, 0.5, 2.0]
        )
    if quota:  # quotas on one other country the suppliers name
        rows.append([f"{quota.lower()}_quota", "country", quota, None, 0.1, None, None, 1, 2,
                     0.5, 1.2, 1, 1])  # fmt: skip
    rows.append(["spot_squeeze", "spot", None, mats[0][0], 0.1, None, None, 1, 2, 0.3, 1.8, 1, 1])
    rows += [
        [f"halt_{s['supplier']}", "supplier", s["supplier"], None, 0.05, None, None, 1, 1, 0.0,
         1.0, 1, 1]
        for s in sups[:10]
    ]  # fmt: skip
    return [header, *rows]


def _materials(n: int) -> list[tuple[str, float, float]]:
    out = list(MATERIALS[:n])
    for k in range(len(out), n):  # more than the named ones: numbered variants
        name, price, base = MATERIALS[k % len(MATERIALS)]
        out.append((f"{name} {k // len(MATERIALS) + 1}", price, base))
    return out


def _suppliers(rng: random.Random, n: int, years: int, guaranteed: int) -> list[dict]:
    others = [c for c, _, _ in COUNTRIES if c != CHINA]
    out = []
    for i in range(n):
        name = f"S{i + 1:03d}"
        if i < guaranteed:  # the min_suppliers guarantee: qualified, safe, ex-China
            out.append(
                dict(
                    supplier=name,
                    country=others[i % len(others)],
                    ore_origin=None,
                    processing_country=None,
                    tariff_country=None,
                    qualified="yes",
                    lead_time_years=None,
                    qualification_cost_usd=None,
                    annual_fixed_cost_usd=None,
                    risk_score=GUARANTEED_RISK,
                )
            )
            continue
        chinese = rng.random() < 0.4
        country = CHINA if chinese else rng.choice(others)
        ore = processing = tariff = None
        if chinese:
            ore = rng.choice([None, None, "Australia", "Vietnam"])  # imported ore
        elif rng.random() < 0.3:  # ex-China ore processed in China: any_link China
            processing = CHINA
            tariff = CHINA if rng.random() < 0.5 else None
        elif rng.random() < 0.2:
            ore = rng.choice(others)
        qualified = rng.random() < (0.9 if chinese else 0.5)
        lead = qcost = None
        if not qualified:
            lead = rng.randint(1, max(1, min(3, years - 1)))
            qcost = round(rng.uniform(0.2e6, 2e6), -3)
        fixed = round(rng.uniform(50e3, 500e3), -3) if rng.random() < 0.3 else None
        risk = _r(rng.uniform(0.05, 0.9)) if rng.random() < 0.2 else None
        out.append(
            dict(
                supplier=name,
                country=country,
                ore_origin=ore,
                processing_country=processing,
                tariff_country=tariff,
                qualified="yes" if qualified else "no",
                lead_time_years=lead,
                qualification_cost_usd=qcost,
                annual_fixed_cost_usd=fixed,
                risk_score=risk,
            )
        )
    return out


def _offers(
    rng: random.Random,
    sups: list[dict],
    mats: list[tuple[str, float, float]],
    demand: dict[str, list[float]],
    years: int,
) -> list[list]:
    rows = []
    for i, s in enumerate(sups):
        if i < MIN_SUPPLIERS:  # flat capacity above the min_suppliers floor in every year
            name, price, _ = mats[0]
            peak = max(demand[name])
            rows.append(
                [
                    s["supplier"],
                    name,
                    _r(price * rng.uniform(1.4, 1.8)),
                    None,
                    *[_r(0.5 * peak)] * years,
                ]
            )
            continue
        chinese = s["country"] == CHINA
        count = rng.randint(1, min(3, len(mats)))
        picks = {i % len(mats)} | set(rng.sample(range(len(mats)), count - 1))
        for j in sorted(picks):
            name, price, _ = mats[j]
            d0 = demand[name][0]
            peak = d0 * rng.uniform(0.1, 0.5)
            price_kg, caps = _ramped(rng, price, peak, chinese, years, (5, 4), (1.4, 2.5), 0.2)
            moq = _r(0.2 * peak) if rng.random() < 0.3 else None
            rows.append([s["supplier"], name, _r(price_kg), moq, *caps])
    return rows


def _ramped(
    rng: random.Random,
    price: float,
    peak: float,
    chinese: bool,
    years: int,
    latest: tuple[int, int],
    premium: tuple[float, float],
    first: float,
) -> tuple[float, list[float | None]]:
    """An offer's price per kg and capacities by year: Chinese ones at the base price
    (±10 %) from the first year at `peak`; the others at a premium, from a start year up
    to latest[0] and ramping over up to latest[1] years from `first` of the peak."""
    if chinese:
        start, ramp = 0, 1
        price_kg = price * rng.uniform(0.9, 1.1)
    else:
        start, ramp = rng.randint(0, min(latest[0], years - 1)), rng.randint(1, latest[1])
        price_kg = price * rng.uniform(*premium)
    caps = [
        _r(peak * min(1.0, first + (1 - first) * (k - start) / ramp)) if k >= start else None
        for k in range(years)
    ]
    return price_kg, caps


def _concentrated_offers(
    rng: random.Random,
    sups: list[dict],
    mats: list[tuple[str, float, float]],
    demand: dict[str, list[float]],
    years: int,
) -> list[list]:
    """Offers of the concentrated family: the first 3 suppliers per material guarantee
    its rules (flat capacity above the floor); the others offer one material (a fifth
    two), most with a minimum order, capacities of 10-40 % of the demand."""
    rows = []
    guaranteed = len(mats) * CONCENTRATED_GUARANTEED
    for i, s in enumerate(sups):
        if i < guaranteed:
            name, price, _ = mats[i % len(mats)]
            peak = max(demand[name])
            rows.append(
                [
                    s["supplier"],
                    name,
                    _r(price * rng.uniform(1.5, 1.9)),
                    _r(0.05 * peak),
                    *[_r(0.4 * peak)] * years,
                ]
            )
            continue
        chinese = s["country"] == CHINA
        picks = {i % len(mats)}
        if rng.random() < 0.2:
            picks.add(rng.randrange(len(mats)))
        for j in sorted(picks):
            name, price, _ = mats[j]
            peak = demand[name][0] * rng.uniform(0.1, 0.4)
            price_kg, caps = _ramped(rng, price, peak, chinese, years, (4, 3), (1.2, 2.2), 0.3)
            moq = _r(rng.uniform(0.2, 0.5) * peak) if rng.random() < 0.7 else None
            rows.append([s["supplier"], name, _r(price_kg), moq, *caps])
    return rows


def _scenarios(
    rng: random.Random,
    n: int,
    sups: list[dict],
    mats: list[tuple[str, float, float]],
    yrs: list[int],
) -> tuple[list[list], list[list]]:
    """`normal` first, then bans, halts, delays and shocks starting in random later years."""
    later = yrs[1:] or yrs
    weights = [rng.uniform(0.5, 1.5) for _ in range(n - 1)]
    rest = 0.6 if n > 1 else 0.0
    probs = [round(1 - rest, 6)] + [round(rest * w / sum(weights), 6) for w in weights]
    if n > 1:
        probs[-1] = round(1 - sum(probs[:-1]), 6)
    rows = [["normal", probs[0], None, None, "no disruption"]]
    dis: list[list] = []
    ex_china = [s["supplier"] for s in sups if s["country"] != CHINA]
    heavy = [m for m, _, _ in mats if m in ("Dy oxide", "Tb oxide")]
    kinds = ("ban", "halt", "quota", "delay", "shock")
    for k in range(1, n):
        kind = kinds[(k - 1) % len(kinds)]
        year = rng.choice(later)
        name = f"{kind}_{k:02d}_{year}"
        demand_mult = spot_mult = None
        if kind == "ban":
            end = rng.choice([None, min(year + rng.randint(1, 4), yrs[-1])])
            dis.append([name, "any_link", CHINA, None, year, end, 0, None])
            dis.append([name, "spot", None, None, year, end, 0.2, 3])
            text = f"Chinese export ban from {year}"
        elif kind == "halt":
            target = rng.choice(ex_china)
            end = min(year + rng.randint(0, 2), yrs[-1])
            dis.append([name, "supplier", target, None, year, end, 0, None])
            text = f"{target} halts from {year}"
        elif kind == "quota":
            mat = rng.choice(heavy) if heavy else None
            dis.append([name, "country", CHINA, mat, year, None, 0.4, 1.8])
            dis.append([name, "spot", None, mat, year, None, 0.5, 2])
            text = f"Chinese export quota on {mat or 'every material'} from {year}"
        elif kind == "delay":
            target = rng.choice(["Australia", "USA", "Brazil", "Estonia"])
            dis.append([name, "country", target, None, year, min(year + 2, yrs[-1]), 0.5, 1.2])
            text = f"{target} ramp-up delayed from {year}"
        else:
            demand_mult = _r(rng.uniform(1.05, 1.2))
            spot_mult = _r(rng.uniform(1.1, 1.5))
            dis.append([name, "processing_country", CHINA, None, year, None, 1, 1.5])
            text = f"demand boom, Chinese processing prices up from {year}"
        rows.append([name, probs[k], demand_mult, spot_mult, text])
    return rows, dis


def write_sheets(path: str | Path, sheets: dict[str, list[list]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    path = Path(path)
    wb.save(path)
    return path


def make_workbook(
    path: str | Path,
    suppliers: int,
    materials: int,
    years: int,
    scenarios: int,
    rules: bool = True,
    seed: int = 0,
    **settings,
) -> Path:
    """Write a synthetic input workbook; `settings`: time_limit_s, mip_gap, risk_aversion."""
    return write_sheets(
        path, build_sheets(suppliers, materials, years, scenarios, rules, seed, **settings)
    )


def make_concentrated(
    path: str | Path, seed: int = 0, family: str = "concentrated", **settings
) -> Path:
    """A workbook of the concentrated (or contracts) family (issue 14) at its standard shape."""
    return make_workbook(path, **CONCENTRATED, seed=seed, family=family, **settings)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--suppliers", type=int, default=80)
    ap.add_argument("--materials", type=int, default=8)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--scenarios", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-rules", action="store_true", help="leave out the Policy sheet")
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--mip-gap", type=float, default=1e-4)
    ap.add_argument("--risk-aversion", type=float, default=0.0)
    ap.add_argument("--family", choices=FAMILIES, default="spread")
    a = ap.parse_args(argv)
    make_workbook(
        a.out,
        a.suppliers,
        a.materials,
        a.years,
        a.scenarios,
        not a.no_rules,
        a.seed,
        time_limit_s=a.time_limit,
        mip_gap=a.mip_gap,
        risk_aversion=a.risk_aversion,
        family=a.family,
    )
    print(a.out)


if __name__ == "__main__":
    main()
