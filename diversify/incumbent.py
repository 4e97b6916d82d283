"""The core MIP solved from a plan found first: the LP relaxation's lead, then HiGHS.

On workbooks with many suppliers per material, minimum orders and rules over part of
the horizon (benchmarks/concentrated.py) HiGHS's root bound is within the gap after a
second, and it then spends most of its time in sub-MIP heuristics (RINS, RENS) looking
for the plan; CBC finds it with a feasibility pump and a small branch and bound over
the binaries its LP leaves fractional. This module does the latter before HiGHS starts:

1. the LP relaxation (its bound and values), in one HiGHS instance that every LP of
   steps 2-4 then re-solves warm as the binaries' bounds move (`Relaxation`);
2. rounded: every binary the LP uses switched on, the continuous part re-optimised; a
   plan within `mip_gap` of the LP bound is certified and kept (no branch and bound);
3. a dive: the LP re-solved with the binaries it sets to 0 or 1 fixed there and the
   fractional ones at or above one half rounded up, until none is fractional (some 20
   LPs); should that run into an infeasible LP, a restricted MIP (RENS: binaries at 0
   or 1 in the LP fixed, a MIP over the fractional ones);
4. a polish of the dive's plan: each binary it switched on that the LP left fractional
   switched off in turn, with what that forces off through the rows of binaries alone
   (the rest of a contract run, a supplier-year's orders: `BinaryRows`), kept off where
   feasible and cheaper (some 40 moves; those whose reduced costs show they cannot pay
   need no LP), until the plan is within `mip_gap` of the LP bound: such a plan is
   certified and kept, as the rounded one is;
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

    relaxation = Relaxation(program, binaries, replace(options, time_limit_s=left()))
    lp = relaxation.solve()
    bound = program.cost_of(lp) if lp is not None else -math.inf
    plans: list[tuple[float, np.ndarray]] = []
    restricted_seconds = 0.0
    if lp is not None:
        values = lp[binaries]
        used = (values > 1e-6).astype(float)
        rounded = relaxation.solve_with(used)
        if rounded is not None:
            cost = program.cost_of(rounded)
            gap = _gap(cost, bound)
            if gap <= options.mip_gap:
                report = SolveReport(
                    OPTIMAL,
                    cost,
                    gap,
                    relaxation.seconds,
                    highs_status="Optimal (the rounded LP relaxation, within the MIP gap of "
                    "its bound)",
                )
                return report, Solution(rounded)
            plans.append((cost, rounded))
        dived = _dive(relaxation, values, left())
        if dived is not None:
            plans.append((program.cost_of(dived), dived))
            polished = _drop(relaxation, values, dived, bound, options.mip_gap, left())
            if polished is not None:
                plans.append((program.cost_of(polished), polished))
        else:  # the dive ran into an infeasible LP (rules it rounded past)
            restricted, found = _restricted(program, binaries, values, plans, options, left())
            restricted_seconds = restricted.solve_seconds
            if found is not None:
                plans.append((restricted.objective, found.col_value))
    if start is not None and (plan := _from_start(relaxation, start)) is not None:
        plans.append((program.cost_of(plan), plan))
    spent = relaxation.seconds + restricted_seconds
    plans = [p for p in plans if is_feasible(program, p[1])]
    mip_options = replace(options, time_limit_s=left())
    mip_start = None
    if plans:
        cost, best = min(plans, key=lambda p: p[0])
        # without the LP's bound (its time ran out) the plan's gap is unknown: as far as can be
        gap = _gap(cost, bound) if lp is not None else math.inf
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


class Relaxation:
    """The LP relaxation in one HiGHS instance, solved again warm (from the last basis)
    as the binaries' bounds move: the rounded plan, each step of the dive, the plans of
    the polish. `seconds`: HiGHS's run time over every solve of it."""

    def __init__(self, program: Program, binaries: np.ndarray, options: SolveOptions) -> None:
        self.program, self.binaries = program, binaries
        self.columns = binaries.astype(np.int32)
        relaxed = replace(program, integrality=np.zeros_like(program.integrality))
        self.h = to_highs(relaxed, options)

    @property
    def seconds(self) -> float:
        return self.h.getRunTime()  # over every run of this instance

    @property
    def objective(self) -> float:
        return self.h.getObjectiveValue()  # getInfo() copies every figure of the run

    def bound_binaries(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Every binary within [lower, upper] from now on (until bounded again)."""
        self.h.changeColsBounds(len(self.columns), self.columns, lower, upper)

    def solve(self) -> np.ndarray | None:
        """The LP's values of every column; none unless HiGHS finds its optimum."""
        run_interruptibly(self.h, False)
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.array(self.h.getSolution().col_value)

    def reduced_costs(self) -> np.ndarray:
        """The binaries' reduced costs in the LP just solved. With the binaries fixed,
        what switching each off can save at most (LP duality: the optimum after a move
        of the fixed bounds by delta is at least objective + reduced costs . delta)."""
        return np.array(self.h.getSolution().col_dual)[self.binaries]

    def solve_with(self, bits: np.ndarray) -> np.ndarray | None:
        """The plan with the binaries fixed at `bits` (0/1) and the continuous part
        re-optimised, its binaries exactly `bits`; none if that LP has no solution."""
        self.bound_binaries(bits, bits)
        values = self.solve()
        if values is not None:
            values[self.binaries] = bits
        return values


def _from_start(relaxation: Relaxation, start: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """A MIP start (columns, values) as a whole plan: its binaries fixed, the rest
    re-optimised (warm); none if the start leaves a binary out or that LP has no solution."""
    known = np.full(len(relaxation.program.cost), np.nan)
    known[start[0]] = start[1]
    bits = known[relaxation.binaries]
    if not np.isfinite(bits).all():
        return None
    return relaxation.solve_with(np.round(bits))


def _gap(cost: float, bound: float) -> float:
    """A plan's relative gap to a lower bound, as HiGHS measures it: (cost - bound) / |cost|."""
    return max(0.0, cost - bound) / max(abs(cost), 1e-9)


def _dive(relaxation: Relaxation, lp_values: np.ndarray, seconds_left: float) -> np.ndarray | None:
    """An LP dive from the LP relaxation's values of the binaries: binaries the LP sets
    to 0 or 1 are fixed there, the fractional ones at or above DIVE_UP (else the
    largest) rounded up, the LP solved again (warm) until no binary is fractional; then
    the continuous part is re-optimised with the binaries at their rounded values.
    Returns that plan (every column), if it exists.

    A step whose LP is infeasible (a cap on a country's share that the orders rounded up
    together break, with their minimum orders) is taken back and redone with the larger
    half of its binaries rounded up (by LP value), and so on down to the largest alone;
    should that fail too, with that one at 0. The next step rounds up at most twice as
    many as the last one that held (a frontier cap on large: 144 LPs, 45 of them
    infeasible, when every step after a failure tried all of them again)."""
    started = time.perf_counter()
    v, before = lp_values, None  # before: (LP values, binaries rounded up) of the last step
    limit = len(lp_values)  # the most binaries a step rounds up
    while True:
        fractional = (v > 1e-6) & (v < 1 - 1e-6)
        if not fractional.any() or time.perf_counter() - started > seconds_left:
            break
        up = fractional & (v >= DIVE_UP)
        up = _largest(up, v, limit) if up.any() else _largest(fractional, v, 1)
        before = (v, up)
        relaxation.bound_binaries(*_dive_step(v, up))
        values = relaxation.solve()
        while values is None:  # take the step back
            if time.perf_counter() - started > seconds_left:
                return None
            v, rounded_up = before
            n = int(rounded_up.sum())
            if n > 1:  # the larger half
                limit = n // 2
                up = _largest(rounded_up, v, limit)
                bounds = _dive_step(v, up)
            elif n == 1:  # that one down instead (a failure then ends the dive)
                up = np.zeros_like(rounded_up)
                bounds = _dive_step(v, up, down=rounded_up)
            else:
                return None
            before = (v, up)
            relaxation.bound_binaries(*bounds)
            values = relaxation.solve()
        v = values[relaxation.binaries]
        limit = 2 * limit  # a step that held: the next may round up twice as many
    return relaxation.solve_with(np.round(v))


def _largest(chosen: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    """The k of the chosen binaries with the largest LP values (ties: the first)."""
    if chosen.sum() <= k:
        return chosen
    order = np.argsort(-np.where(chosen, v, -np.inf), kind="stable")
    out = np.zeros_like(chosen)
    out[order[:k]] = True
    return out


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
    relaxation: Relaxation,
    lp_values: np.ndarray,
    plan: np.ndarray,
    bound: float,
    mip_gap: float,
    seconds_left: float,
) -> np.ndarray | None:
    """Polish a plan (its binaries; the relaxation then holds them fixed): each binary it
    switches on that the LP left fractional is switched off in turn (lowest LP value
    first), with what that forces off (`BinaryRows`: the rest of a contract run, a
    supplier-year's orders), the continuous part re-optimised (warm), and kept off where
    that is feasible and cheaper. A dive rounds a few orders up that the optimum does
    without; this finds most of them in some 40 LPs. A move whose reduced costs show it
    cannot pay (`Relaxation.reduced_costs`) needs no LP. Stops once the plan is within
    `mip_gap` of the LP bound. Returns the plan (every column), if it is not the given one."""
    started = time.perf_counter()
    program, binaries = relaxation.program, relaxation.binaries
    bits = np.round(plan[binaries])
    if relaxation.solve_with(bits) is None:  # (the dive's last LP: warm, no iteration)
        return None
    best = relaxation.objective
    rows = BinaryRows(program, binaries)
    candidates = np.flatnonzero((bits == 1) & (lp_values < 1 - 1e-6))
    kept, saving = None, relaxation.reduced_costs()
    for k in candidates[np.argsort(lp_values[candidates], kind="stable")]:
        if time.perf_counter() - started > seconds_left:
            break
        if _gap(best, bound) <= mip_gap:  # certified by the LP bound: done
            break
        trial = rows.switch_off(bits, k) if bits[k] else None
        if trial is None:
            continue
        moved = trial != bits
        if saving[moved].sum() <= 1e-9 * abs(best):  # it cannot be cheaper: no LP
            continue
        values = relaxation.solve_with(trial)
        if values is not None and relaxation.objective < best - 1e-9 * abs(best):
            best, bits, kept, saving = (
                relaxation.objective,
                trial,
                values,
                relaxation.reduced_costs(),
            )
    return kept


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
