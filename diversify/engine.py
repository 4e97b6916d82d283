"""Solve and evaluate plans: the model in, tidy outcomes out (SPEC §4.5-§4.6).

`optimise` finds the best plan for a set of scenarios; `evaluate` costs a given plan
under every scenario (only the recovery optimised); `resilience_figures` re-solves for
the least-cost plan, RP, EEV/VSS and WS/EVPI.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from diversify import program as highs_program
from diversify.compiled import (
    FIRST_STAGE,
    Compiled,
    compile_sourcing,
    fixed_plan,
    full_values,
    risk_neutral,
    scenario_alone,
)
from diversify.data import Plan, Problem, Rule, Starts
from diversify.derive import (
    ScenarioData,
    ScenarioTree,
    mean_value_scenario,
    scenario_tree,
)
from diversify.errors import DiversifyError, InfeasibleError
from diversify.execution import Executor
from diversify.files import replaced_atomically
from diversify.model import SourcingModel, build_model, plan_binaries
from diversify.program import Solution, solve_program
from diversify.solver import SolveOptions, SolveReport, export_model, solve


@dataclass
class Outcome:
    """A plan (x and the substitutions' start years) and what it costs in every scenario."""

    plan: Plan
    scenario_names: list[str]
    probabilities: list[float]
    cost_parts: dict[str, dict[str, float]]  # scenario -> part -> discounted USD
    objective: float
    report: SolveReport
    recovery: dict[tuple[str, int, str], dict[str, float]] = field(default_factory=dict)
    tree: ScenarioTree | None = None
    cvar_alpha: float = 0.9
    ordered: set[tuple[str, str, int]] = field(default_factory=set)  # buy = 1
    starts: Starts = field(default_factory=dict)  # option -> year it takes effect
    # the compiled model and the solution's column values (for re-solves cut from it)
    compiled: Compiled | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)

    @property
    def scenario_costs(self) -> dict[str, float]:
        return {w: sum(parts.values()) for w, parts in self.cost_parts.items()}

    @property
    def expected_cost(self) -> float:
        costs = self.scenario_costs
        return sum(
            p * costs[w] for w, p in zip(self.scenario_names, self.probabilities, strict=True)
        )

    @property
    def cvar(self) -> float:
        costs = self.scenario_costs
        return cvar(
            self.cvar_alpha,
            [(self.probabilities[i], costs[w]) for i, w in enumerate(self.scenario_names)],
        )


def cvar(alpha: float, outcomes: list[tuple[float, float]]) -> float:
    """CVaR_α = min_η η + 1/(1-α) Σ π max(0, C - η); the minimum lies at some C_w."""
    return min(
        eta + sum(p * max(0.0, c - eta) for p, c in outcomes) / (1 - alpha) for _, eta in outcomes
    )


def settings_options(problem: Problem, verbose: bool = False) -> SolveOptions:
    s = problem.settings
    return SolveOptions(time_limit_s=s.time_limit_s, mip_gap=s.mip_gap, verbose=verbose)


def optimise(
    problem: Problem,
    scenarios: list[ScenarioData],
    risk_aversion: float,
    options: SolveOptions,
    start: Outcome | None = None,
    full: bool = True,
) -> Outcome:
    """The least-cost plan for these scenarios (SPEC §4.5); InfeasibleError if none.

    `full=False`: only the plan and the objective (re-solves that need no more).
    A plan is found from the LP relaxation first (`incumbent.core_solve`), `start`'s
    one more beside those. The three steps are apart so that the middle one can run
    elsewhere (`frontier`).
    """
    c, task = plan_task(problem, scenarios, risk_aversion, start)
    report, solution = highs_program.solve_plan(options, task)
    return conclude(problem, scenarios, options, c, report, solution, full)


