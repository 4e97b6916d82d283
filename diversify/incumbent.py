"""The core MIP solved from a plan found first: the LP relaxation's lead, then HiGHS.

On workbooks with many suppliers per material, minimum orders and rules over part of
the horizon (benchmarks/concentrated.py) HiGHS's root bound is within the gap after a
second, and it then spends most of its time in sub-MIP heuristics (RINS, RENS) looking
for the plan; CBC finds it with a feasibility pump and a small branch and bound over
the binaries its LP leaves fractional. This module does the latter before HiGHS starts:

1. the LP relaxation (its bound and values);
2. rounded: every binary the LP uses switched on, the continuous part re-optimised; a
   plan within `mip_gap` of the LP bound is certified and kept (no branch and bound);
3. a dive: the LP re-solved (warm, in one HiGHS) with the binaries it sets to 0 or 1
   fixed there and the fractional ones at or above one half rounded up, until none is
   fractional (some 20 LPs, 0.1 s); should that run into an infeasible LP, a restricted
   MIP (RENS: binaries at 0 or 1 in the LP fixed, a MIP over the fractional ones);
4. a polish of the dive's plan: each binary it switched on that the LP left fractional
   switched off in turn, with what that forces off through the rows of binaries alone
   (the rest of a contract run, a supplier-year's orders: `BinaryRows`), kept off where
   feasible and cheaper (some 40 warm LPs), until the plan is within `mip_gap` of the
   LP bound: such a plan is certified and kept, as the rounded one is;
5. the cheapest plan, checked on the full program (every row, bound and
   integrality), as a MIP start for the full MIP, with HiGHS's sub-MIP heuristics
   and presolve off: with a plan this good they only cost time (benchmarks/RESULTS.md,
   issue 14), and the bound is what is left; RINS stays on where the plan is still far
   above the LP bound (`FAR_FROM_BOUND`).

Without any plan (rules the rounding breaks and a restricted MIP that finds nothing)
HiGHS runs as usual. Every step shares `time_limit_s`; the gap certified is the full
MIP's (or the rounded plan's against the LP bound), so `mip_gap` holds as before.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import highspy
import numpy as np

from diversify.program import (
    OPTIMAL,
    Program,
    Solution,
    SolveOptions,
    SolveReport,
    run_interruptibly,
    solve_program,
    to_highs,
)

# once a plan is given: HiGHS's sub-MIP heuristics off, and presolve off (the MIP from
# the plan then settles at the root: 0.2 s against 1-2 s; no start mis-mapped either)
WITH_A_PLAN = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
    "presolve": "off",
}
# ... but where the best plan is still far above the LP bound (minimum orders of half a
# supplier's capacity and more: 3e-3 to 9e-3 against 1e-4 to 9e-4 elsewhere), HiGHS's
# RINS finds the better plans that branch and bound needs (benchmarks/RESULTS.md, issue
# 14, fifth round)
FAR_FROM_BOUND = 2e-3  # (plan - LP bound) / |plan| above which RINS stays on
FAR_FROM_BOUND_OPTIONS = {"mip_heuristic_run_rins": True}
DIVE_UP = 0.5  # a dive rounds up every fractional binary at or above this, per LP
RESTRICTED_SHARE = 0.25  # of the time left, at most, for the restricted MIP
FEASIBILITY_TOL = 1e-6  # relative to max(1, |bound|), as HiGHS's primal tolerance


def is_feasible(program: Program, values: np.ndarray, tol: float = FEASIBILITY_TOL) -> bool:
    """Does `values` keep every row, every column bound and integrality of the program?"""
    if len(values) != len(program.cost) or not np.isfinite(values).all():
        return False

    def within(v, lo, hi) -> bool:
        slack_lo = np.where(np.isfinite(lo), tol * np.maximum(1.0, np.abs(lo)), np.inf)
        slack_hi = np.where(np.isfinite(hi), tol * np.maximum(1.0, np.abs(hi)), np.inf)
        return bool(((v >= lo - slack_lo) & (v <= hi + slack_hi)).all())

    ints = program.integrality == 1
    return (
        within(values, program.lower, program.upper)
        and within(program.matrix @ values, program.row_lower, program.row_upper)
        and bool((np.abs(values[ints] - np.round(values[ints])) <= tol).all())
    )


def core_solve(
    program: Program,
    options: SolveOptions,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[SolveReport, Solution | None]:
    """Solve the core MIP as the module docstring says; the report's `solve_seconds`
    is HiGHS's time over every step. `start` (columns, values): a plan known before (a
    scenario alone starts from the least-cost plan), one more plan to start the MIP from
    once its binaries are fixed and the rest re-optimised."""
    started = time.perf_counter()
    binaries = np.flatnonzero(program.integrality)
    if not len(binaries) or (program.upper[binaries] > 1).any():
        return solve_program(program, options, start)

    def left() -> float:
        return max(options.time_limit_s - (time.perf_counter() - started), 1e-3)

    spent = 0.0
    relaxed = replace(program, integrality=np.zeros_like(program.integrality))
    bound, lp = solve_program(relaxed, replace(options, time_limit_s=left()))
    spent += bound.solve_seconds
    plans: list[tuple[float, np.ndarray]] = []
    if lp is not None and bound.status == OPTIMAL:
        values = lp.col_value[binaries]
        used = (values > 1e-6).astype(float)
        rounded, plan = _with_binaries(
            program, binaries, used, replace(options, time_limit_s=left())
        )
        spent += rounded.solve_seconds
        if plan is not None:
            gap = _gap(rounded.objective, bound.objective)
            if gap <= options.mip_gap:
                report = SolveReport(
                    OPTIMAL,
                    rounded.objective,
                    gap,
                    spent,
                    highs_status="Optimal (the rounded LP relaxation, within the MIP gap of "
                    "its bound)",
                )
                return report, plan
            plans.append((rounded.objective, plan.col_value))
        dive, dived = _dive(program, binaries, options, left())
        spent += dive.solve_seconds
        if dived is not None:
            plans.append((dive.objective, dived.col_value))
            polish, polished = _drop(
                program, binaries, values, dived.col_value, bound.objective, options, left()
            )
            spent += polish.solve_seconds
            if polished is not None:
                plans.append((polish.objective, polished.col_value))
        if dived is None:  # the dive ran into an infeasible LP (rules it rounded past)
            restricted, found = _restricted(program, binaries, values, plans, options, left())
            spent += restricted.solve_seconds
            if found is not None:
                plans.append((restricted.objective, found.col_value))
    if start is not None:
        known, plan = _from_start(program, binaries, start, replace(options, time_limit_s=left()))
        spent += known.solve_seconds
        if plan is not None:
            plans.append((known.objective, plan.col_value))
    plans = [p for p in plans if is_feasible(program, p[1])]
    mip_options = replace(options, time_limit_s=left())
    mip_start = None
    if plans:
        cost, best = min(plans, key=lambda p: p[0])
        # without the LP's bound (its time ran out) the plan's gap is unknown: as far as can be
        gap = _gap(cost, bound.objective) if bound.status == OPTIMAL else math.inf
        if gap <= options.mip_gap:  # the LP bound certifies it: no branch and bound
            report = SolveReport(
                OPTIMAL,
                program.cost_of(best),
                gap,
                spent,
                highs_status="Optimal (a plan found before branch and bound, within the MIP "
                "gap of the LP relaxation's bound)",
            )
            return report, Solution(best)
        mip_start = (np.arange(len(best)), best)
        mip_options.highs = {
            **WITH_A_PLAN,
            **(FAR_FROM_BOUND_OPTIONS if gap > FAR_FROM_BOUND else {}),
            **options.highs,
        }
    report, solution = solve_program(program, mip_options, mip_start)
    report.solve_seconds += spent
    return report, solution


def _from_start(
    program: Program,
    binaries: np.ndarray,
    start: tuple[np.ndarray, np.ndarray],
    options: SolveOptions,
) -> tuple[SolveReport, Solution | None]:
    """A MIP start (columns, values) as a whole plan: its binaries fixed, the rest
    re-optimised; none if the start leaves a binary out or that LP has no solution."""
    known = np.full(len(program.cost), np.nan)
    known[start[0]] = start[1]
    if not np.isfinite(known[binaries]).all():
        return SolveReport("no_solution"), None
    return _with_binaries(program, binaries, np.round(known[binaries]), options)


def _with_binaries(
    program: Program, binaries: np.ndarray, bits: np.ndarray, options: SolveOptions
) -> tuple[SolveReport, Solution | None]:
    """The plan with the binaries at `bits`, the continuous part re-optimised (an LP),
    its binaries exactly `bits`; none if that LP has no optimal solution."""
    report, plan = solve_program(program.with_fixed(binaries, bits), options)
    if plan is None or report.status != OPTIMAL:
        return report, None
    plan.col_value[binaries] = bits
    return report, plan


def _gap(cost: float, bound: float) -> float:
    """A plan's relative gap to a lower bound, as HiGHS measures it: (cost - bound) / |cost|."""
    return max(0.0, cost - bound) / max(abs(cost), 1e-9)


