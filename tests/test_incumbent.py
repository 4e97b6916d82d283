"""The core solve's strategy (diversify.incumbent) and the shifted CVaR rows keep the
optimum: on generated instances of the concentrated and contracts families
(benchmarks/generate.py),
with mip_gap 1e-9, the objective equals the untouched formulation's (dense CVaR rows,
HiGHS alone, no plan given)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from diversify import model
from diversify.compiled import compile_sourcing
from diversify.derive import scenario_data, scenario_tree
from diversify.engine import optimise
from diversify.incumbent import is_feasible
from diversify.model import build_model
from diversify.program import SolveOptions, solve_program
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
