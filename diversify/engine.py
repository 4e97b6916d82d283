"""Solve and evaluate plans: the model in, tidy outcomes out (SPEC §4.5-§4.6).

`optimise` finds the best plan for a set of scenarios; `evaluate` costs a given plan
under every scenario (only the recovery optimised); `resilience_figures` re-solves for
the least-cost plan, RP, EEV/VSS and WS/EVPI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
from diversify.data import Problem, Rule
from diversify.derive import (
    ScenarioData,
    ScenarioTree,
    mean_value_scenario,
    scenario_tree,
)
from diversify.errors import InfeasibleError
from diversify.execution import Executor
from diversify.model import SourcingModel, build_model, plan_binaries
from diversify.program import Solution, solve_program
from diversify.solver import SolveOptions, SolveReport, export_model, solve

Plan = dict[tuple[str, str, int], float]  # (supplier, material, year) -> t


@dataclass
class Outcome:
    """A plan and what it costs in every scenario."""

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
    Without a start, the rounded LP relaxation is tried first (`rounded_relaxation`).
    The three steps are apart so that the middle one can run elsewhere (`frontier`).
    """
    c, task = plan_task(problem, scenarios, risk_aversion, start)
    report, solution = highs_program.solve_plan(options, task)
    return conclude(problem, scenarios, options, c, report, solution, full)


def plan_task(
    problem: Problem,
    scenarios: list[ScenarioData],
    risk_aversion: float,
    start: Outcome | None = None,
) -> tuple[Compiled, highs_program.PlanTask]:
    """The model built and compiled here, and what solving it needs as plain arrays
    (the program, a MIP start from `start`'s plan, whether to try the rounding)."""
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, risk_aversion)
    c = compile_sourcing(sm)
    arrays = None
    if start:
        pairs = [(j, v) for var, v in _start_values(sm, start) if (j := c.column(var)) is not None]
        if pairs:
            arrays = (np.array([j for j, _ in pairs]), np.array([v for _, v in pairs]))
    return c, highs_program.PlanTask(c.program, arrays, try_rounding=not start)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    export_model(sm.model, path)


def evaluate(
    problem: Problem,
    plan: Plan,
    scenarios: list[ScenarioData],
    risk_aversion: float,
    options: SolveOptions,
) -> Outcome:
    """Cost a fixed plan: buy, active, use follow from x; z, I, u, e optimised on the tree."""
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, risk_aversion, fixed_plan=plan)
    c = compile_sourcing(sm)
    report, _, solution = solve(sm.model, options, cm=c.cm, load=False)
    if not report.has_solution:  # cannot happen: surplus and shortfall absorb any plan
        raise InfeasibleError(f"evaluating the plan failed: {report.highs_status}")
    return _outcome(c, report, solution.col_value)


