"""`diversify frontier`: cost against a cap on dependence, end to end (SPEC §5)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from workbooks import example_2, example_4, write_workbook

from diversify.cli import main
from diversify.derive import scenario_data
from diversify.engine import optimise, settings_options
from diversify.frontier import knee, link_share, trace_frontier
from diversify.reader import read_problem

GAP = 1e-4  # the settings' default mip_gap


def three_suppliers(policy: list[list] | None = None, ban: bool = False) -> dict:
    """2025, NdPr, demand 10 t, no spot. CN1 (China) 10 $/kg for 10 t, BR1 (Brazil)
    30 $/kg for 5 t, AU1 (Australia) 60 $/kg for 10 t.

    With one scenario and a cap c on China: c*10 t from CN1, then BR1, then AU1:
    cost(c) = 100,000 c + 30,000 min(5, 10 - 10c) + 60,000 max(0, 5 - 10c)
            = 300,000 - 200,000 c          for c >= 0.5
            = 450,000 - 500,000 c          for c <  0.5
    """
    sheets = {
        "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2025]],
        "Materials": [
            ["material", "spot_price_usd_per_kg", "spot_max_t", "shortfall_penalty_usd_per_kg"],
            ["NdPr", 200, 0, 140 if ban else 1000],
        ],
        "Demand": [["material", 2025], ["NdPr", 10]],
        "Suppliers": [
            ["supplier", "country", "qualified"],
            ["CN1", "China", "yes"],
            ["BR1", "Brazil", "yes"],
            ["AU1", "Australia", "yes"],
        ],
        "Offers": [
            ["supplier", "material", "price_usd_per_kg", 2025],
            ["CN1", "NdPr", 10, 10],
            ["BR1", "NdPr", 30, 5],
            ["AU1", "NdPr", 60, 10],
        ],
    }
    if ban:
        sheets["Scenarios"] = [["scenario", "probability"], ["normal", 0.8], ["ban", 0.2]]
        sheets["Disruptions"] = [
            ["scenario", "scope", "target", "availability"],
            ["ban", "any_link", "China", 0],
        ]
    if policy:
        sheets["Policy"] = [["rule", "scope", "target", "value"], *policy]
    return sheets


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_monotone(points: list[dict]) -> None:
    """Tightening the cap never lowers the objective (nor, with λ = 0, the expected cost)."""
    feasible = [p for p in points if p["objective_usd"] is not None]
    for a, b in zip(feasible, feasible[1:], strict=False):
        assert b["cap"] < a["cap"]
        for key in ("objective_usd", "expected_cost_usd"):
            assert b[key] >= a[key] - GAP * abs(a[key]) - 1e-6, (key, a, b)


@pytest.fixture
def three(tmp_path):
    return write_workbook(tmp_path / "three.xlsx", three_suppliers())


def test_hand_computed_frontier(three, tmp_path):
    out = tmp_path / "frontier.xlsx"
    r = run("frontier", three, "-o", out, "--points", 5, "--json")
    assert r.exit_code == 0, r.stderr
    j = last_json(r)
    assert j["status"] == "ok" and j["target"] == "China"
    assert j["unconstrained_share"] == pytest.approx(1.0)
    points = j["points"]
    assert [p["cap"] for p in points] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    costs = [p["expected_cost_usd"] for p in points]
    assert costs == pytest.approx([100_000, 150_000, 200_000, 325_000, 450_000])
    for p in points:
        assert p["status"] == "optimal"
        assert p["achieved_share"] <= p["cap"] + 1e-9
        assert p["objective_usd"] == pytest.approx(p["expected_cost_usd"])
        assert p["first_scenario_cost_usd"] == pytest.approx(p["expected_cost_usd"])
        assert p["cvar_usd"] == pytest.approx(p["expected_cost_usd"])
        assert p["expected_shortfall_t"] == pytest.approx(0, abs=1e-9)
    assert_monotone(points)
    # the curve bends at 50 %, where BR1 runs out and AU1 takes over
    assert j["knee"]["point"] == 3 and j["knee"]["cap"] == pytest.approx(0.5)
    assert "knee" in r.stderr


def test_loosest_point_is_the_plain_solve(three, tmp_path):
    solved = last_json(run("solve", three, "-o", tmp_path / "plan.xlsx", "--json"))
    j = last_json(run("frontier", three, "-o", tmp_path / "f.xlsx", "--json"))
    assert j["points"][0]["objective_usd"] == pytest.approx(solved["objective_usd"], rel=1e-9)
    assert len(j["points"]) == 6  # the default


def test_spec_example_2_frontier_on_cn(tmp_path):
    """Example 2: CN1 in 2025, BR1 (lead time 1 year) in 2026. With no CN at all, 2025 is
    10 t short at 1,000 $/kg: 10,000,000 + 100,000 + 700,000 / 1.1."""
    src = write_workbook(tmp_path / "ex2.xlsx", example_2())
    r = run("frontier", src, "-o", tmp_path / "f.xlsx", "--target", "CN", "--json")
    assert r.exit_code == 0, r.stderr
    points = last_json(r)["points"]
    assert points[0]["objective_usd"] == pytest.approx(1_136_363.636, rel=1e-8)
    assert points[-1]["cap"] == 0
    assert points[-1]["expected_cost_usd"] == pytest.approx(10_000_000 + 100_000 + 700_000 / 1.1)
    assert points[-1]["expected_shortfall_t"] == pytest.approx(10)
    assert_monotone(points)


@pytest.mark.parametrize("recourse", ["nonanticipative", "clairvoyant"])
def test_monotone_with_a_ban_scenario(tmp_path, recourse):
    src = write_workbook(tmp_path / "ex4.xlsx", example_4(recourse))
    j = last_json(run("frontier", src, "-o", tmp_path / "f.xlsx", "--target", "CN", "--json"))
    assert_monotone(j["points"])
    objective = 920_000 if recourse == "nonanticipative" else 766_400
    assert j["points"][0]["objective_usd"] == pytest.approx(objective)


def test_infeasible_caps_are_reported_not_fatal(tmp_path):
    """min_suppliers 1 forces some volume, min_share China 0.5 forces half of it Chinese:
    a cap below 50 % has no plan."""
    policy = [["min_suppliers", None, None, 1], ["min_share", "any_link", "China", 0.5]]
    src = write_workbook(tmp_path / "rules.xlsx", three_suppliers(policy))
    out = tmp_path / "f.xlsx"
    r = run("frontier", src, "-o", out, "--points", 5, "--json")
    assert r.exit_code == 0, r.stderr
    points = last_json(r)["points"]
    assert [p["status"] for p in points] == ["optimal"] * 3 + ["infeasible"] * 2
    assert [p["expected_cost_usd"] for p in points[:3]] == pytest.approx(
        [100_000, 150_000, 200_000]
    )
    assert all(p["expected_cost_usd"] is None for p in points[3:])
    assert "Policy row 0" not in r.stderr and "frontier cap" in r.stderr
    ws = load_workbook(out)["Frontier"]
    statuses = [c.value for c in ws["D"] if c.value in ("optimal", "infeasible")]
    assert statuses == ["optimal"] * 3 + ["infeasible"] * 2


def test_workbook_has_table_chart_and_knee(three, tmp_path):
    out = tmp_path / "f.xlsx"
    assert run("frontier", three, "-o", out, "--points", 5).exit_code == 0
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "Frontier"
    ws = wb["Frontier"]
    assert len(ws._charts) == 1
    text = " ".join(str(c.value) for c in ws["A"][:6] if c.value)
    assert "Knee at point 3" in text and "farthest from the straight line" in text
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "point")
    assert {"cap", "expected_cost_usd", "cvar_usd", "expected_shortfall_t", "status"} <= set(header)
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row)
    plans = wb["Plans"]
    assert [c.value for c in plans[1]][:3] == ["supplier", "material", "year"]


def test_unknown_target_exit_2(three, tmp_path):
    out = tmp_path / "f.xlsx"
    r = run("frontier", three, "-o", out, "--target", "china", "--json")
    assert r.exit_code == 2
    assert last_json(r)["status"] == "input_error"
    assert "China" in r.stderr  # the names it could have meant
    assert not out.exists()


def test_existing_output_needs_force(three, tmp_path):
    out = tmp_path / "f.xlsx"
    out.write_bytes(b"precious")
    assert run("frontier", three, "-o", out).exit_code == 2
    assert out.read_bytes() == b"precious"
    assert run("frontier", three, "-o", out, "--force", "--quiet").exit_code == 0


def test_points_below_two_is_a_usage_error(three, tmp_path):
    assert run("frontier", three, "-o", tmp_path / "f.xlsx", "--points", 1).exit_code == 2


def test_a_plan_that_buys_nothing_from_the_target_is_one_point(three, tmp_path):
    j = last_json(
        run("frontier", three, "-o", tmp_path / "f.xlsx", "--target", "Australia", "--json")
    )
    assert j["unconstrained_share"] == 0
    assert len(j["points"]) == 1 and j["knee"] is None
    assert any("one point" in w for w in j["warnings"])


def test_library_agrees_with_a_direct_solve(three):
    problem = read_problem(three)
    options = settings_options(problem)
    frontier = trace_frontier(problem, "China", 3, options)
    plain = optimise(problem, scenario_data(problem), 0.0, options)
    assert frontier.points[0].outcome.objective == pytest.approx(plain.objective)
    assert link_share(problem, plain.plan, "China") == pytest.approx(1.0)
    assert [p.cap for p in frontier.points] == pytest.approx([1.0, 0.5, 0.0])
    # 100,000 -> 200,000 -> 450,000: the middle point lies below the chord
    assert knee(frontier.points) == 1


def test_help_has_an_example():
    r = run("frontier", "--help")
    assert r.exit_code == 0 and "Example" in r.stdout


def test_a_capped_point_starts_the_core_solve_from_the_scaled_plan(three, monkeypatch):
    """A capped point whose scaled plan keeps every rule is solved by the core solve with
    that plan as one more start (not by HiGHS from the start alone: 3-4x slower on the
    `orders` family), and keeps the hand-computed optimum; cap 0 starts from nothing."""
    from diversify import incumbent

    starts, core_solve = [], incumbent.core_solve

    def spy(program, options, start=None):
        starts.append(start is not None)
        return core_solve(program, options, start)

    monkeypatch.setattr(incumbent, "core_solve", spy)
    problem = read_problem(three)
    frontier = trace_frontier(problem, "China", 3, settings_options(problem))
    assert starts == [False, True, False]  # unconstrained, cap 50 %, cap 0
    costs = [p.outcome.objective for p in frontier.points]
    assert costs == pytest.approx([100_000, 200_000, 450_000], rel=GAP)
