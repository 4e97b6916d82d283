"""Every constraint family has a hand-solved test, a golden LP file and a line in the docs.

* `FAMILY_TESTS` maps each Pyomo constraint component (and the objective) that
  `build_model` creates to the tests that check it by hand; a family added to the model
  without an entry here fails `test_every_constraint_family_has_a_hand_solved_test`.
* Golden LP files (`tests/golden/<case>.lp`) pin the exact rows of a few tiny
  instances. Both files are parsed into sets (rows, objective terms, bounds,
  integrality; numbers to 10 significant digits), so a reordering alone passes while a
  changed coefficient or a missing row fails. After an intended change to the model,
  rewrite them with `DIVERSIFY_UPDATE_GOLDEN=1 pytest tests/test_families.py`, and read
  the diff before committing it.
"""

from __future__ import annotations

import ast
import math
import os
import re
import shutil
from pathlib import Path

import pyomo.environ as pyo
import pytest
from factory import problem

from diversify.checks import breaches
from diversify.data import Problem
from diversify.derive import scenario_data, scenario_tree
from diversify.engine import optimise, settings_options
from diversify.model import CVAR_UNIT_USD, SourcingModel, build_model
from diversify.solver import SolveOptions, export_model
from diversify.solver import solve as solve_model

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
FORMULATION = TESTS.parent / "models" / "FORMULATION.md"
UPDATE = os.environ.get("DIVERSIFY_UPDATE_GOLDEN") == "1"

# component name -> tests ("file::function") that solve an instance by hand in which
# the family has rows and matters to the optimum
FAMILY_TESTS: dict[str, tuple[str, ...]] = {
    "capacity": (
        "test_model.py::test_min_order_and_surplus",  # x <= cap * buy
        "test_model.py::test_annual_fixed_cost",  # x <= cap * supplier_active
        "test_model.py::test_spec_example_2_qualification_lead_time_discount_ban",  # * use
    ),
    "min_order": ("test_model.py::test_min_order_and_surplus",),
    "contract_length": (
        "test_contracts_substitutions.py::test_spec_example_5_contract_runs_into_2028",
        "test_contracts_substitutions.py::test_contract_length_rows_chain_two_runs",
    ),
    "substitution_once": ("test_contracts_substitutions.py::test_an_option_takes_effect_once",),
    "order_needs_supplier": ("test_families.py::test_order_needs_an_active_supplier",),
    "active_needs_use": ("test_families.py::test_active_supplier_needs_qualification",),
    "min_suppliers": ("test_model.py::test_policy_rules",),
    "max_share": ("test_model.py::test_policy_rules",),
    "min_share": ("test_model.py::test_policy_rules",),
    "max_avg_risk": ("test_model.py::test_policy_rules",),
    "balance": (
        "test_model.py::test_holding_cost_initial_and_max_stock",
        "test_model.py::test_spec_example_3_nonanticipative",  # rows shared on the tree
    ),
    "excess_def": (
        "test_model.py::test_cvar_changes_the_choice",
        "test_families.py::test_shifted_cvar_rows_keep_only_what_scenarios_differ_in",
    ),
    "objective": (
        "test_model.py::test_cvar_changes_the_choice",
        "test_model.py::test_spec_example_2_qualification_lead_time_discount_ban",
    ),
}

MATERIAL = dict(spot_price_usd_per_kg=100, shortfall_penalty_usd_per_kg=1000)


def build(p: Problem, elastic: bool = False) -> SourcingModel:
    scenarios = scenario_data(p)
    tree = scenario_tree(scenarios, p.years, p.settings.recourse)
    return build_model(p, scenarios, tree, p.settings.risk_aversion, elastic=elastic)


def solve(p: Problem):
    out = optimise(p, scenario_data(p), p.settings.risk_aversion, settings_options(p))
    assert breaches(p, out.plan, out.ordered) == []
    return out


