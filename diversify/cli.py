"""Command line: thin commands over `diversify.pipeline`.

Each command parses its options, calls the library and turns its exceptions into a
message on stderr and an exit code (SPEC §5): 0 plan written, 2 bad input or usage,
3 no feasible plan, 1 anything unexpected (`--debug` shows the traceback).
"""

from __future__ import annotations

import functools
import gc
import json
import math
import sys
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import click

from diversify import __version__
from diversify.errors import DiversifyError, InfeasibleError, InputError

DEFAULT_DIR = Path("outputs")


def _clean(value):
    """JSON without NaN or infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def emit_json(obj: dict) -> None:
    click.echo(json.dumps(_clean(obj), ensure_ascii=False))


def failure_json(
    command: str, status: str, errors: list | None = None, message: str | None = None
) -> dict:
    out = {
        "status": status,
        "objective_usd": None,
        "expected_cost_usd": None,
        "cvar_usd": None,
        "mip_gap": None,
        "solve_seconds": None,
        "scenario_costs_usd": None,
        "substitutions": None,
    }
    if command == "solve":
        out |= {
            k: None
            for k in ("evpi_usd", "vss_usd", "price_of_resilience_usd", "value_of_resilience_usd")
        }
    if command == "evaluate":
        out["breaches"] = None
    if errors is not None:
        out["errors"] = errors
    if message:
        out["message"] = message
    out["warnings"] = []
    return out


def reported(command: str):
    """Run a command; map the library's exceptions to messages and exit codes."""

    def wrap(fn: Callable):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            as_json = kwargs.get("as_json", False)
            debug = kwargs.pop("debug", False)
            try:
                return fn(*args, **kwargs)
            except InputError as exc:
                if debug:
                    traceback.print_exc()
                click.echo(f"{len(exc.issues)} input error(s):", err=True)
                for issue in exc.issues:
                    click.echo(f"  {issue}", err=True)
                if as_json:
                    emit_json(
                        failure_json(
                            command, "input_error", errors=[i.as_dict() for i in exc.issues]
                        )
                    )
                sys.exit(2)
            except InfeasibleError as exc:
                if debug:
                    traceback.print_exc()
                click.echo(f"No feasible plan: {exc}", err=True)
                if as_json:
                    emit_json(failure_json(command, exc.status, message=str(exc)))
                sys.exit(3)
            except DiversifyError as exc:
                if debug:
                    traceback.print_exc()
                click.echo(f"Error: {exc}", err=True)
                if as_json:
                    status = "input_error" if exc.exit_code == 2 else "error"
                    emit_json(
                        failure_json(
                            command,
                            status,
                            errors=[
                                {"sheet": None, "row": None, "column": None, "message": str(exc)}
                            ]
                            if exc.exit_code == 2
                            else None,
                            message=str(exc),
                        )
                    )
                sys.exit(exc.exit_code)
            except KeyboardInterrupt:
                click.echo("Interrupted: nothing was written.", err=True)
                sys.exit(130)
            except Exception as exc:  # noqa: BLE001 - the last line of defence
                if debug:
                    traceback.print_exc()
                else:
                    click.echo(
                        f"Unexpected error: {type(exc).__name__}: {exc}\n"
                        "Run again with --debug for the traceback.",
                        err=True,
                    )
                if as_json:
                    emit_json(failure_json(command, "error", message=str(exc)))
                sys.exit(1)

        return inner

    return wrap


def debug_option(fn):
    return click.option("--debug", is_flag=True, help="Show the full traceback on errors.")(fn)


@contextmanager
def progress_display(quiet: bool):
    """A spinner on stderr naming what is being solved; silent when not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda _label: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("starting") as status:
        yield lambda label: status.update(f"[bold]{label}")


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diversify")
def main() -> None:
    """diversify: least-cost, resilient rare-earth sourcing plans from an Excel workbook.

    \b
    The workflow:
      diversify init inputs/mine.xlsx          # a documented sample to start from
      diversify validate inputs/mine.xlsx      # every input problem at once
      diversify solve inputs/mine.xlsx -o outputs/plan.xlsx
      diversify evaluate outputs/plan.xlsx -o outputs/plan-edited.xlsx
    """
    tune_garbage_collection()


def tune_garbage_collection() -> None:
    """Pyomo builds millions of small objects: collect cycles less often. Saves ~15 % of
    a full solve (large benchmark: 45 s -> 37 s) and halves model building, for ~20 %
    more peak memory. The benchmarks call it too, to measure what `diversify` does."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@debug_option
