"""Where the parallel work runs (diversify.execution): 1 against 2 workers.

    python benchmarks/parallel.py [--size large] [--points 7] [--samples 100000]
                                  [--only startup,figures,frontier,stress,solve]
                                  [--out benchmarks/RESULTS.md]

On one synthetic instance (`benchmarks/generate.py`, seed 0):

* startup: a local cluster of 2 workers started, 2 tasks run, shut down (the cost the
  rule of `execution.decide` must repay), and the scheduling cost of one task;
* figures: `engine.resilience_figures` (every re-solve of SPEC §4.6) in this process
  and on 2 local workers, the cluster's start-up included; the figures must be equal;
* frontier: `frontier.trace_frontier` with --points points, likewise;
* stress: `stress.stress_costs` of the core plan on --samples samples of the
  instance's Risks (seed 2): every policy and hindsight task, through the same layer;
* solve: `pipeline.solve_workbook` end to end with 2 workers, against the floor the
  re-solves' own HiGHS time allows, 1 + Σ re-solve time / (workers × core time).

The section between its markers in the output file is replaced; the rest is kept.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- BEGIN PARALLEL (benchmarks/parallel.py) -->"
END = "<!-- END PARALLEL -->"
PARTS = ("startup", "figures", "frontier", "stress", "solve")


def noop(x: int) -> int:
    return x


class HighsTime:
    """HiGHS's own time of every solve, wherever it ran, from the reports that come
    back to this process: the WS and RP re-solves (`engine._solved`), the plan
    evaluations, and the core and mean-value MIPs (`engine.conclude`; on a cluster they
    are tasks, so a wrapper of the solve itself would count them on a worker's copy)."""

    def __init__(self) -> None:
        from diversify import engine

        self.seconds = 0.0
        originals = {
            (engine, "_solved"): engine._solved,
            (engine, "_evaluate_plan"): engine._evaluate_plan,
            (engine, "conclude"): engine.conclude,
        }
        self.originals = originals

        def solved(label, result, warnings):
            self.seconds += result[0].solve_seconds
            return originals[(engine, "_solved")](label, result, warnings)

        def evaluate_plan(*args, **kwargs):
            out = originals[(engine, "_evaluate_plan")](*args, **kwargs)
            self.seconds += out.report.solve_seconds
            return out

        def conclude(problem, scenarios, options, c, report, *rest, **kwargs):
            self.seconds += report.solve_seconds
            return originals[(engine, "conclude")](
                problem, scenarios, options, c, report, *rest, **kwargs
            )

        self.wrappers = {
            (engine, "_solved"): solved,
            (engine, "_evaluate_plan"): evaluate_plan,
            (engine, "conclude"): conclude,
        }

    def __enter__(self) -> HighsTime:
        for (module, name), fn in self.wrappers.items():
            setattr(module, name, fn)
        return self

    def __exit__(self, *exc) -> None:
        for (module, name), fn in self.originals.items():
            setattr(module, name, fn)


def figures_key(f) -> tuple:
    return (f.rp, f.eev, f.ws, f.price_of_resilience, f.value_of_resilience, f.scenario_optima)


def frontier_key(frontier) -> list:
    keep = ("objective_usd", "expected_cost_usd", "cvar_usd", "expected_shortfall_t")
    return [(p.cap, p.status, *(p.figure(k) for k in keep)) for p in frontier.points]


def measure(size: str, points: int, samples: int, parts: set[str]) -> dict:
    sys.path.insert(0, str(HERE))
    from generate import make_workbook
    from run import SIZES

    from diversify import engine, pipeline
    from diversify.cli import tune_garbage_collection
    from diversify.derive import scenario_data
    from diversify.execution import Executor
    from diversify.frontier import trace_frontier
    from diversify.reader import read_problem

    tune_garbage_collection()
    out: dict = {"size": size, **SIZES[size], "cores": os.cpu_count()}
    out |= {"points": points, "samples": samples}
    out["load_before"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        book = Path(tmp) / "input.xlsx"
        make_workbook(book, **SIZES[size], seed=0, time_limit_s=300.0, mip_gap=1e-4)
        problem = read_problem(book)
        options = engine.settings_options(problem)
        scenarios = scenario_data(problem)

        if "startup" in parts:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import distributed"], check=True)
            out["import_distributed_s"] = time.perf_counter() - t0
            cycles = []
            for _ in range(3):
                t0 = time.perf_counter()
                with Executor(workers=2) as ex:
                    ex.map(noop, range(2), seconds_each=10.0)
                    started = time.perf_counter()
                    n = 2000
                    ex.map(noop, range(n), seconds_each=10.0)  # one task each
                    per_task = (time.perf_counter() - started) / n
                cycles.append((time.perf_counter() - t0 - per_task * n, per_task))
            out["cluster_cycle_s"] = statistics.median(c[0] for c in cycles)
            out["task_overhead_ms"] = 1e3 * statistics.median(c[1] for c in cycles)
            print(f"startup: {out['cluster_cycle_s']:.2f} s", file=sys.stderr)

        core = None
        if parts & {"figures", "stress"}:
            t0 = time.perf_counter()
            core = engine.optimise(problem, scenarios, problem.settings.risk_aversion, options)
            out["core_wall_s"] = time.perf_counter() - t0
            out["core_highs_s"] = core.report.solve_seconds

        if "figures" in parts:
            keys = {}
            for workers in (1, 2):
                with HighsTime() as highs:
                    t0 = time.perf_counter()
                    with Executor(workers=workers) as ex:
                        figures = engine.resilience_figures(problem, core, options, executor=ex)
                    out[f"figures_{workers}w_s"] = time.perf_counter() - t0
                out[f"figures_{workers}w_highs_s"] = highs.seconds
                keys[workers] = figures_key(figures)
                print(
                    f"figures, {workers} worker(s): {out[f'figures_{workers}w_s']:.1f} s",
                    file=sys.stderr,
                )
            out["figures_equal"] = keys[1] == keys[2]
            out["figures_speedup"] = out["figures_1w_s"] / out["figures_2w_s"]

        if "frontier" in parts:
            keys = {}
            for workers in (1, 2):
                t0 = time.perf_counter()
                with Executor(workers=workers) as ex:
                    f = trace_frontier(problem, "China", points, options, executor=ex)
                out[f"frontier_{workers}w_s"] = time.perf_counter() - t0
                keys[workers] = frontier_key(f)
                out["frontier_highs_s"] = sum(p.figure("solve_seconds") or 0 for p in f.points)
                print(
                    f"frontier, {workers} worker(s): {out[f'frontier_{workers}w_s']:.1f} s",
                    file=sys.stderr,
                )
            out["frontier_equal"] = keys[1] == keys[2]
            out["frontier_speedup"] = out["frontier_1w_s"] / out["frontier_2w_s"]

        if "stress" in parts:
            from diversify.risks import draw
            from diversify.stress import stress_costs

            drawn = draw(problem, samples, 2)
            keys = {}
            for workers in (1, 2):
                t0 = time.perf_counter()
                with Executor(workers=workers) as ex:
                    costs = stress_costs(
                        problem,
                        core.plan,
                        drawn,
                        lambda fn, payloads, shared, label: ex.map(fn, payloads, shared=shared),
                        core.starts,
                    )
                out[f"stress_{workers}w_s"] = time.perf_counter() - t0
                keys[workers] = {  # arrays as their bytes: equal to the last bit
                    k: getattr(v, "tobytes", lambda v=v: v)() for k, v in vars(costs).items()
                }
                print(
                    f"stress, {workers} worker(s): {out[f'stress_{workers}w_s']:.1f} s",
                    file=sys.stderr,
                )
            out["stress_distinct"] = len(drawn.distinct)
            out["stress_equal"] = keys[1] == keys[2]
            out["stress_speedup"] = out["stress_1w_s"] / out["stress_2w_s"]

        if "solve" in parts:
            with HighsTime() as highs:
                t0 = time.perf_counter()
                run = pipeline.solve_workbook(book, Path(tmp) / "plan.xlsx", workers=2)
                out["solve_2w_s"] = time.perf_counter() - t0
            core_s = run.results.summary["solve_seconds"]
            resolves = highs.seconds - core_s  # the core solve was concluded here too
            out["solve_core_highs_s"] = core_s
            out["solve_resolves_highs_s"] = resolves
            out["solve_ratio"] = out["solve_2w_s"] / core_s
            out["solve_floor"] = 1 + resolves / (2 * core_s)
            print(f"solve, 2 workers: {out['solve_2w_s']:.1f} s", file=sys.stderr)
    out["load_after"] = os.getloadavg()[0]
    return out


def _f(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render(r: dict) -> str:
    lines = [
        BEGIN,
        "",
        "## Where the work runs: 1 against 2 workers (diversify.execution on Dask)",
        "",
        f"Instance {r['size']} ({r['suppliers']}×{r['materials']}×{r['years']}×"
        f"{r['scenarios']}), {r['cores']} cores; load average {r['load_before']:.2f} before, "
        f"{r['load_after']:.2f} after. Times are wall-clock seconds and include the local "
        "cluster's start-up and shut-down.",
        "",
        "| job | 1 worker (this process) | 2 local workers | speed-up | same figures |",
        "|---|---|---|---|---|",
    ]
    for key, label in (
        ("figures", "figures of SPEC §4.6 (every re-solve)"),
        ("frontier", "frontier, {points} points"),
        ("stress", "stress test of the core plan, {samples:,} samples (`stress_costs`)"),
    ):
        if f"{key}_1w_s" in r:
            lines.append(
                f"| {label.format(**r)} | {_f(r[f'{key}_1w_s'])} | {_f(r[f'{key}_2w_s'])} | "
                f"{r[f'{key}_speedup']:.2f}× | {'yes' if r[f'{key}_equal'] else 'NO'} |"
            )
    if "stress_distinct" in r:
        lines += [
            "",
            f"The stress test: {r['stress_distinct']:,} distinct samples of the instance's "
            "Risks (`generate.py`), both recoveries, without the workbook.",
        ]
    if "cluster_cycle_s" in r:
        lines += [
            "",
            f"Local cluster of 2 workers, started, 2 tasks, shut down: "
            f"{r['cluster_cycle_s']:.2f} s (median of 3); `import distributed` in a fresh "
            f"process {r['import_distributed_s']:.2f} s; scheduling cost of one task "
            f"{r['task_overhead_ms']:.2f} ms.",
        ]
    if "solve_2w_s" in r:
        ratio, floor = r["solve_ratio"], r["solve_floor"]
        lines += [
            "",
            f"`solve` with every figure, 2 workers: {r['solve_2w_s']:.1f} s end to end = "
            f"{ratio:.2f}× the core solve's HiGHS time ({r['solve_core_highs_s']:.1f} s). "
            f"Floor 1 + Σ re-solve / (2 × core) = 1 + {r['solve_resolves_highs_s']:.1f} / "
            f"(2 × {r['solve_core_highs_s']:.1f}) = {floor:.2f}×: "
            f"{100 * (ratio / floor - 1):+.0f} % of it.",
        ]
    lines += ["", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from run import measured_or_rendered, output_options

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large")
    ap.add_argument("--points", type=int, default=7)
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--only", default=",".join(PARTS))
    output_options(ap)
    a = ap.parse_args(argv)
    parts = {p.strip() for p in a.only.split(",") if p.strip()}
    return measured_or_rendered(
        a, lambda: measure(a.size, a.points, a.samples, parts), render, BEGIN, END
    )


if __name__ == "__main__":
    sys.exit(main())
