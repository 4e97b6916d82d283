"""The whole way, in one place: read → validate → derive → build and solve →
re-solve for the figures → check → tabulate → write.

Every command of the CLI is one function here, callable from Python too.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import highspy

from diversify import __version__
from diversify.checks import breaches
from diversify.data import Problem
from diversify.derive import scenario_data
from diversify.engine import (
    evaluate,
    explain,
    export_core_model,
    optimise,
    resilience_figures,
    settings_options,
)
from diversify.errors import DiversifyError, InputError, Issue, OutputExistsError
from diversify.execution import Executor
from diversify.planbook import read_plan_sheet, split_plan_workbook, write_plan_workbook
from diversify.reader import RawWorkbook, load_raw, parse
from diversify.results import Results, tabulate

Progress = Callable[[str], None]


def _quiet(_label: str) -> None:
    pass


@dataclass
class Run:
    """What a command produced: the results and where they went."""

    problem: Problem
    results: Results
    output: Path | None
    seconds: float


def read_input(path: Path) -> tuple[RawWorkbook, Problem]:
    """Guard the file, read it, validate it (InputError with every issue)."""
    raw = load_raw(path)
    return raw, parse(raw)


def check_output(path: Path | None, force: bool, *inputs: Path) -> None:
    """Refuse to overwrite an existing file without --force, and an input ever."""
    if path is None or not Path(path).exists():
        return
    if any(Path(path).resolve() == Path(source).resolve() for source in inputs):
        raise OutputExistsError(f"{path} is an input of this command: write the output elsewhere")
    if not force:
        raise OutputExistsError(f"{path} exists: pass --force to overwrite it")


def solve_workbook(
    input_path: Path,
    output: Path | None,
    force: bool = False,
    verbose: bool = False,
    progress: Progress = _quiet,
    with_figures: bool = True,
    export_model: Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Run:
    """`diversify solve`: the optimal plan and every figure of SPEC §4.6.

    `workers` and `scheduler` say where the figures' re-solves run (diversify.execution;
    neither: decided by measurement); the figures do not depend on them."""
    start = time.perf_counter()
    check_output(output, force, input_path)
    with Executor(workers, scheduler, verbose) as executor:  # a --scheduler is tried first
        progress("reading the workbook")
        raw, problem = read_input(input_path)
        scenarios = scenario_data(problem)
        options = settings_options(problem, verbose)
        if export_model is not None:
            progress("exporting the model")
            export_core_model(problem, scenarios, model_path(export_model, input_path))
        progress("solving the plan")
        core = optimise(problem, scenarios, problem.settings.risk_aversion, options)
        broken = breaches(problem, core.plan, core.ordered)
        if broken:  # the model and the checker disagree: a bug, never a planner's fault
            raise DiversifyError("internal check failed, the plan breaks: " + "; ".join(broken))
        figures = (
            resilience_figures(problem, core, options, progress, executor) if with_figures else None
        )
    progress("explaining what the rules cost")
    why = explain(problem, core, options) if with_figures else None
    results = tabulate(problem, core, figures, explain=why)
    if output is not None:
        progress("writing the plan workbook")
        write_plan_workbook(
            output,
            problem,
            results,
            raw.sheets,
            run_info(input_path, "solve", start, problem),
            force,
        )
    return Run(problem, results, output, time.perf_counter() - start)


def evaluate_workbook(
    plan_path: Path,
    output: Path | None,
    force: bool = False,
    verbose: bool = False,
    progress: Progress = _quiet,
) -> Run:
    """`diversify evaluate`: re-cost a (possibly edited) plan under every scenario."""
    start = time.perf_counter()
    check_output(output, force, plan_path)
    progress("reading the plan workbook")
    raw = load_raw(plan_path)
    inputs, plan_sheet = split_plan_workbook(raw)
    if plan_sheet is None or not inputs:
        missing = "Plan" if plan_sheet is None else "Input Settings, Input Offers, ..."
        raise InputError(
            [
                Issue(
                    None,
                    None,
                    None,
                    f"{plan_path} is not a plan workbook written by diversify: no sheet {missing}",
                )
            ]
        )
    problem = parse(input_copy(raw, inputs))
    plan = read_plan_sheet(
        raw.sheets[plan_sheet], problem, raw.uncached_formulas.get(plan_sheet, set())
    )
    progress("costing the plan under every scenario")
    outcome = evaluate(
        problem,
        plan,
        scenario_data(problem),
        problem.settings.risk_aversion,
        settings_options(problem, verbose),
    )
    results = tabulate(problem, outcome, None, breaches(problem, plan))
    if output is not None:
        progress("writing the evaluated workbook")
        write_plan_workbook(
            output, problem, results, inputs, run_info(plan_path, "evaluate", start, problem), force
        )
    return Run(problem, results, output, time.perf_counter() - start)


def model_path(target: Path, input_path: Path) -> Path:
    """--export-model: a file (.lp or .mps), or a folder to hold <input name>.lp."""
    target = Path(target)
    if target.suffix.lower() in (".lp", ".mps"):
        return target
    return target / f"{Path(input_path).stem}.lp"


def input_copy(raw: RawWorkbook, inputs: dict[str, list[list]]) -> RawWorkbook:
    """The input sheets stored in a plan workbook, under their own names."""
    prefix = "Input "
    uncached = {
        name[len(prefix) :]: cells
        for name, cells in raw.uncached_formulas.items()
        if name.startswith(prefix)
    }
    return RawWorkbook(sheets=inputs, uncached_formulas=uncached)


def run_info(path: Path, command: str, start: float, problem: Problem) -> dict[str, object]:
    """The run's metadata for the `Run` sheet."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {
        "tool": f"diversify {__version__}",
        "command": command,
        "input_file": Path(path).name,
        "input_sha256": digest,
        "solver": f"HiGHS {highspy.Highs().version()} via Pyomo",
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "run_seconds": round(time.perf_counter() - start, 3),
    } | {f"setting {k}": v for k, v in asdict(problem.settings).items()}