@reported("init")
def init(path: Path, force: bool) -> None:
    """Write a ready sample workbook to PATH (documented, with sourced figures).

    \b
    Example:
      diversify init inputs/my_sourcing.xlsx
    """
    from diversify.excel_out import save_atomic
    from diversify.pipeline import check_output
    from diversify.sample import build_workbook

    check_output(path, force)
    save_atomic(build_workbook(), path, force)
    click.echo(f"Sample workbook written to {path}", err=True)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line.")
@debug_option
@reported("validate")
def validate(input_path: Path, as_json: bool) -> None:
    """List every problem in the input workbook INPUT; exit 0 when there is none.

    \b
    Example:
      diversify validate inputs/rare_earths_sample.xlsx
    """
    from diversify.pipeline import read_input

    _, problem = read_input(input_path)
    _warn(problem.warnings)
    click.echo(
        f"{input_path}: no input errors ({len(problem.suppliers)} suppliers, "
        f"{len(problem.offers)} offers, {len(problem.materials)} materials, "
        f"{len(problem.scenarios)} scenarios, {problem.years[0]}-{problem.years[-1]})",
        err=True,
    )
    if as_json:
        emit_json({"status": "valid", "errors": [], "warnings": problem.warnings})


FORCE_OPTION = click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No progress display.")
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary as the last line of stdout."
)


def _output_options(fn):
    """--force, --quiet and --json, in this order in --help."""
    return FORCE_OPTION(QUIET_OPTION(JSON_OPTION(fn)))


def _common_run_options(fn):
    fn = QUIET_OPTION(fn)
    fn = click.option(
        "--verbose",
        "-v",
        is_flag=True,
        help="Stream HiGHS's log to the terminal; name where the parallel work runs and "
        "the Dask dashboard's address.",
    )(fn)
    return JSON_OPTION(FORCE_OPTION(fn))


