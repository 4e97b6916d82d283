"""Risks, the sampler, `scenarios` and `stress` (SPEC §3 Risks, §6 example 7, §7, §8)."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from factory import problem
from openpyxl import load_workbook
from workbooks import write_workbook

from diversify.cli import main
from diversify.data import Risk, Substitution
from diversify.derive import ScenarioData
from diversify.engine import cvar as engine_cvar
from diversify.engine import evaluate
from diversify.errors import InputError
from diversify.reader import read_problem
from diversify.risks import _merge, disruption_rows, draw, scenario_rows
from diversify.solver import SolveOptions
from diversify.stress import cvar, figures, plan_data, policy_recovery, stress_costs, wilson

EX7_PLAN = {("A", "M", 2025): 12.0, ("A", "M", 2026): 10.0, ("A", "M", 2027): 10.0}


def example_7(**material):
    """SPEC §6 example 7, with a risk that stops A in 2026 in every sample."""
    m = (
        dict(
            spot_price_usd_per_kg=100,
            spot_max_t=5,
            shortfall_penalty_usd_per_kg=1000,
            holding_cost_usd_per_kg_year=1,
            max_stock_t=5,
        )
        | material
    )
    p = problem(
        (2025, 2027),
        {"M": m},
        {"M": 10},
        {"A": dict(country="X", qualified=True)},
        {("A", "M"): dict(price_usd_per_kg=20, capacity=12)},
    )
    p.risks = [Risk("a_stop", "supplier", "A", None, 1.0, (2026,))]
    return p


def risk(name="r", p=1.0, years=(2025, 2026, 2027, 2028, 2029), lo=1, hi=1, **kw) -> Risk:
    return Risk(
        name, kw.pop("scope", "supplier"), kw.pop("target", "A"), None, p, years, lo, hi, **kw
    )


def horizon(first=2025, last=2029, risks=()):
    p = problem(
        (first, last),
        {"M": dict(spot_price_usd_per_kg=100, shortfall_penalty_usd_per_kg=1000)},
        {"M": 10},
        {"A": dict(country="X", qualified=True)},
        {("A", "M"): dict(price_usd_per_kg=20, capacity=12)},
    )
    p.risks = list(risks)
    return p


# ---------------------------------------------------------------- worked example 7


def test_worked_example_7_to_the_dollar():
    c = stress_costs(example_7(), EX7_PLAN, draw(example_7(), 1, 0))
    assert c.policy_cost[0] == pytest.approx(3_942_000, abs=0.5)
    assert c.hindsight_cost[0] == pytest.approx(1_245_000, abs=0.5)
    assert c.policy_short[0, 0] == pytest.approx(3.0)
    assert c.hindsight_short[0, 0] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("contracts", [False, True], ids=["plain", "prices-substitution"])
def test_hindsight_equals_the_recovery_lp_of_engine_evaluate(contracts):
    p = example_7(holding_cost_usd_per_kg_year=3, max_stock_t=None)
    starts = {}
    if contracts:  # a price path and a substitution taken from 2026 (SPEC §3-§4.1)
        p.offers[("A", "M")] = replace(p.offers[("A", "M")], prices_usd_per_kg={2026: 35.0})
        p.substitutions = {
            "redesign": Substitution("redesign", "M", 0.3, 2026, 50_000.0, 2_000.0, row=2)
        }
        starts = {"redesign": 2026}
    p.risks = [
        Risk("a_half", "supplier", "A", None, 0.5, (2025, 2026, 2027), 1, 2, 0.5, 1.5, 0.4, 2.0),
        Risk("spot", "spot", None, None, 0.3, (2026, 2027), 1, 1, 0.0, 1.0),
    ]
    s = draw(p, 200, 3)
    c = stress_costs(p, EX7_PLAN, s, starts=starts)
    for rep in s.distinct[:8].tolist():
        w = ScenarioData("w", 1.0)
        for k, first, last in s.events_of(rep):
            r = p.risks[k]
            for t in range(first, last + 1):
                if r.scope == "spot":
                    w.spot_avail[("M", t)] = w.sa("M", t) * r.availability
                    w.spot_price_mult[("M", t)] = w.spm("M", t) * r.price_multiplier
                else:
                    w.avail[("A", "M", t)] = w.a("A", "M", t) * r.availability
                    w.price_mult[("A", "M", t)] = w.pm("A", "M", t) * r.price_multiplier
                    w.spot_avail[("M", t)] = w.sa("M", t) * r.spot_availability
                    w.spot_price_mult[("M", t)] = w.spm("M", t) * r.spot_price_multiplier
        out = evaluate(p, EX7_PLAN, [w], 0.0, SolveOptions(), starts)
        assert c.hindsight_cost[rep] == pytest.approx(out.expected_cost, rel=1e-9, abs=1e-3)
        assert c.hindsight_cost[rep] <= c.policy_cost[rep] + 1e-6


def _recovery_lp(max_stock: float, t: int, rate: float, holding: float, penalty: float):
    """A material's hindsight recovery LP as the stress module writes it (columns z, I, u,
    e, T each; T balance rows I[t-1] + z + u - I - e = rhs), and its data, for the flows."""
    from types import SimpleNamespace

    import scipy.sparse as sp

    from diversify.program import Program

    d = SimpleNamespace(df=(1 + rate) ** -np.arange(t), spot_price=np.array([40.0]))
    eye = sp.identity(t, format="csc")
    shift = sp.eye(t, k=-1, format="csc")  # I[t-1] in row t
    unit = d.df * 1000
    program = Program(
        np.concatenate([unit * 40.0, unit * holding, unit * penalty, np.zeros(t)]),
        0.0,
        sp.hstack([eye, shift - eye, eye, -eye], format="csc"),
        np.zeros(4 * t),
        np.concatenate([np.full(t, np.inf), np.full(t, max_stock), np.full(2 * t, np.inf)]),
        np.zeros(t),
        np.zeros(t),
        np.zeros(4 * t, dtype=np.int32),
    )
    return d, program


def _lp_alone(program, t, rhs, z_upper, z_cost):
    from diversify.program import SolveOptions, solve_program

    alone = replace(
        program,
        cost=np.concatenate([z_cost, program.cost[t:]]),
        upper=np.concatenate([z_upper, program.upper[t:]]),
        row_lower=rhs,
        row_upper=rhs,
    )
    report, solution = solve_program(alone, SolveOptions())
    return report.objective, solution.col_value[2 * t : 3 * t].sum()


@pytest.mark.parametrize("max_stock", [np.inf, 6.0, 1.5, 0.0])
def test_hindsight_flows_equal_each_recovery_lp_solved_by_highs(max_stock):
    """200 random cases a stock limit (surplus and need, capped, open and closed spot,
    holding costs that make a tonne kept dearer or cheaper than one bought later): the
    flow's cost and shortfall are the LP's optimum (no ties in these costs)."""
    from diversify.pathflow import hindsight_flows

    rng = np.random.default_rng(11)
    for _ in range(200):
        t = int(rng.integers(1, 12))
        rate, holding, penalty = rng.uniform(0, 0.12), rng.uniform(0, 40), rng.uniform(50, 900)
        d, program = _recovery_lp(max_stock, t, rate, holding, penalty)
        rhs = rng.choice([-7.0, -2.0, 0.0, 0.0, 3.0, 8.0], t) * rng.uniform(0.5, 1.5, t)
        z_upper = np.where(rng.random(t) < 0.3, np.inf, rng.choice([0.0, 1.0, 5.0], t))
        z_cost = rng.uniform(0.5, 30.0, t) * d.df * 1000 * 40.0
        unit = d.df * 1000
        cost, short = hindsight_flows(
            rhs[None], z_upper[None], z_cost[None], unit * holding, unit * penalty, max_stock
        )
        lp_cost, lp_short = _lp_alone(program, t, rhs, z_upper, z_cost)
        assert cost[0] == pytest.approx(lp_cost, rel=1e-9, abs=1e-6)
        assert short[0] == pytest.approx(lp_short, abs=1e-6)


def test_at_a_tie_the_flow_keeps_a_tonne_rather_than_fall_short():
    """A surplus of 2 t in year 0, a need of 2 t in year 2, holding 150 USD/kg a year,
    shortfall 300 USD/kg, no discount: keeping the surplus two years costs what falling
    short does. The LP's optimum is either; the flow reports no shortfall."""
    from diversify.pathflow import hindsight_flows

    d, program = _recovery_lp(np.inf, 3, 0.0, 150.0, 300.0)
    rhs, z_upper, z_cost = np.array([-2.0, 0.0, 2.0]), np.zeros(3), np.full(3, 4e4)
    cost, short = hindsight_flows(
        rhs[None], z_upper[None], z_cost[None], np.full(3, 150e3), np.full(3, 300e3), np.inf
    )
    assert cost[0] == pytest.approx(_lp_alone(program, 3, rhs, z_upper, z_cost)[0])
    assert cost[0] == pytest.approx(600e3) and short[0] == 0.0