@dataclass
class CoreSolve:
    """The core solve under way (`start_optimise`): its compiled model now, its outcome
    when asked (`outcome()`, the same object every time; InfeasibleError if none)."""

    compiled: Compiled
    outcome: Callable[[], Outcome]

    @classmethod
    def done(cls, outcome: Outcome) -> CoreSolve:
        return cls(outcome.compiled, lambda: outcome)


def start_optimise(
    problem: Problem,
    scenarios: list[ScenarioData],
    risk_aversion: float,
    options: SolveOptions,
    executor: Executor | None = None,
) -> CoreSolve:
    """`optimise`, started: on the executor's cluster when it has one, so that the
    figures' re-solves that need no core plan run beside it (`resilience_figures`);
    else (no executor: no work to run beside it) here and now, as with --verbose
    (HiGHS's log is the planner's to watch). The plan is the same wherever it is
    solved (one HiGHS thread everywhere)."""
    c, task = plan_task(problem, scenarios, risk_aversion)
    elsewhere = executor is not None and executor.parallel and not options.verbose
    if elsewhere:
        result = executor.submit(highs_program.solve_plan, task, shared=options, label="core solve")
    else:
        solved = highs_program.solve_plan(options, task)
        result = lambda: solved  # noqa: E731 - a result already there

    @functools.cache
    def outcome() -> Outcome:
        return conclude(problem, scenarios, options, c, *result())

    if not elsewhere:
        outcome()  # an infeasible core stops the run before any re-solve
    return CoreSolve(c, outcome)


def plan_task(
    problem: Problem,
    scenarios: list[ScenarioData],
    risk_aversion: float,
    start: Outcome | None = None,
) -> tuple[Compiled, highs_program.PlanTask]:
    """The model built and compiled here, and what solving it needs as plain arrays
    (the program, and a MIP start from `start`'s plan)."""
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, risk_aversion)
    c = compile_sourcing(sm)
    return c, plan_task_of(c, start)


def plan_task_of(c: Compiled, start: Outcome | None = None) -> highs_program.PlanTask:
    """What solving a compiled model needs as plain arrays: its program and a MIP start
    from `start`'s plan (its columns and values), if any."""
    arrays = None
    if start:
        values = _start_values(c.sm, start)
        pairs = [(j, v) for var, v in values if (j := c.column(var)) is not None]
        if pairs:
            arrays = (np.array([j for j, _ in pairs]), np.array([v for _, v in pairs]))
    return highs_program.PlanTask(c.program, arrays)


def conclude(
    problem: Problem,
    scenarios: list[ScenarioData],
    options: SolveOptions,
    c: Compiled,
    report: SolveReport,
    solution: Solution | None,
    full: bool = True,
) -> Outcome:
    """The outcome of a solved `plan_task`; InfeasibleError (with the conflicting rules
    named) when it found no plan."""
    report.compile_seconds = c.cm.compile_seconds
    if report.status == "infeasible":
        raise InfeasibleError(diagnose(problem, scenarios, options))
    if not report.has_solution:
        raise InfeasibleError(
            f"no plan found within the time limit of {options.time_limit_s:g} s "
            "(raise time_limit_s in Settings, or loosen mip_gap)",
            status="time_limit",
        )
    return _outcome(c, report, solution.col_value, full)


def diagnose(problem: Problem, scenarios: list[ScenarioData], options: SolveOptions) -> str:
    """Which policy rules, materials and years conflict: the least total violation.

    Every policy row may be broken at a cost of one per tonne (or per missing
    supplier); the rows that must give are the conflict.
    """
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, 0.0, elastic=True)
    report, _, _ = solve(sm.model, options)
    if not report.has_solution:
        return "no plan keeps every rule (the rules that conflict could not be isolated)"
    where: dict[tuple[str, int], list[str]] = {}
    for (r_i, m, t), var in sm.model.violation.items():
        if (var.value or 0.0) > 1e-6:
            rules = sm.count_rules[(m, t)] if r_i == "min_suppliers" else [problem.rules[r_i]]
            where.setdefault((m, t), []).extend(r.label for r in rules)
    if not where:
        return "no plan keeps every rule"
    lines = []
    for (m, t), labels in sorted(where.items()):
        others = [r.label for r in problem.rules if r.label not in labels and covers(r, m, t)]
        line = f"  {m} {t}: {', '.join(dict.fromkeys(labels))} cannot hold"
        lines.append(line + (f" together with {', '.join(others)}" if others else ""))
    return (
        "no plan keeps every rule. Where the rules conflict with each other or with the "
        "offers (capacity, lead times, minimum orders); loosen one of them:\n" + "\n".join(lines)
    )


