"""Where the time of `diversify solve` goes, per stage and per instance size.

    pip install '.[bench]'
    python benchmarks/run.py [--sizes small,medium,large] [--out benchmarks/RESULTS.md]

Each size runs in its own subprocess (so peak RSS is per size). There, a synthetic
workbook (`benchmarks/generate.py`) goes once through `pipeline.solve_workbook`, the
CLI's own path, with its stages timed by wrapping the functions it calls (read, validate,
derive, build, compile, HiGHS, figures, tabulate, write). Then the same core model is
exported to MPS and solved (a) by a fresh HiGHS reading the file and (b) by CBC through
PuLP, with the same relative gap and time limit; the optima must agree.

The measured section of the output file is replaced; any text outside its markers
(notes, profiles, `highs_options.py`'s table) is kept.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES: dict[str, dict[str, int]] = {
    "small": dict(suppliers=10, materials=3, years=8, scenarios=4),
    "medium": dict(suppliers=30, materials=5, years=12, scenarios=10),
    "large": dict(suppliers=80, materials=8, years=20, scenarios=30),
    "xlarge": dict(suppliers=160, materials=10, years=25, scenarios=60),
    "xxlarge": dict(suppliers=180, materials=10, years=25, scenarios=70),  # core ~1 min
}
TIME_LIMIT_S = 300.0
MIP_GAP = 1e-4
GNU_TIME = "/usr/bin/time"
BEGIN, END = "<!-- BEGIN MEASURED (benchmarks/run.py) -->", "<!-- END MEASURED -->"


# ---------------------------------------------------------------- one size (child process)


class Stopwatch:
    """Wraps module functions in place; times accumulate per phase and label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.returned: dict[str, object] = {}
        self.missing: list[str] = []
        self.phase = "main"
        self.core_model: dict[str, int] = {}

    def wrap(self, module, name: str, label: str, phase: str | None = None) -> None:
        inner = getattr(module, name, None)
        if inner is None:  # the package moved on: time what is still there
            self.missing.append(f"{module.__name__}.{name}")
            return

        def timed(*args, **kwargs):
            outer = self.phase
            if phase:
                self.phase = phase
            key = label if phase else f"{self.phase}.{label}"
            t0 = time.perf_counter()
            try:
                result = inner(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - t0
                self.calls[key] += 1
                self.phase = outer
            if name == "solve" and self.phase != "core":
                self._solve_parts(key.split(".")[0], result)
            if name == "optimise" and phase == "core":
                self._core_parts(result)
            self._highs_time(name, args, result)
            self.returned[key] = result if isinstance(result, int | float | str) else None
            return result

        setattr(module, name, timed)

    def _highs_time(self, name: str, args, result) -> None:
        """HiGHS's own time of the re-solves, wherever they ran (worker or here)."""
        if name == "_solved":  # every WS / RP result, from a worker or not
            self.seconds["figures.highs_seconds"] += args[1][0].solve_seconds
        elif name == "_evaluate_plan":
            self.seconds["figures.highs_seconds"] += result.report.solve_seconds
        elif name == "solve_program" and self.phase == "explain":
            self.seconds["explain.highs_seconds"] += result[0].solve_seconds

    def _solve_parts(self, phase: str, result) -> None:
        report = result[0]
        for part in ("compile", "handoff", "solve"):
            self.seconds[f"{phase}.{part}_seconds"] += getattr(report, f"{part}_seconds", 0.0)

    def _core_parts(self, outcome) -> None:
        """The core solve's times (HiGHS's includes the rounded relaxation) and size."""
        for part in ("compile", "handoff", "solve"):
            self.seconds[f"core.{part}_seconds"] = getattr(outcome.report, f"{part}_seconds")
        program = outcome.compiled.program
        self.core_model = {
            "columns": len(program.cost),
            "rows": len(program.row_lower),
            "nonzeros": program.matrix.nnz,
            "integers": int(program.integrality.sum()),
        }


class MemorySampler:
    """Peak RSS of this process and its children together, sampled (worker processes)."""

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s = every_s
        self.peak_mb = 0.0
        self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.wait(self.every_s):
            total = me.memory_info().rss
            children = me.children(recursive=True)
            for child in children:
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            if total / 2**20 > self.peak_mb:
                self.peak_mb, self.peak_children = total / 2**20, len(children)


def run_size(name: str) -> dict:
    t0 = time.perf_counter()
    from diversify import engine, execution, pipeline
    from diversify.cli import tune_garbage_collection
    from diversify.derive import scenario_data, scenario_tree

    imports_s = time.perf_counter() - t0
    sys.path.insert(0, str(HERE))
    from generate import make_workbook
    from profile_layer import GcTimer

    dims = SIZES[name]
    out: dict = {
        "size": name,
        **dims,
        "imports_s": imports_s,
        "commit": _commit(),
        "load_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        tmp = Path(tmp)
        book = tmp / "input.xlsx"
        t0 = time.perf_counter()
        make_workbook(book, **dims, seed=0, time_limit_s=TIME_LIMIT_S, mip_gap=MIP_GAP)
        out["generate_s"] = time.perf_counter() - t0

        sw = Stopwatch()
        for label, fn in (
            ("read", "load_raw"),
            ("validate", "parse"),
            ("derive", "scenario_data"),
            ("core", "optimise"),
            ("check", "breaches"),
            ("figures", "resilience_figures"),
            ("explain", "explain"),
            ("tabulate", "tabulate"),
            ("write", "write_plan_workbook"),
        ):
            sw.wrap(pipeline, fn, label, phase=label)
        for label, fn in (
            ("tree", "scenario_tree"),
            ("build", "build_model"),
            ("compile_all", "compile_sourcing"),
            ("solve_call", "solve"),  # the mean-value plan in the figures
            ("extract", "_outcome"),
            ("resolved", "_solved"),
            ("evaluations", "_evaluate_plan"),
            ("program", "solve_program"),
        ):
            sw.wrap(engine, fn, label)
        sw.wrap(execution, "decide", "workers")  # workers chosen for the figures' re-solves
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        with MemorySampler() as mem, GcTimer() as gct:
            tune_garbage_collection()  # as the CLI does
            run = pipeline.solve_workbook(book, tmp / "plan.xlsx")
        out["end_to_end_s"] = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        out["cpu_s"] = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        out["gc_s"] = gct.seconds
        out["peak_rss_pipeline_mb"] = _peak_rss_mb(resource.RUSAGE_SELF)
        out["peak_rss_with_workers_mb"] = mem.peak_mb
        out["stages"] = dict(sw.seconds)
        out["calls"] = dict(sw.calls)
        out["figure_workers"] = sw.returned.get("figures.workers")
        out["not_timed"] = sw.missing
        out["model"] = sw.core_model
        summary = run.results.summary
        out["status"] = summary.get("status")
        out["objective"] = summary.get("objective_usd")
        out["mip_gap"] = summary.get("mip_gap")
        problem = run.problem
        tree = scenario_tree(scenario_data(problem), problem.years, problem.settings.recourse)
        out["tree_nodes"] = len(tree.nodes)
        out["file_kb"] = {
            "input": book.stat().st_size // 1024,
            "plan": (tmp / "plan.xlsx").stat().st_size // 1024,
        }
        out |= compare_solvers(problem, tmp / "core.mps")
    out["peak_rss_mb"] = _peak_rss_mb(resource.RUSAGE_SELF)
    out["load_after"] = os.getloadavg()[0]
    return out


def compare_solvers(problem, mps: Path) -> dict:
    """The core model as MPS, solved by a fresh HiGHS and by CBC (PuLP)."""
    import pulp

    from diversify.derive import scenario_data, scenario_tree
    from diversify.model import build_model
    from diversify.solver import export_model

    scenarios = scenario_data(problem)
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, problem.settings.risk_aversion)
    t0 = time.perf_counter()
    export_model(sm.model, mps)
    out: dict = {"export_mps_s": time.perf_counter() - t0, "mps_kb": mps.stat().st_size // 1024}
    gap, limit = problem.settings.mip_gap, problem.settings.time_limit_s

    # a fresh process, so that its peak RSS is HiGHS's (plus the interpreter's) alone
    rss = mps.with_suffix(".highs.rss")
    wrapper = (GNU_TIME, "-f", "%M", "-o", str(rss)) if Path(GNU_TIME).exists() else ()
    out |= in_fresh_process(
        __file__,
        "--highs-mps",
        str(mps),
        "--gap",
        repr(gap),
        "--limit",
        repr(limit),
        prefix=wrapper,
    )
    out["peak_rss_highs_mps_mb"] = _rss_file_mb(rss)
    offset = out["highs_mps_offset"]

    t0 = time.perf_counter()
    _, prob = pulp.LpProblem.fromMPS(str(mps))
    out["cbc_read_s"] = time.perf_counter() - t0
    log = mps.with_suffix(".cbc.log")
    rss = mps.with_suffix(".cbc.rss")
    cbc = pulp.PULP_CBC_CMD(msg=False, gapRel=gap, timeLimit=limit, logPath=str(log))
    cbc.path = _measured(cbc.path, rss)
    t0 = time.perf_counter()
    status = prob.solve(cbc)
    out["cbc_pulp_wall_s"] = time.perf_counter() - t0
    out["cbc_status"] = pulp.LpStatus[status]
    out["cbc_objective"] = (pulp.value(prob.objective) or 0.0) + offset
    text = log.read_text(errors="replace") if log.exists() else ""
    wall = re.search(
        r"Total time \(CPU seconds\):\s*[\d.]+\s*\(Wallclock seconds\):\s*([\d.]+)", text
    )
    out["cbc_solve_s"] = float(wall.group(1)) if wall else None
    version = re.search(r"Version:\s*(\S+)", text)
    out["cbc_version"] = version.group(1) if version else "?"
    out["peak_rss_cbc_mb"] = _rss_file_mb(rss)
    return out


def in_fresh_process(script: str, *args: str, prefix: tuple[str, ...] = ()):
    """Run a benchmark script in a new Python process and read back what it measured:
    the script writes it as JSON to the file named by `--child-out`. `prefix` wraps the
    command (GNU time, for the child's peak RSS)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        command = [*prefix, sys.executable, script, *args, "--child-out", str(result)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # HiGHS's banner
        return json.loads(result.read_text())


def solve_mps_highs(mps: Path, gap: float, limit: float) -> dict:
    """Read an MPS file into a fresh HiGHS and solve it with the pipeline's options."""
    t0 = time.perf_counter()
    import highspy

    h = highspy.Highs()
    out = {"highs_import_s": time.perf_counter() - t0}
    h.setOptionValue("output_flag", False)
    t0 = time.perf_counter()
    h.readModel(str(mps))
    out["highs_mps_read_s"] = time.perf_counter() - t0
    for key, value in (("mip_rel_gap", gap), ("time_limit", limit), ("random_seed", 0)):
        h.setOptionValue(key, value)
    t0 = time.perf_counter()
    h.run()
    out["highs_mps_wall_s"] = time.perf_counter() - t0
    out["highs_mps_solve_s"] = h.getRunTime()
    out["highs_mps_status"] = h.modelStatusToString(h.getModelStatus())
    out["highs_mps_objective"] = h.getInfo().objective_function_value
    out["highs_mps_offset"] = h.getLp().offset_
    return out


def _rss_file_mb(path: Path) -> float | None:
    """GNU time's %M (peak RSS, kB) from its output file."""
    if not path.exists():
        return None
    return int(path.read_text().split()[-1]) / 1024


def _measured(executable: str, rss_file: Path) -> str:
    """A wrapper that runs `executable` under GNU time, which writes its peak RSS (kB).

    Resource usage of children is no use here: a child forked from this process reports
    this process's own peak.
    """
    if not Path(GNU_TIME).exists():
        return executable
    wrapper = rss_file.with_suffix(".sh")
    wrapper.write_text(f'#!/bin/sh\nexec {GNU_TIME} -f %M -o "{rss_file}" "{executable}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kB


# ---------------------------------------------------------------- the report (parent)


def machine() -> dict[str, str]:
    import pulp
    import pyomo.version

    from diversify.program import highspy  # imported there with its banner silenced

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "date": datetime.date.today().isoformat(),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024**2:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "pyomo": pyomo.version.version,
        "highs": f"{highspy.Highs().version()} (highspy)",
        "pulp": pulp.__version__,
    }


def _commit() -> str:
    """The package's git commit, and whether diversify/ has uncommitted changes."""
    try:
        git = ["git", "-C", str(HERE.parent)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "diversify"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + (" + uncommitted changes in diversify/" if dirty else "")


def _f(x, digits: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def stage_rows(r: dict) -> dict[str, float | str | None]:
    """The stages of one size, in seconds, plus the derived sums and ratios."""
    s = defaultdict(float, r["stages"])
    core_solve = s["core.solve_seconds"]
    compile_ = s["core.compile_all"] + s["core.handoff_seconds"]
    load_back = (s["core"] - s["core.tree"] - s["core.build"] - s["core.compile_all"]) - (
        s["core.handoff_seconds"] + core_solve
    )
    workers = r.get("figure_workers") or 1
    rows: dict[str, float | str | None] = {
        "import diversify (pyomo, pandas, highspy, …)": r["imports_s"],
        "read (load_raw)": s["read"],
        "validate (parse)": s["validate"],
        "derive (scenario_data + scenario_tree)": s["derive"] + s["core.tree"],
        "build (model.build_model)": s["core.build"],
        "compile (Pyomo → arrays; columns placed, cost matrix)": s["core.compile_all"],
        "hand-off (arrays → HiGHS)": s["core.handoff_seconds"],
        "**HiGHS core solve**": core_solve,
        "start, solution back + outcome": load_back,
        "check (breaches)": s["check"],
        "figures: a re-solve per scenario + mean-value (+ RP), 2 evaluations, wall": s["figures"],
        "… worker processes": str(workers),
        "… HiGHS's time in them, summed over processes": s["figures.highs_seconds"]
        + s["figures.solve_seconds"],
        "explain: LP re-solve for duals, all in": s["explain"],
        "… of which HiGHS": s["explain.highs_seconds"],
        "tabulate": s["tabulate"],
        "write (plan workbook)": s["write"],
        "**end to end (solve_workbook, imports excluded)**": r["end_to_end_s"],
        "CPU time of the main process": r.get("cpu_s"),
        "cyclic GC pauses in the main process": r.get("gc_s"),
    }
    layer = s["read"] + s["validate"] + s["core.build"] + compile_ + s["write"]
    rows["**layer** = read+validate+build+compile+hand-off+write"] = layer
    rows["**layer / HiGHS core solve**"] = f"{layer / core_solve:.0%}" if core_solve else "–"
    rows["end to end / HiGHS core solve"] = (
        f"{r['end_to_end_s'] / core_solve:.1f}×" if core_solve else "–"
    )
    return rows


def render(results: list[dict], info: dict[str, str]) -> str:
    names = [r["size"] for r in results]
    head = "| | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names) + "\n"
    lines = [BEGIN, "", "## Measured", ""]
    lines.append(
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['ram']} RAM, {info['os']}. "
        f"Python {info['python']}, Pyomo {info['pyomo']}, HiGHS {info['highs']}, "
        f"PuLP {info['pulp']} with CBC {results[0].get('cbc_version', '?')}. "
        f"Date {info['date']}, diversify at commit "
        f"{', '.join(sorted({r.get('commit', '?') for r in results}))}. "
        f"Settings: mip_gap {MIP_GAP:g}, time_limit_s {TIME_LIMIT_S:g}, "
        "HiGHS default threads, seed 0."
    )
    lines += ["", "### Instances", "", head.rstrip("\n")]

    def row(label, values):
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row(
        "suppliers × materials × years × scenarios",
        [f"{r['suppliers']}×{r['materials']}×{r['years']}×{r['scenarios']}" for r in results],
    )
    row("tree nodes", [str(r["tree_nodes"]) for r in results])
    for key in ("columns", "integers", "rows", "nonzeros"):
        row(f"core model {key}", [f"{r['model'].get(key, 0):,}" for r in results])
    row(
        "input / plan workbook (kB)",
        [f"{r['file_kb']['input']:,} / {r['file_kb']['plan']:,}" for r in results],
    )
    row("status, MIP gap", [f"{r['status']}, {_f(r['mip_gap'], 6)}" for r in results])

    lines += [
        "",
        "### Stages (seconds, one run of `pipeline.solve_workbook`)",
        "",
        head.rstrip("\n"),
    ]
    table = [stage_rows(r) for r in results]
    for label in table[0]:
        row(label, [_f(t.get(label), 3) for t in table])
    lines.append("")
    lines.append(
        "Load average (1 min) before / after each size: "
        + ", ".join(f"{r['size']} {r['load_before']:.1f} / {r['load_after']:.1f}" for r in results)
        + ". The machine is shared: timings of one run carry noise of ±20 %."
    )

    lines += ["", "### The same core model, other ways (seconds)", "", head.rstrip("\n")]
    row(
        "HiGHS in memory (Pyomo → passModel): solve",
        [_f(r["stages"]["core.solve_seconds"], 3) for r in results],
    )
    row("export MPS (compile + write)", [_f(r["export_mps_s"], 3) for r in results])
    row("HiGHS from MPS: readModel", [_f(r["highs_mps_read_s"], 3) for r in results])
    row("HiGHS from MPS: solve", [_f(r["highs_mps_solve_s"], 3) for r in results])
    row("CBC via PuLP: fromMPS", [_f(r["cbc_read_s"], 3) for r in results])
    row("CBC via PuLP: solve, all in (wall)", [_f(r["cbc_pulp_wall_s"], 3) for r in results])
    row("CBC's own wall time (its log)", [_f(r["cbc_solve_s"], 3) for r in results])
    row(
        "CBC / HiGHS core solve",
        [
            _f(r["cbc_solve_s"] / r["stages"]["core.solve_seconds"], 1) if r["cbc_solve_s"] else "–"
            for r in results
        ],
    )
    row("objective, pipeline (USD)", [_f(r["objective"]) for r in results])
    row(
        "objective, HiGHS from MPS",
        [f"{_f(r['highs_mps_objective'])} ({r['highs_mps_status']})" for r in results],
    )
    row("objective, CBC", [f"{_f(r['cbc_objective'])} ({r['cbc_status']})" for r in results])
    row("max relative difference", [f"{_rel_diff(r):.1e}" for r in results])

    lines += ["", "### Memory (peak RSS, MB)", "", head.rstrip("\n")]
    row("Python process after solve_workbook", [_f(r["peak_rss_pipeline_mb"], 0) for r in results])
    row(
        "… with its figure workers, together (sampled)",
        [_f(r.get("peak_rss_with_workers_mb"), 0) for r in results],
    )
    row("Python process, whole size run", [_f(r["peak_rss_mb"], 0) for r in results])
    row(
        "HiGHS reading the MPS (fresh Python + highspy)",
        [_f(r["peak_rss_highs_mps_mb"], 0) for r in results],
    )
    row(
        "CBC process (PuLP's, reading PuLP's own MPS)",
        [_f(r["peak_rss_cbc_mb"], 0) for r in results],
    )
    lines += ["", END]
    return "\n".join(lines)


def _rel_diff(r: dict) -> float:
    values = [r["objective"], r["highs_mps_objective"], r["cbc_objective"]]
    return (max(values) - min(values)) / max(1.0, abs(r["objective"]))


HEADER = (
    "# Benchmarks: the model layer against HiGHS\n\n"
    "The measured sections are regenerated by the scripts named in their markers; "
    "text outside them is kept.\n\n"
)


def output_options(ap: argparse.ArgumentParser) -> None:
    """--out, --json and --render: where a benchmark's section goes, its raw figures."""
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    ap.add_argument("--json", type=Path, help="also write the raw measurements here")
    ap.add_argument("--render", type=Path, help="only render these raw measurements")


def measured_or_rendered(a: argparse.Namespace, measure, render, begin: str, end: str) -> int:
    """measure() (or the raw figures of --render), kept as --json says, rendered into
    the section between `begin` and `end` of --out and printed."""
    r = json.loads(a.render.read_text()) if a.render else measure()
    if a.json:
        a.json.write_text(json.dumps(r, indent=1))
    text = render(r)
    replace_section(a.out, begin, end, text)
    print(text)
    return 0


def replace_section(path: Path, begin: str, end: str, text: str) -> None:
    """Put `text` (which starts with `begin` and ends with `end`) into the file."""
    old = path.read_text() if path.exists() else HEADER
    if begin in old and end in old:
        before, rest = old.split(begin, 1)
        new = before + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default="small,medium,large", help=f"comma-separated, from {', '.join(SIZES)}"
    )
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--json", type=Path, help="also write the raw measurements here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--highs-mps", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--gap", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=float, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.highs_mps:
        a.child_out.write_text(json.dumps(solve_mps_highs(a.highs_mps, a.gap, a.limit)))
        return 0
    if a.child:
        a.child_out.write_text(json.dumps(run_size(a.child), indent=1))
        return 0

    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        ap.error(f"unknown size(s): {', '.join(unknown)}")
    results = []
    for size in sizes:
        print(f"{size}: {SIZES[size]} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results.append(in_fresh_process(__file__, "--child", size))
        print(f"{size}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if a.json:
        a.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    replace_section(a.out, BEGIN, END, render(results, machine()))
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
