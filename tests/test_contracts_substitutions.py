"""Price paths, contract terms and substitution options (SPEC §4.1, §4.3, §6 examples 5-6).

Each expected figure is worked out by hand in the comment beside it; every solved plan
passes the post-solve checker and a stock balance rebuilt with D'[m,t].
"""

from __future__ import annotations

import pytest
from factory import problem

from diversify.checks import breaches
from diversify.derive import scenario_data
from diversify.engine import (
    evaluate,
    optimise,
    resilience_figures,
    settings_options,
    substitution_savings,
)

ZERO_SPOT = dict(spot_price_usd_per_kg=100, spot_max_t=0, shortfall_penalty_usd_per_kg=1000)
SPOT = dict(spot_price_usd_per_kg=100, shortfall_penalty_usd_per_kg=1000)


def solve(p, lam=None):
    out = optimise(
        p, scenario_data(p), p.settings.risk_aversion if lam is None else lam, settings_options(p)
    )
    assert breaches(p, out.plan, out.ordered, out.starts) == []
    assert_balance(p, out)
    return out


def assert_balance(p, out):
    """I[t-1] + Σ a x + z + u = dm D' + I + e with D' = D (1 - Σ reduction on)."""
    for w in scenario_data(p):
        for m, mat in p.materials.items():
            prev = mat.initial_stock_t
            for t in p.years:
                r = out.recovery[(m, t, w.name)]
                got = sum(
                    w.a(s, m, t) * q for (s, mm, tt), q in out.plan.items() if mm == m and tt == t
                )
                cut = sum(
                    o.reduction
                    for name, o in p.substitutions.items()
                    if o.material == m and out.starts.get(name, t + 1) <= t
                )
                need = w.demand_multiplier * p.demand_t[(m, t)] * (1 - cut)
                assert prev + got + r["z"] + r["u"] == pytest.approx(
                    need + r["I"] + r["e"], abs=1e-6
                )
                prev = r["I"]


# ---------------------------------------------------------------- SPEC §6 example 5


def spec_example_5(term: int = 2, with_b: bool = True):
    """A: 30 $/kg, 80 in 2027, 40 in 2028 (Prices); B: 50 $/kg, min order 10, term L."""
    offers = {
        ("A", "M"): dict(
            price_usd_per_kg=30, capacity=10, prices_usd_per_kg={2027: 80.0, 2028: 40.0}
        )
    }
    if with_b:
        offers[("B", "M")] = dict(
            price_usd_per_kg=50, capacity=10, min_order_t=10, min_contract_years=term
        )
    return problem(
        (2025, 2028),
        {"M": dict(ZERO_SPOT, max_stock_t=0)},
        {"M": 10},
        {"A": dict(country="X", qualified=True), "B": dict(country="Y", qualified=True)},
        offers,
    )


def test_spec_example_5_contract_runs_into_2028():
    # A 2025-26 (300,000 + 300,000), B 2027-28 (500,000 + 500,000) = 1,600,000
    out = solve(spec_example_5())
    assert out.objective == pytest.approx(1_600_000)
    assert out.plan == pytest.approx(
        {("A", "M", 2025): 10, ("A", "M", 2026): 10, ("B", "M", 2027): 10, ("B", "M", 2028): 10}
    )


def test_spec_example_5_b_in_2026_2027_costs_more():
    # A 2025 and 2028 (300,000 + 400,000), B 2026-27 (1,000,000) = 1,700,000
    p = spec_example_5()
    plan = {("A", "M", 2025): 10, ("B", "M", 2026): 10, ("B", "M", 2027): 10, ("A", "M", 2028): 10}
    out = evaluate(p, plan, scenario_data(p), 0.0, settings_options(p))
    assert out.expected_cost == pytest.approx(1_700_000)
    assert breaches(p, plan) == []


def test_spec_example_5_one_year_term_and_without_b():
    # L = 1: B in 2027 alone: 300,000 * 2 + 500,000 + 400,000 = 1,500,000
    assert solve(spec_example_5(term=1)).objective == pytest.approx(1_500_000)
    # no B: A every year: 300,000 * 2 + 800,000 + 400,000 = 1,800,000
    assert solve(spec_example_5(with_b=False)).objective == pytest.approx(1_800_000)


def test_a_contract_run_shorter_than_its_term_is_a_breach_unless_it_reaches_the_end():
    p = spec_example_5(term=3)
    short = {("B", "M", 2026): 10, ("B", "M", 2027): 10}
    assert any("contract length: B / M ordered in 2026-2027" in b for b in breaches(p, short))
    assert breaches(p, {("B", "M", 2027): 10, ("B", "M", 2028): 10}) == []  # reaches tN
    # an edited plan that breaks the term is still costed
    out = evaluate(p, short, scenario_data(p), 0.0, settings_options(p))
    assert out.expected_cost == pytest.approx(1_000_000 + 2 * 10_000_000)