def rich_instance() -> Problem:
    """Small, but with a row in every family: four rules, min orders, fixed and
    qualification costs, a ban in one scenario, CVaR."""
    return problem(
        (2025, 2026),
        {"M": MATERIAL, "N": dict(MATERIAL, spot_max_t=5, max_stock_t=3)},
        {"M": 10, "N": [2, 4]},
        {
            "CN1": dict(country="CN", qualified=True, annual_fixed_cost_usd=20_000),
            "AU1": dict(
                country="AU",
                processing_country="CN",
                qualification_cost_usd=50_000,
                annual_fixed_cost_usd=10_000,
            ),
            "BR1": dict(country="BR", qualified=True),
        },
        {
            ("CN1", "M"): dict(price_usd_per_kg=10, capacity=20, min_order_t=2),
            ("CN1", "N"): dict(price_usd_per_kg=30, capacity=10),
            ("AU1", "M"): dict(
                price_usd_per_kg=20, capacity=20, min_order_t=3, min_contract_years=2
            ),
            ("BR1", "M"): dict(price_usd_per_kg=15, capacity=20, prices_usd_per_kg={2026: 18.0}),
            ("BR1", "N"): dict(price_usd_per_kg=40, capacity=10),
        },
        scenarios=[("normal", 0.7), ("ban", 0.3)],
        disruptions=[dict(scenario="ban", scope="any_link", target="CN", from_year=2026)],
        rules=[
            dict(rule="max_share", scope="any_link", target="CN", value=0.7),
            dict(rule="min_share", scope="country", target="BR", material="M", value=0.1),
            dict(rule="max_avg_risk", value=0.6),
            dict(rule="min_suppliers", material="M", value=2, from_year=2026),
        ],
        countries={
            "CN": dict(risk_score=0.8, tariff=10),
            "AU": dict(risk_score=0.1),
            "BR": dict(risk_score=0.3),
        },
        substitutions={"lean": dict(material="N", reduction=0.25, investment_usd=20_000)},
        risk_aversion=0.5,
        min_supplier_share=0.2,
    )


def model_families(sm: SourcingModel) -> dict[str, int]:
    """Constraint and objective components of a built model, with their row counts."""
    mdl = sm.model
    out = {c.name: len(c) for c in mdl.component_objects(pyo.Constraint, descend_into=True)}
    out |= {o.name: len(o) for o in mdl.component_objects(pyo.Objective, descend_into=True)}
    return out


def defined_tests(filename: str) -> set[str]:
    tree = ast.parse((TESTS / filename).read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name[:5] == "test_"}


# ---------------------------------------------------------------- the registry


def test_every_constraint_family_has_a_hand_solved_test():
    found = model_families(build(rich_instance()))
    missing = sorted(set(found) - set(FAMILY_TESTS))
    assert not missing, (
        f"constraint families without a hand-solved test: {missing}; write one (a tiny "
        "instance whose optimum depends on the family) and list it in FAMILY_TESTS"
    )
    stale = sorted(set(FAMILY_TESTS) - set(found))
    assert not stale, f"FAMILY_TESTS lists families the model no longer builds: {stale}"
    empty = sorted(name for name, rows in found.items() if rows == 0)
    assert not empty, f"rich_instance() gives these families no row: {empty}"


def test_registered_tests_exist():
    defined: dict[str, set[str]] = {}
    for family, tests in FAMILY_TESTS.items():
        assert tests, family
        for ref in tests:
            filename, _, func = ref.partition("::")
            if filename not in defined:
                defined[filename] = defined_tests(filename)
            assert func in defined[filename], f"{family}: {ref} does not exist"


def test_rich_instance_solves_and_keeps_every_rule():
    out = solve(rich_instance())
    assert out.report.status == "optimal"


def test_elastic_and_evaluation_models_add_no_family():
    p = rich_instance()
    assert set(model_families(build(p, elastic=True))) <= set(FAMILY_TESTS)
    plan = solve(p).plan
    scenarios = scenario_data(p)
    tree = scenario_tree(scenarios, p.years, p.settings.recourse)
    fixed = build_model(p, scenarios, tree, p.settings.risk_aversion, fixed_plan=plan)
    assert set(model_families(fixed)) <= set(FAMILY_TESTS)


def test_formulation_names_every_component():
    text = FORMULATION.read_text(encoding="utf-8")
    p = rich_instance()
    names = set()
    for sm in (build(p), build(p, elastic=True)):
        for kind in (pyo.Var, pyo.Constraint, pyo.Expression, pyo.Objective):
            names |= {c.name for c in sm.model.component_objects(kind)}
    undocumented = sorted(n for n in names if not re.search(rf"`{re.escape(n)}[`\[(]", text))
    assert not undocumented, f"models/FORMULATION.md does not name {undocumented}"


# ---------------------------------------------------------------- the two families
# that no test in test_model.py reaches: both need a binary order and a binary gate


