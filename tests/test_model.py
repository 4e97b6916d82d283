"""Hand-solved instances: one per constraint family and cost term, and SPEC §6's examples.

Each expected optimum is worked out in the comment beside it. Every solved plan also
passes the post-solve checker and a rebuilt stock balance.
"""

from __future__ import annotations

import pytest
from factory import problem

from diversify.checks import breaches
from diversify.derive import scenario_data, scenario_tree
from diversify.engine import evaluate, optimise, resilience_figures, settings_options
from diversify.errors import InfeasibleError

M = {"M": dict(spot_price_usd_per_kg=100, shortfall_penalty_usd_per_kg=1000)}


def solve(p, lam=None):
    out = optimise(
        p, scenario_data(p), p.settings.risk_aversion if lam is None else lam, settings_options(p)
    )
    assert breaches(p, out.plan) == []
    assert_balance(p, out)
    return out


def assert_balance(p, out):
    """I[t-1] + Σ a x + z + u = dm D + I + e, rebuilt from the outcome, every scenario."""
    scens = scenario_data(p)
    for w in scens:
        for m, mat in p.materials.items():
            prev = mat.initial_stock_t
            for t in p.years:
                r = out.recovery[(m, t, w.name)]
                got = sum(
                    w.a(s, m, t) * q for (s, mm, tt), q in out.plan.items() if mm == m and tt == t
                )
                lhs = prev + got + r["z"] + r["u"]
                rhs = w.demand_multiplier * p.demand_t.get((m, t), 0) + r["I"] + r["e"]
                assert lhs == pytest.approx(rhs, abs=1e-6)
                prev = r["I"]


def one_year(offers, suppliers=None, demand=10, materials=None, **kw):
    sups = suppliers or {s: dict(country=s[:2], qualified=True) for s, _ in offers}
    return problem((2025, 2025), materials or M, {"M": demand}, sups, offers, **kw)


# ---------------------------------------------------------------- SPEC §6


def spec_example_1():
    return problem(
        (2025, 2025),
        {"NdPr": dict(spot_price_usd_per_kg=100, shortfall_penalty_usd_per_kg=1000)},
        {"NdPr": 10},
        {"A": dict(country="CN", qualified=True)},
        {("A", "NdPr"): dict(price_usd_per_kg=50, capacity=8)},
        countries={"CN": {"tariff": 20}},
    )


def spec_example_2():
    return problem(
        (2025, 2026),
        {
            "M": dict(
                spot_price_usd_per_kg=100,
                spot_max_t=0,
                shortfall_penalty_usd_per_kg=1000,
                max_stock_t=0,
            )
        },
        {"M": 10},
        {
            "CN1": dict(country="CN", qualified=True),
            "BR1": dict(country="BR", lead_time_years=1, qualification_cost_usd=100_000),
        },
        {
            ("CN1", "M"): dict(price_usd_per_kg=40, capacity=20),
            ("BR1", "M"): dict(price_usd_per_kg=70, capacity=20),
        },
        scenarios=[("normal", 0.8), ("ban", 0.2)],
        disruptions=[dict(scenario="ban", scope="any_link", target="CN", from_year=2026)],
        discount_rate=0.1,
    )


def spec_example_3(recourse="nonanticipative"):
    return problem(
        (2025, 2027),
        {
            "M": dict(
                spot_price_usd_per_kg=50,
                spot_max_t=5,
                shortfall_penalty_usd_per_kg=200,
                holding_cost_usd_per_kg_year=1,
            )
        },
        {"M": 10},
        {"CN1": dict(country="CN", qualified=True)},
        {("CN1", "M"): dict(price_usd_per_kg=10, capacity=10)},
        scenarios=[("normal", 0.7), ("ban27", 0.3)],
        disruptions=[dict(scenario="ban27", scope="any_link", target="CN", from_year=2027)],
        recourse=recourse,
    )


