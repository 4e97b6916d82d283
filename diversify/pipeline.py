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

from diversify import __version__
from diversify.checks import breaches
from diversify.data import Problem
from diversify.derive import scenario_data
from diversify.errors import DiversifyError, InputError, Issue, OutputExistsError, UsageError
from diversify.excel_out import check_workbook_name
from diversify.execution import Executor
from diversify.files import check_writable
from diversify.planbook import plan_sheet, read_plan, split_plan_workbook, write_plan_workbook
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
    try:
        return raw, parse(raw)
    except InputError as exc:
        inputs, plan = split_plan_workbook(raw)
        if plan is None or not inputs or "settings" in {s.strip().lower() for s in raw.sheets}:
            raise
        raise InputError([_a_plan_not_an_input(path, raw)]) from exc


def _a_plan_not_an_input(path: Path, raw: RawWorkbook) -> Issue:
    """A plan workbook given where an input belongs: one issue, not one per sheet."""
    run = {
        str(row[0].value).strip(): row[1].value
        for name, rows in raw.sheets.items()
        if name.strip().lower() == "run"
        for row in rows
        if len(row) >= 2 and row[0].value is not None
    }
    source = run.get("input_file")
    origin = f" ({source}, as its Run sheet says)" if source else ""
    return Issue(
        None,
        None,
        None,
        f"{path} is a plan workbook written by diversify, not an input workbook: give the "
        f"input workbook it was solved from{origin}, or re-cost its plan with "
        f"`diversify evaluate {path} -o ...`",
    )


def check_output(path: Path | None, force: bool, *inputs: Path, workbook: bool = True) -> None:
    """Refuse to overwrite an existing file without --force, an input ever, and (with
    `workbook`; a model file is .lp or .mps) a workbook not named .xlsx. The path is
    checked as the file system will take it: `new/../in.xlsx` is in.xlsx even before
    the writer makes `new` (unresolved, the input was overwritten)."""
    if path is None:
        return
    if workbook:
        check_workbook_name(path)
    target = Path(path).resolve()
    if any(target == Path(source).resolve() for source in inputs):
        raise OutputExistsError(f"{path} is an input of this command: write the output elsewhere")
    if target.exists() and not force:
        raise OutputExistsError(f"{path} exists: pass --force to overwrite it")
    check_writable(Path(path))


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
    from diversify.engine import (  # Pyomo and HiGHS: for the commands that solve alone
        explain,
        export_core_model,
        resilience_figures,
        settings_options,
        start_optimise,
        substitution_savings,
    )

    start = time.perf_counter()
    check_output(output, force, input_path)
    model_file = None if export_model is None else model_path(export_model, input_path)
    check_output(model_file, force, input_path, workbook=False)  # (-o is .xlsx, so not it)
    with Executor(workers, scheduler, verbose) as executor:  # a --scheduler is tried first
        progress("reading the workbook")
        raw, problem = read_input(input_path)
        scenarios = scenario_data(problem)
        options = settings_options(problem, verbose)
        if model_file is not None:
            progress("exporting the model")
            export_core_model(problem, scenarios, model_file)
        progress("solving the plan")
        if with_figures:  # --workers K > 1: the cluster starts while the model builds
            executor.expect(0.0)
        lam = problem.settings.risk_aversion
        beside = executor if with_figures else None  # no figures: the core solve runs here
        solving = start_optimise(problem, scenarios, lam, options, beside)
        figures = (  # on a cluster, beside the core solve
            resilience_figures(problem, solving, options, progress, executor)
            if with_figures
            else None
        )
        core = solving.outcome()
        broken = breaches(problem, core.plan, core.ordered, core.starts)
        if broken:  # the model and the checker disagree: a bug, never a planner's fault
            raise DiversifyError("internal check failed, the plan breaks: " + "; ".join(broken))
    progress("explaining what the rules cost")
    why = explain(problem, core, options) if with_figures else None
    savings = substitution_savings(problem, core, scenarios, options)
    results = tabulate(problem, core, figures, explain=why, savings=savings)
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
    from diversify.engine import evaluate, settings_options, substitution_savings

    start = time.perf_counter()
    check_output(output, force, plan_path)
    progress("reading the plan workbook")
    raw = load_raw(plan_path, plan_sheet)  # the plan and its inputs: no results
    inputs, plan_name = split_plan_workbook(raw)
    if plan_name is None or not inputs:
        missing = "Plan" if plan_name is None else "Input Settings, Input Offers, ..."
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
    plan, starts = read_plan(raw, problem)
    progress("costing the plan under every scenario")
    scenarios, options = scenario_data(problem), settings_options(problem, verbose)
    outcome = evaluate(problem, plan, scenarios, problem.settings.risk_aversion, options, starts)
    savings = substitution_savings(problem, outcome, scenarios, options)
    broken = breaches(problem, plan, starts=starts)
    results = tabulate(problem, outcome, None, broken, savings=savings)
    if output is not None:
        progress("writing the evaluated workbook")
        write_plan_workbook(
            output, problem, results, inputs, run_info(plan_path, "evaluate", start, problem), force
        )
    return Run(problem, results, output, time.perf_counter() - start)