def covers(rule: Rule, material: str, year: int) -> bool:
    """Does a policy rule apply to this material and year?"""
    return (rule.material in (None, material)) and year in rule.years


def export_core_model(problem: Problem, scenarios: list[ScenarioData], path) -> None:
    """Write the core model (all scenarios, settings' λ) as an LP or MPS file."""
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, problem.settings.risk_aversion)
    path = Path(path).resolve()
    with replaced_atomically(path, suffix=path.suffix) as tmp:  # HiGHS: format by ending
        export_model(sm.model, tmp)


def evaluate(
    problem: Problem,
    plan: Plan,
    scenarios: list[ScenarioData],
    risk_aversion: float,
    options: SolveOptions,
    starts: Starts | None = None,
) -> Outcome:
    """Cost a fixed plan: buy, active, use follow from x, the substitutions take effect
    as `starts` says (none when None); z, I, u, e optimised on the tree."""
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(
        problem, scenarios, tree, risk_aversion, fixed_plan=plan, fixed_starts=starts or {}
    )
    c = compile_sourcing(sm)
    report, _, solution = solve(sm.model, options, cm=c.cm, load=False)
    if not report.has_solution:  # cannot happen: surplus and shortfall absorb any plan
        raise InfeasibleError(f"evaluating the plan failed: {report.highs_status}")
    return _outcome(c, report, solution.col_value)


def _start_values(sm: SourcingModel, start: Outcome) -> list[tuple[object, float]]:
    """A MIP start from a known plan: x, its substitutions, and the binaries that follow."""
    plan, taken = start.plan, set(start.starts.items())
    ordered, active, used = plan_binaries(plan, start.ordered)
    return (
        [(v, plan.get(k, 0.0)) for k, v in sm.x.items()]
        + [(v, float(k in ordered)) for k, v in sm.buy.items()]
        + [(v, float(k in active)) for k, v in sm.active.items()]
        + [(v, float(k in used)) for k, v in sm.use.items()]
        + [(v, float(k in taken)) for k, v in sm.start.items()]
    )


def _outcome(c: Compiled, report: SolveReport, values: np.ndarray, full: bool = True) -> Outcome:
    """The plan, objective and (if `full`) scenario costs and recovery of column values."""
    sm = c.sm
    names = [w.name for w in sm.scenarios]

    def value(v) -> float:
        if not hasattr(v, "is_variable_type"):
            return v  # a fixed plan's number
        j = c.column(v)
        return float(values[j]) if j is not None else (v.value if v.fixed else 0.0)

    plan = {k: q for k, x in sm.x.items() if (q := max(0.0, value(x))) > 0}
    ordered = {k for k, v in sm.buy.items() if value(v) > 0.5}
    starts = {o: t for (o, t), v in sorted(sm.start.items()) if value(v) > 0.5}
    probabilities = [w.probability for w in sm.scenarios]
    alpha = sm.problem.settings.cvar_alpha
    common = dict(
        tree=sm.tree, cvar_alpha=alpha, ordered=ordered, starts=starts, compiled=c, values=values
    )
    if not full:
        return Outcome(plan, names, probabilities, {}, report.objective, report, **common)
    recovery = c.recovery_of(values)
    parts = c.costs.parts(values, names)
    return Outcome(plan, names, probabilities, parts, report.objective, report, recovery, **common)