def _dive(
    program: Program, binaries: np.ndarray, options: SolveOptions, seconds_left: float
) -> tuple[SolveReport, Solution | None]:
    """An LP dive: binaries the LP sets to 0 or 1 are fixed there, the fractional ones at
    or above DIVE_UP (else the largest) rounded up, the LP solved again (warm, in one
    HiGHS) until no binary is fractional; then the continuous part is re-optimised
    with the binaries at their rounded values. Returns that plan, if it exists.

    A step whose LP is infeasible (a cap on a country's share that the orders rounded up
    together break, with their minimum orders) is taken back and redone with the largest
    of its binaries alone rounded up, and, should that fail too, with that one at 0."""
    started = time.perf_counter()
    relaxed = replace(program, integrality=np.zeros_like(program.integrality))
    h = to_highs(relaxed, replace(options, time_limit_s=seconds_left))
    columns = binaries.astype(np.int32)
    before = None  # (LP values, binaries rounded up) of the last step
    while True:
        run_interruptibly(h, False)
        seconds = h.getRunTime()  # over every run of this instance
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            if before is None or time.perf_counter() - started > seconds_left:
                return SolveReport("no_solution", solve_seconds=seconds), None
            v, rounded_up = before  # take the step back
            up = np.zeros_like(rounded_up)
            if rounded_up.sum() > 1:  # the largest alone
                up[np.argmax(np.where(rounded_up, v, -1.0))] = True
                bounds = _dive_step(v, up)
            elif rounded_up.any():  # that one down instead (a failure then ends the dive)
                bounds = _dive_step(v, up, down=rounded_up)
            else:
                return SolveReport("no_solution", solve_seconds=seconds), None
            before = (v, up)
            h.changeColsBounds(len(columns), columns, *bounds)
            continue
        v = np.array(h.getSolution().col_value)[binaries]
        fractional = (v > 1e-6) & (v < 1 - 1e-6)
        if not fractional.any() or time.perf_counter() - started > seconds_left:
            break
        up = fractional & (v >= DIVE_UP)
        if not up.any():
            up[np.argmax(np.where(fractional, v, -1.0))] = True
        before = (v, up)
        h.changeColsBounds(len(columns), columns, *_dive_step(v, up))
    report, plan = _with_binaries(
        program,
        binaries,
        np.round(v),
        replace(options, time_limit_s=max(seconds_left - (time.perf_counter() - started), 1e-3)),
    )
    report.solve_seconds += seconds
    return report, plan