@dataclass
class SampledScenarios:
    """What `diversify scenarios` wrote."""

    samples: int
    seed: int
    scenarios: int
    normal_probability: float
    output: Path | None
    warnings: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ok",
            "samples": self.samples,
            "seed": self.seed,
            "scenarios": self.scenarios,
            "normal_probability": self.normal_probability,
            "output": None if self.output is None else str(self.output),
            "warnings": self.warnings,
        }


def scenarios_workbook(
    input_path: Path,
    output: Path | None,
    samples: int = 1000,
    seed: int = 1,
    force: bool = False,
    progress: Progress = _quiet,
) -> SampledScenarios:
    """`diversify scenarios`: a copy of INPUT whose Scenarios and Disruptions hold N
    samples of its Risks (SPEC §7); every other sheet is kept as it is."""
    from openpyxl import load_workbook

    from diversify.excel_out import save_atomic
    from diversify.risks import disruption_rows, draw, scenario_rows

    check_output(output, force, input_path)
    progress("reading the workbook")
    raw, problem = read_input(input_path)
    progress(f"drawing {samples:,} samples")
    drawn = draw(problem, samples, seed)
    warnings = list(problem.warnings)
    if output is not None:
        progress("writing the workbook")
        bulk = {"Scenarios": scenario_rows(drawn), "Disruptions": disruption_rows(drawn)}
        if (share := _input_share(bulk)) < 1:
            raise _too_many_samples(problem, bulk, samples, seed, share)
        with open(input_path, "rb") as fh:  # by content, whatever its name ends in
            wb = load_workbook(fh)
        for sheet in bulk:
            old = [n for n in wb.sheetnames if n.strip().lower() == sheet.lower()]
            position = wb.sheetnames.index(old[0]) if old else len(wb.sheetnames)
            if old:
                gone = _data_rows(raw.sheets[old[0]])
                warnings.append(f"{sheet}: the {gone} row(s) of the input were replaced")
                wb.remove(wb[old[0]])
            wb.create_sheet(sheet, position)

        def readable(tmp: Path) -> None:  # as `solve` will check it (bytes, XML elements)
            from diversify.safety import inspect_workbook

            try:
                inspect_workbook(tmp)
            except InputError as exc:
                said = exc.issues[0].message.replace(str(tmp), str(output))
                raise _too_many_samples(problem, bulk, samples, seed, 1.0, said) from exc

        save_atomic(wb, output, force, bulk, verify=readable)
    return SampledScenarios(
        samples, seed, len(drawn.names), drawn.probabilities[0], output, warnings
    )


