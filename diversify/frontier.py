"""`diversify frontier`: what it costs to depend less on one country (SPEC §5).

The input is solved without a cap and its dependence on TARGET measured: the largest
share, over materials and years, of contracted tonnes x from suppliers with any link to
TARGET (country, ore origin or processing country; SPEC §3 `any_link`). It is then
re-solved with one more policy rule, `max_share any_link TARGET <= cap` over every
material and year (SPEC §4.4), for caps from that share down to 0. A tighter cap only
removes plans, so the optimum never falls as the cap tightens (within the MIP gap).

    cap_k = share_0 * (N - 1 - k) / (N - 1),  k = 0 .. N-1   (N = --points)

Point 0 is the unconstrained solve itself. Each point reports the objective, expected
cost, first-scenario cost, CVaR and expected shortfall Σ_w π_w Σ_{m,t} u[m,t,w]; a cap
that leaves no feasible plan is reported as such (and every tighter cap with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.styles import Font

from diversify.checks import breaches
from diversify.compiled import Compiled, with_share_rule
from diversify.data import Problem
from diversify.derive import (
    BUY_THRESHOLD_T,
    cap_rule,
    hits_offer,
    link_share,
    linked_suppliers,
    scenario_data,
)
from diversify.engine import Outcome, conclude, plan_task_of, start_optimise
from diversify.errors import DiversifyError, InfeasibleError, InputError, Issue
from diversify.excel_out import safe_value, save_atomic, title_sheet, write_run_sheet, write_table
from diversify.execution import Executor
from diversify.program import PlanTask, Solution, SolveReport, solve_plan
from diversify.solver import SolveOptions

Progress = Callable[[str], None]

KNEE_METHOD = (
    "Knee: the feasible point farthest from the straight line (the chord) joining the "
    "loosest and the tightest feasible points, with both axes (cap, expected cost) scaled "
    "to 0..1. It is where the curve bends most: the cost of the next percentage point of "
    "independence changes there."
)
MEASURE = (
    "Dependence on {target}: the largest share, over every material and year, of the "
    "contracted tonnes (plan x, spot excluded) bought from suppliers whose country, ore "
    "origin or processing country is {target}."
)


# ---------------------------------------------------------------- the measure and the cap


def capped(problem: Problem, target: str, cap: float) -> Problem:
    """A copy of the problem with the cap appended to its policy rules."""
    return replace(problem, rules=[*problem.rules, cap_rule(problem, target, cap)])


def expected_shortfall(outcome: Outcome) -> float:
    """Σ_w π_w Σ_{m,t} u[m,t,w] (t)."""
    prob = dict(zip(outcome.scenario_names, outcome.probabilities, strict=True))
    return sum(prob[w] * r["u"] for (_, _, w), r in outcome.recovery.items())


# ---------------------------------------------------------------- the frontier


@dataclass
class FrontierPoint:
    """One cap and the best plan under it (outcome None when there is none)."""

    cap: float
    status: str
    outcome: Outcome | None = None
    achieved_share: float | None = None
    message: str = ""

    def figure(self, name: str) -> float | None:
        o = self.outcome
        if o is None:
            return None
        match name:
            case "objective_usd":
                return o.objective
            case "expected_cost_usd":
                return o.expected_cost
            case "first_scenario_cost_usd":
                return o.scenario_costs[o.scenario_names[0]]
            case "cvar_usd":
                return o.cvar
            case "expected_shortfall_t":
                return expected_shortfall(o)
            case "mip_gap":
                return o.report.mip_gap
            case "solve_seconds":
                return o.report.solve_seconds
        raise KeyError(name)


FIGURES = (
    "objective_usd",
    "expected_cost_usd",
    "first_scenario_cost_usd",
    "cvar_usd",
    "expected_shortfall_t",
    "mip_gap",
    "solve_seconds",
)


@dataclass
class Frontier:
    """Cost against dependence on one target, loosest cap first."""

    problem: Problem
    target: str
    unconstrained_share: float
    points: list[FrontierPoint]
    knee: int | None = None  # index into points
    warnings: list[str] = field(default_factory=list)

    def knee_text(self) -> str:
        if self.knee is None:
            feasible = [p for p in self.points if p.outcome is not None]
            if len(feasible) < 3:
                return "No knee: fewer than three feasible points."
            return "No knee: the expected cost changes along a straight line."
        p = self.points[self.knee]
        first = self.points[0]
        last = [q for q in self.points if q.outcome is not None][-1]
        cost, base = p.figure("expected_cost_usd"), first.figure("expected_cost_usd")
        before = _per_point(first, p)
        after = _per_point(p, last)
        return (
            f"Knee at point {self.knee + 1}: cap {p.cap:.1%} on {self.target}, expected cost "
            f"{cost:,.0f} USD ({cost - base:+,.0f} vs no cap). Down to this cap each "
            f"percentage point of dependence removed costs {before:,.0f} USD on average; "
            f"beyond it, {after:,.0f} USD."
        )


def _per_point(a: FrontierPoint, b: FrontierPoint) -> float:
    """Average extra expected cost per percentage point of cap between two points."""
    span = 100 * (a.cap - b.cap)
    if span <= 0:
        return 0.0
    return (b.figure("expected_cost_usd") - a.figure("expected_cost_usd")) / span


def trace_frontier(
    problem: Problem,
    target: str,
    n_points: int,
    options: SolveOptions,
    progress: Progress = lambda _label: None,
    executor: Executor | None = None,
) -> Frontier:
    """Solve without a cap, then under caps from its share down to 0 (`n_points` in all);
    the capped points are tasks of `executor` (diversify.execution)."""
    if n_points < 2:
        raise InputError([Issue(None, None, "--points", "a frontier needs at least 2 points")])
    if not linked_suppliers(problem, target):
        links = sorted(
            {c for s in problem.suppliers.values() for c in (s.country, s.ore_origin)}
            | {s.processing_country for s in problem.suppliers.values()}
        )
        raise InputError(
            [
                Issue(
                    None,
                    None,
                    "--target",
                    f"no supplier has {target!r} as its country, ore origin or processing "
                    f"country (targets are case-sensitive); the inputs name: {', '.join(links)}",
                )
            ]
        )
    scenarios = scenario_data(problem)
    lam = problem.settings.risk_aversion
    executor = executor or Executor(workers=1)
    point_options = replace(options, threads=1, verbose=False)
    executor.expect(0.0)  # --workers K > 1: a local cluster starts while the model builds
    progress(f"solving without a cap on {target} (1/{n_points})")
    solving = start_optimise(problem, scenarios, lam, options, executor)  # a task on a cluster
    # the tightest cap, 0, needs nothing of the unconstrained solve (no start: its plan
    # would be scaled to nothing linked anyway); on a cluster it is solved beside it
    zero_problem, zero_model, zero_task = _capped_point(problem, solving.compiled, target, 0.0)
    zero_result = None
    if executor.parallel:
        zero_result = executor.submit(
            solve_plan, zero_task, shared=point_options, label=f"frontier point {target} <= 0%"
        )
    base = solving.outcome()
    share0 = link_share(problem, base.plan, target)
    points = [FrontierPoint(share0, base.report.status, base, share0)]
    warnings = list(problem.warnings)
    if share0 <= 1e-9:
        warnings.append(
            f"the unconstrained plan buys nothing linked to {target}: the frontier is one point"
        )
        return Frontier(problem, target, share0, points, None, warnings)
    caps = [share0 * (n_points - 1 - k) / (n_points - 1) for k in range(1, n_points)]
    executor.expect(base.report.solve_seconds * len(caps))  # starts while models build
    built: list[tuple[Problem, Compiled]] = []
    # tightest first: the loosest caps solve quickest from the scaled plan (large: 3 s
    # against 9-12 s), so they fill the workers' last gaps instead of leaving them;
    # cap 0 (the last cap) after them
    order = [*sorted(range(len(caps) - 1), key=lambda k: caps[k]), len(caps) - 1]

    def tasks() -> Iterator[PlanTask]:
        """Each capped program made here (the unconstrained one with the cap's rows),
        handed over as arrays; each starts from the unconstrained plan scaled to its cap
        (cap 0 from nothing), so that no point waits for another and every point is the
        same wherever it is solved."""
        for k in order[:-1]:
            p, c, task = _capped_point(problem, solving.compiled, target, caps[k], base)
            built.append((p, c))
            yield task
        if zero_result is None:  # no cluster: cap 0 is solved here, last
            yield zero_task

    solved = executor.map(
        solve_plan,
        tasks(),
        count=len(caps) - (zero_result is not None),
        shared=point_options,
        seconds_each=base.report.solve_seconds,
        progress=lambda label: progress(f"{label} (caps on {target})"),
        label="frontier points",
    )
    if zero_result is not None:
        solved.append(zero_result())
    built.append((zero_problem, zero_model))
    of_cap = dict(zip(order, zip(built, solved, strict=True), strict=True))
    blocked = False
    for k, cap in enumerate(caps):
        (p, c), (report, solution) = of_cap[k]
        if blocked:
            points.append(
                FrontierPoint(cap, "infeasible", message="a looser cap already had no plan")
            )
            continue
        point = _point(problem, p, target, cap, scenarios, options, c, report, solution)
        points.append(point)
        if point.outcome is None:
            warnings.append(f"cap {cap:.1%} on {target}: {point.message}")
            blocked = point.status == "infeasible"  # a tighter cap only removes plans
    return Frontier(problem, target, share0, points, knee(points), warnings)


def _capped_point(
    problem: Problem, unconstrained: Compiled, target: str, cap: float, start: Outcome | None = None
) -> tuple[Problem, Compiled, PlanTask]:
    """The problem with the cap on TARGET, its compiled model (the unconstrained one with
    the cap's rows: no model built again) and its task, from `start`'s plan scaled to the
    cap where that keeps every rule (`feasible_start`), else from nothing."""
    p = capped(problem, target, cap)
    c = with_share_rule(unconstrained, cap_rule(problem, target, cap))
    return p, c, plan_task_of(c, start and feasible_start(p, start, target, cap))


def _point(
    problem: Problem,
    p: Problem,
    target: str,
    cap: float,
    scenarios,
    options: SolveOptions,
    c: Compiled,
    report: SolveReport,
    solution: Solution | None,
) -> FrontierPoint:
    """One solved cap as a point of the frontier (`p`: the problem with the cap)."""
    try:
        out = conclude(p, scenarios, options, c, report, solution)
    except InfeasibleError as exc:
        label = cap_rule(problem, target, cap).label
        message = str(exc).replace(label, f"the frontier cap ({target} <= {cap:.1%})")
        return FrontierPoint(cap, exc.status, message=message)
    broken = breaches(p, out.plan, out.ordered, out.starts)
    if broken:  # the model and the checker disagree: a bug, never a planner's fault
        raise DiversifyError("internal check failed, the plan breaks: " + "; ".join(broken))
    return FrontierPoint(cap, out.report.status, out, link_share(problem, out.plan, target))


def feasible_start(problem: Problem, previous: Outcome, target: str, cap: float) -> Outcome | None:
    """The previous plan with the linked tonnes scaled down to the new cap, if that keeps
    every rule (a MIP start must be feasible); None otherwise."""
    rule = cap_rule(problem, target, cap)
    plan = dict(previous.plan)
    for m in problem.materials:
        for t in problem.years:
            keys = [k for k in plan if k[1] == m and k[2] == t and k[0] in problem.suppliers]
            hit = [k for k in keys if hits_offer(problem, rule, k[0])]
            linked = sum(plan[k] for k in hit)
            other = sum(plan[k] for k in keys) - linked
            allowed = other * cap / (1 - cap) if cap < 1 else math.inf
            if linked <= allowed:
                continue
            for k in hit:
                plan[k] *= allowed / linked
                if plan[k] < problem.offers[k[:2]].min_order_t:
                    plan[k] = 0.0
    plan = {k: q for k, q in plan.items() if q > BUY_THRESHOLD_T}
    if breaches(problem, plan):
        return None
    return replace(previous, plan=plan, ordered=set())


def knee(points: list[FrontierPoint]) -> int | None:
    """Index of the feasible point farthest from the chord (both axes scaled to 0..1)."""
    feasible = [i for i, p in enumerate(points) if p.outcome is not None]
    if len(feasible) < 3:
        return None
    first, last = points[feasible[0]], points[feasible[-1]]
    x0, x1 = first.cap, last.cap
    y0, y1 = first.figure("expected_cost_usd"), last.figure("expected_cost_usd")
    if x0 - x1 <= 1e-12 or abs(y1 - y0) <= 1e-9 * max(1.0, abs(y0)):
        return None
    best, where = 1e-6, None
    for i in feasible[1:-1]:
        p = points[i]
        xn = (x0 - p.cap) / (x0 - x1)
        yn = (p.figure("expected_cost_usd") - y0) / (y1 - y0)
        dist = abs(xn - yn) / math.sqrt(2)
        if dist > best:
            best, where = dist, i
    return where


# ---------------------------------------------------------------- tables and JSON


def frontier_table(frontier: Frontier) -> pd.DataFrame:
    base = frontier.points[0].figure("expected_cost_usd")
    rows, previous = [], None
    for i, p in enumerate(frontier.points):
        cost = p.figure("expected_cost_usd")
        marginal = None
        if p.outcome is not None and previous is not None and previous.cap > p.cap:
            marginal = _per_point(previous, p)
        rows.append(
            [
                i + 1,
                p.cap,
                p.achieved_share,
                p.status,
                *(p.figure(f) for f in FIGURES[:5]),
                None if cost is None else cost - base,
                marginal,
                p.figure("mip_gap"),
                p.figure("solve_seconds"),
                "knee" if i == frontier.knee else ("no cap" if i == 0 else None),
                _options_text(p),
            ]
        )
        if p.outcome is not None:
            previous = p
    return pd.DataFrame(
        rows,
        columns=[
            "point",
            "cap",
            "achieved_share",
            "status",
            *FIGURES[:5],
            "extra_expected_cost_usd",
            "usd_per_point_removed",
            "mip_gap",
            "solve_seconds",
            "note",
            "substitutions",
        ],
    )


def _options_text(point: FrontierPoint) -> str | None:
    """The substitution options a point's plan takes, with their years ("none")."""
    if point.outcome is None:
        return None
    taken = point.outcome.starts
    return "; ".join(f"{o} from {t}" for o, t in taken.items()) or "none"


def _options(frontier: Frontier, point: FrontierPoint) -> dict[str, int | None] | None:
    if point.outcome is None:
        return None
    return {o: point.outcome.starts.get(o) for o in frontier.problem.substitutions}


def frontier_plans(frontier: Frontier) -> pd.DataFrame:
    """The plan x at every feasible point: supplier, material, year, one column per point."""
    feasible = [(i, p) for i, p in enumerate(frontier.points) if p.outcome is not None]
    cols = [f"P{i + 1} cap {p.cap:.1%}" for i, p in feasible]
    problem = frontier.problem
    rows = []
    for s, m in problem.offers:
        for t in problem.years:
            values = [p.outcome.plan.get((s, m, t), 0.0) for _, p in feasible]
            if any(v > BUY_THRESHOLD_T for v in values):
                rows.append([s, m, t, *values])
    return pd.DataFrame(rows, columns=["supplier", "material", "year", *cols])


def frontier_json(frontier: Frontier, output: Path | None) -> dict[str, object]:
    knee_point = None
    if frontier.knee is not None:
        p = frontier.points[frontier.knee]
        knee_point = {
            "point": frontier.knee + 1,
            "cap": p.cap,
            "expected_cost_usd": p.figure("expected_cost_usd"),
        }
    return {
        "status": "ok",
        "target": frontier.target,
        "unconstrained_share": frontier.unconstrained_share,
        "points": [
            {
                "point": i + 1,
                "cap": p.cap,
                "achieved_share": p.achieved_share,
                "status": p.status,
                **{f: p.figure(f) for f in FIGURES},
                "substitutions": _options(frontier, p),
            }
            for i, p in enumerate(frontier.points)
        ],
        "knee": knee_point,
        "knee_method": "max distance to the chord between the first and last feasible points",
        "output": None if output is None else str(output),
        "warnings": frontier.warnings,
    }


# ---------------------------------------------------------------- the workbook


def write_frontier_workbook(
    path: Path, frontier: Frontier, run_info: dict[str, object], force: bool = False
) -> None:
    """Frontier (notes, table, chart), Plans, Warnings, Run; saved atomically."""
    wb = Workbook()
    ws = wb.active
    title_sheet(ws, "Frontier", "diversify — cost against dependence")
    notes = [
        f"Input: {run_info.get('input_file', '')}   Target: {frontier.target}   "
        f"Unconstrained dependence: {frontier.unconstrained_share:.1%}",
        MEASURE.format(target=frontier.target),
        frontier.knee_text(),
        KNEE_METHOD,
    ]
    for i, text in enumerate(notes, start=2):
        safe_value(ws.cell(i, 1), text)
    ws.cell(4, 1).font = Font(bold=True)
    start = len(notes) + 3
    table = frontier_table(frontier)
    formats = {
        "cap": "share",
        "achieved_share": "share",
        "objective_usd": "USD",
        "expected_cost_usd": "USD",
        "first_scenario_cost_usd": "USD",
        "cvar_usd": "USD",
        "expected_shortfall_t": "t",
        "extra_expected_cost_usd": "USD",
        "usd_per_point_removed": "USD",
        "mip_gap": "0.0000%",
        "solve_seconds": "s",
    }
    write_table(ws, table, formats, start_row=start, freeze=f"A{start + 1}")
    ws.column_dimensions["A"].width = 10
    _frontier_chart(ws, frontier, table, start)
    plans = frontier_plans(frontier)
    write_table(
        wb.create_sheet("Plans"),
        plans,
        {c: "t" for c in plans.columns[3:]},
        freeze="D2",
    )
    write_table(
        wb.create_sheet("Warnings"),
        pd.DataFrame({"warning": frontier.warnings or ["No warnings."]}),
    )
    write_run_sheet(wb, run_info)
    save_atomic(wb, path, force)


def _frontier_chart(ws, frontier: Frontier, table: pd.DataFrame, start: int) -> None:
    """Expected cost (and CVaR) against the cap; the knee as its own marked series."""
    n = len(table)
    col = {name: j for j, name in enumerate(table.columns, start=1)}
    chart = ScatterChart()
    chart.title = f"Expected cost against the cap on {frontier.target}"
    chart.x_axis.title = f"cap: max share linked to {frontier.target}"
    chart.y_axis.title = "USD"
    chart.x_axis.number_format = "0%"
    chart.y_axis.number_format = "#,##0"
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.x_axis.scaling.min = 0
    chart.x_axis.scaling.max = min(1.0, math.ceil(frontier.unconstrained_share * 10) / 10) or 1.0
    xs = Reference(ws, min_col=col["cap"], min_row=start + 1, max_row=start + n)
    for name, title, colour in (
        ("expected_cost_usd", "expected cost", "1F4E78"),
        ("cvar_usd", "CVaR", "C55A11"),
    ):
        ys = Reference(ws, min_col=col[name], min_row=start + 1, max_row=start + n)
        series = Series(ys, xs, title=title)
        series.smooth = False
        series.marker.symbol = "circle"
        series.marker.graphicalProperties = GraphicalProperties(solidFill=colour)
        series.graphicalProperties.line.solidFill = colour
        chart.series.append(series)
    if frontier.knee is not None:
        row = start + 1 + frontier.knee
        series = Series(
            Reference(ws, min_col=col["expected_cost_usd"], min_row=row),
            Reference(ws, min_col=col["cap"], min_row=row),
            title="knee",
        )
        series.smooth = False
        series.marker.symbol, series.marker.size = "diamond", 12
        series.marker.graphicalProperties = GraphicalProperties(solidFill="C00000")
        series.graphicalProperties.line.noFill = True
        chart.series.append(series)
    chart.height, chart.width = 10, 20
    ws.add_chart(chart, f"A{start + n + 3}")