def spec_example_4(recourse="nonanticipative"):
    return problem(
        (2025, 2027),
        {
            "M": dict(
                spot_price_usd_per_kg=60,
                spot_max_t=4,
                shortfall_penalty_usd_per_kg=300,
                holding_cost_usd_per_kg_year=2,
            )
        },
        {"M": 10},
        {"CN1": dict(country="CN", qualified=True)},
        {("CN1", "M"): dict(price_usd_per_kg=20, capacity=10)},
        scenarios=[("normal", 0.6), ("ban", 0.4)],
        disruptions=[dict(scenario="ban", scope="any_link", target="CN", from_year=2027)],
        recourse=recourse,
    )


def figures(p):
    core = solve(p)
    return core, resilience_figures(p, core, settings_options(p))


def test_spec_example_1_tariff_and_spot():
    core, f = figures(spec_example_1())
    assert core.objective == pytest.approx(680_000)
    assert core.plan == {("A", "NdPr", 2025): pytest.approx(8)}
    assert core.recovery[("NdPr", 2025, "base")]["z"] == pytest.approx(2)
    assert f.evpi == pytest.approx(0, abs=1e-6)


def test_spec_example_2_qualification_lead_time_discount_ban():
    core, f = figures(spec_example_2())
    assert core.objective == pytest.approx(1_136_363.636, rel=1e-8)
    assert core.scenario_costs["normal"] == pytest.approx(core.scenario_costs["ban"])
    assert f.ws == pytest.approx(838_181.818, rel=1e-8)
    assert f.evpi == pytest.approx(298_181.818, rel=1e-8)
    assert f.eev == pytest.approx(2_581_818.182, rel=1e-8)
    assert f.vss == pytest.approx(1_445_454.545, rel=1e-8)


def test_spec_example_3_nonanticipative():
    core, f = figures(spec_example_3())
    assert core.objective == pytest.approx(565_000)
    assert core.scenario_costs == pytest.approx({"normal": 505_000, "ban27": 705_000})
    assert core.plan[("CN1", "M", 2027)] == pytest.approx(5)
    # 5 t of 2026 spot are stocked in both scenarios: they cannot tell each other apart yet
    for w in ("normal", "ban27"):
        assert core.recovery[("M", 2026, w)]["I"] == pytest.approx(5)
    assert f.ws == pytest.approx(421_500)
    assert f.evpi == pytest.approx(143_500)


def test_spec_example_3_clairvoyant_equals_ws():
    core, f = figures(spec_example_3("clairvoyant"))
    assert core.objective == pytest.approx(421_500)
    assert f.ws == pytest.approx(421_500)
    assert core.recovery[("M", 2026, "normal")]["I"] == pytest.approx(0)


def test_spec_example_4_figures_on_the_tree():
    core, f = figures(spec_example_4())
    assert core.objective == pytest.approx(920_000)
    assert core.scenario_costs == pytest.approx({"normal": 856_000, "ban": 1_016_000})
    assert f.ws == pytest.approx(766_400)
    assert f.evpi == pytest.approx(153_600)
    assert f.eev == pytest.approx(992_000)
    assert f.vss == pytest.approx(72_000)


def test_spec_example_4_clairvoyant():
    core, f = figures(spec_example_4("clairvoyant"))
    assert core.objective == pytest.approx(766_400)
    assert f.evpi == pytest.approx(0, abs=1e-6)
    assert f.vss == pytest.approx(0, abs=1e-6)


def test_tree_of_example_3():
    p = spec_example_3()
    tree = scenario_tree(scenario_data(p), p.years, p.settings.recourse)
    assert [(n.year, n.members) for n in tree.nodes] == [
        (2025, (0, 1)),
        (2026, (0, 1)),
        (2027, (0,)),
        (2027, (1,)),
    ]
    clair = scenario_tree(scenario_data(p), p.years, "clairvoyant")
    assert len(clair.nodes) == 6


# ---------------------------------------------------------------- one family each


def test_capacity_caps_the_order():
    # 6 t at 10 $/kg, the other 4 t spot at 100 $/kg: 60,000 + 400,000
    out = solve(one_year({("CN", "M"): dict(price_usd_per_kg=10, capacity=6)}))
    assert out.objective == pytest.approx(460_000)