def _input_share(bulk: dict[str, list[list]]) -> float:
    """How many times over the sampled sheets fit the rows and cells a sheet of an input
    workbook may hold (`safety`'s limits; below 1: too many)."""
    from diversify.safety import MAX_CELLS, MAX_ROWS

    rows = max(map(len, bulk.values()))  # the header's included
    cells = max(sum(map(len, table)) for table in bulk.values())
    return min(MAX_ROWS / max(1, rows), MAX_CELLS / max(1, cells))


def _too_many_samples(
    problem: Problem,
    bulk: dict[str, list[list]],
    samples: int,
    seed: int,
    share: float,
    refused: str | None = None,
) -> UsageError:
    """`scenarios` writes an input workbook (SPEC §7), never one the input guard refuses
    and `solve` could not read (100,000 samples of large: 1.7 million Disruptions rows,
    377 MiB): the error. Past the rows and cells a sheet may hold (`share` < 1) it says
    how many samples fit: fewer samples merge less, so the count is found by drawing
    again (a few rounds), not scaled from this draw. `refused`: what the guard said of
    the written file instead (its bytes, its XML elements)."""
    from diversify.risks import disruption_rows, draw, scenario_rows
    from diversify.safety import MAX_CELLS, MAX_ROWS

    counts = " and ".join(f"{len(table) - 1:,} {name} rows" for name, table in bulk.items())
    if refused is not None:
        return UsageError(
            f"{samples:,} samples make {counts}, a workbook the input guard refuses "
            f"({refused}), so `solve` could not read it. Use fewer samples, or test a plan "
            "on this many with `diversify stress`, which needs no workbook of them"
        )
    fit = samples
    for _ in range(10):
        fit = max(1, int(fit * min(share, 1.0) * 0.95))
        drawn = draw(problem, fit, seed)
        share = _input_share({"s": scenario_rows(drawn), "d": disruption_rows(drawn)})
        if share >= 1 or fit == 1:
            break
    return UsageError(
        f"{samples:,} samples make {counts}: more than an input workbook may hold "
        f"({MAX_ROWS:,} rows and {MAX_CELLS:,} cells a sheet), so `solve` could not read "
        f"it. Use fewer samples ({fit:,} fit), or test a plan on this many with `diversify "
        "stress`, which needs no workbook of them"
    )


