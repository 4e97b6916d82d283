"""A compiled model as plain arrays, and HiGHS solving it: no Pyomo in this module.

    min  c'x + offset   s.t.  row_lower <= A x <= row_upper,  lower <= x <= upper,
                              x_j integer where integrality_j = 1

The solver layer compiles the Pyomo model into a `Program` once; the re-solves of the
figures are sub-programs of it (a scenario's columns and rows, another objective) that
HiGHS takes as they are, in this process or in a worker process, which imports only
numpy, scipy.sparse and highspy.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace

import highspy
import numpy as np
import scipy.sparse as sp

OPTIMAL, TIME_LIMIT, INFEASIBLE = "optimal", "time_limit", "infeasible"


def _silence_banner() -> None:
    """HiGHS prints its banner to stdout on the first Highs(); keep stdout for results."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_banner()


@dataclass
class SolveOptions:
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4
    verbose: bool = False
    # one HiGHS thread for every solve, wherever it runs: its plans depend on the thread
    # count (orders seed 1: another plan within the gap on 2), and a plan must not
    # depend on the machine or on where the core solve runs (diversify.execution)
    threads: int | None = 1
    highs: dict[str, object] = field(default_factory=dict)  # more HiGHS options, by name


@dataclass
class SolveReport:
    """What one solve gave: status, objective, gap and where the time went."""

    status: str  # optimal, time_limit (with a plan), infeasible, or no_solution
    objective: float | None = None
    mip_gap: float | None = None
    solve_seconds: float = 0.0  # HiGHS's own run time
    compile_seconds: float = 0.0  # Pyomo -> arrays
    handoff_seconds: float = 0.0  # arrays -> HiGHS
    highs_status: str = ""
    trusted: bool = True  # HiGHS's objective equals the solution's own cost
    retried: bool = False  # solved again because it did not (see solve_program)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        return self.status in (OPTIMAL, TIME_LIMIT)


@dataclass
class Solution:
    """Primal values of the columns; duals when the program is an LP."""

    col_value: np.ndarray
    col_dual: np.ndarray | None = None
    row_dual: np.ndarray | None = None


@dataclass
class Program:
    """min c'x + offset over row and column bounds, in HiGHS's column-wise arrays."""

    cost: np.ndarray
    offset: float
    matrix: sp.csc_matrix
    lower: np.ndarray
    upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integrality: np.ndarray  # int32, 1 = integer

    @property
    def is_mip(self) -> bool:
        return bool(self.integrality.any())

    def cost_of(self, values: np.ndarray) -> float:
        """c'x + offset, correctly rounded (math.fsum): the same to the last bit in every
        process and on every machine. A BLAS dot product (`@`) sums in an order that
        depends on its thread count, which Dask's workers set to 1: the same plan then
        cost a few units in the last place more or less here than on a worker."""
        return math.fsum((self.cost * values).tolist()) + self.offset

    def restricted(
        self, columns: np.ndarray, rows: np.ndarray, cost: np.ndarray, offset: float
    ) -> Program:
        """The program on the chosen columns and rows (index arrays) with another
        objective (`cost` over all columns of this program). The rows chosen must not
        touch a column left out."""
        matrix = self.matrix[:, columns][rows, :].tocsc()
        return Program(
            cost[columns],
            offset,
            matrix,
            self.lower[columns],
            self.upper[columns],
            self.row_lower[rows],
            self.row_upper[rows],
            self.integrality[columns],
        )

    def with_fixed(self, columns: np.ndarray, values: np.ndarray) -> Program:
        """The same program with these columns fixed at these values (as continuous)."""
        lower, upper, integrality = self.lower.copy(), self.upper.copy(), self.integrality.copy()
        lower[columns] = upper[columns] = values
        integrality[columns] = 0
        return replace(self, lower=lower, upper=upper, integrality=integrality)