@dataclass
class ResilienceFigures:
    """The re-solved figures of SPEC §4.6 (USD); None where a re-solve found no plan."""

    least_cost: Outcome | None
    price_of_resilience: float | None
    value_of_resilience: float | None
    rp: float | None
    eev: float | None
    ws: float | None
    scenario_optima: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def vss(self) -> float | None:
        return None if self.eev is None or self.rp is None else self.eev - self.rp

    @property
    def evpi(self) -> float | None:
        return None if self.rp is None or self.ws is None else self.rp - self.ws


def resilience_figures(
    problem: Problem,
    core: Outcome | CoreSolve,
    options: SolveOptions,
    progress=None,
    executor: Executor | None = None,
) -> ResilienceFigures:
    """Least-cost plan, price/value of resilience, RP, EEV (VSS) and WS (EVPI).

    |W| + 2 re-solves (+1 for RP when λ > 0). The WS and RP programs are cut from the
    core model's compiled arrays (diversify.compiled), so only the mean-value plan
    builds a model of its own. Every re-solve is a task of `executor`
    (diversify.execution: here, or on Dask workers), solved with one HiGHS thread
    wherever it runs, so that the figures do not depend on where. None needs the core
    plan, so on a cluster they run beside the core solve (`core` a `CoreSolve`):

    1. the first scenario alone and the mean-value plan, each from its own plans;
    2. the first scenario's optimum is the least-cost plan: the other scenarios and RP
       start from it; meanwhile this process costs the least-cost and mean-value plans
       under every scenario and waits for the core plan, which every figure is checked
       against.
    """
    step = progress or (lambda _label: None)
    solving = core if isinstance(core, CoreSolve) else CoreSolve.done(core)
    c = solving.compiled
    names = [w.name for w in c.sm.scenarios]
    lam = problem.settings.risk_aversion
    label = [f"scenario {w} alone (WS)" for w in names]
    warnings: list[str] = []
    task_options = replace(options, threads=1, verbose=False)

    executor = executor or Executor(workers=1)
    if not executor.parallel:  # the other re-solves take about the core's time or more
        executor.expect(solving.outcome().report.solve_seconds)
    step(label[0])
    program, columns = scenario_alone(c, 0)
    columns_of = {label[0]: columns}
    first_program = program
    first_task = executor.submit(
        highs_program.solve_task, (program, None), shared=task_options, label=label[0]
    )
    mean = mean_value_scenario(c.sm.scenarios)
    mv_compiled, mv_task = plan_task(problem, [mean], 0.0)
    mean_value_task = executor.submit(
        highs_program.solve_plan, mv_task, shared=task_options, label="mean-value plan"
    )
    first = _solved(label[0], first_task(), warnings)
    # the least-cost plan keeps every rule, so is feasible for every re-solve (the core
    # plan too, should the first scenario have found none)
    if first is None:
        base = solving.outcome().values
    else:
        base = full_values(c, columns, first[1].col_value)
    tasks = {}
    for i in range(1, len(names)):
        program, columns_of[label[i]] = scenario_alone(c, i)
        only = c.column_node[columns_of[label[i]]] == FIRST_STAGE
        tasks[label[i]] = program, _start(base, columns_of[label[i]], only)
    if lam > 0:
        program, columns_of[RP_LABEL] = risk_neutral(c)
        only = c.column_node[columns_of[RP_LABEL]] == FIRST_STAGE
        tasks[RP_LABEL] = program, _start(base, columns_of[RP_LABEL], only)

    least_cost: list[Outcome] = []
    eev: list[float] = []
    mean_value: list[Outcome] = []

    def meanwhile() -> None:
        solving.outcome()  # on a cluster: solved there, beside the re-solves
        if first is not None:
            step("least-cost plan under every scenario")
            plan = _outcome(c, first[0], base, full=False)
            least_cost.append(_evaluate_plan(c, plan.plan, False, options, plan.starts))
        step("mean-value plan (EEV)")
        try:
            report, solution = mean_value_task()
            mv = conclude(problem, [mean], options, mv_compiled, report, solution, full=False)
            mean_value.append(mv)
            eev.append(_evaluate_plan(c, mv.plan, True, options, mv.starts).expected_cost)
        except InfeasibleError as exc:
            warnings.append(f"mean-value plan (EEV): {exc}; EEV and VSS are left blank")

    done = executor.map(
        highs_program.solve_task,
        list(tasks.values()),
        shared=task_options,
        seconds_each=first[0].solve_seconds if first else solving.outcome().report.solve_seconds,
        progress=step,
        label="re-solves",
        meanwhile=meanwhile,
    )
    core = solving.outcome()
    solved = {label[0]: first} | {
        key: _solved(key, out, warnings) for key, out in zip(tasks, done, strict=True)
    }
    scenario_of = {key: i for i, key in enumerate(label)}
    task_of = {label[0]: (first_program, None)} | tasks  # should one be solved again
    rechecked = {}
    for key in solved:  # each re-solve's plan re-costed, and solved again if need be
        i = scenario_of.get(key)
        check = _plan_check(key, solved[key], c, columns_of[key], options, i)
        if check is not None and not _agrees(*check[1:]):
            # HiGHS's tolerances on a badly scaled program (a shortfall penalty of 1e8
            # USD/kg: 1e-6 t short costs 1e5 USD) let it report less than its plan
            # costs: once more with tolerances a thousand times tighter
            tight = replace(task_options, highs={**task_options.highs, **TIGHT_TOLERANCES})
            out = highs_program.solve_task(tight, task_of[key])
            solved[key] = _solved(key, out, warnings)
            check = _plan_check(key, solved[key], c, columns_of[key], tight, i)
        rechecked[key] = check
    optima = {w: _objective(solved[label[i]]) for i, w in enumerate(names)}
    ws = None
    if all(v is not None for v in optima.values()):
        ws = sum(p * optima[w] for w, p in zip(names, core.probabilities, strict=True))
    rp = core.objective
    if lam > 0:
        rp = _objective(solved[RP_LABEL])
    checks = [
        _plan_check("core solve", (core.report, None), c, None, options, None, core, lam == 0)
    ]
    checks += list(rechecked.values())
    if mean_value:
        mv = mean_value[0]
        checks.append(
            _plan_check("mean-value plan", (mv.report, None), mv.compiled, None, options, 0, mv)
        )
    tonnes = c.program.cost[c.program.integrality == 0]  # USD a tonne (a binary's is no tonne)
    noise = NOISE_T * float(np.abs(tonnes).max(initial=0.0))
    verify_figures(core, optima, ws, rp, eev[0] if eev else None, solved, label, checks, noise)
    price = value = None
    if least_cost:
        w0 = names[0]
        price = core.scenario_costs[w0] - least_cost[0].scenario_costs[w0]
        value = least_cost[0].expected_cost - core.expected_cost
    return ResilienceFigures(
        least_cost[0] if least_cost else None,
        price,
        value,
        rp,
        eev[0] if eev else None,
        ws,
        optima,
        warnings,
    )