def test_deliveries_and_purchases_sum_each_samples_offers_by_its_sets_of_risks():
    """q[b,m,t] = Σ over m's offers of a·x and P_b = Σ land·pm·a·x, where a and pm are
    those of the set of risks under way in sample b's year t: three materials (one
    without offers) whose offers are interleaved, four sets over five samples."""
    from types import SimpleNamespace

    from diversify import stress

    rng = np.random.default_rng(3)
    material_of = np.array([2, 0, 2, 0, 0, 2])
    d = SimpleNamespace(
        materials=["A", "B", "C"],
        years=[0, 1, 2, 3],
        x=rng.uniform(0, 9, (6, 4)),
        land=rng.uniform(1, 5, (6, 4)),
        material_of=material_of,
    )
    pattern = rng.integers(0, 4, (5, 4))
    a, pm = rng.uniform(0, 1, (4, 6)), rng.uniform(1, 3, (4, 6))
    s = stress.SampleData(pattern, a, pm, rng.uniform(0, 1, (4, 3)), rng.uniform(1, 2, (4, 3)))
    q, bought = stress.delivered(d, s), stress.purchases(d, s)
    for b, m, t in np.ndindex(5, 3, 4):
        mine = [o for o in range(6) if material_of[o] == m]
        p = pattern[b, t]
        assert q[b, m, t] == pytest.approx(sum(a[p, o] * d.x[o, t] for o in mine), abs=1e-12)
        assert s.sa[b, m, t] == s.sa_set[p, m] and s.spm[b, m, t] == s.spm_set[p, m]
    for b in range(5):
        assert bought[b] == pytest.approx(
            sum(
                d.land[o, t] * pm[pattern[b, t], o] * a[pattern[b, t], o] * d.x[o, t]
                for o in range(6)
                for t in range(4)
            ),
            rel=1e-14,
        )


