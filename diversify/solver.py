"""Hand a Pyomo model to HiGHS in memory and bring the solution back.

Pyomo compiles the model to sparse arrays (its standard-form compiler, mixed form);
highspy receives them with `passModel`. This skips Pyomo's per-element hand-off and
gives direct access to HiGHS's options, incumbent, gap and IIS.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

OPTIMAL, TIME_LIMIT, INFEASIBLE = "optimal", "time_limit", "infeasible"


def _silence_banner() -> None:
    """HiGHS prints its banner to stdout on the first Highs(); keep stdout for results."""
    import os
    import sys

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


def _skip_scipy_extras() -> None:
    """Pyomo's deferred `scipy` imports scipy.stats, .integrate and .spatial when first
    used (~0.5 s, a third of a small solve); the compiler needs only scipy.sparse.
    Pyomo keeps that hook in a private attribute: left alone if it is not there."""
    from pyomo.common import dependencies

    indicator = dependencies.scipy_available
    if hasattr(indicator, "_callback") and not getattr(indicator, "_module", None):
        indicator._callback = None


_skip_scipy_extras()


@dataclass
class SolveOptions:
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4
    verbose: bool = False
    threads: int | None = None


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
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        return self.status in (OPTIMAL, TIME_LIMIT)


@dataclass
class CompiledModel:
    """The model as HiGHS sees it, with the Pyomo objects behind each column and row."""

    columns: list
    rows: list
    highs: highspy.Highs
    compile_seconds: float
    handoff_seconds: float


def compile_model(model: pyo.ConcreteModel, options: SolveOptions) -> CompiledModel:
    """Compile to arrays (min c'x, row bounds, column bounds) and pass them to HiGHS."""
    t0 = time.perf_counter()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    t1 = time.perf_counter()
    cols = info.columns
    n, m = len(cols), len(info.rows)
    inf = highspy.kHighsInf
    lower = np.array([-inf if v.lb is None else v.lb for v in cols], dtype=float)
    upper = np.array([inf if v.ub is None else v.ub for v in cols], dtype=float)
    integrality = np.array([1 if v.is_integer() else 0 for v in cols], dtype=np.int32)
    senses = np.array([r[1] for r in info.rows], dtype=np.int8)
    rhs = np.asarray(info.rhs, dtype=float)
    row_lower = np.where(senses <= 0, rhs, -inf)
    row_upper = np.where(senses >= 0, rhs, inf)
    cost = info.c.toarray()[0] if n else np.zeros(0)
    a = info.A.tocsc()
    h = highspy.Highs()
    h.setOptionValue("output_flag", options.verbose)
    if options.verbose:  # HiGHS's log to stderr: stdout is kept for results (--json)
        h.setOptionValue("log_to_console", False)
        h.cbLogging.subscribe(lambda event: sys.stderr.write(event.message))
    h.passModel(
        n,
        m,
        a.nnz,
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        float(info.c_offset[0]),
        cost,
        lower,
        upper,
        row_lower,
        row_upper,
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        integrality,
    )
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    h.setOptionValue("random_seed", 0)
    if options.threads:
        h.setOptionValue("threads", options.threads)
    t2 = time.perf_counter()
    return CompiledModel(cols, [r[0] for r in info.rows], h, t1 - t0, t2 - t1)


def solve(
    model: pyo.ConcreteModel, options: SolveOptions, start: list[tuple[object, float]] | None = None
) -> tuple[SolveReport, CompiledModel]:
    """Solve and load the incumbent (if any) into the model's variables.

    `start` pairs Pyomo variables with values of a known feasible plan (a MIP start).
    """
    cm = compile_model(model, options)
    h = cm.highs
    if start:
        pos = {id(v): j for j, v in enumerate(cm.columns)}
        idx = [pos[id(v)] for v, _ in start if id(v) in pos]
        vals = [val for v, val in start if id(v) in pos]
        if idx:
            h.setSolution(len(idx), np.array(idx, dtype=np.int32), np.array(vals, dtype=float))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    has_plan = info.primal_solution_status == 2  # kSolutionStatusFeasible
    report = SolveReport(
        status=_status(status, has_plan),
        highs_status=h.modelStatusToString(status),
        solve_seconds=h.getRunTime(),
        compile_seconds=cm.compile_seconds,
        handoff_seconds=cm.handoff_seconds,
    )
    if report.has_solution:
        values = h.getSolution().col_value
        for v in model.component_data_objects(pyo.Var):  # in no row: any value, take 0
            if v.value is None:
                v.set_value(0.0, skip_validation=True)
        for v, val in zip(cm.columns, values, strict=True):
            v.set_value(round(val) if v.is_integer() else val, skip_validation=True)
        report.objective = info.objective_function_value
        is_mip = any(v.is_integer() for v in cm.columns)
        gap = info.mip_gap if is_mip else 0.0
        report.mip_gap = max(gap, 0.0) if math.isfinite(gap) else None
    return report, cm


def _status(status, has_plan: bool) -> str:
    s = highspy.HighsModelStatus
    if status == s.kOptimal:
        return OPTIMAL
    if status in (s.kInfeasible, s.kUnboundedOrInfeasible):
        return INFEASIBLE
    if has_plan:
        return TIME_LIMIT
    return "no_solution"


def export_model(model: pyo.ConcreteModel, path: Path) -> None:
    """Write the model as .lp or .mps (by the file's ending), with readable, unique names."""
    cm = compile_model(model, SolveOptions())
    h = cm.highs
    for j, name in enumerate(_unique(_name(v.name) for v in cm.columns)):
        h.passColName(j, name)
    for i, name in enumerate(_unique(_name(c.name) for c in cm.rows)):
        h.passRowName(i, name)
    h.writeModel(str(path))


def _unique(names) -> list[str]:
    """Names as given, a suffix _2, _3, ... on repeats (a ranged row is two rows)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _name(pyomo_name: str) -> str:
    """x[Lynas,NdPr,2027] -> x(Lynas_NdPr_2027): names every LP and MPS reader accepts.

    HiGHS drops all names of an LP file when one holds a '-', so it becomes 'm'.
    """
    out = pyomo_name.replace("[", "(").replace("]", ")").replace(",", "_").replace("-", "m")
    return "".join(ch if ch.isalnum() or ch in "()_." else "_" for ch in out)