def _parallel_options(fn):
    """--workers and --scheduler: where the parallel work runs (diversify.execution)."""
    fn = click.option(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Run the parallel work on a running Dask cluster (e.g. tcp://10.0.0.5:8786) "
        "whose workers have diversify installed.",
    )(fn)
    fn = click.option(
        "--workers",
        type=click.IntRange(1, 256),
        default=None,
        help="Where the parallel work runs: 1 in this process, K > 1 in K local worker "
        "processes. Default: decided by measurement (local workers, one per core, once "
        "the work repays their start-up). The figures never depend on it.",
    )(fn)
    return fn


SUMMARY_LINES = (
    ("objective_usd", "objective (expected + λ·CVaR)"),
    ("expected_cost_usd", "expected cost"),
    ("cvar_usd", "CVaR of cost"),
    ("first_scenario_cost_usd", "cost in the normal world"),
    ("price_of_resilience_usd", "price of resilience"),
    ("value_of_resilience_usd", "value of resilience"),
    ("vss_usd", "VSS (value of the stochastic plan)"),
    ("evpi_usd", "EVPI (value of perfect foresight)"),
)


def _finish(run, command: str, as_json: bool) -> None:
    from diversify.results import json_summary

    s = run.results.summary
    _warn(run.results.warnings)
    for b in run.results.breaches:
        click.echo(f"breach: {b}", err=True)
    gap = s["mip_gap"]
    status = s["status"] + (f" (MIP gap {gap:.4%})" if gap is not None else "")
    if s["status"] == "time_limit":
        status += "  <- stopped at the time limit: the plan may not be the best"
    lines = [
        f"{command}: {status}, {run.seconds:.1f} s" + (f" -> {run.output}" if run.output else "")
    ]
    for key, label in SUMMARY_LINES:
        value = s.get(key)
        if value is not None:
            lines.append(f"  {label:<34}{value:>20,.0f} USD")
    for row in run.results.substitutions.itertuples(index=False):
        if row.start_year is not None:
            saving = "" if row.saving_usd is None else f", saves {row.saving_usd:,.0f} USD"
            lines.append(f"  option {row.option} from {row.start_year}{saving}")
    if run.results.breaches:
        lines.append(f"  {len(run.results.breaches)} rule(s) broken: see the Breaches sheet")
    click.echo("\n".join(lines), err=True)
    if as_json:
        emit_json(json_summary(run.results, command))


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Plan workbook to write (default: outputs/<INPUT name>-plan.xlsx).",
)
@click.option(
    "--export-model",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the core model as .lp or .mps (a folder: models/<name>.lp).",
)
@_parallel_options
@_common_run_options
@debug_option
@reported("solve")
def solve(
    input_path: Path,
    output: Path | None,
    export_model: Path | None,
    workers: int | None,
    scheduler: str | None,
    force: bool,
    verbose: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Optimise the sourcing plan of INPUT and write the plan workbook.

    \b
    Examples:
      diversify solve inputs/rare_earths_sample.xlsx -o outputs/plan.xlsx
      diversify solve inputs/mine.xlsx --json --force      # machine-readable summary
      diversify solve inputs/mine.xlsx --export-model models/   # LP file for audit
    """
    from diversify.pipeline import solve_workbook

    output = output or DEFAULT_DIR / f"{input_path.stem}-plan.xlsx"
    with progress_display(quiet or verbose) as progress:
        run = solve_workbook(
            input_path,
            output,
            force=force,
            verbose=verbose,
            progress=progress,
            export_model=export_model,
            workers=workers,
            scheduler=scheduler,
        )
    _finish(run, "solve", as_json)


@main.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workbook to write (default: outputs/<PLAN name>-evaluated.xlsx).",
)
@_common_run_options
@debug_option
@reported("evaluate")
def evaluate(
    plan_path: Path, output: Path | None, force: bool, verbose: bool, quiet: bool, as_json: bool
) -> None:
    """Re-cost the plan in PLAN (edited by hand, perhaps) under every scenario.

    The plan (sheet `Plan`) is fixed; only spot purchases, stock and shortfall are
    optimised. Every broken rule (capacity, minimum order, lead time, policy) is listed.

    \b
    Example:
      diversify evaluate outputs/plan.xlsx -o outputs/plan-edited.xlsx --json
    """
    from diversify.pipeline import evaluate_workbook

    output = output or DEFAULT_DIR / f"{plan_path.stem}-evaluated.xlsx"
    with progress_display(quiet or verbose) as progress:
        run = evaluate_workbook(plan_path, output, force=force, verbose=verbose, progress=progress)
    _finish(run, "evaluate", as_json)


@main.command()
@click.argument(
    "plan_paths", metavar="PLAN...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Comparison workbook to write.",
)
@click.option(
    "--target",
    default=None,
    help="Country, ore origin or processing country whose share (any link) decides the "
    "dependence winner (default: China when a supplier is linked to it, else the origin "
    "the first plan depends on most).",
)
@_output_options
@debug_option
@reported("compare")
def compare(
    plan_paths: tuple[Path, ...],
    output: Path,
    target: str | None,
    force: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Put two or more plan workbooks side by side (the first is the reference).

    Every figure, the differences in the plan by supplier, material and year, which
    plan wins on what (cost, CVaR, normal-world cost, shortfall, dependence...), and
    charts. The plans must cover the same materials and years; where their inputs
    differ, a warning names the sheets. Nothing is re-solved: run `diversify evaluate`
    on a plan edited by hand first.

    \b
    Example:
      diversify compare outputs/plan.xlsx outputs/plan-edited.xlsx -o outputs/compare.xlsx
    """
    from diversify.compare import comparison_json
    from diversify.pipeline import compare_workbooks

    with progress_display(quiet) as progress:
        c = compare_workbooks(
            list(plan_paths), output, force=force, target=target, progress=progress
        )
    _warn(c.warnings)
    for row in c.winners.itertuples(index=False):
        click.echo(f"{row.criterion}: {row.best}", err=True)
    click.echo(
        f"compare: {len(c.names)} plans, {c.n_differences} plan difference(s) -> {output}",
        err=True,
    )
    if as_json:
        emit_json(comparison_json(c, output))


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Frontier workbook to write.",
)
@click.option(
    "--target",
    default="China",
    show_default=True,
    help="Country, ore origin or processing country to cap (any link, case-sensitive).",
)
@click.option(
    "--points",
    type=click.IntRange(min=2),
    default=6,
    show_default=True,
    help="Number of caps, from the unconstrained share down to 0 inclusive.",
)
@_parallel_options
@_common_run_options
@debug_option
@reported("frontier")
def frontier(
    input_path: Path,
    output: Path,
    target: str,
    points: int,
    workers: int | None,
    scheduler: str | None,
    force: bool,
    verbose: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Cost against dependence: re-solve INPUT under a cap on TARGET's share.

    The unconstrained plan's dependence on TARGET (the largest share, over materials
    and years, bought from suppliers whose country, ore origin or processing country
    is TARGET) is capped from that share down to 0 in --points steps; each point's
    expected cost, normal-world cost, CVaR and expected shortfall are tabulated and
    charted, and the knee of the curve is pointed out.

    \b
    Example:
      diversify frontier inputs/rare_earths_sample.xlsx -o outputs/frontier.xlsx --points 6
    """
    from diversify.frontier import frontier_json
    from diversify.pipeline import frontier_workbook

    with progress_display(quiet or verbose) as progress:
        f = frontier_workbook(
            input_path,
            output,
            target=target,
            points=points,
            force=force,
            verbose=verbose,
            progress=progress,
            workers=workers,
            scheduler=scheduler,
        )
    _warn(f.warnings)
    for i, p in enumerate(f.points, start=1):
        cost = p.figure("expected_cost_usd")
        click.echo(
            f"  {i}. cap {p.cap:6.1%}: "
            + (f"expected cost {cost:,.0f} USD" if cost is not None else p.status)
            + ("  <- knee" if f.knee == i - 1 else ""),
            err=True,
        )
    click.echo(f"frontier: {len(f.points)} points on {target} -> {output}", err=True)
    if as_json:
        emit_json(frontier_json(f, output))


def _sampling_options(default_samples: int, default_seed: int):
    def add(fn):
        fn = click.option(
            "--seed",
            type=int,
            default=default_seed,
            show_default=True,
            help="Seed of the sampler: the same INPUT, samples and seed give the same samples.",
        )(fn)
        return click.option(
            "--samples",
            "-n",
            type=int,
            default=default_samples,
            show_default=True,
            help="Number of samples, 1 to 1,000,000.",
        )(fn)

    return add


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Input workbook to write (a copy of INPUT with sampled scenarios).",
)
@_sampling_options(1000, 1)
@_output_options
@debug_option
@reported("scenarios")
def scenarios(
    input_path: Path,
    output: Path,
    samples: int,
    seed: int,
    force: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Sample disruption scenarios from the Risks sheet of INPUT into a copy of it.

    Each risk starts an event, in a year when none of it is under way, with its
    probability, lasting min_years..max_years. Identical samples are merged into one
    scenario (probability = their share): `normal` first, then s1, s2, ... The copy's
    Scenarios and Disruptions sheets are replaced; `diversify solve` optimises over it.

    \b
    Examples:
      diversify scenarios inputs/rare_earths_sample.xlsx -o inputs/sampled.xlsx
      diversify scenarios inputs/mine.xlsx -o inputs/mine-1000.xlsx --samples 1000 --seed 7
      diversify solve inputs/sampled.xlsx -o outputs/plan-sampled.xlsx
    """
    from diversify.pipeline import scenarios_workbook

    with progress_display(quiet) as progress:
        result = scenarios_workbook(input_path, output, samples, seed, force, progress)
    _warn(result.warnings)
    click.echo(
        f"scenarios: {samples:,} samples (seed {seed}) -> {result.scenarios:,} scenarios, "
        f"normal {result.normal_probability:.2%} -> {output}",
        err=True,
    )
    if as_json:
        emit_json(result.as_json())


