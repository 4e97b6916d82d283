"""What the formulation's economies are worth: the model as built against the textbook one.

`diversify` leaves out binaries no cost or rule needs (buy only where a minimum order or
a min_suppliers rule needs it, active only with a fixed cost, use only with a
qualification cost) and links x to its binary with the offer's capacity. Here the same
core model is also built with every binary of SPEC §4.1 and with a big constant
(10 × the largest capacity) in place of the capacity in the on/off rows, and each is
solved by HiGHS with the same options (seeds 0, 1, 2). Reported: size, the LP
relaxation's bound and HiGHS's time; every variant must reach the same optimum.

    python benchmarks/formulation.py [--sizes medium,large] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import make_workbook  # noqa: E402
from run import MIP_GAP, SIZES, TIME_LIMIT_S, machine, replace_section  # noqa: E402

from diversify import model as mod  # noqa: E402
from diversify.compiled import compile_sourcing  # noqa: E402
from diversify.derive import scenario_data, scenario_tree  # noqa: E402
from diversify.engine import settings_options  # noqa: E402
from diversify.program import solve_program, to_highs  # noqa: E402
from diversify.reader import read_problem  # noqa: E402

BEGIN, END = "<!-- BEGIN FORMULATION (benchmarks/formulation.py) -->", "<!-- END FORMULATION -->"
SEEDS = (0, 1, 2)


def every_binary(sm: mod.SourcingModel) -> None:
    """The textbook first stage: buy for every offer-year, active for every supplier-year,
    use for every supplier (re-indexes what `add_plan_variables` built)."""
    p, mdl = sm.problem, sm.model
    for name in ("buy", "supplier_active", "use"):
        mdl.del_component(name)
    mdl.buy = pyo.Var(list(sm.x), domain=pyo.Binary)
    active = sorted({(s, t) for s, _, t in sm.x})
    mdl.supplier_active = pyo.Var(active, domain=pyo.Binary)
    mdl.use = pyo.Var(sorted(p.suppliers), domain=pyo.Binary)
    sm.buy, sm.active, sm.use = (
        dict(mdl.buy.items()),
        dict(mdl.supplier_active.items()),
        dict(mdl.use.items()),
    )


def big_m(sm: mod.SourcingModel) -> None:
    """x <= M * buy (M = 10 × the largest capacity) in place of x <= cap * buy."""
    mdl = sm.model
    biggest = max(max(o.capacity_t.values(), default=0.0) for o in sm.problem.offers.values())
    rows = {}
    for key in list(mdl.capacity.keys()):
        x = sm.x[key]
        on = sm.buy.get(key) if key in sm.buy else mod._gate(sm, key[0], key[2])
        rows[key] = x - 10 * biggest * on <= 0
    mdl.del_component("capacity")
    mdl.capacity = mod._constraints(rows)


def build(problem, variant: str):
    scenarios = scenario_data(problem)
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    plan_variables, capacity = mod.add_plan_variables, mod.add_capacity_and_min_order
    try:
        if variant in ("every binary", "every binary, big M"):
            mod.add_plan_variables = lambda sm: (plan_variables(sm), every_binary(sm))
        if variant in ("big M", "every binary, big M"):
            mod.add_capacity_and_min_order = lambda sm: (capacity(sm), big_m(sm))
        sm = mod.build_model(problem, scenarios, tree, problem.settings.risk_aversion)
    finally:
        mod.add_plan_variables, mod.add_capacity_and_min_order = plan_variables, capacity
    return compile_sourcing(sm)


def measure(size: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        book = make_workbook(
            Path(tmp) / "in.xlsx", **SIZES[size], seed=0, time_limit_s=TIME_LIMIT_S, mip_gap=MIP_GAP
        )
        problem = read_problem(book)
    options = settings_options(problem)
    rows = []
    for variant in ("as built", "every binary", "big M", "every binary, big M"):
        program = build(problem, variant).program
        lp = replace(program, integrality=np.zeros_like(program.integrality))
        lp_report, _ = solve_program(lp, options)
        times, objective, status = [], None, None
        for seed in SEEDS:
            h = to_highs(program, options)
            h.setOptionValue("random_seed", seed)
            h.run()
            times.append(h.getRunTime())
            objective, status = (
                h.getInfo().objective_function_value,
                h.modelStatusToString(h.getModelStatus()),
            )
        rows.append(
            dict(
                size=size,
                variant=variant,
                columns=len(program.cost),
                integers=int(program.integrality.sum()),
                rows=len(program.row_lower),
                lp=lp_report.objective,
                objective=objective,
                status=status,
                times=times,
            )
        )
        print(size, variant, f"{statistics.median(times):.2f} s", file=sys.stderr)
    return rows


def render(rows: list[dict]) -> str:
    info = machine()
    lines = [
        BEGIN,
        "",
        "## Formulation: the model as built against the textbook one",
        "",
        f"Measured {info['date']} on {info['nproc']} cores ({info['cpu']}); HiGHS {info['highs']}, "
        f"mip_rel_gap {MIP_GAP}, seeds {', '.join(map(str, SEEDS))}. 'LP gap' is how far "
        "the LP relaxation's bound lies below the optimum.",
        "",
        "| size | variant | columns | integers | rows | LP gap | HiGHS s (median) | runs (s) "
        "| objective − as built (rel.) |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    base = {r["size"]: r["objective"] for r in rows if r["variant"] == "as built"}
    for r in rows:
        gap = (r["objective"] - r["lp"]) / abs(r["objective"])
        diff = (r["objective"] - base[r["size"]]) / abs(base[r["size"]])
        runs = " / ".join(f"{t:.2f}" for t in r["times"])
        lines.append(
            f"| {r['size']} | {r['variant']} | {r['columns']:,} | {r['integers']:,} | "
            f"{r['rows']:,} | {gap:.2%} | {statistics.median(r['times']):.2f} | {runs} | "
            f"{diff:.1e} |"
        )
    return "\n".join([*lines, "", END])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="medium,large")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    a = ap.parse_args(argv)
    rows = [r for size in a.sizes.split(",") for r in measure(size.strip())]
    replace_section(a.out, BEGIN, END, render(rows))
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
