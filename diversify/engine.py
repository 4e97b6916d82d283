"""Solve and evaluate plans: the model in, tidy outcomes out (SPEC §4.5-§4.6).

`optimise` finds the best plan for a set of scenarios; `evaluate` costs a given plan
under every scenario (only the recovery optimised); `resilience_figures` re-solves for
the least-cost plan, RP, EEV/VSS and WS/EVPI.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

import pyomo.environ as pyo

from diversify.data import Problem, Rule
from diversify.derive import (
    ScenarioData,
    ScenarioTree,
    mean_value_scenario,
    scenario_data,
    scenario_tree,
)
from diversify.errors import InfeasibleError
from diversify.model import COST_PARTS, SourcingModel, build_model, plan_binaries
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
    """
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, risk_aversion)
    report, _ = solve(sm.model, options, start=_start_values(sm, start) if start else None)
    if report.status == "infeasible":
        raise InfeasibleError(diagnose(problem, scenarios, options))
    if not report.has_solution:
        raise InfeasibleError(
            f"no plan found within the time limit of {options.time_limit_s:g} s "
            "(raise time_limit_s in Settings, or loosen mip_gap)",
            status="time_limit",
        )
    return _outcome(sm, report, full)


def diagnose(problem: Problem, scenarios: list[ScenarioData], options: SolveOptions) -> str:
    """Which policy rules, materials and years conflict: the least total violation.

    Every policy row may be broken at a cost of one per tonne (or per missing
    supplier); the rows that must give are the conflict.
    """
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, 0.0, elastic=True)
    report, _ = solve(sm.model, options)
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
    report, _ = solve(sm.model, options)
    if not report.has_solution:  # cannot happen: surplus and shortfall absorb any plan
        raise InfeasibleError(f"evaluating the plan failed: {report.highs_status}")
    return _outcome(sm, report)


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


def _outcome(sm: SourcingModel, report: SolveReport, full: bool = True) -> Outcome:
    """The solved model's plan, objective and (if `full`) scenario costs and recovery."""
    mdl, names = sm.model, [w.name for w in sm.scenarios]
    plan = {
        k: max(0.0, pyo.value(v, exception=False) or 0.0) if hasattr(v, "is_variable_type") else v
        for k, v in sm.x.items()
    }
    plan = {k: v for k, v in plan.items() if v > 0}
    ordered = {k for k, v in sm.buy.items() if (pyo.value(v, exception=False) or 0.0) > 0.5}
    probabilities = [w.probability for w in sm.scenarios]
    alpha = sm.problem.settings.cvar_alpha
    if not full:
        return Outcome(
            plan, names, probabilities, {}, report.objective, report, {}, sm.tree, alpha, ordered
        )
    parts = {
        w: {p: float(pyo.value(mdl.cost_part[i, p])) for p in COST_PARTS}
        for i, w in enumerate(names)
    }
    recovery = {}
    for i, w in enumerate(names):
        for t in sm.years:
            n = sm.tree.node_of[(t, i)]
            for m in sm.problem.materials:
                recovery[(m, t, w)] = {
                    v: float(pyo.value(getattr(mdl, v)[m, n])) for v in ("z", "I", "u", "e")
                }
    return Outcome(
        plan,
        names,
        probabilities,
        parts,
        float(pyo.value(mdl.objective)),
        report,
        recovery,
        sm.tree,
        alpha,
        ordered,
    )


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
    workers: int = 1,
) -> ResilienceFigures:
    """Least-cost plan, price/value of resilience, RP, EEV (VSS) and WS (EVPI).

    |W| + 2 re-solves (+1 for RP when λ > 0), independent of each other: with
    `workers` > 1 they run in that many worker processes (on a machine whose cores
    really run in parallel; on 2 shared vCPUs it was measured slower). Each
    starts from the core plan, which keeps every rule and so is feasible for all of
    them. The least-cost plan is the first scenario's WS plan (with one scenario,
    λ·CVaR = λ·C_w does not move the optimum).
    """
    step = progress or (lambda _label: None)
    scenarios = scenario_data(problem)
    lam = problem.settings.risk_aversion
    tasks: dict[str, tuple] = {
        f"scenario {w.name} alone (WS)": ("ws", i) for i, w in enumerate(scenarios)
    }
    tasks["mean-value plan (EEV)"] = ("eev", None)
    if lam > 0:
        tasks["risk-neutral problem (RP)"] = ("rp", None)
    done, warnings = _run_figure_tasks(problem, core, options, tasks, workers, step)

    ws_first = done.get(f"scenario {scenarios[0].name} alone (WS)")
    least_cost = price = value = None
    if ws_first is not None:
        step("least-cost plan under every scenario")
        least_cost = evaluate(problem, ws_first.plan, scenarios, lam, options)
        w0 = core.scenario_names[0]
        price = core.scenario_costs[w0] - least_cost.scenario_costs[w0]
        value = least_cost.expected_cost - core.expected_cost
    rp = core.objective if lam == 0 else _objective(done.get("risk-neutral problem (RP)"))
    eev = done.get("mean-value plan (EEV)")
    optima = {w.name: _objective(done.get(f"scenario {w.name} alone (WS)")) for w in scenarios}
    ws = None
    if all(v is not None for v in optima.values()):
        ws = sum(w.probability * optima[w.name] for w in scenarios)
    return ResilienceFigures(least_cost, price, value, rp, eev, ws, optima, warnings)