@pytest.mark.parametrize("table_risks", [16, 4])  # sets found by table, and by sorting
def test_the_sets_of_risks_give_each_sample_year_the_product_of_its_risks_factors(
    table_risks, monkeypatch
):
    """sample_data: a[s,t] of a sample is the product of avail_k over the risks k under way
    in t that hit offer s (1 where none does), the same for pm, sa and spm; sample-years
    under the same risks share one set."""
    from types import SimpleNamespace

    from diversify import stress

    monkeypatch.setattr(stress, "TABLE_RISKS", table_risks)

    rng = np.random.default_rng(5)
    k, o, m, t, b = 11, 5, 2, 6, 40  # more risks than a byte of bits
    d = SimpleNamespace(
        x=np.ones((o, t)),
        materials=["A", "B"],
        hit=rng.random((k, o)) < 0.4,
        spot_hit=rng.random((k, m)) < 0.4,
        avail=rng.uniform(0, 1, k),
        price_mult=rng.uniform(1, 3, k),
        spot_avail=rng.uniform(0, 1, k),
        spot_price_mult=rng.uniform(1, 3, k),
    )
    cover = rng.random((b, k, t)) < 0.15
    s = stress.sample_data(d, cover)
    assert len(s.a) == len({tuple(cover[i, :, j]) for i in range(b) for j in range(t)})
    sa, spm = s.sa, s.spm
    for i, j in np.ndindex(b, t):
        under = [r for r in range(k) if cover[i, r, j]]
        for off in range(o):
            hits = [r for r in under if d.hit[r, off]]
            p = s.pattern[i, j]
            assert s.a[p, off] == pytest.approx(np.prod(d.avail[hits]), rel=1e-15)
            assert s.pm[p, off] == pytest.approx(np.prod(d.price_mult[hits]), rel=1e-15)
        for mat in range(m):
            hits = [r for r in under if d.spot_hit[r, mat]]
            assert sa[i, mat, j] == pytest.approx(np.prod(d.spot_avail[hits]), rel=1e-15)
            assert spm[i, mat, j] == pytest.approx(np.prod(d.spot_price_mult[hits]), rel=1e-15)


# ---------------------------------------------------------------- the policy, rule by rule


def policy(p, plan, a=None, sa=None, spm=None):
    d = plan_data(p, plan)
    t = len(p.years)
    a = np.ones((1, 1, t)) if a is None else np.array(a, float).reshape(1, 1, t)
    q = a * d.x[None]
    sa = np.ones((1, 1, t)) if sa is None else np.array(sa, float).reshape(1, 1, t)
    spm = np.ones((1, 1, t)) if spm is None else np.array(spm, float).reshape(1, 1, t)
    cost, short = policy_recovery(d, q, sa, spm)
    return cost[0], short[0, 0]


def test_policy_keeps_surplus_up_to_max_stock_and_writes_off_the_rest():
    p = example_7(max_stock_t=1)
    # 2025: 2 t surplus, 1 t kept (1,000 USD holding), 1 t written off; 2026: 1 + 10 = 11
    # >= 10, 1 t kept again; 2027: 1 + 10 >= 10, 1 t kept
    cost, short = policy(p, EX7_PLAN)
    assert cost == pytest.approx(3 * 1000 * 1 * 1)
    assert short == 0