@pytest.mark.parametrize(
    "moq, expected",
    [
        (6, 60_000),  # 6 t must be ordered for 4 t of demand: 2 t written off, 60,000
        (50, 400_000),  # 50 t at 10 $/kg = 500,000 > 4 t spot at 100 $/kg
    ],
)
def test_min_order_and_surplus(moq, expected):
    out = solve(
        one_year({("CN", "M"): dict(price_usd_per_kg=10, capacity=100, min_order_t=moq)}, demand=4)
    )
    assert out.objective == pytest.approx(expected)
    if moq == 6:
        r = out.recovery[("M", 2025, "base")]
        assert r["e"] + r["I"] == pytest.approx(2)  # surplus: written off or kept at no cost


@pytest.mark.parametrize("fixed, expected", [(50_000, 150_000), (150_000, 200_000)])
def test_annual_fixed_cost(fixed, expected):
    # supplier: 10 t * 10 $/kg + fixed; spot: 10 t * 20 $/kg = 200,000
    mats = {"M": dict(spot_price_usd_per_kg=20, shortfall_penalty_usd_per_kg=1000)}
    out = solve(
        one_year(
            {("CN", "M"): dict(price_usd_per_kg=10, capacity=100)},
            suppliers={"CN": dict(country="CN", qualified=True, annual_fixed_cost_usd=fixed)},
            materials=mats,
        )
    )
    assert out.objective == pytest.approx(expected)
    assert out.cost_parts["base"]["fixed"] == pytest.approx(50_000 if fixed == 50_000 else 0)


def test_lead_time_blocks_early_years_and_qualified_has_none():
    # AU (not qualified, lead 1) can only deliver in 2026: 2025 spot 100 $/kg, 2026 AU 10 $/kg
    sups = {"AU": dict(country="AU", lead_time_years=1)}
    p = problem(
        (2025, 2026), M, {"M": 10}, sups, {("AU", "M"): dict(price_usd_per_kg=10, capacity=100)}
    )
    assert solve(p).objective == pytest.approx(1_000_000 + 100_000)
    sups = {"AU": dict(country="AU", lead_time_years=1, qualified=True)}
    p = problem(
        (2025, 2026), M, {"M": 10}, sups, {("AU", "M"): dict(price_usd_per_kg=10, capacity=100)}
    )
    assert solve(p).objective == pytest.approx(200_000)


def test_holding_cost_initial_and_max_stock():
    # 2025 spot 100 $/kg, 2026 spot x3 in scenario... simpler: initial stock 4 t covers
    # 2025 in part; max_stock 0 forbids carrying; holding 1 $/kg on what is carried.
    mats = {
        "M": dict(
            spot_price_usd_per_kg=10,
            shortfall_penalty_usd_per_kg=1000,
            initial_stock_t=4,
            holding_cost_usd_per_kg_year=1,
        )
    }
    p = problem((2025, 2025), mats, {"M": 10}, {}, {})
    assert solve(p).objective == pytest.approx(60_000)  # 6 t spot
    # spot capped at 5 t/yr, demand 0 then 10: stock 5 t in 2025 (5,000 holding) + 5 spot
    mats = {
        "M": dict(
            spot_price_usd_per_kg=10,
            spot_max_t=5,
            shortfall_penalty_usd_per_kg=1000,
            holding_cost_usd_per_kg_year=1,
        )
    }
    p = problem((2025, 2026), mats, {"M": [0, 10]}, {}, {})
    assert solve(p).objective == pytest.approx(50_000 + 5_000 + 50_000)
    mats["M"]["max_stock_t"] = 2  # only 2 t may be carried: 3 t short at 1,000 $/kg
    p = problem((2025, 2026), mats, {"M": [0, 10]}, {}, {})
    assert solve(p).objective == pytest.approx(20_000 + 2_000 + 50_000 + 3_000_000)


def test_spot_disruption_scales_cap_and_price():
    mats = {"M": dict(spot_price_usd_per_kg=10, spot_max_t=8, shortfall_penalty_usd_per_kg=100)}
    p = problem(
        (2025, 2025),
        mats,
        {"M": 10},
        {},
        {},
        disruptions=[dict(scenario="base", scope="spot", availability=0.5, price_multiplier=3)],
    )
    # 4 t spot at 30 $/kg + 6 t short at 100 $/kg
    assert solve(p).objective == pytest.approx(120_000 + 600_000)