def _objective(outcome: Outcome | None) -> float | None:
    return None if outcome is None else outcome.objective


def figure_task(problem: Problem, core: Outcome, options: SolveOptions, kind: str, index):
    """One re-solve of `resilience_figures` (top level, so worker processes can run it)."""
    scenarios = scenario_data(problem)
    if kind == "ws":
        return optimise(problem, [scenarios[index].alone()], 0.0, options, start=core, full=False)
    if kind == "rp":
        return optimise(problem, scenarios, 0.0, options, start=core, full=False)
    mean_plan = optimise(
        problem, [mean_value_scenario(scenarios)], 0.0, options, start=core, full=False
    )
    return evaluate(problem, mean_plan.plan, scenarios, 0.0, options).expected_cost


def _run_figure_tasks(problem, core, options, tasks, workers, step):
    """Run the re-solves, serially or in a process pool; a failed one is left blank."""
    done: dict[str, object] = {}
    warnings: list[str] = []

    def record(label, compute):
        try:
            done[label] = compute()
        except InfeasibleError as exc:
            warnings.append(f"{label}: {exc}; the figures that need it are left blank")

    if workers <= 1:
        for label, (kind, index) in tasks.items():
            step(label)
            record(label, lambda k=kind, i=index: figure_task(problem, core, options, k, i))
        return done, warnings
    worker_options = replace(options, threads=1, verbose=False)
    ctx = multiprocessing.get_context("spawn")  # HiGHS's threads do not survive a fork
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {
                pool.submit(figure_task, problem, core, worker_options, kind, index): label
                for label, (kind, index) in tasks.items()
            }
            for n, future in enumerate(as_completed(futures), start=1):
                label = futures[future]
                step(f"re-solves: {n}/{len(futures)} done ({label})")
                record(label, future.result)
    except BrokenProcessPool:  # a worker died (memory?): finish what is left here
        rest = {label: task for label, task in tasks.items() if label not in done}
        more, more_warnings = _run_figure_tasks(problem, core, options, rest, 1, step)
        done |= more
        warnings += more_warnings
    return done, warnings


def explain(
    problem: Problem, scenarios: list[ScenarioData], core: Outcome, options: SolveOptions
) -> list[dict[str, object]]:
    """What each binding rule and capacity costs, in USD (of the objective) per tonne.

    The orders of the plan are fixed (buy, active, use as solved), the LP that is
    left is re-solved, and its duals are read: the marginal value of one more tonne of
    capacity, of a policy rule relaxed by one tonne, of a minimum order lowered by one.
    """
    tree = scenario_tree(scenarios, problem.years, problem.settings.recourse)
    sm = build_model(problem, scenarios, tree, problem.settings.risk_aversion)
    ordered, active, used = plan_binaries(core.plan, core.ordered)
    for group, on in ((sm.buy, ordered), (sm.active, active), (sm.use, used)):
        for key, var in group.items():
            var.fix(1.0 if key in on else 0.0)
    report, cm = solve(sm.model, options)
    if not report.has_solution:
        return []
    sol = cm.highs.getSolution()
    rows = []
    for con, dual in zip(cm.rows, sol.row_dual, strict=True):
        item = _explain_row(problem, con.parent_component().name, con.index(), -dual, core)
        if item:
            rows.append(item)
    for var, dual, value in zip(cm.columns, sol.col_dual, sol.col_value, strict=True):
        if var.parent_component().name == "x" and var.ub is not None and value >= var.ub - 1e-9:
            item = _explain_row(problem, "capacity", var.index(), -dual, core)
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