def test_policy_spot_capped_by_spot_availability_times_spot_max():
    p = example_7(max_stock_t=0)
    plan = {("A", "M", t): 10.0 for t in (2025, 2026, 2027)}
    cost, short = policy(p, plan, a=[1, 0, 1], sa=[1, 0.4, 1])  # 2026: 2 t spot, 8 t short
    assert short == pytest.approx(8)
    assert cost == pytest.approx(1000 * (100 * 2 + 1000 * 8))


def test_policy_unlimited_spot_buys_the_whole_gap():
    p = example_7(spot_max_t=None, max_stock_t=0)
    plan = {("A", "M", t): 10.0 for t in (2025, 2026, 2027)}
    cost, short = policy(p, plan, a=[1, 0, 1], spm=[1, 3, 1])
    assert short == 0
    assert cost == pytest.approx(1000 * 300 * 10)


def test_policy_no_spot_where_spot_availability_is_zero():
    p = example_7(spot_max_t=None, max_stock_t=0)
    plan = {("A", "M", t): 10.0 for t in (2025, 2026, 2027)}
    cost, short = policy(p, plan, a=[1, 0, 1], sa=[1, 0, 1])
    assert short == pytest.approx(10)
    assert cost == pytest.approx(1000 * 1000 * 10)


def test_policy_no_spot_when_its_price_reaches_the_penalty():
    p = example_7(max_stock_t=0)
    plan = {("A", "M", t): 10.0 for t in (2025, 2026, 2027)}
    cost, short = policy(p, plan, a=[1, 0.5, 1], spm=[1, 10, 1])  # 100 * 10 = 1000
    assert short == pytest.approx(5)
    assert cost == pytest.approx(1000 * 1000 * 5)


def test_policy_uses_stock_before_spot_and_shortfall():
    # example 7: 2 t stock + 5 t spot, 3 t short in 2026
    cost, short = policy(example_7(), EX7_PLAN, a=[1, 0, 1])
    assert short == pytest.approx(3)
    assert cost == pytest.approx(2000 + 500_000 + 3_000_000)


# ---------------------------------------------------------------- the sampler


def test_probability_one_duration_two_starts_every_other_year_clipped_at_the_end():
    s = draw(horizon(risks=[risk(p=1.0, lo=2, hi=2)]), 3, 0)
    assert s.events_of(0) == [(0, 2025, 2026), (0, 2027, 2028), (0, 2029, 2029)]
    assert s.names == ["normal", "s1"] and s.probabilities == [0.0, 1.0]
    assert s.describe(0) == "r 2025-2026; r 2027-2028; r 2029"


def test_probability_zero_never_starts():
    s = draw(horizon(risks=[risk(p=0.0, lo=1, hi=3)]), 50, 0)
    assert len(s.event_sample) == 0
    assert s.names == ["normal"] and s.probabilities == [1.0]
    assert s.describe_many(np.arange(3)) == ["", "", ""]


def test_merged_samples_names_order_and_descriptions():
    p = horizon(
        risks=[risk("late", p=1.0, years=(2028,)), risk("coin", p=0.5, years=(2026,), lo=1, hi=2)]
    )
    s = draw(p, 400, 5)
    rows = scenario_rows(s)
    assert rows[0] == [
        "scenario",
        "probability",
        "demand_multiplier",
        "spot_price_multiplier",
        "description",
    ]
    assert [r[0] for r in rows[1:]] == ["normal", "s1", "s2", "s3"]
    assert rows[1][1] == 0.0  # no sample without an event
    probs = [r[1] for r in rows[2:]]
    assert probs == sorted(probs, reverse=True) and math.isclose(sum(probs), 1.0)
    texts = {r[4] for r in rows[2:]}
    assert texts == {"late 2028", "late 2028; coin 2026", "late 2028; coin 2026-2027"}
    counts = Counter(s.describe(i) for i in range(400))
    for r in rows[2:]:
        assert r[1] == counts[r[4]] / 400
    # the stress workbook's texts, all at once: the same, sample by sample
    everyone = np.arange(400)
    assert s.describe_many(everyone) == [s.describe(i) for i in everyone]
    assert s.describe_many(everyone[::-7]) == [s.describe(i) for i in everyone[::-7]]


def test_ties_in_the_order_first_drawn_and_normal_first():
    code = np.array([[1], [2], [2], [1], [0], [3]], dtype=np.uint16)
    distinct, scenario_of, counts, has_normal = _merge(code)
    assert has_normal and distinct.tolist() == [4, 0, 1, 5] and counts.tolist() == [1, 2, 2, 1]
    assert scenario_of.tolist() == [1, 2, 2, 1, 0, 3]


def test_disruption_rows_write_every_value_and_the_spot_row():
    r = risk("ban", p=1.0, years=(2026,), scope="any_link", target="X", spot_availability=0.5)
    s = draw(horizon(risks=[r]), 1, 0)
    rows = disruption_rows(s)
    assert rows[1:] == [
        ["s1", "any_link", "X", None, 2026, 2026, 0.0, 1.0],
        ["s1", "spot", None, None, 2026, 2026, 0.5, 1.0],
    ]