RP_LABEL = "risk-neutral problem (RP)"
CHECK_TOL = 1e-6  # relative: figures that must agree, up to LP tolerances
# a re-solve whose plan costs more than it reported is solved once more with these
TIGHT_TOLERANCES = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
    "mip_feasibility_tolerance": 1e-9,
}


NOISE_T = 1e-6  # t: what HiGHS's feasibility tolerances may leave unbalanced in a row


def _slack(value: float, gap: float = 0.0, noise: float = 0.0) -> float:
    """How far two figures that must agree may differ: the solves' gap and CHECK_TOL
    relative to the value, and at least `noise` (USD: NOISE_T priced at the program's
    dearest tonne, which only costs beyond 1e9 USD/t make matter)."""
    return max((gap + CHECK_TOL) * max(1.0, abs(value)), noise)


def _agrees(reported: float, recosted: float, gap: float, noise: float = 0.0) -> bool:
    """A plan re-costed at what its solve reported, within the solve's gap (below) and the
    LP tolerances: reported - gap * |reported| <= re-costed <= reported."""
    return (
        reported - _slack(reported, gap, noise) <= recosted <= reported + _slack(reported, 0, noise)
    )


def _plan_check(
    label: str,
    solved: tuple[SolveReport, Solution | None] | None,
    c: Compiled,
    columns: np.ndarray | None,
    options: SolveOptions,
    scenario: int | None = None,
    outcome: Outcome | None = None,
    neutral: bool = True,
) -> tuple[str, float, float, float] | None:
    """(label, reported optimum, its plan re-costed, the solve's gap): a re-solve's plan
    costed by the fixed-plan evaluation on the same program (scenario i alone, the
    risk-neutral problem, or with `neutral` False the objective of §4.5); None where
    the re-solve found no plan."""
    if solved is None:
        return None
    report, solution = solved
    if outcome is None:
        outcome = _outcome(c, report, full_values(c, columns, solution.col_value), full=False)
    program, _ = fixed_plan(c, outcome.plan, neutral, outcome.starts, outcome.ordered, scenario)
    evaluated, _ = solve_program(program, options)
    if evaluated.status == "infeasible":  # surplus and shortfall absorb any plan
        raise DiversifyError(f"internal check failed: the plan of the {label} cannot be costed")
    if evaluated.objective is None:  # not costed within the time limit: nothing to check
        return None
    return label, report.objective, evaluated.objective, report.mip_gap or 0.0


