"""The core solve's strategy (diversify.incumbent) and the shifted CVaR rows keep the
optimum: on generated instances of the concentrated, contracts and orders families
(benchmarks/generate.py),
with mip_gap 1e-9, the objective equals the untouched formulation's (dense CVaR rows,
HiGHS alone, no plan given)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from diversify import incumbent, model
from diversify.compiled import compile_sourcing
from diversify.derive import scenario_data, scenario_tree
from diversify.engine import optimise, plan_task
from diversify.incumbent import BinaryRows, is_feasible
from diversify.model import build_model
from diversify.program import Program, SolveOptions, solve_program
from diversify.reader import read_problem

GENERATE = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
SHAPE = dict(suppliers=14, materials=2, years=5, scenarios=5)
EXACT = SolveOptions(time_limit_s=120, mip_gap=1e-9)


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("benchmarks_generate", GENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("family", "seed", "lam"),
    [
        ("concentrated", 0, 0.5),
        ("concentrated", 1, 0.5),
        ("concentrated", 2, 0.0),
        ("concentrated", 3, 0.9),
        ("contracts", 4, 0.5),
        ("contracts", 5, 0.9),
        ("orders", 1, 0.5),
        ("orders", 3, 0.5),
    ],
)
def test_core_solve_keeps_the_optimum_of_the_untouched_formulation(
    generate, tmp_path, monkeypatch, family, seed, lam
):
    book = generate.make_workbook(
        tmp_path / "in.xlsx", **SHAPE, family=family, seed=seed, risk_aversion=lam
    )
    p = read_problem(book)
    scenarios = scenario_data(p)
    out = optimise(p, scenarios, lam, EXACT)
    assert out.report.status == "optimal"
    monkeypatch.setattr(model, "CVAR_FORM", "dense")
    tree = scenario_tree(scenarios, p.years, p.settings.recourse)
    c = compile_sourcing(build_model(p, scenarios, tree, lam))
    report, solution = solve_program(c.program, EXACT)
    assert report.status == "optimal"
    assert out.objective == pytest.approx(report.objective, rel=1e-8)
    assert is_feasible(out.compiled.program, out.values)  # every row, bound, integer


@pytest.mark.parametrize(
    ("family", "seed", "rins"), [("concentrated", 3, False), ("orders", 1, True)]
)
def test_the_final_mip_keeps_rins_only_where_the_plan_is_far_from_the_lp_bound(
    generate, tmp_path, monkeypatch, family, seed, rins
):
    """Minimum orders of half an offer's capacity leave the LP bound 0.3-0.9 % low and
    the plan far above it: HiGHS's RINS then stays on in the final MIP (it finds the
    better plans); elsewhere every sub-MIP heuristic is off once a plan is given."""
    book = generate.make_workbook(
        tmp_path / "in.xlsx", **SHAPE, family=family, seed=seed, risk_aversion=0.5
    )
    p = read_problem(book)
    columns = len(plan_task(p, scenario_data(p), 0.5)[0].program.cost)
    finals = []  # the HiGHS options of the full MIP solved from a plan
    solve = incumbent.solve_program

    def spy(program, options, start=None, **kw):
        if program.is_mip and start is not None and len(program.cost) == columns:
            finals.append(options.highs)
        return solve(program, options, start, **kw)

    monkeypatch.setattr(incumbent, "solve_program", spy)
    optimise(p, scenario_data(p), 0.5, EXACT)
    assert len(finals) == 1
    assert finals[0]["presolve"] == "off" and not finals[0]["mip_heuristic_run_rens"]
    assert finals[0]["mip_heuristic_run_rins"] is rins


def test_a_polished_plan_within_the_gap_of_the_lp_bound_is_kept_without_branch_and_bound(
    generate, tmp_path
):
    """The LP bound certifies a plan of the dive and polish within mip_gap (as it does the
    rounded relaxation): no full MIP, and the plan is within the gap of the exact optimum."""
    book = generate.make_workbook(
        tmp_path / "in.xlsx", **SHAPE, family="contracts", seed=1, risk_aversion=0.5
    )
    p = read_problem(book)
    out = optimise(p, scenario_data(p), 0.5, SolveOptions(time_limit_s=60, mip_gap=1e-4))
    assert out.report.highs_status.startswith("Optimal (a plan found before branch and bound")
    assert 0 <= out.report.mip_gap <= 1e-4
    assert is_feasible(out.compiled.program, out.values)
    exact = optimise(p, scenario_data(p), 0.5, EXACT)
    assert exact.objective <= out.objective <= exact.objective + 1e-4 * abs(out.objective)


def two_orders() -> Program:
    """Two offers of 4-5 t (minimum order 4) for a need of 6 t under a cap of 7 t bought,
    a shortfall at 100 USD/t, the orders 1 USD each, the tonnes 1 USD/t: one order and
    1 t short, 1 + 5 + 100 = 106, is the optimum (both orders break the cap: 8 t at
    least). Columns buy1, buy2, x1, x2, shortfall."""
    inf = float("inf")
    rows = np.array(
        [
            [-5, 0, 1, 0, 0],  # x1 <= 5 buy1
            [0, -5, 0, 1, 0],  # x2 <= 5 buy2
            [-4, 0, 1, 0, 0],  # x1 >= 4 buy1
            [0, -4, 0, 1, 0],  # x2 >= 4 buy2
            [0, 0, 1, 1, 1],  # x1 + x2 + shortfall >= 6
            [0, 0, 1, 1, 0],  # x1 + x2 <= 7
        ],
        dtype=float,
    )
    return Program(
        cost=np.array([1.0, 1.0, 1.0, 1.0, 100.0]),
        offset=0.0,
        matrix=sp.csc_matrix(rows),
        lower=np.zeros(5),
        upper=np.array([1.0, 1.0, inf, inf, inf]),
        row_lower=np.array([-inf, -inf, 0.0, 0.0, 6.0, -inf]),
        row_upper=np.array([0.0, 0.0, inf, inf, inf, 7.0]),
        integrality=np.array([1, 1, 0, 0, 0], dtype=np.int32),
    )


def test_a_dive_takes_back_a_rounding_that_breaks_a_cap():
    """The LP takes 5 t of one order and 1 t of the other (a fifth of it); both orders on
    break the cap, so the dive must take that rounding back and keep one order: the
    optimum, 106."""
    from diversify.incumbent import Relaxation, _dive

    program, binaries = two_orders(), np.array([0, 1])
    relaxation = Relaxation(program, binaries, SolveOptions())
    lp = relaxation.solve()
    assert sorted(lp[binaries].tolist()) == pytest.approx([0.2, 1.0])  # 5 t + 1 t
    plan = _dive(relaxation, lp[binaries], 10)
    assert sorted(plan[:2].tolist()) == [0.0, 1.0]
    assert program.cost_of(plan) == pytest.approx(106.0)
    assert is_feasible(program, plan)


def test_a_start_is_one_more_plan_of_the_core_solve():
    """A start (the figures' re-solves start from the least-cost plan) becomes a whole
    plan with its binaries fixed and the rest re-optimised; one that leaves a binary out
    gives none, and the core solve still finds the optimum from its own plans."""
    from diversify.incumbent import Relaxation, _from_start, core_solve

    program, binaries = two_orders(), np.array([0, 1])
    relaxation = Relaxation(program, binaries, SolveOptions())
    plan = _from_start(relaxation, (np.arange(5), np.zeros(5)))
    assert plan.tolist() == pytest.approx([0, 0, 0, 0, 6])  # no order: 6 t short
    assert _from_start(relaxation, (np.array([0, 2]), np.zeros(2))) is None
    for start in [(np.arange(5), np.zeros(5)), (np.array([1]), np.ones(1)), None]:
        report, solution = core_solve(program, SolveOptions(), start)
        assert report.objective == pytest.approx(106.0)
        assert is_feasible(program, solution.col_value)


def test_a_start_without_the_lp_bound_still_starts_the_mip(monkeypatch):
    """Should the LP relaxation give no bound (its time ran out), a start is still a
    plan for the MIP to start from, never certified by a bound it does not have."""
    from diversify.incumbent import Relaxation, core_solve

    solve, calls = incumbent.solve_program, []

    def recorded(program, options, start=None, **kw):
        calls.append(program.is_mip)
        return solve(program, options, start, **kw)

    lps, solve_lp = [], Relaxation.solve

    def no_bound_first(self):
        lps.append(1)
        return None if len(lps) == 1 else solve_lp(self)  # the relaxation's time ran out

    monkeypatch.setattr(Relaxation, "solve", no_bound_first)
    monkeypatch.setattr(incumbent, "solve_program", recorded)
    optimum = (np.arange(5), np.array([1.0, 0.0, 5.0, 0.0, 1.0]))
    report, solution = core_solve(two_orders(), SolveOptions(), optimum)
    assert len(lps) == 2 and calls == [True]  # the relaxation, the start's LP; the MIP
    assert report.objective == pytest.approx(106.0)
    assert is_feasible(two_orders(), solution.col_value)


def contract_run(min_suppliers_row: bool) -> Program:
    """One offer over 3 years with a 3-year contract term (SPEC §4.1), by hand:
    columns buy[1..3] (0-2), active[1..3] (3-5) and x (6, continuous); rows
    buy[1] - buy[2] <= 0, buy[1] - buy[3] <= 0, buy[2] - buy[1] - buy[3] <= 0 (the run),
    buy[t] - active[t] <= 0, x <= 9 buy[1] (a mixed row: not a binary row), and
    optionally buy[1] + buy[2] + buy[3] >= 1."""
    rows = [
        {0: 1, 1: -1},
        {0: 1, 2: -1},
        {1: 1, 0: -1, 2: -1},
        {0: 1, 3: -1},
        {1: 1, 4: -1},
        {2: 1, 5: -1},
        {6: 1, 0: -9},
    ]
    lower = [-np.inf] * 7
    upper = [0.0] * 7
    if min_suppliers_row:
        rows.append({0: 1, 1: 1, 2: 1})
        lower.append(1.0)
        upper.append(np.inf)
    matrix = sp.lil_matrix((len(rows), 7))
    for i, row in enumerate(rows):
        for j, a in row.items():
            matrix[i, j] = a
    return Program(
        cost=np.ones(7),
        offset=0.0,
        matrix=matrix.tocsc(),
        lower=np.zeros(7),
        upper=np.array([1, 1, 1, 1, 1, 1, 9.0]),
        row_lower=np.array(lower),
        row_upper=np.array(upper),
        integrality=np.array([1, 1, 1, 1, 1, 1, 0], dtype=np.int32),
    )


def test_switching_an_order_off_takes_its_whole_contract_run_with_it():
    program = contract_run(min_suppliers_row=False)
    rows = BinaryRows(program, np.arange(6))
    assert rows.matrix.shape == (6, 6)  # the mixed row x <= 9 buy[1] is not one of them
    on = np.ones(6)
    # the last year off: the run's start must go (buy[1] <= buy[3]), then the middle
    assert rows.switch_off(on, 2).tolist() == [0, 0, 0, 1, 1, 1]
    # a supplier-year off: its order, then the run's start before it; the last year may
    # stay, a contract that begins there runs to the horizon's end
    assert rows.switch_off(on, 4).tolist() == [0, 0, 1, 1, 0, 1]
    # nothing forced where the run is already one year long at the horizon's end
    assert rows.switch_off(np.array([0, 0, 1, 1, 1, 1.0]), 2).tolist() == [0, 0, 0, 1, 1, 1]


def test_a_switch_off_that_breaks_a_lower_row_is_refused():
    rows = BinaryRows(contract_run(min_suppliers_row=True), np.arange(6))
    assert rows.switch_off(np.ones(6), 2) is None  # the whole run off: no order left
    assert rows.switch_off(np.ones(6), 4).tolist() == [0, 0, 1, 1, 0, 1]  # one is left


def test_binary_rows_of_a_program_with_an_empty_last_row():
    program = contract_run(min_suppliers_row=False)
    matrix = sp.vstack([program.matrix, sp.csc_matrix((1, 7))]).tocsc()  # a row of nothing
    program = Program(
        program.cost,
        program.offset,
        matrix,
        program.lower,
        program.upper,
        np.append(program.row_lower, -np.inf),
        np.append(program.row_upper, np.inf),
        program.integrality,
    )
    rows = BinaryRows(program, np.arange(6))
    assert rows.matrix.shape == (6, 6)
    assert rows.switch_off(np.ones(6), 2).tolist() == [0, 0, 0, 1, 1, 1]


def test_the_polish_skips_only_the_moves_that_lp_duality_shows_cannot_pay(
    generate, tmp_path, monkeypatch
):
    """The polish tries no LP for a switch-off whose reduced costs (in the LP of the
    plan, binaries fixed) add up to no saving: the optimum after the move is at least
    the plan's cost minus them (weak duality). So its plan is the one it finds when
    every move is tried, in fewer LPs; a wrong sign would skip the moves that pay."""
    from diversify.incumbent import Relaxation, _dive, _drop

    book = generate.make_workbook(
        tmp_path / "in.xlsx", **SHAPE, family="orders", seed=2, risk_aversion=0.5
    )
    p = read_problem(book)
    program = plan_task(p, scenario_data(p), 0.5)[0].program
    binaries = np.flatnonzero(program.integrality)
    runs = []
    original = Relaxation.solve

    def counted(self):
        runs.append(1)
        return original(self)

    def polish():
        relaxation = Relaxation(program, binaries, EXACT)
        lp = relaxation.solve()
        values = lp[binaries]
        dived = _dive(relaxation, values, 60)
        runs.clear()
        return _drop(relaxation, values, dived, program.cost_of(lp), 1e-9, 60), len(runs)

    monkeypatch.setattr(Relaxation, "solve", counted)
    screened, screened_runs = polish()
    monkeypatch.setattr(Relaxation, "reduced_costs", lambda r: np.full(len(r.binaries), np.inf))
    tried_all, all_runs = polish()
    assert tried_all is not None  # the polish improved the dive's plan
    assert np.array_equal(screened, tried_all)
    assert screened_runs < all_runs


class CappedOrders:
    """A stand-in for `incumbent.Relaxation`: 40 orders the LP sets at 0.6 each, and an
    LP that is feasible while at most 30 of them are fixed on (a cap that rounding them
    all up breaks). It counts the LPs that come back infeasible."""

    def __init__(self) -> None:
        self.binaries = np.arange(40)
        self.lower, self.upper = np.zeros(40), np.ones(40)
        self.infeasible = 0

    def bound_binaries(self, lower, upper) -> None:
        self.lower, self.upper = lower.copy(), upper.copy()

    def solve(self):
        if self.lower.sum() > 30:
            self.infeasible += 1
            return None
        return np.where(self.lower == 1, 1.0, np.where(self.upper == 0, 0.0, 0.6))

    def solve_with(self, bits):
        return bits.copy() if bits.sum() <= 30 else None


def test_a_dive_that_breaks_a_cap_takes_back_half_its_step_not_all():
    """Rounding all 40 up breaks the cap: the dive takes back the smaller half, then
    rounds up at most twice what held: it fixes the 30 that fit with 23 infeasible LPs
    (the dive before, one order a step after each failure, had 49)."""
    from diversify.incumbent import _dive

    relaxation = CappedOrders()
    plan = _dive(relaxation, np.full(40, 0.6), 10)
    assert plan is not None and plan.sum() == 30
    assert relaxation.infeasible <= 25