def exact_start_distribution(p: float, lo: int, hi: int, years: list[int]) -> dict:
    """P(an event starts in year t) and of each duration, by the recursion of §7."""
    free = {years[0]: 1.0}  # probability that the risk is free at year t
    starts = {}
    for t in years:
        f = free.get(t, 0.0)
        starts[t] = f * p
        free[t + 1] = free.get(t + 1, 0.0) + f * (1 - p)
        for d in range(lo, hi + 1):
            free[t + d] = free.get(t + d, 0.0) + f * p / (hi - lo + 1)
    return starts


def test_start_years_and_durations_follow_the_exact_distribution():
    years = list(range(2025, 2033))
    p = horizon(2025, 2032, [risk(p=0.3, years=tuple(years), lo=1, hi=3)])
    n = 20_000
    s = draw(p, n, 11)
    exact = exact_start_distribution(0.3, 1, 3, years)
    got = Counter(s.event_first.tolist())
    for t in years:
        sd = math.sqrt(exact[t] * (1 - exact[t]) / n)
        assert abs(got[t] / n - exact[t]) < 5 * sd + 1e-9
    unclipped = s.event_first + 2 <= 2032
    lengths = (s.event_last - s.event_first + 1)[unclipped]
    for d in (1, 2, 3):
        share = np.mean(lengths == d)
        assert abs(share - 1 / 3) < 5 * math.sqrt(2 / 9 / len(lengths))


def test_risks_are_independent():
    p = horizon(risks=[risk("a", p=0.4, years=(2026,)), risk("b", p=0.4, years=(2026,))])
    s = draw(p, 20_000, 4)
    both = Counter(s.event_sample.tolist())
    joint = sum(1 for v in both.values() if v == 2) / s.n
    assert abs(joint - 0.16) < 5 * math.sqrt(0.16 * 0.84 / s.n)


def test_same_seed_same_samples_other_seed_other_samples():
    p = horizon(risks=[risk(p=0.3, lo=1, hi=2)])
    a, b, c = draw(p, 1000, 9), draw(p, 1000, 9), draw(p, 1000, 10)
    assert np.array_equal(a.event_first, b.event_first) and np.array_equal(
        a.event_last, b.event_last
    )
    assert np.array_equal(a.scenario_of, b.scenario_of)
    assert not np.array_equal(a.event_sample, c.event_sample)


def test_stress_figures_do_not_depend_on_the_chunk_size(monkeypatch):
    import diversify.stress as stress

    p = example_7(max_stock_t=None)
    p.risks = [
        Risk("a_half", "supplier", "A", None, 0.4, (2025, 2026, 2027), 1, 2, 0.3, 1.2, 0.5, 2.0)
    ]
    s = draw(p, 500, 1)
    assert len(s.distinct) > 4
    whole = stress_costs(p, EX7_PLAN, s)
    monkeypatch.setattr(stress, "hindsight_task_size", lambda _d: 2)  # two LPs a hindsight task
    monkeypatch.setattr(stress, "chunk_size", lambda _d: 3)  # three samples at once
    monkeypatch.setattr(stress, "policy_task_size", lambda _d, step: 2 * step)  # six a task
    calls = []

    def run(fn, payloads, shared, label):
        calls.append((label, len(payloads), payloads))
        return stress.run_here(fn, payloads, shared, label)

    chunked = stress_costs(p, EX7_PLAN, s, run)
    policy = [t for t in calls[0][2] if isinstance(t, stress.PolicyTask)]
    assert len(policy) == -(-len(s.distinct) // 6)
    assert {t.step for t in policy} == {3} and len(policy[0].cover.bits) == 6
    assert len(calls[0][2]) - len(policy) > 1  # the LPs in chunks of two
    assert np.array_equal(whole.policy_cost, chunked.policy_cost)
    assert np.array_equal(whole.policy_short, chunked.policy_short)
    assert np.allclose(whole.hindsight_cost, chunked.hindsight_cost, rtol=1e-12, atol=1e-6)


# ---------------------------------------------------------------- the figures


def test_cvar_matches_engine_cvar_with_equal_probabilities():
    rng = np.random.default_rng(0)
    costs = rng.integers(0, 50, 37).astype(float)
    for alpha in (0.0, 0.5, 0.9, 0.95):
        assert cvar(alpha, costs) == pytest.approx(engine_cvar(alpha, [(1 / 37, c) for c in costs]))


def test_figures_of_one_sample_and_wilson():
    f = figures(np.array([5.0]), np.array([[0.0]]), ["M"], 0.9)
    assert f["ci95_usd"] == [5.0, 5.0] and f["p99_usd"] == 5.0 and f["cvar_usd"] == 5.0
    low, high = wilson(3, 10)
    assert low == pytest.approx(0.1078, abs=1e-4) and high == pytest.approx(0.6032, abs=1e-4)


# ---------------------------------------------------------------- the Risks sheet


BASE = {
    "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2027]],
    "Materials": [
        [
            "material",
            "spot_price_usd_per_kg",
            "spot_max_t",
            "shortfall_penalty_usd_per_kg",
            "holding_cost_usd_per_kg_year",
            "max_stock_t",
        ],
        ["M", 100, 5, 1000, 1, 5],
        ["N", 100, None, 1000, 0, None],
    ],
    "Demand": [["material", 2025, 2026, 2027], ["M", 10, 10, 10], ["N", 0, 0, 0]],
    "Suppliers": [["supplier", "country", "qualified"], ["A", "X", "yes"]],
    "Offers": [
        ["supplier", "material", "price_usd_per_kg", 2025, 2026, 2027],
        ["A", "M", 20, 12, 12, 12],
    ],
}
RISK_HEADER = [
    "risk",
    "scope",
    "target",
    "material",
    "probability",
    "from_year",
    "to_year",
    "min_years",
    "max_years",
    "availability",
    "price_multiplier",
    "spot_availability",
    "spot_price_multiplier",
]


def with_risks(tmp_path: Path, *rows, name="in.xlsx") -> Path:
    return write_workbook(tmp_path / name, BASE | {"Risks": [RISK_HEADER, *rows]})


def test_risks_read_with_defaults_and_clipping(tmp_path):
    p = read_problem(with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.2, 2020, None, 1, None]))
    assert p.risks == [
        Risk("stop", "supplier", "A", "M", 0.2, (2025, 2026, 2027), 1, 1, 0.0, 1.0, 1.0, 1.0, 2)
    ]