def verify_figures(
    core: Outcome,
    optima: dict[str, float | None],
    ws: float | None,
    rp: float | None,
    eev: float | None,
    solved: dict,
    label: list[str],
    checks: list,
    noise: float = 0.0,
) -> None:
    """Invariants every solve keeps, or an internal error (never a silently wrong figure):

    * each re-solve's plan, re-costed by the fixed-plan evaluation, costs what the
      re-solve reported: reported - gap * |reported| <= re-costed <= reported;
    * each scenario's optimum <= that scenario's cost under the core plan;
    * WS <= RP <= EEV;
    each within the MIP gaps the solves reported (and CHECK_TOL for LP tolerances), or
    `noise` USD (a tolerance's worth of the dearest tonne) where that is more.
    """
    failed = []

    def slack(value: float, gap: float = 0.0) -> float:
        return _slack(value, gap, noise)

    for check in filter(None, checks):
        name, reported, recosted, gap = check
        if not _agrees(reported, recosted, gap, noise):
            failed.append(f"{name} reported {reported:,.2f} USD; its plan costs {recosted:,.2f}")
    gaps = {
        w: (solved[label[i]][0].mip_gap or 0.0) if solved[label[i]] else 0.0
        for i, w in enumerate(core.scenario_names)
    }
    core_costs = core.scenario_costs
    for w, optimum in optima.items():
        if optimum is not None and optimum > core_costs[w] + slack(optimum, gaps[w]):
            failed.append(
                f"scenario {w} alone: optimum {optimum:,.2f} USD above its cost under the "
                f"optimised plan, {core_costs[w]:,.2f}"
            )
    rp_gap = (
        solved[RP_LABEL][0].mip_gap
        if RP_LABEL in solved and solved[RP_LABEL]
        else core.report.mip_gap
    ) or 0.0
    if rp is not None and ws is not None:
        ws_gap = sum(
            p * gaps[w] for w, p in zip(core.scenario_names, core.probabilities, strict=True)
        )
        if ws > rp + slack(rp, rp_gap + ws_gap):
            failed.append(f"WS {ws:,.2f} USD above RP {rp:,.2f}")
    if rp is not None and eev is not None and eev < rp - slack(rp, rp_gap):
        failed.append(f"EEV {eev:,.2f} USD below RP {rp:,.2f}")
    if failed:
        raise DiversifyError("internal check of the figures failed: " + "; ".join(failed))