def test_overlapping_disruptions_multiply_and_any_link_reaches_processing():
    # BR1 mines in Brazil, processes in China: any_link CN halves it, a second row
    # halves it again (0.25); price x2 and x1.5 -> x3 on what is delivered.
    sups = {"BR1": dict(country="BR", processing_country="CN", qualified=True)}
    mats = {"M": dict(spot_price_usd_per_kg=100, shortfall_penalty_usd_per_kg=1000)}
    p = problem(
        (2025, 2025),
        mats,
        {"M": 10},
        sups,
        {("BR1", "M"): dict(price_usd_per_kg=10, capacity=40)},
        disruptions=[
            dict(
                scenario="base", scope="any_link", target="CN", availability=0.5, price_multiplier=2
            ),
            dict(
                scenario="base",
                scope="processing_country",
                target="CN",
                availability=0.5,
                price_multiplier=1.5,
            ),
        ],
    )
    out = solve(p)
    # 40 t contracted, 10 t delivered at 30 $/kg; withheld volume is not paid
    assert out.plan[("BR1", "M", 2025)] == pytest.approx(40)
    assert out.objective == pytest.approx(300_000)


def test_demand_and_spot_multipliers():
    mats = {"M": dict(spot_price_usd_per_kg=10, shortfall_penalty_usd_per_kg=1000)}
    p = problem(
        (2025, 2025),
        mats,
        {"M": 10},
        {},
        {},
        scenarios=[
            dict(name="a", probability=0.5),
            dict(name="b", probability=0.5, demand_multiplier=2, spot_price_multiplier=3),
        ],
    )
    out = solve(p)
    assert out.scenario_costs == pytest.approx({"a": 100_000, "b": 600_000})


TWO = {
    ("CN", "M"): dict(price_usd_per_kg=10, capacity=100),
    ("AU", "M"): dict(price_usd_per_kg=20, capacity=100),
}


@pytest.mark.parametrize(
    "rule, expected",
    [
        (dict(rule="max_share", scope="country", target="CN", value=0.6), 140_000),  # 6*10+4*20
        (dict(rule="min_share", scope="any_link", target="AU", value=0.5), 150_000),  # 5*10+5*20
        (dict(rule="max_avg_risk", value=0.5), 150_000),  # 0.8a + 0.2b <= 0.5(a+b): a <= b
        (dict(rule="min_suppliers", value=2), 130_000),  # each >= 0.3*10: 7*10 + 3*20
        (dict(rule="max_share", scope="supplier", target="CN", value=0.6, from_year=2026), 100_000),
    ],
)
def test_policy_rules(rule, expected):
    p = one_year(
        TWO,
        rules=[rule],
        min_supplier_share=0.3,
        countries={"CN": dict(risk_score=0.8), "AU": dict(risk_score=0.2)},
    )
    assert solve(p).objective == pytest.approx(expected)


def test_min_suppliers_beyond_offers_is_infeasible():
    p = one_year(TWO, rules=[dict(rule="min_suppliers", value=3)])
    with pytest.raises(InfeasibleError, match="min_suppliers"):
        solve(p)


@pytest.mark.parametrize("form", ["dense", "shifted"])
def test_cvar_changes_the_choice(form, monkeypatch):
    monkeypatch.setattr("diversify.model.CVAR_FORM", form)
    # spot 10 $/kg, x3 in a crisis (p 0.2); a supplier at 15 $/kg in both. 1 t.
    # risk-neutral: spot, 0.8*10,000 + 0.2*30,000 = 14,000.
    # λ = 0.5, α = 0.9: spot 14,000 + 0.5*30,000 = 29,000; supplier 15,000*1.5 = 22,500.
    mats = {"M": dict(spot_price_usd_per_kg=10, shortfall_penalty_usd_per_kg=1000)}
    kw = dict(
        scenarios=[
            dict(name="normal", probability=0.8),
            dict(name="crisis", probability=0.2, spot_price_multiplier=3),
        ]
    )
    offers = {("AU", "M"): dict(price_usd_per_kg=15, capacity=1, min_order_t=1)}
    p = one_year(offers, demand=1, materials=mats, **kw)
    assert solve(p).objective == pytest.approx(14_000)
    p = one_year(offers, demand=1, materials=mats, risk_aversion=0.5, **kw)
    out = solve(p)
    assert out.objective == pytest.approx(22_500)
    assert out.cvar == pytest.approx(15_000)