def test_risks_errors_all_at_once_with_row_and_column(tmp_path):
    path = with_risks(
        tmp_path,
        ["a", "supplier", "A", "M", 1.5],
        ["b", "supplier", None, "M", 0.1],
        ["c", "spot", None, "N", 0.1, None, None, 1, 1, 0.5],
        ["d", "supplier", "A", "N", 0.1, None, None, 1, 1, 0, 1, 0.5],
        ["e", "supplier", "A", "M", 0.1, 2027, 2026],
        ["f", "supplier", "A", "M", 0.1, None, None, 3, 2],
        ["g", "supplier", "A", "M", 0.1, None, None, 0],
        ["h", "supplier", "A", "Z", None],
        ["a", "supplier", "A", "M", 0.1],
        [None, "supplier", "A", "M", 0.1],
    )
    with pytest.raises(InputError) as e:
        read_problem(path)
    got = {(i.sheet, i.row, i.column) for i in e.value.issues}
    assert got == {
        ("Risks", 2, "probability"),
        ("Risks", 3, "target"),
        ("Risks", 4, "availability"),
        ("Risks", 5, "spot_availability"),
        ("Risks", 6, "from_year"),
        ("Risks", 7, "max_years"),
        ("Risks", 8, "min_years"),
        ("Risks", 9, "material"),
        ("Risks", 9, "probability"),
        ("Risks", 10, "risk"),
        ("Risks", 11, "risk"),
    }


def test_risks_warnings_unmatched_target_and_spot_columns_on_spot_rows(tmp_path):
    p = read_problem(
        with_risks(
            tmp_path,
            ["a", "country", "Chna", "M", 0.1],
            ["b", "spot", "X", "M", 0.1, None, None, 1, 1, 1, 3, 0.5, 2],
        )
    )
    text = " | ".join(p.warnings)
    assert "Risks row 2" in text and "'Chna' matches no supplier" in text
    assert "Risks row 3" in text and "spot_availability and spot_price_multiplier ignored" in text
    assert "target 'X' is ignored" in text


def test_solve_ignores_risks(tmp_path):
    with_risks(tmp_path, ["stop", "supplier", "A", "M", 1.0])
    result = run(tmp_path / "in.xlsx", "-o", tmp_path / "plan.xlsx", "--json", command="solve")
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[-1])["scenario_costs_usd"].keys() == {"base"}


# ---------------------------------------------------------------- the CLI


def run(*args, command: str):
    return CliRunner().invoke(main, [command, *map(str, args)])