def test_order_needs_an_active_supplier():
    # AU: 10 $/kg, min order 20 t, fixed cost 50,000; demand 10 t, spot 100 $/kg.
    # 20 t ordered (10 t written off) + fixed cost = 200,000 + 50,000 < 1,000,000 spot.
    # Without buy <= supplier_active the fixed cost would be dodged: 200,000.
    p = problem(
        (2025, 2025),
        {"M": MATERIAL},
        {"M": 10},
        {"AU": dict(country="AU", qualified=True, annual_fixed_cost_usd=50_000)},
        {("AU", "M"): dict(price_usd_per_kg=10, capacity=100, min_order_t=20)},
    )
    assert model_families(build(p))["order_needs_supplier"] == 1
    out = solve(p)
    assert out.objective == pytest.approx(250_000)
    assert out.cost_parts["base"]["fixed"] == pytest.approx(50_000)


def test_active_supplier_needs_qualification():
    # AU, not qualified: qualification 100,000, fixed cost 10,000, 10 $/kg; demand 10 t,
    # spot 100 $/kg. 100,000 + 10,000 + 100,000 = 210,000 < 1,000,000 spot.
    # Without supplier_active <= use the qualification would be dodged: 110,000.
    p = problem(
        (2025, 2025),
        {"M": MATERIAL},
        {"M": 10},
        {"AU": dict(country="AU", qualification_cost_usd=100_000, annual_fixed_cost_usd=10_000)},
        {("AU", "M"): dict(price_usd_per_kg=10, capacity=100)},
    )
    assert model_families(build(p))["active_needs_use"] == 1
    out = solve(p)
    assert out.objective == pytest.approx(210_000)
    assert out.cost_parts["base"]["qualification"] == pytest.approx(100_000)


# ---------------------------------------------------------------- golden LP files


