"""Compile a Pyomo model to arrays for HiGHS and bring the solution back.

Pyomo compiles the model to sparse arrays (its standard-form compiler, mixed form):
a `Program` (diversify.program), which highspy receives with `passModel`. This skips
Pyomo's per-element hand-off, gives direct access to HiGHS's options, incumbent and
gap, and lets the figures' re-solves reuse the compiled arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from diversify.program import (
    Program,
    Solution,
    SolveOptions,
    SolveReport,
    solve_program,
    to_highs,
)


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
class CompiledModel:
    """The model as arrays, with the Pyomo objects behind each column and row."""

    columns: list
    rows: list
    program: Program
    compile_seconds: float

    def column_index(self) -> dict[int, int]:
        """id(Pyomo variable) -> column."""
        return {id(v): j for j, v in enumerate(self.columns)}


def compile_model(model: pyo.ConcreteModel) -> CompiledModel:
    """Compile to arrays: min c'x + offset over row bounds and column bounds."""
    t0 = time.perf_counter()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    cols = info.columns
    n = len(cols)
    inf = highspy.kHighsInf
    lower = np.array([-inf if v.lb is None else v.lb for v in cols], dtype=float)
    upper = np.array([inf if v.ub is None else v.ub for v in cols], dtype=float)
    integrality = np.array([1 if v.is_integer() else 0 for v in cols], dtype=np.int32)
    senses = np.array([r[1] for r in info.rows], dtype=np.int8)
    rhs = np.asarray(info.rhs, dtype=float)
    program = Program(
        cost=info.c.toarray()[0] if n else np.zeros(0),
        offset=float(info.c_offset[0]),
        matrix=info.A.tocsc(),
        lower=lower,
        upper=upper,
        row_lower=np.where(senses <= 0, rhs, -inf),
        row_upper=np.where(senses >= 0, rhs, inf),
        integrality=integrality,
    )
    return CompiledModel(cols, [r[0] for r in info.rows], program, time.perf_counter() - t0)


def solve(
    model: pyo.ConcreteModel,
    options: SolveOptions,
    start: list[tuple[object, float]] | None = None,
    cm: CompiledModel | None = None,
    load: bool = True,
) -> tuple[SolveReport, CompiledModel, Solution | None]:
    """Solve and (if `load`) put the incumbent into the model's variables.

    `start` pairs Pyomo variables with values of a known feasible plan (a MIP start);
    `cm` is the model already compiled.
    """
    cm = cm or compile_model(model)
    start_arrays = None
    if start:
        pos = cm.column_index()
        pairs = [(pos[id(v)], val) for v, val in start if id(v) in pos]
        start_arrays = (np.array([j for j, _ in pairs]), np.array([val for _, val in pairs]))
    report, solution = solve_program(cm.program, options, start_arrays)
    report.compile_seconds = cm.compile_seconds
    if solution is not None and load:
        load_solution(model, cm, solution)
    return report, cm, solution


def load_solution(model: pyo.ConcreteModel, cm: CompiledModel, solution: Solution) -> None:
    """Column values into the Pyomo variables (integers rounded; in no row: 0)."""
    for v in model.component_data_objects(pyo.Var):
        if v.value is None:
            v.set_value(0.0, skip_validation=True)
    for v, val, integer in zip(
        cm.columns, solution.col_value.tolist(), cm.program.integrality.tolist(), strict=True
    ):
        v.set_value(round(val) if integer else val, skip_validation=True)


def export_model(model: pyo.ConcreteModel, path: Path) -> None:
    """Write the model as .lp or .mps (by the file's ending), with readable, unique names."""
    cm = compile_model(model)
    h = to_highs(cm.program, SolveOptions())
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