def test_evaluating_the_solved_plan_reproduces_the_objective():
    for p in (spec_example_2(), spec_example_4(), spec_example_3("clairvoyant")):
        core = solve(p)
        again = evaluate(
            p, core.plan, scenario_data(p), p.settings.risk_aversion, settings_options(p)
        )
        assert again.objective == pytest.approx(core.objective, rel=1e-9)


def test_conflicting_rules_are_named_with_materials_and_years():
    # two suppliers must be used, but CN may carry nothing and AU is the only other:
    # min_suppliers 2 and max_share CN 0 cannot both hold
    p = one_year(
        TWO,
        rules=[
            dict(rule="min_suppliers", value=2),
            dict(rule="max_share", scope="country", target="CN", value=0.0),
        ],
    )
    with pytest.raises(InfeasibleError) as err:
        solve(p)
    msg = str(err.value)
    assert "M 2025" in msg
    assert "Policy row" in msg or "min_suppliers" in msg


def test_explain_prices_binding_rules_and_capacities():
    from diversify.engine import explain

    # max_share CN 0.6: one more tonne from CN (10 $/kg) instead of AU (20 $/kg) saves 10,000
    p = one_year(TWO, rules=[dict(rule="max_share", scope="country", target="CN", value=0.6)])
    rows = explain(p, solve(p), settings_options(p))
    assert [(r["kind"], r["usd_per_t"]) for r in rows] == [("policy rule", pytest.approx(10_000))]
    # capacity 6 t at 10 $/kg, the rest spot at 100 $/kg: a 7th tonne saves 90,000
    p = one_year({("CN", "M"): dict(price_usd_per_kg=10, capacity=6)})
    rows = explain(p, solve(p), settings_options(p))
    assert [(r["kind"], r["usd_per_t"]) for r in rows] == [("capacity", pytest.approx(90_000))]


def test_the_tree_table_has_a_row_per_node_with_its_stock():
    from diversify.results import tree_table

    core = solve(spec_example_3())
    table = tree_table(core)
    assert table["year"].tolist() == [2025, 2026, 2027, 2027]
    assert table["scenario_count"].tolist() == [2, 2, 1, 1]
    assert table["scenarios"].tolist()[:2] == ["normal, ban27", "normal, ban27"]
    for row in table.itertuples(index=False):
        lead = row.scenarios.split(", ")[0]
        assert row[2] == pytest.approx(core.recovery[("M", row.year, lead)]["I"])
    assert list(table.columns) == ["year", "node", "stock_t M", "scenario_count", "scenarios"]


def test_the_tree_groups_data_equal_within_1e_9_compared_with_the_leader():
    from diversify.derive import ScenarioData, scenario_tree

    def scenario(name, a_2027, demand=1.0):
        w = ScenarioData(name, 0.25, demand, 1.0)
        w.avail[("S", "M", 2027)] = a_2027
        return w

    years = [2026, 2027, 2028]
    ws = [
        scenario("lead", 0.5),
        scenario("close", 0.5 + 0.8e-9),  # within 1e-9 of the leader: same node
        scenario("drift", 0.5 + 1.6e-9),  # within 1e-9 of "close", not of the leader
        scenario("demand", 0.5, demand=1.1),  # apart from the first year on
    ]
    tree = scenario_tree(ws, years, "nonanticipative")
    members = {t: sorted(n.members for n in tree.nodes if n.year == t) for t in years}
    assert members[2026] == [(0, 1, 2), (3,)]
    assert members[2027] == [(0, 1), (2,), (3,)]
    assert members[2028] == [(0, 1), (2,), (3,)]
    assert len(scenario_tree(ws, years, "clairvoyant").nodes) == 12