def spec_example_2() -> Problem:
    """SPEC §6 example 2: qualification, lead time, discounting, a ban (shared 2025 node)."""
    return problem(
        (2025, 2026),
        {"M": dict(MATERIAL, spot_max_t=0, max_stock_t=0)},
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


def policy_rules() -> Problem:
    """All four rules on one year, min orders, a fixed cost (order_needs_supplier), a tariff."""
    return problem(
        (2025, 2025),
        {"M": MATERIAL},
        {"M": 10},
        {
            "CN": dict(country="CN", qualified=True, annual_fixed_cost_usd=5_000),
            "AU": dict(country="AU", processing_country="CN", qualified=True),
            "BR": dict(country="BR", qualified=True),
        },
        {
            ("CN", "M"): dict(price_usd_per_kg=10, capacity=8, min_order_t=2),
            ("AU", "M"): dict(price_usd_per_kg=20, capacity=6),
            ("BR", "M"): dict(price_usd_per_kg=25, capacity=6, min_order_t=4),
        },
        rules=[
            dict(rule="max_share", scope="any_link", target="CN", value=0.6),
            dict(rule="min_share", scope="country", target="BR", value=0.2),
            dict(rule="max_avg_risk", value=0.5),
            dict(rule="min_suppliers", value=2),
        ],
        countries={
            "CN": dict(risk_score=0.8, tariff=25),
            "AU": dict(risk_score=0.2),
            "BR": dict(risk_score=0.4),
        },
        min_supplier_share=0.3,
    )


def cvar_recovery() -> Problem:
    """CVaR, a partial ban and a spot squeeze from 2026, stock bounds, a gated new supplier."""
    return problem(
        (2025, 2026),
        {
            "M": dict(
                spot_price_usd_per_kg=50,
                spot_max_t=8,
                shortfall_penalty_usd_per_kg=500,
                holding_cost_usd_per_kg_year=2,
                initial_stock_t=1,
                max_stock_t=6,
            )
        },
        {"M": [10, 12]},
        {
            "CN1": dict(country="CN", qualified=True),
            "AU1": dict(
                country="AU",
                lead_time_years=1,
                qualification_cost_usd=30_000,
                annual_fixed_cost_usd=8_000,
            ),
        },
        {
            ("CN1", "M"): dict(price_usd_per_kg=20, capacity=15),
            ("AU1", "M"): dict(price_usd_per_kg=35, capacity=10, min_order_t=2),
        },
        scenarios=[("normal", 0.75), ("squeeze", 0.25)],
        disruptions=[
            dict(
                scenario="squeeze",
                scope="country",
                target="CN",
                from_year=2026,
                availability=0.5,
                price_multiplier=1.2,
            ),
            dict(scenario="squeeze", scope="spot", from_year=2026, availability=0.5),
        ],
        risk_aversion=0.5,
        cvar_alpha=0.8,
    )


def contracts_substitution() -> Problem:
    """A price path and a three-year contract term (rows reaching tN), and a substitution
    option from the second year under a ban (balance terms, its cost, substitution_once)."""
    return problem(
        (2025, 2027),
        {"M": dict(MATERIAL, max_stock_t=0)},
        {"M": 10},
        {"A": dict(country="X", qualified=True), "B": dict(country="Y", qualified=True)},
        {
            ("A", "M"): dict(price_usd_per_kg=30, capacity=10, prices_usd_per_kg={2027: 80.0}),
            ("B", "M"): dict(price_usd_per_kg=50, capacity=10, min_order_t=4, min_contract_years=3),
        },
        scenarios=[("normal", 0.5), ("ban", 0.5)],
        disruptions=[dict(scenario="ban", scope="supplier", target="A", from_year=2026)],
        substitutions={
            "redesign": dict(
                material="M",
                reduction=0.4,
                from_year=2026,
                investment_usd=500_000,
                annual_cost_usd=10_000,
            )
        },
        discount_rate=0.05,
    )


GOLDEN_CASES = {
    f.__name__: f for f in (spec_example_2, policy_rules, cvar_recovery, contracts_substitution)
}


def test_shifted_cvar_rows_keep_only_what_scenarios_differ_in(monkeypatch):
    """cvar_recovery by hand: both scenarios share 2025 (one node) and the plan, so S holds
    the plan's costs and 2025's recovery, Y_w only 2026's. At the optimum
    S + Y_w = C_w, η' + S is the VaR the dense form finds, and both forms give the same
    objective and plan."""
    from diversify.model import split_scenario_costs

    p = cvar_recovery()
    sm = build(p)
    mdl = sm.model
    alike, own = split_scenario_costs(sm)
    years = {n.year for n in sm.tree.nodes}
    assert years == {2025, 2026}
    shared_node = sm.tree.node_of[(2025, 0)]
    assert shared_node == sm.tree.node_of[(2025, 1)]
    for terms in own:  # no plan column, nothing of the shared 2025 node
        names = {v.name for _, v in terms}
        assert names and all(n.startswith(("z[", "I[", "u[", "x[")) for n in names)
        assert not any(f",{shared_node}]" in n for n in names if not n.startswith("x["))
    solve_model(mdl, SolveOptions(mip_gap=1e-9))
    s_value = sum(c * pyo.value(v) for c, v in alike)
    for i, terms in enumerate(own):
        y_value = sum(c * pyo.value(v) for c, v in terms)
        assert s_value + y_value == pytest.approx(pyo.value(mdl.cost[i]), rel=1e-12)
    shifted = solve(p)
    monkeypatch.setattr("diversify.model.CVAR_FORM", "dense")
    dense_sm = build(p)
    solve_model(dense_sm.model, SolveOptions(mip_gap=1e-9))
    var = pyo.value(dense_sm.model.eta)
    assert CVAR_UNIT_USD * pyo.value(mdl.eta) + s_value == pytest.approx(var, rel=1e-9)
    dense = solve(p)
    assert shifted.objective == pytest.approx(dense.objective, rel=1e-9)
    assert shifted.plan == pytest.approx(dense.plan)


def test_shifted_cvar_rows_are_the_scenario_costs_term_by_term():
    """On the richest instance (every family), S + Y_w of each scenario has the very
    terms of C_w (cost[w]): nothing left out (e.g. a cost part added to the model but
    not to the split) and nothing counted twice; the excess rows hold Y_w."""
    from pyomo.repn import generate_standard_repn

    from diversify.model import split_scenario_costs

    p = rich_instance()
    assert p.settings.risk_aversion > 0
    sm = build(p)
    mdl = sm.model

    def terms(expr) -> dict[str, float]:
        repn = generate_standard_repn(expr, compute_values=True)
        out: dict[str, float] = {}
        for c, v in zip(repn.linear_coefs, repn.linear_vars, strict=True):
            out[v.name] = out.get(v.name, 0.0) + c
        return {k: c for k, c in out.items() if abs(c) > 1e-12}

    def summed(pairs) -> dict[str, float]:
        out: dict[str, float] = {}
        for c, v in pairs:
            out[v.name] = out.get(v.name, 0.0) + c
        return out

    alike, own = split_scenario_costs(sm)
    assert alike and any(own)
    for i, y in enumerate(own):
        split = summed([*alike, *y])
        expected = terms(mdl.cost[i])
        for v in split.keys() | expected.keys():  # a banned offer's terms cancel to 0
            assert split.get(v, 0.0) == pytest.approx(expected.get(v, 0.0), rel=1e-12, abs=1e-6), v
        row = terms(mdl.excess_def[i].body)  # excess - Y_w / unit + eta
        got = {v: -c * CVAR_UNIT_USD for v, c in row.items() if v not in ("eta", f"excess[{i}]")}
        want = {v: c for v, c in summed(y).items() if abs(c) > 1e-12}
        assert got.keys() == want.keys()
        for v in want:
            assert got[v] == pytest.approx(want[v], rel=1e-12), v


def test_golden_cases_cover_every_family():
    covered = set()
    for make in GOLDEN_CASES.values():
        covered |= {name for name, rows in model_families(build(make())).items() if rows}
    assert covered == set(FAMILY_TESTS), sorted(set(FAMILY_TESTS) ^ covered)


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_lp(case, tmp_path):
    written = tmp_path / f"{case}.lp"
    export_model(build(GOLDEN_CASES[case]()).model, written)
    golden = GOLDEN / f"{case}.lp"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        shutil.copyfile(written, golden)
    assert golden.exists(), f"no {golden}: run with DIVERSIFY_UPDATE_GOLDEN=1 to write it"
    got, want = parse_lp(written.read_text()), parse_lp(golden.read_text())
    assert not any(re.fullmatch(r"c\d+", col) for col, *_ in got["bounds"]), (
        "the LP lost its column names"
    )
    diffs = []
    for part in want:
        for fact in sorted(want[part] - got[part], key=repr):
            diffs.append(f"  golden only  {part}: {fact}")
        for fact in sorted(got[part] - want[part], key=repr):
            diffs.append(f"  model only   {part}: {fact}")
    assert not diffs, (
        f"the model of {case} differs from {golden.name} (if intended, rewrite it with "
        "DIVERSIFY_UPDATE_GOLDEN=1 and review the diff):\n" + "\n".join(diffs)
    )


def test_lp_rows_keep_their_names(tmp_path):
    written = tmp_path / "names.lp"
    export_model(build(spec_example_2()).model, written)
    assert re.search(r"^ balance\(", written.read_text(), re.M)


def test_parse_lp_is_structural():
    a = parse_lp(
        "min\n obj: +2 x +1 y +5\nst\n r0: +1 x +1 y >= +1\n r1: +1 x -1 y <= +0\n"
        "bounds\n x <= 4\n 1 <= y <= 3\nbin\n b\nend\n"
    )
    b = parse_lp(
        "\\ the same model, rows, terms and bounds reordered, one row wrapped\nmin\n"
        " obj: +1 y +2 x +5\nst\n r0: -1 y\n +1 x <= +0\n r1: +1 y +1 x >= +1\n"
        "bounds\n 1 <= y <= 3\n x <= 4\nbin\n b\nend\n"
    )
    assert a == b
    c = parse_lp(
        "min\n obj: +2 x +1 y +5\nst\n r0: +1 x +1 y >= +1\n r1: +1 x -1.000001 y <= +0\n"
        "bounds\n x <= 4\n 1 <= y <= 3\nbin\n b\nend\n"
    )
    assert a["rows"] != c["rows"]
    assert parse_lp("min\n obj: +1 x\nst\n r0: +1 x >= +0.3000000000000001\nend\n") == parse_lp(
        "min\n obj: +1 x\nst\n r0: +1 x >= +0.3\nend\n"
    )


# ---------------------------------------------------------------- LP reader

_SECTIONS = {
    "min": "objective",
    "minimize": "objective",
    "max": "objective",
    "maximize": "objective",
    "st": "rows",
    "s.t.": "rows",
    "subject to": "rows",
    "bounds": "bounds",
    "bin": "bin",
    "binary": "bin",
    "gen": "int",
    "general": "int",
    "semi": "semi",
    "end": "end",
}
_SENSES = {"<=": "<=", "=<": "<=", "<": "<=", ">=": ">=", "=>": ">=", ">": ">=", "=": "="}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?inf(inity)?", re.I)
_GENERIC_ROW = re.compile(r"r\d+")  # HiGHS's name for a row it could not name


def _num(v: float) -> float:
    """10 significant digits (1e-9 relative), -0.0 as 0.0."""
    return float(f"{v:.10g}") + 0.0 if math.isfinite(v) else v


def _terms(tokens: list[str]) -> tuple[dict[str, float], float]:
    """`+2 x -1 y +5` -> ({x: 2, y: -1}, 5): coefficient-variable pairs and a constant."""
    coefs: dict[str, float] = {}
    const, i = 0.0, 0
    while i < len(tokens):
        tok = tokens[i]
        if _NUMBER.fullmatch(tok):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is None or _NUMBER.fullmatch(nxt) or nxt in ("+", "-"):
                const += float(tok)
                i += 1
                continue
            coefs[nxt] = coefs.get(nxt, 0.0) + float(tok)
            i += 2
        elif tok in ("+", "-"):
            sign = -1.0 if tok == "-" else 1.0
            nxt = tokens[i + 1]
            if _NUMBER.fullmatch(nxt):
                tokens[i + 1] = str(sign * float(nxt))
            else:
                coefs[nxt] = coefs.get(nxt, 0.0) + sign
                i += 1
            i += 1
        else:
            coefs[tok] = coefs.get(tok, 0.0) + 1.0
            i += 1
    return coefs, const


def parse_lp(text: str) -> dict[str, set]:
    """An LP file as sets of facts: objective terms, rows, bounds and column types.

    A row is (name, sense, rhs, its sorted terms); HiGHS's generic names (r0, r1, ...)
    are dropped, so unnamed rows are matched by their content, not their position.
    Numbers keep 10 significant digits.
    """
    blocks: dict[str, list[str]] = {v: [] for v in _SECTIONS.values()}
    sense, section = "min", None
    for raw in text.splitlines():
        line = raw.split("\\", 1)[0].strip()
        if not line:
            continue
        key = line.lower()
        if key in _SECTIONS:
            section = _SECTIONS[key]
            if section == "objective":
                sense = key[:3]
            continue
        if section is None:
            raise ValueError(f"LP text before any section: {raw!r}")
        blocks[section].append(line)

    obj_tokens = " ".join(blocks["objective"]).split()
    if obj_tokens and obj_tokens[0].endswith(":"):
        obj_tokens = obj_tokens[1:]
    obj, offset = _terms(obj_tokens)
    columns = set(obj)

    rows = set()
    current: list[list[str]] = []
    for tok in " ".join(blocks["rows"]).split():
        if tok.endswith(":"):
            current.append([tok[:-1]])
        else:
            current[-1].append(tok)
    for name, *body in current:
        at = next(i for i, tok in enumerate(body) if tok in _SENSES)
        coefs, const = _terms(body[:at])
        rhs = float(body[at + 1]) - const
        columns |= set(coefs)
        terms = tuple(sorted((c, _num(v)) for c, v in coefs.items() if v != 0))
        label = None if _GENERIC_ROW.fullmatch(name) else name
        rows.add((label, _SENSES[body[at]], _num(rhs), terms))

    bounds: dict[str, tuple[float, float]] = {}
    for line in blocks["bounds"]:
        toks = line.split()
        at = next(
            i for i, tok in enumerate(toks) if tok not in _SENSES and not _NUMBER.fullmatch(tok)
        )
        col = toks[at]
        lo, hi = bounds.get(col, (0.0, math.inf))
        if toks[at + 1 :] == ["free"]:
            lo, hi = -math.inf, math.inf
        if at == 2:  # lo <= col
            lo = float(toks[0])
        if len(toks) >= at + 3:  # col <= hi, col >= lo, col = v
            op, v = _SENSES[toks[at + 1]], float(toks[at + 2])
            if op == "<=":
                hi = v
            elif op == ">=":
                lo = v
            else:
                lo = hi = v
        bounds[col] = (lo, hi)
    types = {
        (col, kind) for kind in ("bin", "int", "semi") for col in " ".join(blocks[kind]).split()
    }
    columns |= set(bounds) | {col for col, _ in types}

    return {
        "objective": {(sense, "constant", _num(offset))}
        | {(sense, c, _num(v)) for c, v in obj.items() if v != 0},
        "rows": rows,
        "bounds": {(c, *(_num(b) for b in bounds.get(c, (0.0, math.inf)))) for c in columns},
        "types": types,
    }