def _dive_step(
    v: np.ndarray, up: np.ndarray, down: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A dive's bounds on the binaries from the LP values `v`: those at 0 or 1 fixed
    there, `up` fixed at 1, `down` at 0, the other fractional ones left free."""
    lower = np.where(up | (v >= 1 - 1e-6), 1.0, 0.0)
    upper = np.where(up | (v > 1e-6), 1.0, 0.0)
    if down is not None:
        upper[down] = 0.0
    return lower, upper


class BinaryRows:
    """The rows that hold binaries only (contract runs buy[t] - buy[t-1] <= buy[τ], an
    order under its supplier's year buy <= active, active <= use, ...), over the
    binaries' positions: what switching one binary off forces on the others."""

    def __init__(self, program: Program, binaries: np.ndarray) -> None:
        rows = program.matrix.tocsr()
        is_binary = np.zeros(rows.shape[1], dtype=bool)
        is_binary[binaries] = True
        counts = np.diff(rows.indptr)
        row_of_entry = np.repeat(np.arange(rows.shape[0]), counts)
        binary_entries = np.bincount(
            row_of_entry, weights=is_binary[rows.indices], minlength=rows.shape[0]
        )
        keep = np.flatnonzero((counts > 0) & (binary_entries == counts))
        sub = rows[keep][:, binaries]
        self.matrix = sub.tocsr()
        self.upper = program.row_upper[keep]
        self.lower = program.row_lower[keep]

    def switch_off(self, bits: np.ndarray, k: int) -> np.ndarray | None:
        """bits with binary k off and, in turn, every binary that an upper row then
        forces off (its positive terms: the rest of a contract run, the orders of a
        supplier's year); None if that breaks a lower row (min_suppliers, say)."""
        trial = bits.copy()
        trial[k] = 0.0
        a = self.matrix
        while True:
            over = np.flatnonzero(a @ trial > self.upper + 1e-9)
            if not len(over):
                break
            violated = a[over]
            columns = np.unique(violated.indices[violated.data > 0])
            columns = columns[trial[columns] > 0]
            if not len(columns):
                return None
            trial[columns] = 0.0
        if (a @ trial < self.lower - 1e-9).any():
            return None
        return trial


def _drop(
    program: Program,
    binaries: np.ndarray,
    lp_values: np.ndarray,
    plan: np.ndarray,
    bound: float,
    options: SolveOptions,
    seconds_left: float,
) -> tuple[SolveReport, Solution | None]:
    """Polish a plan: each binary it switches on that the LP left fractional is switched
    off in turn (lowest LP value first), with what that forces off (`BinaryRows`: the
    rest of a contract run, a supplier-year's orders), the continuous part re-optimised
    (warm, in one HiGHS), and kept off where that is feasible and cheaper. A dive rounds
    a few orders up that the optimum does without; this finds most of them in some 40
    LPs."""
    started = time.perf_counter()
    bits = np.round(plan[binaries])
    h = to_highs(program.with_fixed(binaries, bits), replace(options, time_limit_s=seconds_left))
    run_interruptibly(h, False)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return SolveReport("no_solution", solve_seconds=h.getRunTime()), None
    best = h.getInfo().objective_function_value
    rows = BinaryRows(program, binaries)
    candidates = np.flatnonzero((bits == 1) & (lp_values < 1 - 1e-6))
    for k in candidates[np.argsort(lp_values[candidates], kind="stable")]:
        if time.perf_counter() - started > seconds_left:
            break
        if _gap(best, bound) <= options.mip_gap:  # certified by the LP bound: done
            break
        trial = rows.switch_off(bits, k) if bits[k] else None
        if trial is None:
            continue
        moved = np.flatnonzero(trial != bits)
        columns = binaries[moved].astype(np.int32)
        h.changeColsBounds(len(columns), columns, np.zeros(len(columns)), np.zeros(len(columns)))
        run_interruptibly(h, False)
        cost = h.getInfo().objective_function_value
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and cost < best - 1e-9 * abs(
            best
        ):
            best, bits = cost, trial
        else:
            h.changeColsBounds(len(columns), columns, np.ones(len(columns)), np.ones(len(columns)))
    run_interruptibly(h, False)
    seconds = h.getRunTime()  # over every run of this instance
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return SolveReport("no_solution", solve_seconds=seconds), None
    values = np.array(h.getSolution().col_value)
    values[binaries] = bits
    cost = program.cost_of(values)
    return SolveReport(OPTIMAL, cost, solve_seconds=seconds), Solution(values)


def _restricted(
    program: Program,
    binaries: np.ndarray,
    values: np.ndarray,
    plans: list[tuple[float, np.ndarray]],
    options: SolveOptions,
    seconds_left: float,
) -> tuple[SolveReport, Solution | None]:
    """RENS: the binaries the LP set to 0 or 1 fixed, a MIP over the others (from the
    rounded plan, which keeps those fixings, when there is one)."""
    settled = (values <= 1e-6) | (values >= 1 - 1e-6)
    sub = program.with_fixed(binaries[settled], np.round(values[settled]))
    sub.integrality[binaries[~settled]] = 1
    sub_options = replace(options, time_limit_s=RESTRICTED_SHARE * seconds_left)
    start = None
    if plans:
        sub_options.highs = {**WITH_A_PLAN, **options.highs}
        start = (np.arange(len(plans[0][1])), plans[0][1])
    report, solution = solve_program(sub, sub_options, start)
    if report.status not in (OPTIMAL, "time_limit"):
        return report, None
    return report, solution