def _objective(solved: tuple[SolveReport, Solution] | None) -> float | None:
    return solved[0].objective if solved else None


def _start(values: np.ndarray, columns: np.ndarray, only=None) -> tuple[np.ndarray, np.ndarray]:
    """A MIP start for a sub-program: the known values of its columns (`only` these)."""
    where = np.arange(len(columns)) if only is None else np.flatnonzero(only)
    return where, values[columns[where]]


def _solved(label: str, result: tuple[SolveReport, Solution | None], warnings: list[str]):
    """(report, solution) of a re-solve, or None (and a warning) if it found no plan."""
    report, solution = result
    if solution is None:
        why = "no plan within the time limit" if report.status != "infeasible" else "infeasible"
        warnings.append(f"{label}: {why}; the figures that need it are left blank")
        return None
    return report, solution


def _evaluate_plan(
    c: Compiled, plan: Plan, risk_neutral_only: bool, options, starts: Starts
) -> Outcome:
    """A plan under every scenario, on the compiled model (see `evaluate`)."""
    program, columns = fixed_plan(c, plan, risk_neutral_only, starts)
    report, solution = solve_program(program, options)
    if solution is None:  # cannot happen: surplus and shortfall absorb any plan
        raise InfeasibleError(f"evaluating the plan failed: {report.highs_status}")
    return _outcome(c, report, full_values(c, columns, solution.col_value))


def explain(problem: Problem, core: Outcome, options: SolveOptions) -> list[dict[str, object]]:
    """What each binding rule and capacity costs, in USD (of the objective) per tonne.

    The orders of the plan are fixed (buy, active, use as solved), the LP that is
    left is re-solved, and its duals are read: the marginal value of one more tonne of
    capacity, of a policy rule relaxed by one tonne, of a minimum order lowered by one.
    The LP is the core model's compiled program with the binaries fixed: no rebuild.
    Contract terms, which bind binaries only, are priced by `contract_term_costs`.
    """
    c = core.compiled
    binaries = np.flatnonzero(c.program.integrality)
    lp = c.program.with_fixed(binaries, np.round(core.values[binaries]))
    report, sol = solve_program(lp, options)
    if not report.has_solution:
        return []
    rows = []
    for con, dual in zip(c.cm.rows, sol.row_dual.tolist(), strict=True):
        if con is None:  # a row added after compiling (compiled.with_share_rule)
            continue
        item = _explain_row(problem, con.parent_component().local_name, con.index(), -dual, core)
        if item:
            rows.append(item)
    at_capacity = sol.col_value >= lp.upper - 1e-9
    for key, j in c.plan_columns["x"].items():
        if at_capacity[j] and np.isfinite(lp.upper[j]):
            item = _explain_row(problem, "capacity", key, -float(sol.col_dual[j]), core)
            if item:
                rows.append(item)
    rows += contract_term_costs(problem, core, options)
    return sorted(rows, key=lambda r: -abs(r["usd_per_t"]))