def test_contract_length_rows_chain_two_runs():
    # L = 2 over 2025-2028 with B cheap in 2025 and 2028 only (price path), A otherwise:
    # a contract must run two years, so B 2025-26 and B 2027-28 (two runs) beat A.
    p = problem(
        (2025, 2028),
        {"M": dict(ZERO_SPOT, max_stock_t=0)},
        {"M": 10},
        {"A": dict(country="X", qualified=True), "B": dict(country="Y", qualified=True)},
        {
            ("A", "M"): dict(price_usd_per_kg=45, capacity=10),
            ("B", "M"): dict(
                price_usd_per_kg=50,
                capacity=10,
                min_order_t=10,
                min_contract_years=2,
                prices_usd_per_kg={2025: 10.0, 2028: 10.0},
            ),
        },
    )
    # B 2025-26 (100,000 + 500,000), A 2027 (450,000), B 2028 alone: a run that reaches
    # tN may be shorter (100,000): 1,150,000. B in 2025 alone with A in 2026-27 would be
    # 1,100,000, but that run ends before tN after one year.
    out = solve(p)
    assert out.objective == pytest.approx(1_150_000)
    assert out.plan[("B", "M", 2026)] == pytest.approx(10)


# ---------------------------------------------------------------- price paths


def test_price_path_with_tariff_and_discount():
    # 2025-2026, discount 0.1, tariff 10 %; price 20 $/kg, 40 in 2026 (Prices): 10 t a year
    # 10 t * 22,000 + 10 t * 44,000 / 1.1 = 220,000 + 400,000 = 620,000
    p = problem(
        (2025, 2026),
        {"M": SPOT},
        {"M": 10},
        {"A": dict(country="X", qualified=True)},
        {("A", "M"): dict(price_usd_per_kg=20, capacity=10, prices_usd_per_kg={2026: 40.0})},
        countries={"X": dict(tariff=10)},
        discount_rate=0.1,
    )
    out = solve(p)
    assert out.cost_parts["base"]["purchases"] == pytest.approx(620_000)


# ---------------------------------------------------------------- SPEC §6 example 6


def spec_example_6(from_year: int = 2025, with_option: bool = True):
    subs = {
        "redesign": dict(
            material="M",
            reduction=0.4,
            from_year=from_year,
            investment_usd=500_000,
            annual_cost_usd=10_000,
        )
    }
    return problem(
        (2025, 2026),
        {"M": dict(SPOT, max_stock_t=0)},
        {"M": 10},
        {"A": dict(country="X", qualified=True)},
        {("A", "M"): dict(price_usd_per_kg=50, capacity=10)},
        scenarios=[("normal", 0.5), ("ban", 0.5)],
        disruptions=[
            dict(scenario="ban", scope="supplier", target="A", from_year=2026),
            dict(scenario="ban", scope="spot", from_year=2026, availability=1, price_multiplier=3),
        ],
        substitutions=subs if with_option else None,
    )


def test_spec_example_6_optimum_and_scenario_costs():
    # redesign from 2025 (500,000 + 2 * 10,000), A 6 t a year (300,000 a year);
    # normal 300,000 * 2 + 520,000 = 1,120,000; ban 300,000 + 6 t spot at 300 $/kg
    # (1,800,000) + 520,000 = 2,620,000; expected 1,870,000
    out = solve(spec_example_6())
    assert out.objective == pytest.approx(1_870_000)
    assert out.starts == {"redesign": 2025}
    assert out.plan == pytest.approx({("A", "M", 2025): 6, ("A", "M", 2026): 6})
    assert out.scenario_costs == pytest.approx({"normal": 1_120_000, "ban": 2_620_000})
    assert out.cost_parts["ban"]["substitution"] == pytest.approx(520_000)


def test_spec_example_6_later_or_never():
    # from 2026: 500,000 + 510,000 + 0.5 * 300,000 + 0.5 * 1,800,000 = 2,060,000
    assert solve(spec_example_6(from_year=2026)).objective == pytest.approx(2_060_000)
    # none: 500,000 + 0.5 * 500,000 + 0.5 * 3,000,000 = 2,250,000
    assert solve(spec_example_6(with_option=False)).objective == pytest.approx(2_250_000)


def test_spec_example_6_figures():
    p = spec_example_6()
    core = solve(p)
    f = resilience_figures(p, core, settings_options(p))
    assert f.scenario_optima == pytest.approx({"normal": 1_000_000, "ban": 2_620_000})
    assert f.ws == pytest.approx(1_810_000)
    assert f.evpi == pytest.approx(60_000)
    assert f.eev == pytest.approx(1_970_000)
    assert f.vss == pytest.approx(100_000)
    assert f.least_cost.starts == {}
    assert f.price_of_resilience == pytest.approx(120_000)
    assert f.value_of_resilience == pytest.approx(380_000)


