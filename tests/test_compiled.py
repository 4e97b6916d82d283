"""Programs cut from the compiled core model equal the models built for them.

The figures' re-solves (diversify.compiled) never build a model: a scenario alone, the
risk-neutral problem and a fixed plan are cut from the core program's arrays. Each is
checked here against the model `build_model` writes for the same question, on a
generated instance with fixed costs, qualification, minimum orders, rules, a branching
tree and, for RP, λ > 0.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from diversify import engine
from diversify.compiled import fixed_plan, full_values, risk_neutral, scenario_alone
from diversify.derive import scenario_data
from diversify.program import solve_program
from diversify.reader import read_problem

GENERATE = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
EXACT = dict(mip_gap=1e-9)


@pytest.fixture(scope="module", params=[0.0, 0.5], ids=["risk-neutral", "risk-averse"])
def instance(request, tmp_path_factory):
    spec = importlib.util.spec_from_file_location("benchmarks_generate", GENERATE)
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    path = tmp_path_factory.mktemp("compiled") / "small.xlsx"
    generate.make_workbook(
        path, suppliers=10, materials=3, years=8, scenarios=5, seed=3, risk_aversion=request.param
    )
    problem = read_problem(path)
    problem.settings = replace(problem.settings, **EXACT)
    options = engine.settings_options(problem)
    scenarios = scenario_data(problem)
    core = engine.optimise(problem, scenarios, problem.settings.risk_aversion, options)
    return problem, scenarios, options, core


def test_the_tree_branches_and_the_instance_has_every_kind_of_binary(instance):
    _, _, _, core = instance
    sm = core.compiled.sm
    assert len(sm.tree.nodes) > len(sm.years)
    assert sm.buy and sm.active and sm.use


def test_a_scenario_cut_from_the_core_has_the_optimum_of_its_own_model(instance):
    problem, scenarios, options, core = instance
    for i, w in enumerate(scenarios):
        program, columns = scenario_alone(core.compiled, i)
        report, _ = solve_program(program, options)
        own = engine.optimise(problem, [w.alone()], 0.0, options)
        assert report.objective == pytest.approx(own.objective, rel=1e-7), w.name


def test_the_risk_neutral_cut_has_the_optimum_of_the_model_with_lambda_zero(instance):
    problem, scenarios, options, core = instance
    program, _ = risk_neutral(core.compiled)
    report, _ = solve_program(program, options)
    own = engine.optimise(problem, scenarios, 0.0, options)
    assert report.objective == pytest.approx(own.objective, rel=1e-7)


@pytest.mark.parametrize("neutral", [False, True])
def test_a_fixed_plan_cut_costs_like_evaluate(instance, neutral):
    problem, scenarios, options, core = instance
    ws = engine.optimise(problem, [scenarios[-1].alone()], 0.0, options)
    lam = 0.0 if neutral else problem.settings.risk_aversion
    program, columns = fixed_plan(core.compiled, ws.plan, neutral)
    report, solution = solve_program(program, options)
    cut = engine._outcome(
        core.compiled, report, full_values(core.compiled, columns, solution.col_value)
    )
    own = engine.evaluate(problem, ws.plan, scenarios, lam, options)
    assert report.objective == pytest.approx(own.objective, rel=1e-9)
    for w in own.scenario_names:
        for part, usd in own.cost_parts[w].items():
            assert cut.cost_parts[w][part] == pytest.approx(usd, rel=1e-9, abs=1e-6), (w, part)
    assert cut.plan == pytest.approx(ws.plan)


def test_the_cost_matrix_gives_the_objective(instance):
    problem, _, _, core = instance
    lam = problem.settings.risk_aversion
    expected = core.expected_cost + lam * core.cvar
    assert core.objective == pytest.approx(expected, rel=1e-9)
    assert np.isfinite(core.values).all()


def _tiny(fixed_cost: float):
    """min fixed_cost * y + x  s.t.  x >= 5,  x - 100 y <= 0,  y binary.

    LP relaxation: y = x / 100, bound 5 + fixed_cost / 20; rounded: y = 1, cost 5 + fixed_cost.
    """
    import scipy.sparse as sp

    from diversify.program import Program

    inf = float("inf")
    return Program(
        cost=np.array([1.0, fixed_cost]),
        offset=0.0,
        matrix=sp.csc_matrix(np.array([[1.0, 0.0], [1.0, -100.0]])),
        lower=np.array([0.0, 0.0]),
        upper=np.array([inf, 1.0]),
        row_lower=np.array([5.0, -inf]),
        row_upper=np.array([inf, 0.0]),
        integrality=np.array([0, 1], dtype=np.int32),
    )


def test_the_rounded_plan_is_kept_only_within_the_gap():
    from diversify.incumbent import core_solve
    from diversify.program import SolveOptions

    # fixed cost 0.001: bound 5.00005, rounded 5.001, gap 1.9e-4
    report, solution = core_solve(_tiny(0.001), SolveOptions(mip_gap=2e-4))
    assert report.highs_status.startswith("Optimal (the rounded LP relaxation")
    assert report.objective == pytest.approx(5.001)
    assert report.mip_gap == pytest.approx((5.001 - 5.00005) / 5.001)
    assert solution.col_value.tolist() == pytest.approx([5.0, 1.0])
    # not within 1e-4: the MIP runs (from the rounded plan) and certifies its own gap
    report, solution = core_solve(_tiny(0.001), SolveOptions(mip_gap=1e-4))
    assert report.highs_status == "Optimal" and report.objective == pytest.approx(5.001)
    report, _ = core_solve(_tiny(10.0), SolveOptions(mip_gap=1e-4))  # 15 vs 5.5
    assert report.highs_status == "Optimal" and report.objective == pytest.approx(15.0)


def test_is_feasible_checks_rows_bounds_and_integrality():
    from diversify.incumbent import is_feasible

    program = _tiny(1.0)  # x >= 5, x <= 100 y, y binary
    assert is_feasible(program, np.array([5.0, 1.0]))
    assert not is_feasible(program, np.array([4.0, 1.0]))  # row x >= 5
    assert not is_feasible(program, np.array([5.0, 0.04]))  # row x <= 100 y
    assert not is_feasible(program, np.array([50.0, 0.5]))  # y not integer
    assert not is_feasible(program, np.array([5.0, 2.0]))  # y > 1
    assert not is_feasible(program, np.array([5.0]))  # a column missing
    assert is_feasible(program, np.array([5.0 - 1e-7, 1.0]))  # within the tolerance


def test_an_infeasible_plan_is_never_a_start(monkeypatch):
    """A dive whose 'plan' breaks a row is dropped before the MIP runs."""
    from diversify import incumbent
    from diversify.program import SolveOptions

    starts = []
    solve = incumbent.solve_program

    def spy(program, options, start=None):
        if program.is_mip and program.integrality.sum() == 1 and len(program.cost) == 2:
            starts.append(start)
        return solve(program, options, start)

    monkeypatch.setattr(incumbent, "_dive", lambda *a: np.array([0.0, 0.0]))  # x >= 5 broken
    monkeypatch.setattr(incumbent, "solve_program", spy)
    report, _ = incumbent.core_solve(_tiny(10.0), SolveOptions(mip_gap=1e-4))
    assert report.objective == pytest.approx(15.0)
    assert starts and all(s is None or s[1].tolist() != [0.0, 0.0] for s in starts)


def test_the_restricted_mip_runs_when_the_dive_finds_nothing(monkeypatch):
    from diversify import incumbent
    from diversify.program import SolveOptions

    calls = []
    restricted = incumbent._restricted
    monkeypatch.setattr(incumbent, "_dive", lambda *a: None)
    monkeypatch.setattr(incumbent, "_restricted", lambda *a: calls.append(1) or restricted(*a))
    report, _ = incumbent.core_solve(_tiny(10.0), SolveOptions(mip_gap=1e-4))
    assert calls and report.objective == pytest.approx(15.0)


def test_the_polish_switches_off_orders_the_plan_does_without():
    """x >= 5, x <= 100 y1 + 100 y2, cost x + y1 + 2 y2: from y1 = y2 = 1 (cost 8) the
    polish drops y2 (LP value 0, first: cost 6) and keeps y1 (without it x = 0 < 5)."""
    import scipy.sparse as sp

    from diversify.incumbent import Relaxation, _drop, is_feasible
    from diversify.program import Program, SolveOptions

    inf = float("inf")
    program = Program(
        cost=np.array([1.0, 1.0, 2.0]),
        offset=0.0,
        matrix=sp.csc_matrix(np.array([[1.0, 0.0, 0.0], [1.0, -100.0, -100.0]])),
        lower=np.zeros(3),
        upper=np.array([inf, 1.0, 1.0]),
        row_lower=np.array([5.0, -inf]),
        row_upper=np.array([inf, 0.0]),
        integrality=np.array([0, 1, 1], dtype=np.int32),
    )
    binaries = np.array([1, 2])
    lp_values, plan, lp_bound = np.array([0.05, 0.0]), np.array([5.0, 1.0, 1.0]), 5.05
    relaxation = Relaxation(program, binaries, SolveOptions())
    polished = _drop(relaxation, lp_values, plan, lp_bound, 1e-4, 10)
    assert program.cost_of(polished) == pytest.approx(6.0)
    assert polished.tolist() == pytest.approx([5.0, 1.0, 0.0])
    assert is_feasible(program, polished)


def _rows_by_name(c) -> tuple:
    """A compiled model's program in names: its columns (bounds, cost, integrality) and
    its rows as (terms by column name, bounds), both as multisets: row order aside."""
    from collections import Counter

    p = c.program
    names = [v.name for v in c.cm.columns]
    columns = {
        n: (p.lower[j], p.upper[j], round(p.cost[j], 6), p.integrality[j])
        for j, n in enumerate(names)
    }
    a = p.matrix.tocsr()
    rows = Counter()
    for i in range(a.shape[0]):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        entries = zip(a.indices[lo:hi], a.data[lo:hi], strict=True)
        terms = frozenset((names[j], round(v, 9)) for j, v in entries if v)
        if terms:
            rows[(terms, p.row_lower[i], p.row_upper[i])] += 1
    return columns, rows


@pytest.mark.parametrize("cap", [0.0, 0.35])
def test_a_capped_program_made_from_arrays_is_the_capped_model(instance, cap):
    """The frontier's capped points are the unconstrained program with the cap's rows
    appended (compiled.with_share_rule), not a model built again: the same columns and
    the same rows as the model built with the cap among its policy rules."""
    from diversify.compiled import with_share_rule
    from diversify.frontier import cap_rule, capped

    problem, scenarios, _, core = instance
    lam = problem.settings.risk_aversion
    rule = cap_rule(problem, "China", cap)
    made = with_share_rule(core.compiled, rule)
    built, _ = engine.plan_task(capped(problem, "China", cap), scenarios, lam)
    assert made.program.matrix.shape[0] > core.compiled.program.matrix.shape[0]
    assert _rows_by_name(made) == _rows_by_name(built)
    assert len(made.cm.rows) == len(made.row_node) == made.program.matrix.shape[0]
    # the point solves as the model does, and what its rules cost can still be read
    options = engine.settings_options(problem)
    report, solution = engine.highs_program.solve_plan(options, engine.plan_task_of(made))
    point = engine.conclude(problem, scenarios, options, made, report, solution)
    own = engine.optimise(capped(problem, "China", cap), scenarios, lam, options)
    assert point.objective == pytest.approx(own.objective, rel=2 * options.mip_gap)
    assert isinstance(engine.explain(problem, point, options), list)


def test_the_recovery_is_read_where_each_variable_stands(instance):
    """`Compiled.recovery_of` reads z, I, u, e of every (material, year, scenario) from
    the columns placed once: the value of each Pyomo variable's own column (its fixed
    value where it has none), the scenario's node of the tree; a capped program shares
    the placing."""
    from diversify.compiled import RECOVERY, with_share_rule
    from diversify.frontier import cap_rule

    problem, _, _, core = instance
    c, values = core.compiled, core.values
    sm = c.sm
    recovery = c.recovery_of(values)
    assert len(recovery) == len(sm.scenarios) * len(sm.years) * len(problem.materials)
    for i, w in enumerate(sm.scenarios):
        for t in sm.years:
            n = sm.tree.node_of[(t, i)]
            for m in problem.materials:
                for v in RECOVERY:
                    var = getattr(sm.model, v)[m, n]
                    j = c.column(var)
                    want = values[j] if j is not None else (var.value if var.fixed else 0.0)
                    assert recovery[(m, t, w.name)][v] == want
    assert any(r["I"] > 0 for r in recovery.values())  # the stock is read, not all zero
    capped = with_share_rule(c, cap_rule(problem, "China", 0.35))
    assert capped.recovery_layout is c.recovery_layout