def to_highs(program: Program, options: SolveOptions) -> highspy.Highs:
    """A HiGHS instance holding the program, with the solve options set."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", options.verbose)
    if options.verbose:  # HiGHS's log to stderr: stdout is kept for results (--json)
        h.setOptionValue("log_to_console", False)
        h.cbLogging.subscribe(_log_to_stderr)
    a = program.matrix
    h.passModel(
        len(program.cost),
        len(program.row_lower),
        a.nnz,
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        float(program.offset),
        program.cost,
        program.lower,
        program.upper,
        program.row_lower,
        program.row_upper,
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        program.integrality,
    )
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    h.setOptionValue("random_seed", 0)
    _use_threads(options.threads)
    if options.threads:
        h.setOptionValue("threads", options.threads)
    for name, value in options.highs.items():
        h.setOptionValue(name, value)
    return h


OBJECTIVE_TOL = 1e-9  # relative: HiGHS's objective against the solution's own cost

_scheduler_threads: list[int | None] = [None]  # what this process's HiGHS threads are
_scheduler_lock = threading.Lock()


def _use_threads(threads: int | None) -> None:
    """HiGHS keeps one thread pool per process, sized by the first run, and refuses a
    run asking for another size. diversify's solves all ask for one thread (the
    default of SolveOptions, so that no plan depends on where it is solved); a caller
    asking for another count (a benchmark of HiGHS's options) has the pool switched.
    Never while a solve runs: this process solves one program at a time, and a Dask
    worker with several threads runs only diversify's tasks, which all ask for one
    thread (the lock makes the first of them the only one to switch)."""
    with _scheduler_lock:
        if threads != _scheduler_threads[0]:
            highspy.Highs.resetThreadScheduler(True)  # blocking: its threads end first
            _scheduler_threads[0] = threads


def _log_to_stderr(event) -> None:
    """--verbose: HiGHS's log line to stderr (stdout is kept for results)."""
    sys.stderr.write(event.message)


def run_interruptibly(h: highspy.Highs, is_mip: bool) -> None:
    """h.run(), raising KeyboardInterrupt if Ctrl-C arrived during it.

    HiGHS swallows an exception raised in Python code it calls back (the log of
    --verbose, highspy's own dispatch): it prints "ERROR: Exception KeyboardInterrupt"
    and solves on. So while HiGHS runs in the main thread, SIGINT only sets a flag; a
    MIP checks it at its nodes (cheap beside a node's LPs) and stops, and the interrupt
    is raised once HiGHS returns. Elsewhere (a Dask worker's thread, a process that
    ignores SIGINT) HiGHS just runs."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        h.run()
        return
    stop = threading.Event()

    def check(event) -> None:
        if stop.is_set():
            event.interrupt()

    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    if is_mip:
        h.cbMipInterrupt.subscribe(check)
    try:
        h.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        if is_mip:
            h.cbMipInterrupt.unsubscribe(check)
    if stop.is_set():
        raise KeyboardInterrupt


def run(
    h: highspy.Highs, program: Program, start: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[SolveReport, Solution | None]:
    """Run HiGHS (from a MIP start: column indices and values, possibly partial).

    The objective reported is the solution's own cost, c'x + offset, computed here:
    HiGHS's figure can be wrong (below). `report.trusted` says whether the two agree.
    """
    if start is not None and len(start[0]):
        idx, vals = start
        h.setSolution(len(idx), idx.astype(np.int32), vals.astype(float))
    run_interruptibly(h, program.is_mip)
    status = h.getModelStatus()
    info = h.getInfo()
    has_plan = info.primal_solution_status == 2  # kSolutionStatusFeasible
    report = SolveReport(
        status=_status(status, has_plan),
        highs_status=h.modelStatusToString(status),
        solve_seconds=h.getRunTime(),
    )
    if not report.has_solution:
        return report, None
    sol = h.getSolution()
    values = np.array(sol.col_value)
    report.objective = program.cost_of(values)
    scale = max(1.0, abs(report.objective))
    report.trusted = abs(info.objective_function_value - report.objective) <= OBJECTIVE_TOL * scale
    gap = info.mip_gap if program.is_mip else 0.0
    report.mip_gap = max(gap, 0.0) if math.isfinite(gap) else None
    if program.is_mip:
        return report, Solution(values)
    return report, Solution(values, np.array(sol.col_dual), np.array(sol.row_dual))


def solve_program(
    program: Program, options: SolveOptions, start: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[SolveReport, Solution | None]:
    """Solve a program in arrays (top level: worker processes run it).

    HiGHS 1.16's presolve can lose part of the objective's constant when it maps a MIP
    start into the reduced problem ("MIP start solution is feasible in the reduced space:
    objective value is ..." lower than the start's true cost): the start then looks
    cheaper than it is, branch and bound stops on it, and the objective HiGHS reports
    is too low by that constant (the figures went wrong on one hidden workbook in eight,
    on one generated problem in thirty). The solution's own cost gives it away; such a
    solve is run again without the start, and (should HiGHS's figure still disagree)
    without presolve; the retries take HiGHS's defaults for the options of
    `options.highs` (chosen for the start).
    """
    started = time.perf_counter()
    report, solution = run(to_highs(program, options), program, start)
    retries = ([{}] if start is not None else []) + [{"presolve": "off"}]
    for settings in retries:
        if solution is None or report.trusted:
            break
        h = to_highs(program, replace(options, highs={}))
        for name, value in settings.items():
            h.setOptionValue(name, value)
        spent = report.solve_seconds
        report, solution = run(h, program)
        report.solve_seconds += spent
        report.retried = True
    report.handoff_seconds = max(0.0, time.perf_counter() - started - report.solve_seconds)
    return report, solution


@dataclass
class PlanTask:
    """A plan to find, as plain data: the program and a MIP start (column indices and
    values), a plan known before (the frontier's points: the unconstrained plan scaled
    to the cap), or None."""

    program: Program
    start: tuple[np.ndarray, np.ndarray] | None = None


def solve_plan(options: SolveOptions, task: PlanTask) -> tuple[SolveReport, Solution | None]:
    """Find a plan: `incumbent.core_solve`, the start one more plan beside its own (one
    time limit for all; a frontier point of `orders` seed 1 from its scaled start:
    9.2 s from the start alone, 3.2 s so). A task of diversify.execution."""
    from diversify.incumbent import core_solve  # it builds on this module

    report, solution = core_solve(task.program, options, task.start)
    if options.verbose:
        print(f"diversify: {report.highs_status}; gap {report.mip_gap}", file=sys.stderr)
    return report, solution


def solve_task(
    options: SolveOptions, task: tuple[Program, tuple[np.ndarray, np.ndarray] | None]
) -> tuple[SolveReport, Solution | None]:
    """One solve as a task of diversify.execution: (program, MIP start) with the options
    every task of the batch shares; a MIP by `incumbent.core_solve`, from its own plans
    and the start (large's 29 scenarios alone: 26.1 -> 15.4 s, benchmarks/RESULTS.md)."""
    from diversify.incumbent import core_solve  # it builds on this module; an LP goes to HiGHS

    program, start = task
    return core_solve(program, options, start)


def _status(status, has_plan: bool) -> str:
    s = highspy.HighsModelStatus
    if status == s.kOptimal:
        return OPTIMAL
    if status in (s.kInfeasible, s.kUnboundedOrInfeasible):
        return INFEASIBLE
    if has_plan:
        return TIME_LIMIT
    return "no_solution"
