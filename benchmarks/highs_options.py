"""Do HiGHS options speed up the core MIP solve? Measured on one benchmark size.

    python benchmarks/highs_options.py [--size large] [--repeat 1] [--out benchmarks/RESULTS.md]

The core model is built once and exported to MPS; each option set then solves it in a
fresh process and `highspy.Highs()` (readModel, the workbook's mip_rel_gap and
time_limit, then the option set), once per random seed 0, 1, 2: the seed alone moves
HiGHS's time by a factor of two on these models. MIP starts go through the pipeline's
own path (`engine.optimise(..., start=outcome)`, seed 0, repeated as often), with the
time to find the starting plan counted.
The table goes into the output file between its own markers; the rest is kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- BEGIN HIGHS OPTIONS (benchmarks/highs_options.py) -->"
END = "<!-- END HIGHS OPTIONS -->"
SEEDS = (0, 1, 2)  # HiGHS's MIP times vary with the seed as much as with most options
VARIANTS: dict[str, dict[str, object]] = {
    "defaults (threads, parallel: choose)": {},
    "threads=1": {"threads": 1},
    "parallel=on": {"parallel": "on"},
    "presolve=off": {"presolve": "off"},
    "mip_heuristic_effort=0 (default 0.05)": {"mip_heuristic_effort": 0.0},
    "mip_heuristic_effort=0.2": {"mip_heuristic_effort": 0.2},
    "mip_heuristic_effort=0.5": {"mip_heuristic_effort": 0.5},
    "RINS and RENS off": {"mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False},
    "simplex_strategy=4 (primal)": {"simplex_strategy": 4},
    "simplex_strategy=2 (dual, PAMI)": {"simplex_strategy": 2},
    "mip_detect_symmetry=false": {"mip_detect_symmetry": False},
    "mip_allow_restart=false": {"mip_allow_restart": False},
    "user_objective_scale=-10 (costs × 2⁻¹⁰)": {"user_objective_scale": -10},
}


def solve_mps(mps: Path, gap: float, limit: float, extra: dict[str, object]) -> dict:
    """One solve in this process (run it in a fresh one: `threads` is fixed at the first)."""
    from diversify.program import highspy  # imported there with its banner silenced

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(mps))
    for key, value in {"mip_rel_gap": gap, "time_limit": limit, "random_seed": 0, **extra}.items():
        h.setOptionValue(key, value)
    h.run()
    info = h.getInfo()
    return {
        "seconds": h.getRunTime(),
        "status": h.modelStatusToString(h.getModelStatus()),
        "objective": info.objective_function_value,
        "gap": info.mip_gap,
        "nodes": info.mip_node_count,
    }


def solve_fresh(mps: Path, gap: float, limit: float, extra: dict[str, object]) -> dict:
    """`solve_mps` in a new Python process."""
    from run import in_fresh_process

    args = ("--one", str(mps), "--gap", repr(gap), "--limit", repr(limit))
    return in_fresh_process(__file__, *args, "--options", json.dumps(extra))


def mip_starts(problem, repeat: int) -> list[tuple[str, float, list[dict]]]:
    """The core solve through the pipeline's path, cold and from three starting plans."""
    from diversify.derive import mean_value_scenario, scenario_data
    from diversify.engine import optimise, settings_options

    scenarios = scenario_data(problem)
    lam = problem.settings.risk_aversion
    options = settings_options(problem)

    def core(start=None) -> dict:
        out = optimise(problem, scenarios, lam, options, start=start)
        r = out.report
        return {
            "seconds": r.solve_seconds,
            "status": r.status,
            "objective": out.objective,
            "gap": r.mip_gap,
            "nodes": None,
        }

    cold = [core() for _ in range(repeat)]
    least_cost = optimise(problem, [scenarios[0].alone()], lam, options)
    mean_value = optimise(problem, [mean_value_scenario(scenarios)], 0.0, options)
    return [
        ("pipeline path, no start", 0.0, cold),
        (
            "start: least-cost plan (first scenario alone)",
            least_cost.report.solve_seconds,
            [core(least_cost) for _ in range(repeat)],
        ),
        (
            "start: mean-value plan",
            mean_value.report.solve_seconds,
            [core(mean_value) for _ in range(repeat)],
        ),
        (
            "start: the optimal plan itself (bound on the gain)",
            cold[0]["seconds"],
            [core(optimise(problem, scenarios, lam, options)) for _ in range(repeat)],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large")
    ap.add_argument("--repeat", type=int, default=1, help="runs per seed")
    ap.add_argument("--out", type=Path, help="insert the table into this Markdown file")
    for hidden in ("--one", "--options", "--child-out", "--gap", "--limit"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        result = solve_mps(Path(a.one), float(a.gap), float(a.limit), json.loads(a.options))
        Path(a.child_out).write_text(json.dumps(result))
        return 0
    sys.path.insert(0, str(HERE))
    from generate import make_workbook
    from run import MIP_GAP, SIZES, TIME_LIMIT_S, replace_section

    from diversify.derive import scenario_data, scenario_tree
    from diversify.engine import export_core_model
    from diversify.reader import read_problem

    with tempfile.TemporaryDirectory() as tmp:
        book, mps = Path(tmp) / "input.xlsx", Path(tmp) / "core.mps"
        make_workbook(book, **SIZES[a.size], seed=0, time_limit_s=TIME_LIMIT_S, mip_gap=MIP_GAP)
        problem = read_problem(book)
        scenarios = scenario_data(problem)
        export_core_model(problem, scenarios, mps)
        nodes = len(scenario_tree(scenarios, problem.years, problem.settings.recourse).nodes)
        gap, limit = problem.settings.mip_gap, problem.settings.time_limit_s
        rows = []
        for label, extra in VARIANTS.items():
            runs = [
                solve_fresh(mps, gap, limit, {"random_seed": seed, **extra})
                for seed in SEEDS
                for _ in range(a.repeat)
            ]
            rows.append((label, 0.0, runs))
            print(f"{label}: {[round(r['seconds'], 2) for r in runs]}", file=sys.stderr)
        for label, before, runs in mip_starts(problem, len(SEEDS) * a.repeat):
            rows.append((label, before, runs))
            print(f"{label}: {[round(r['seconds'], 2) for r in runs]}", file=sys.stderr)

    base = statistics.median(r["seconds"] for r in rows[0][2])
    best = min(r["objective"] for _, _, runs in rows for r in runs if r["objective"])
    dims = SIZES[a.size]
    lines = [
        BEGIN,
        "",
        f"## HiGHS options on the {a.size} instance",
        "",
        f"{dims['suppliers']}×{dims['materials']}×{dims['years']}×{dims['scenarios']}, "
        f"{nodes} tree nodes; mip_rel_gap {gap:g}; measured {time.strftime('%Y-%m-%d')}. "
        f"Option sets: one fresh process per random seed {', '.join(map(str, SEEDS))}"
        f"{f' (× {a.repeat})' if a.repeat > 1 else ''}; MIP starts: the pipeline's path "
        f"(seed 0) run {len(SEEDS) * a.repeat} times. Times are HiGHS's own run time; "
        "'before' is the solve that found the starting plan, counted in 'vs defaults'.",
        "",
        "| option set | HiGHS s (median) | runs (s) | before | vs defaults | status | "
        "nodes | objective − best (rel.) |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for label, before, runs in rows:
        secs = [r["seconds"] for r in runs]
        med = statistics.median(secs)
        worst_obj = max(r["objective"] for r in runs)
        nodes_ = runs[0]["nodes"]
        lines.append(
            f"| {label} | {med:.2f} | {' / '.join(f'{x:.1f}' for x in secs)} | "
            f"{before:.2f} | {(med + before) / base:.2f}× | {runs[0]['status']} | "
            f"{'–' if nodes_ is None else nodes_} | {(worst_obj - best) / abs(best):.1e} |"
        )
    lines += ["", END]
    text = "\n".join(lines)
    print(text)
    if a.out:
        replace_section(a.out, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