def test_scenarios_writes_a_solvable_copy(tmp_path):
    src = with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.3, None, None, 1, 2, 0, 1, 0.5, 3])
    out = tmp_path / "sampled.xlsx"
    result = run(src, "-o", out, "--samples", 200, "--json", command="scenarios")
    assert result.exit_code == 0, result.output
    js = json.loads(result.stdout.splitlines()[-1])
    assert js["status"] == "ok" and js["samples"] == 200 and js["seed"] == 1
    p = read_problem(out)
    assert p.scenarios[0].name == "normal" and len(p.scenarios) == js["scenarios"]
    assert p.scenarios[0].probability == js["normal_probability"]
    assert {d.scope for d in p.disruptions} == {"supplier", "spot"}
    assert [r.name for r in p.risks] == ["stop"]
    assert load_workbook(out).sheetnames == load_workbook(src).sheetnames + [
        "Scenarios",
        "Disruptions",
    ]
    again = run(src, "-o", tmp_path / "again.xlsx", "--samples", 200, command="scenarios")
    assert again.exit_code == 0
    a, b = (load_workbook(f)["Disruptions"] for f in (out, tmp_path / "again.xlsx"))
    assert list(a.values) == list(b.values)
    solved = run(out, "-o", tmp_path / "plan.xlsx", "--json", command="solve")
    assert solved.exit_code == 0, solved.output


@pytest.mark.parametrize("limit", ["rows", "bytes"])
def test_scenarios_never_writes_a_workbook_that_solve_would_refuse(tmp_path, monkeypatch, limit):
    """100,000 samples of the large benchmark made 1.7 million Disruptions rows, a
    workbook the input guard then refused ("would unpack to 377 MiB"): `solve` could not
    read what `scenarios` wrote. Now exit 2, nothing written, and how many samples fit;
    by rows and cells (counted before writing) or by what the guard finds in the file."""
    from diversify import safety

    if limit == "rows":
        monkeypatch.setattr(safety, "MAX_ROWS", 20)  # the output: 37 Disruptions rows
    else:
        monkeypatch.setattr(safety, "MAX_TOTAL_BYTES", 30_000)  # in 24 KB, out 37 KB
    src = with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.3, None, None, 1, 2, 0, 1, 0.5, 3])
    out = tmp_path / "sampled.xlsx"
    result = run(src, "-o", out, "--samples", 400, "--json", command="scenarios")
    assert result.exit_code == 2, result.output
    assert "so `solve` could not read it" in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["status"] == "input_error"
    assert [p.name for p in tmp_path.iterdir()] == [src.name]  # no output, no temporary file
    if limit == "bytes":  # the guard's own words, of the output (not of a temporary file)
        assert f"refuses (refused: {out} would unpack to" in result.stderr
        return
    assert "more than an input workbook may hold" in result.stderr
    fit = int(result.stderr.split("Use fewer samples (")[1].split(" fit)")[0].replace(",", ""))
    assert 1 <= fit < 400
    fitted = run(src, "-o", out, "--samples", fit, command="scenarios")  # as many as it says
    assert fitted.exit_code == 0, fitted.output


def test_scenarios_replaces_existing_sheets_with_a_warning(tmp_path):
    sheets = BASE | {
        "Scenarios": [["scenario", "probability"], ["a", 0.5], ["b", 0.5]],
        "Disruptions": [["scenario", "scope", "target"], ["b", "supplier", "A"]],
        "Risks": [RISK_HEADER, ["stop", "supplier", "A", "M", 0.5]],
    }
    src = write_workbook(tmp_path / "in.xlsx", sheets)
    result = run(src, "-o", tmp_path / "out.xlsx", command="scenarios")
    assert result.exit_code == 0
    assert (
        "Scenarios: the 2 row(s)" in result.stderr and "Disruptions: the 1 row(s)" in result.stderr
    )


@pytest.mark.parametrize(
    ("args", "column"),
    [
        (["--samples", 0], "--samples"),
        (["--samples", 1_000_001], "--samples"),
        (["--seed", -1], "--seed"),
    ],
)
@pytest.mark.parametrize("command", ["scenarios", "stress"])
def test_bad_samples_or_seed_exit_2_and_write_nothing(tmp_path, args, column, command):
    src = with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.5])
    if command == "stress":
        assert run(src, "-o", tmp_path / "plan.xlsx", command="solve").exit_code == 0
        src = tmp_path / "plan.xlsx"
    out = tmp_path / "out.xlsx"
    result = run(src, "-o", out, *args, "--json", command=command)
    assert result.exit_code == 2
    js = json.loads(result.stdout.splitlines()[-1])
    assert js["status"] == "input_error" and js["errors"][0]["column"] == column
    assert f"option {column}: " in result.stderr  # an option, not a column of a sheet
    assert not out.exists()


def test_seed_that_is_not_an_integer_is_a_usage_error(tmp_path):
    src = with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.5])
    result = run(src, "-o", tmp_path / "o.xlsx", "--seed", "1.5", command="scenarios")
    assert result.exit_code == 2 and not (tmp_path / "o.xlsx").exists()