def _start_values(sm: SourcingModel, start: Outcome) -> list[tuple[object, float]]:
    """A MIP start from a known plan: x, and the binaries that follow from it."""
    plan = start.plan
    ordered, active, used = plan_binaries(plan, start.ordered)
    return (
        [(v, plan.get(k, 0.0)) for k, v in sm.x.items()]
        + [(v, float(k in ordered)) for k, v in sm.buy.items()]
        + [(v, float(k in active)) for k, v in sm.active.items()]
        + [(v, float(k in used)) for k, v in sm.use.items()]
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
    probabilities = [w.probability for w in sm.scenarios]
    alpha = sm.problem.settings.cvar_alpha
    common = dict(tree=sm.tree, cvar_alpha=alpha, ordered=ordered, compiled=c, values=values)
    if not full:
        return Outcome(plan, names, probabilities, {}, report.objective, report, **common)
    mdl = sm.model
    recovery = {}
    for i, w in enumerate(names):
        for t in sm.years:
            n = sm.tree.node_of[(t, i)]
            for m in sm.problem.materials:
                recovery[(m, t, w)] = {
                    v: value(getattr(mdl, v)[m, n]) for v in ("z", "I", "u", "e")
                }
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
    core: Outcome,
    options: SolveOptions,
    progress=None,
    executor: Executor | None = None,
) -> ResilienceFigures:
    """Least-cost plan, price/value of resilience, RP, EEV (VSS) and WS (EVPI).

    |W| + 2 re-solves (+1 for RP when λ > 0). The WS and RP programs are cut from the
    core model's compiled arrays (diversify.compiled), so only the mean-value plan
    builds a model of its own. The first scenario alone goes first, from the core plan
    (which keeps every rule, so is feasible for all of them); its optimum is the
    least-cost plan, and the other scenarios start from it. They (and RP) are tasks of
    `executor` (diversify.execution: here, or on Dask workers), solved with one HiGHS
    thread wherever they run, so that the figures do not depend on where; meanwhile
    this process finds and costs the mean-value plan and costs the least-cost plan.
    """
    step = progress or (lambda _label: None)
    c, names = core.compiled, core.scenario_names
    lam = problem.settings.risk_aversion
    label = [f"scenario {w} alone (WS)" for w in names]
    warnings: list[str] = []

    executor = executor or Executor(workers=1)
    # the other re-solves take about the core solve's time or more (large: 4x)
    executor.expect(core.report.solve_seconds)
    step(label[0])
    program, columns = scenario_alone(c, 0)
    first = _solved(
        label[0], solve_program(program, options, _start(core.values, columns)), warnings
    )
    base = core.values if first is None else full_values(c, columns, first[1].col_value)
    tasks = {}
    for i in range(1, len(names)):
        program, columns = scenario_alone(c, i)
        tasks[label[i]] = program, _start(base, columns, c.column_node[columns] == FIRST_STAGE)
    if lam > 0:
        program, columns = risk_neutral(c)
        tasks["risk-neutral problem (RP)"] = program, _start(core.values, columns)

    least_cost: list[Outcome] = []
    eev: list[float] = []

    def meanwhile() -> None:
        if first is not None:
            step("least-cost plan under every scenario")
            plan = _outcome(c, first[0], base, full=False).plan
            least_cost.append(_evaluate_plan(c, plan, False, options))
        step("mean-value plan (EEV)")
        try:
            mean = mean_value_scenario(c.sm.scenarios)
            plan = optimise(problem, [mean], 0.0, options, start=core, full=False).plan
            eev.append(_evaluate_plan(c, plan, True, options).expected_cost)
        except InfeasibleError as exc:
            warnings.append(f"mean-value plan (EEV): {exc}; EEV and VSS are left blank")

    done = executor.map(
        highs_program.solve_task,
        list(tasks.values()),
        shared=replace(options, threads=1, verbose=False),
        seconds_each=first[0].solve_seconds if first else core.report.solve_seconds,
        progress=step,
        label="re-solves",
        meanwhile=meanwhile,
    )
    solved = {label[0]: first} | {
        key: _solved(key, out, warnings) for key, out in zip(tasks, done, strict=True)
    }
    optima = {w: _objective(solved[label[i]]) for i, w in enumerate(names)}
    ws = None
    if all(v is not None for v in optima.values()):
        ws = sum(p * optima[w] for w, p in zip(names, core.probabilities, strict=True))
    rp = core.objective
    if lam > 0:
        rp = _objective(solved["risk-neutral problem (RP)"])
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


def _evaluate_plan(c: Compiled, plan: Plan, risk_neutral_only: bool, options) -> Outcome:
    """A plan under every scenario, on the compiled model (see `evaluate`)."""
    program, columns = fixed_plan(c, plan, risk_neutral_only)
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
    """
    c = core.compiled
    binaries = np.flatnonzero(c.program.integrality)
    lp = c.program.with_fixed(binaries, np.round(core.values[binaries]))
    report, sol = solve_program(lp, options)
    if not report.has_solution:
        return []
    rows = []
    for con, dual in zip(c.cm.rows, sol.row_dual.tolist(), strict=True):
        item = _explain_row(problem, con.parent_component().local_name, con.index(), -dual, core)
        if item:
            rows.append(item)
    at_capacity = sol.col_value >= lp.upper - 1e-9
    for key, j in c.plan_columns["x"].items():
        if at_capacity[j] and np.isfinite(lp.upper[j]):
            item = _explain_row(problem, "capacity", key, -float(sol.col_dual[j]), core)
            if item:
                rows.append(item)
    return sorted(rows, key=lambda r: -abs(r["usd_per_t"]))


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