def frontier_workbook(
    input_path: Path,
    output: Path | None,
    target: str = "China",
    points: int = 6,
    force: bool = False,
    verbose: bool = False,
    progress: Progress = _quiet,
    workers: int | None = None,
    scheduler: str | None = None,
):
    """`diversify frontier`: cost against a cap on dependence on TARGET (any link).

    The points are solved where `workers` and `scheduler` say (see `solve_workbook`)."""
    from diversify.frontier import trace_frontier, write_frontier_workbook

    start = time.perf_counter()
    check_output(output, force, input_path)
    with Executor(workers, scheduler, verbose) as executor:
        progress("reading the workbook")
        _, problem = read_input(input_path)
        options = settings_options(problem, verbose)
        frontier = trace_frontier(problem, target, points, options, progress, executor)
    if output is not None:
        progress("writing the frontier workbook")
        info = run_info(input_path, "frontier", start, problem)
        info |= {"target": target, "points": points}
        write_frontier_workbook(output, frontier, info, force)
    return frontier


def compare_workbooks(
    plan_paths: list[Path],
    output: Path | None,
    force: bool = False,
    target: str | None = None,
    progress: Progress = _quiet,
):
    """`diversify compare`: plan workbooks side by side (the first is the reference)."""
    from diversify.compare import (
        check_comparable,
        compare,
        plan_names,
        read_plan_book,
        write_comparison,
    )

    if len(plan_paths) < 2:
        raise InputError([Issue(None, None, None, "compare needs two or more plan workbooks")])
    check_output(output, force, *plan_paths)
    books = []
    for path, name in zip(plan_paths, plan_names(plan_paths), strict=True):
        progress(f"reading {path}")
        books.append(read_plan_book(path, name))
    check_comparable(books)
    comparison = compare(books, target)
    if output is not None:
        progress("writing the comparison workbook")
        write_comparison(output, comparison, force)
    return comparison