def test_no_risks_row_is_an_input_error(tmp_path):
    src = write_workbook(tmp_path / "in.xlsx", BASE)
    result = run(src, "-o", tmp_path / "o.xlsx", "--json", command="scenarios")
    assert result.exit_code == 2 and "no Risks row" in result.stderr
    assert not (tmp_path / "o.xlsx").exists()
    assert run(src, "-o", tmp_path / "plan.xlsx", command="solve").exit_code == 0
    result = run(tmp_path / "plan.xlsx", "-o", tmp_path / "o.xlsx", command="stress")
    assert result.exit_code == 2 and not (tmp_path / "o.xlsx").exists()


def test_stress_workbook_json_and_reruns(tmp_path):
    src = with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.4, None, None, 1, 2, 0, 1, 0.6, 3])
    plan = tmp_path / "plan.xlsx"
    assert run(src, "-o", plan, command="solve").exit_code == 0
    out = tmp_path / "stress.xlsx"
    result = run(plan, "-o", out, "--samples", 300, "--json", "--workers", 2, command="stress")
    assert result.exit_code == 0, result.output
    js = json.loads(result.stdout.splitlines()[-1])
    assert js["samples"] == 300 and js["seed"] == 2 and js["in_sample_expected_cost_usd"] > 0
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "Stress summary" and wb.active.title == "Stress summary"
    assert wb["Stress summary"]._charts
    rows = list(wb["Samples"].values)
    assert list(rows[0]) == [
        "sample",
        "events",
        "hindsight_cost_usd",
        "policy_cost_usd",
        "hindsight_shortfall_t",
        "policy_shortfall_t",
    ]
    assert len(rows) == 301 and [r[0] for r in rows[1:]] == list(range(1, 301))
    policy = np.array([r[3] for r in rows[1:]])
    hind = np.array([r[2] for r in rows[1:]])
    assert js["policy"]["mean_usd"] == pytest.approx(policy.mean())
    assert js["hindsight"]["p95_usd"] == pytest.approx(np.percentile(hind, 95))
    assert (hind <= policy + 1e-6).all()
    short = np.array([r[5] for r in rows[1:]])
    assert js["policy"]["shortfall_probability"] == np.mean(short > 1e-6)
    events = list(wb["Sample events"].values)
    assert list(events[0]) == ["sample", "risk", "from_year", "to_year"]
    texts = {r[0]: r[1] for r in rows[1:]}
    for sample, name, a, b in events[1:]:
        assert (f"{name} {a}" if a == b else f"{name} {a}-{b}") in texts[sample]
    again = run(plan, "-o", tmp_path / "again.xlsx", "--samples", 300, "--json", command="stress")
    assert json.loads(again.stdout.splitlines()[-1])["policy"] == js["policy"]
    assert list(load_workbook(tmp_path / "again.xlsx")["Samples"].values) == rows
    assert run(plan, "-o", out, command="stress").exit_code == 2  # exists, no --force


@pytest.mark.parametrize("command", ["scenarios", "stress"])
def test_help_has_examples(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "--seed" in result.output


def test_sample_events_past_excels_row_limit_continue_on_more_sheets(tmp_path, monkeypatch):
    """A million samples can have more events than a sheet has rows (1,048,576): they
    continue on `Sample events 2`, … each with the header (here with a limit of 40)."""
    from diversify import stressbook

    monkeypatch.setattr(stressbook, "EXCEL_ROWS", 40)
    src = with_risks(tmp_path, ["stop", "supplier", "A", "M", 0.4, None, None, 1, 2, 0, 1, 0.6, 3])
    plan = tmp_path / "plan.xlsx"
    assert run(src, "-o", plan, command="solve").exit_code == 0
    out = tmp_path / "stress.xlsx"
    assert run(plan, "-o", out, "--samples", 100, command="stress").exit_code == 0
    wb = load_workbook(out, read_only=True)
    names = [n for n in wb.sheetnames if n.startswith("Sample events")]
    sheets = [list(wb[n].values) for n in names]
    assert len(names) > 2 and names[1] == "Sample events 2"
    assert all(s[0] == ("sample", "risk", "from_year", "to_year") for s in sheets)
    assert all(len(s) <= 40 for s in sheets) and all(len(s) == 40 for s in sheets[:-1])
    events = [r for s in sheets for r in s[1:]]
    samples = [r[0] for r in events]
    assert samples == sorted(samples) and wb.sheetnames[-1] == "Run"


def test_the_flows_compile_where_no_cache_can_be_written(monkeypatch):
    """A read-only install with no writable home (a cluster's container): numba's
    cache=True raised "no locator available" at import, so stress failed there. The
    flows are then compiled without a cache, and give the same answer."""
    from numba.core import caching

    from diversify import pathflow

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # nowhere to cache

    def double(x):
        return 2.0 * x

    with pytest.raises(RuntimeError, match="no locator"):  # what numba does by itself
        from numba import njit

        njit(cache=True)(double)
    assert pathflow._compiled(double)(3.5) == 7.0