def test_evaluation_fixes_the_start_years():
    p = spec_example_6()
    core = solve(p)
    scenarios, options = scenario_data(p), settings_options(p)
    same = evaluate(p, core.plan, scenarios, 0.0, options, core.starts)
    assert same.expected_cost == pytest.approx(1_870_000)
    assert same.starts == {"redesign": 2025}
    # the same x without the option: 2025 6 t of A + 4 t spot (700,000); 2026 normal the
    # same (700,000), ban 10 t spot at 300 $/kg (3,000,000): 700,000 + 350,000 + 1,500,000
    without = evaluate(p, core.plan, scenarios, 0.0, options, {})
    assert without.expected_cost == pytest.approx(2_550_000)
    savings = substitution_savings(p, core, scenarios, options)
    assert savings == pytest.approx({"redesign": without.expected_cost - 1_870_000})


def test_a_substitution_before_its_from_year_is_a_breach_and_still_costed():
    p = spec_example_6(from_year=2026)
    plan = {("A", "M", 2025): 6, ("A", "M", 2026): 6}
    assert breaches(p, plan, starts={"redesign": 2025}) == [
        "substitution: redesign takes effect in 2025, but it cannot take effect before 2026"
    ]
    out = evaluate(p, plan, scenario_data(p), 0.0, settings_options(p), {"redesign": 2025})
    assert out.expected_cost == pytest.approx(1_870_000)


# ---------------------------------------------------------------- substitution families


def test_an_option_takes_effect_once():
    # reduction 0.5, investment 100,000; demand 10 t, spot 100 $/kg (1,000,000 a year).
    # From 2025: 100,000 + 500,000 * 2 = 1,100,000. Started twice (no substitution_once
    # row) it would cut 100 % in 2026: 200,000 + 500,000 = 700,000.
    p = problem(
        (2025, 2026),
        {"M": SPOT},
        {"M": 10},
        {},
        {},
        substitutions={"half": dict(material="M", reduction=0.5, investment_usd=100_000)},
    )
    out = solve(p)
    assert out.objective == pytest.approx(1_100_000)
    assert out.starts == {"half": 2025}


def test_substitution_cost_is_discounted_and_demand_multiplied():
    # 2025-2026, discount 0.1; option from 2026: investment 110,000, annual 11,000:
    # (110,000 + 11,000) / 1.1 = 110,000. Demand 10 t, multiplier 2: 20 t spot at
    # 100 $/kg in 2025 (2,000,000) and 20 t * 0.5 in 2026 (1,000,000 / 1.1).
    p = problem(
        (2025, 2026),
        {"M": SPOT},
        {"M": 10},
        {},
        {},
        scenarios=[dict(name="base", probability=1.0, demand_multiplier=2.0)],
        substitutions={
            "cut": dict(
                material="M",
                reduction=0.5,
                from_year=2026,
                investment_usd=110_000,
                annual_cost_usd=11_000,
            )
        },
        discount_rate=0.1,
    )
    out = solve(p)
    assert out.starts == {"cut": 2026}
    assert out.cost_parts["base"]["substitution"] == pytest.approx(110_000)
    assert out.objective == pytest.approx(110_000 + 2_000_000 + 1_000_000 / 1.1)


def test_min_suppliers_floor_uses_demand_before_substitution():
    # demand 10 t, min_suppliers 2 with share 0.3: each counted supplier carries at least
    # 0.3 * 10 = 3 t even after an option cuts demand to 5 t: A 3 t + B 3 t (1 t surplus).
    p = problem(
        (2025, 2025),
        {"M": SPOT},
        {"M": 10},
        {"A": dict(country="X", qualified=True), "B": dict(country="Y", qualified=True)},
        {
            ("A", "M"): dict(price_usd_per_kg=10, capacity=10),
            ("B", "M"): dict(price_usd_per_kg=20, capacity=10),
        },
        rules=[dict(rule="min_suppliers", value=2)],
        substitutions={"half": dict(material="M", reduction=0.5)},
        min_supplier_share=0.3,
    )
    out = solve(p)
    assert out.starts == {"half": 2025}
    assert out.plan == pytest.approx({("A", "M", 2025): 3, ("B", "M", 2025): 3})
    assert out.objective == pytest.approx(30_000 + 60_000)


def test_explain_prices_a_binding_contract_term():
    # example 5: the 2-year term of B costs 1,600,000 - 1,500,000 = 100,000 USD
    # (B's 20 t in the plan: 5,000 USD a tonne)
    from diversify.engine import explain

    p = spec_example_5()
    rows = [r for r in explain(p, solve(p), settings_options(p)) if r["kind"] == "contract term"]
    assert len(rows) == 1
    assert rows[0]["source"] == "Offers: B / M"
    assert rows[0]["usd"] == pytest.approx(100_000)
    assert rows[0]["usd_per_t"] == pytest.approx(5_000)
    p = spec_example_5(term=1)
    assert not [
        r for r in explain(p, solve(p), settings_options(p)) if r["kind"] == "contract term"
    ]