@main.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stress-test workbook to write.",
)
@_sampling_options(1000, 2)
@_parallel_options
@click.option("--verbose", "-v", is_flag=True, help="Say where the work runs (the dashboard).")
@_output_options
@debug_option
@reported("stress")
def stress(
    plan_path: Path,
    output: Path,
    samples: int,
    seed: int,
    workers: int | None,
    scheduler: str | None,
    verbose: bool,
    force: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Stress-test the plan in PLAN on sampled disruptions it was not optimised for.

    N samples are drawn from the Risks sheet of the plan's input copy and the plan is
    costed in each alone, with two recoveries: hindsight (the best, knowing the
    sample's future) and a year-by-year policy (no forecast). Reports the mean cost
    with its 95 % interval, percentiles, CVaR, the chance of any shortfall and the
    expected shortfall per material, for both; the default seed (2) differs from
    `scenarios`' (1), so the test never reuses the optimiser's sample.

    \b
    Examples:
      diversify stress outputs/plan.xlsx -o outputs/plan-stress.xlsx
      diversify stress outputs/plan.xlsx -o outputs/stress-10k.xlsx --samples 10000 --json
      diversify stress outputs/plan.xlsx -o outputs/stress.xlsx --scheduler tcp://10.0.0.5:8786
    """
    from diversify.pipeline import stress_workbook

    with progress_display(quiet) as progress:
        summary = stress_workbook(
            plan_path, output, samples, seed, force, progress, workers, scheduler, verbose
        )
    lines = [f"stress: {samples:,} samples (seed {seed}) -> {output}"]
    for name in ("hindsight", "policy"):
        f = summary[name]
        low, high = f["ci95_usd"]
        lines.append(
            f"  {name:<10} mean {f['mean_usd']:>16,.0f} USD  (95 % CI {low:,.0f} - {high:,.0f})"
            f"  p95 {f['p95_usd']:,.0f}  CVaR {f['cvar_usd']:,.0f}"
            f"  P(short) {f['shortfall_probability']:.1%}"
        )
    if summary["in_sample_expected_cost_usd"] is not None:
        lines.append(
            f"  in-sample expected cost (the plan's Summary) "
            f"{summary['in_sample_expected_cost_usd']:,.0f} USD"
        )
    click.echo("\n".join(lines), err=True)
    if as_json:
        emit_json(summary)


if __name__ == "__main__":
    main()