def stress_workbook(
    plan_path: Path,
    output: Path | None,
    samples: int = 1000,
    seed: int = 2,
    force: bool = False,
    progress: Progress = _quiet,
    workers: int | None = None,
    scheduler: str | None = None,
    verbose: bool = False,
) -> dict[str, object]:
    """`diversify stress`: the plan of PLAN costed on N samples of its input's Risks
    (SPEC §8); returns the JSON summary. The stress test's tasks (the policy, the
    hindsight LPs) run on an `Executor` (here, local workers or a cluster: the figures
    never depend on it)."""
    import numpy as np
    import pandas as pd

    from diversify.compare import read_plan_book
    from diversify.excel_out import Columns
    from diversify.risks import draw
    from diversify.stress import figures, stress_costs, work_seconds
    from diversify.stressbook import EVENTS_HEADER, SAMPLES_HEADER, histogram, write_stress_workbook

    start = time.perf_counter()
    check_output(output, force, plan_path)
    with Executor(workers, scheduler, verbose) as executor:
        executor.expect(0.0)  # --workers K > 1: the cluster starts while the plan is read
        progress("reading the plan workbook")
        book = read_plan_book(plan_path, Path(plan_path).stem, tables=False)
        problem = book.problem
        progress(f"drawing {samples:,} samples")
        drawn = draw(problem, samples, seed)
        executor.expect(work_seconds(book.plan, problem, len(drawn.distinct)))
        clock, phase = [time.perf_counter()], [""]

        def step(label: str) -> None:  # "... k/N": the time left from this round's pace so far
            head, _, count = label.rpartition(" ")
            done, _, total = count.partition("/")
            if head != phase[0]:
                phase[0], clock[0] = head, time.perf_counter()
            if done.isdigit() and total.isdigit() and int(done) > 1:
                spent = time.perf_counter() - clock[0]
                left = spent / (int(done) - 1) * (int(total) - int(done) + 1)
                label += f", about {left:,.0f} s left"
            progress(label)

        texts: list[str] = []

        def describe() -> None:  # the workbook's texts, here while the workers cost samples
            if output is not None and not texts:
                texts.extend(drawn.describe_many(drawn.distinct))

        progress(f"costing the plan in {len(drawn.distinct):,} distinct samples")
        costs = stress_costs(
            problem,
            book.plan,
            drawn,
            lambda fn, payloads, shared, label: executor.map(
                fn, payloads, shared=shared, progress=step, label=label, meanwhile=describe
            ),
            book.starts,
        )
    alpha = problem.settings.cvar_alpha
    in_sample = book.summary.get("expected_cost_usd")
    summary: dict[str, object] = {
        "status": "ok",
        "samples": samples,
        "seed": seed,
        "hindsight": figures(costs.hindsight_cost, costs.hindsight_short, costs.materials, alpha),
        "policy": figures(costs.policy_cost, costs.policy_short, costs.materials, alpha),
        "in_sample_expected_cost_usd": None if in_sample is None else float(in_sample),
        "output": None if output is None else str(output),
    }
    if output is not None:
        progress("writing the stress workbook")
        describe()
        events = [texts[k] for k in drawn.scenario_of.tolist()]
        h_short = costs.hindsight_short.sum(axis=1)
        p_short = costs.policy_short.sum(axis=1)
        sample_rows = Columns(
            SAMPLES_HEADER,
            [
                np.arange(1, samples + 1),
                events,
                costs.hindsight_cost,
                costs.policy_cost,
                h_short,
                p_short,
            ],
        )
        names = np.array([r.name for r in drawn.risks], dtype=object)
        event_rows = Columns(  # 1.6 million rows for large: no tuple per row
            EVENTS_HEADER,
            [drawn.event_sample + 1, names[drawn.event_risk], drawn.event_first, drawn.event_last],
        )
        worst = np.lexsort((np.arange(samples), -costs.policy_cost))[:10]
        top = pd.DataFrame(
            {
                "sample": worst + 1,
                "events": [events[i] or "no event" for i in worst],
                "policy_cost_usd": costs.policy_cost[worst],
                "hindsight_cost_usd": costs.hindsight_cost[worst],
                "policy_shortfall_t": p_short[worst],
            }
        )
        info = run_info(plan_path, "stress", start, problem) | {"samples": samples, "seed": seed}
        write_stress_workbook(
            output,
            summary,
            sample_rows,
            event_rows,
            top,
            histogram(costs.hindsight_cost, costs.policy_cost),
            info,
            force,
        )
    return summary


def _data_rows(rows: list[list]) -> int:
    """Rows with a value below the header (the first row with one)."""
    filled = [any(c.value is not None and str(c.value).strip() for c in r) for r in rows]
    return max(sum(filled) - 1, 0)


def model_path(target: Path, input_path: Path) -> Path:
    """--export-model: a file (.lp or .mps), or a folder to hold <input name>.lp."""
    target = Path(target)
    if target.suffix.lower() in (".lp", ".mps"):
        return target
    if target.exists() and not target.is_dir():
        raise UsageError(
            f"--export-model {target} is a file but no .lp or .mps: name a model file "
            "(models/mine.lp, models/mine.mps) or a folder (models/)"
        )
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
        "solver": "none: the stress test's recoveries are worked out in closed form"
        if command == "stress"
        else f"HiGHS {_highs_version()} via Pyomo",
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "run_seconds": round(time.perf_counter() - start, 3),
    } | {f"setting {k}": v for k, v in asdict(problem.settings).items()}


def _highs_version() -> str:
    import highspy

    return highspy.Highs().version()


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
    from diversify.engine import settings_options
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