def contract_term_costs(
    problem: Problem, core: Outcome, options: SolveOptions
) -> list[dict[str, object]]:
    """What each binding contract term costs: per offer with min_contract_years > 1 that
    the plan orders, the core program is re-solved without that offer's contract_length
    rows (from the plan); what the objective falls by, beyond the MIP gap, is the term's
    cost (also given per tonne the plan buys from the offer)."""
    c = core.compiled
    rows_of: dict[tuple[str, str], list[int]] = {}
    for r, con in enumerate(c.cm.rows):
        if con is not None and con.parent_component().local_name == "contract_length":
            rows_of.setdefault(tuple(con.index()[:2]), []).append(r)
    columns = np.arange(len(c.column_node))
    out = []
    for (s, m), rows in rows_of.items():
        tonnes = sum(q for k, q in core.plan.items() if k[:2] == (s, m))
        if tonnes <= 0:
            continue
        keep = np.setdiff1d(np.arange(len(c.row_node)), rows)
        program = c.program.restricted(columns, keep, c.program.cost, c.program.offset)
        _, solution = solve_program(program, options, (columns, core.values))
        if solution is None:
            continue
        # the solution's own cost: HiGHS's reported objective can differ after a MIP start
        saving = core.objective - program.cost_of(solution.col_value)
        if saving <= options.mip_gap * abs(core.objective) + 1e-6:
            continue
        term = problem.offers[(s, m)].min_contract_years
        first = min(t for (ss, mm, t) in core.plan if (ss, mm) == (s, m))
        text = (
            f"The {term}-year contract term of {s} for {m} costs {saving:,.2f} USD: with "
            f"one-year contracts the objective would be that much lower "
            f"({saving / tonnes:,.2f} USD per tonne the plan buys from {s})"
        )
        out.append(
            dict(
                kind="contract term",
                source=f"Offers: {s} / {m}",
                material=m,
                year=first,
                usd_per_t=saving / tonnes,
                usd=saving,
                meaning=text,
            )
        )
    return out


def _explain_row(problem: Problem, family: str, index, saving: float, core: Outcome) -> dict | None:
    """One binding row in words; None for rows that are not rules or capacities."""
    if abs(saving) < 1e-6:
        return None
    if family == "capacity":
        s, m, t = index
        text = (
            f"One more tonne of {s}'s {m} capacity in {t} would lower the objective "
            f"by {saving:,.2f} USD"
        )
        return dict(
            kind="capacity",
            source=f"Offers: {s} / {m}",
            material=m,
            year=t,
            usd_per_t=saving,
            meaning=text,
        )
    if family == "min_order":
        s, m, t = index
        text = (
            f"The minimum order of {s} for {m} in {t} (or the min_suppliers floor) costs "
            f"{-saving:,.2f} USD per tonne it forces"
        )
        return dict(
            kind="minimum order",
            source=f"Offers: {s} / {m}",
            material=m,
            year=t,
            usd_per_t=-saving,
            meaning=text,
        )
    if family == "max_avg_risk":
        r_i, m, t = index
        rule = problem.rules[r_i]
        volume = sum(q for (_, mm, tt), q in core.plan.items() if (mm, tt) == (m, t))
        per_step = abs(saving) * 0.01 * volume
        text = (
            f"{rule.label} binds for {m} in {t}: raising the cap by 0.01 would lower "
            f"the objective by {per_step:,.2f} USD ({abs(saving):,.2f} USD per tonne-unit "
            "of risk above the cap)"
        )
        return dict(
            kind="policy rule",
            source=rule.label,
            material=m,
            year=t,
            usd_per_t=abs(saving),
            meaning=text,
        )
    if family in ("max_share", "min_share"):
        r_i, m, t = index
        rule = problem.rules[r_i]
        text = (
            f"{rule.label} costs {abs(saving):,.2f} USD per tonne of {m} in {t}: "
            f"relaxing it by one tonne would lower the objective by that much"
        )
        return dict(
            kind="policy rule",
            source=rule.label,
            material=m,
            year=t,
            usd_per_t=abs(saving),
            meaning=text,
        )
    return None


def substitution_savings(
    problem: Problem, outcome: Outcome, scenarios: list[ScenarioData], options: SolveOptions
) -> dict[str, float]:
    """Per option the plan takes: the expected cost of the same plan without it (x as
    it is, the other options as they are) minus the plan's own."""
    out = {}
    for o in outcome.starts:
        without = {k: t for k, t in outcome.starts.items() if k != o}
        other = evaluate(
            problem, outcome.plan, scenarios, problem.settings.risk_aversion, options, without
        )
        out[o] = other.expected_cost - outcome.expected_cost
    return out
