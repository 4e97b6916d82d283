"""The benchmark generator: valid, feasible, deterministic workbooks (benchmarks/generate.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from openpyxl import load_workbook

from diversify.pipeline import solve_workbook
from diversify.reader import read_problem

GENERATE = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
SMALL = dict(suppliers=10, materials=3, years=8, scenarios=4)


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("benchmarks_generate", GENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(path: Path) -> dict[str, list[tuple]]:
    wb = load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}
    finally:
        wb.close()


def test_small_instance_solves_through_the_pipeline(generate, tmp_path):
    book = generate.make_workbook(tmp_path / "small.xlsx", **SMALL, seed=0)
    run = solve_workbook(book, tmp_path / "plan.xlsx")
    assert run.results.summary["status"] == "optimal"
    assert run.results.summary["objective_usd"] > 0
    assert not run.problem.warnings
    assert (tmp_path / "plan.xlsx").is_file()


def test_instance_has_the_promised_shape(generate, tmp_path):
    problem = read_problem(generate.make_workbook(tmp_path / "g.xlsx", **SMALL, seed=3))
    assert len(problem.suppliers) == 10 and len(problem.materials) == 3
    assert problem.years == list(range(2026, 2034))
    assert problem.scenarios[0].name == "normal"
    assert len(problem.scenarios) == 4
    assert {d.scope for d in problem.disruptions} >= {"any_link", "spot"}
    assert min(min(d.years) for d in problem.disruptions if d.years) > 2026
    assert sorted(r.rule for r in problem.rules) == ["max_avg_risk", "max_share", "min_suppliers"]
    assert any(not s.qualified and s.lead_time_years > 0 for s in problem.suppliers.values())


def test_no_rules_leaves_out_the_policy_sheet(generate, tmp_path):
    book = generate.make_workbook(tmp_path / "g.xlsx", **SMALL, rules=False)
    assert "Policy" not in cells(book)
    assert read_problem(book).rules == []


def test_generate_is_deterministic_for_a_seed(generate, tmp_path):
    a = cells(generate.make_workbook(tmp_path / "a.xlsx", **SMALL, seed=7))
    b = cells(generate.make_workbook(tmp_path / "b.xlsx", **SMALL, seed=7))
    c = cells(generate.make_workbook(tmp_path / "c.xlsx", **SMALL, seed=8))
    assert a == b
    assert a != c


def test_cli_writes_the_workbook(generate, tmp_path):
    out = tmp_path / "cli.xlsx"
    generate.main(
        [str(out), *"--suppliers 6 --materials 2 --years 3 --scenarios 2 --seed 1".split()]
    )
    problem = read_problem(out)
    assert len(problem.suppliers) == 6 and problem.years == [2026, 2027, 2028]
