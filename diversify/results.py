"""The results of SPEC §4.6 as tidy tables (pandas), computed once for every writer.

Index columns are named after the sets: supplier, material, year, scenario.
The Excel writer and the JSON summary only lay these out; they compute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from diversify.data import Problem
from diversify.derive import COST_PARTS, by_material_year, links

if TYPE_CHECKING:  # `compare` and `stress` read results without Pyomo
    from diversify.engine import Outcome, ResilienceFigures

DIMENSIONS = ("country", "ore_origin", "processing_country")


@dataclass
class Results:
    """Everything a plan workbook reports."""

    summary: dict[str, object]  # figure key -> value (see SUMMARY_FIGURES)
    plan: pd.DataFrame  # supplier, material, one column per year
    scenario_costs: pd.DataFrame  # scenario, probability, parts..., total
    recovery: pd.DataFrame  # material, year, scenario, spot/stock/shortfall/surplus t
    shares: pd.DataFrame  # material, year, dimension, origin, volume_t, share
    concentration: pd.DataFrame  # material, year, volume_t, hhi, avg_risk
    tree: pd.DataFrame  # year, node, scenarios, material, stock_t
    dependence: pd.DataFrame  # material, year, target, linked_share
    shortfall: pd.DataFrame  # material, expected_shortfall_t, worst_scenario, worst_shortfall_t
    substitutions: pd.DataFrame  # option, start_year, material, reduction, saving_usd
    breaches: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    explain: pd.DataFrame | None = None  # kind, source, material, year, usd_per_t, usd, meaning


# key, label, unit — the rows of the Summary sheet and of `compare`
SUMMARY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("status", "Solver status", ""),
    ("objective_usd", "Objective (expected cost + λ·CVaR)", "USD"),
    ("expected_cost_usd", "Expected cost", "USD"),
    ("cvar_usd", "CVaR of cost", "USD"),
    ("first_scenario_cost_usd", "Cost in the normal world (first scenario)", "USD"),
    ("worst_scenario_cost_usd", "Cost in the worst scenario", "USD"),
    ("expected_shortfall_t", "Expected shortfall (all materials, all years)", "t"),
    ("price_of_resilience_usd", "Price of resilience (extra cost in the normal world)", "USD"),
    ("value_of_resilience_usd", "Value of resilience (expected saving vs least-cost plan)", "USD"),
    ("least_cost_plan_expected_cost_usd", "Least-cost plan: expected cost", "USD"),
    ("rp_usd", "RP: risk-neutral optimum", "USD"),
    ("eev_usd", "EEV: expected cost of the mean-value plan", "USD"),
    ("ws_usd", "WS: wait-and-see (perfect information)", "USD"),
    ("vss_usd", "VSS: value of the stochastic solution", "USD"),
    ("evpi_usd", "EVPI: expected value of perfect information", "USD"),
    ("mip_gap", "MIP gap", "%"),
    ("solve_seconds", "Core solve time", "s"),
    ("breaches", "Rules the plan breaks", "count"),
)


def tabulate(
    problem: Problem,
    outcome: Outcome,
    figures: ResilienceFigures | None = None,
    breaches: list[str] | None = None,
    explain: list[dict] | None = None,
    savings: dict[str, float] | None = None,
) -> Results:
    """All §4.6 tables for one plan (and, after a solve, what binding rules cost).

    `savings`: option -> what the plan's expected cost rises by without it."""
    rec = recovery_table(outcome)
    costs = scenario_cost_table(outcome)
    summary = summary_figures(outcome, figures, rec, breaches)
    warnings = list(problem.warnings) + (figures.warnings if figures else [])
    return Results(
        summary,
        plan_table(problem, outcome.plan),
        costs,
        rec,
        share_table(problem, outcome.plan),
        concentration_table(problem, outcome.plan),
        tree_table(outcome),
        dependence_table(problem, outcome.plan),
        shortfall_table(outcome, rec),
        substitution_table(problem, outcome, savings or {}),
        list(breaches or []),
        warnings,
        pd.DataFrame(explain or [], columns=EXPLAIN_COLUMNS) if explain is not None else None,
    )


EXPLAIN_COLUMNS = ["kind", "source", "material", "year", "usd_per_t", "usd", "meaning"]


def summary_figures(
    outcome: Outcome,
    figures: ResilienceFigures | None,
    rec: pd.DataFrame,
    breaches: list[str] | None,
) -> dict[str, object]:
    costs = outcome.scenario_costs
    prob = dict(zip(outcome.scenario_names, outcome.probabilities, strict=True))
    short = rec.groupby("scenario")["shortfall_t"].sum()
    out: dict[str, object] = {
        "status": outcome.report.status,
        "objective_usd": outcome.objective,
        "expected_cost_usd": outcome.expected_cost,
        "cvar_usd": outcome.cvar,
        "first_scenario_cost_usd": costs[outcome.scenario_names[0]],
        "worst_scenario_cost_usd": max(costs.values()),
        "expected_shortfall_t": float(sum(prob[w] * short.get(w, 0.0) for w in prob)),
        "mip_gap": outcome.report.mip_gap,
        "solve_seconds": outcome.report.solve_seconds,
        "breaches": len(breaches or []),
    }
    if figures is not None:
        out |= {
            "price_of_resilience_usd": figures.price_of_resilience,
            "value_of_resilience_usd": figures.value_of_resilience,
            "least_cost_plan_expected_cost_usd": (
                figures.least_cost.expected_cost if figures.least_cost else None
            ),
            "rp_usd": figures.rp,
            "eev_usd": figures.eev,
            "ws_usd": figures.ws,
            "vss_usd": figures.vss,
            "evpi_usd": figures.evpi,
        }
    return {key: out.get(key) for key, _, _ in SUMMARY_FIGURES}


def substitution_table(
    problem: Problem, outcome: Outcome, savings: dict[str, float]
) -> pd.DataFrame:
    """One row per substitution option: the year it takes effect (None: not taken) and,
    for those taken, the expected cost the plan saves with it."""
    rows = [
        [o, sub.material, sub.reduction, savings.get(o)] for o, sub in problem.substitutions.items()
    ]
    df = pd.DataFrame(rows, columns=["option", "material", "reduction", "saving_usd"])
    years = [outcome.starts.get(o) for o in problem.substitutions]
    df.insert(1, "start_year", pd.Series(years, dtype=object))  # None stays None, not NaN
    return df


def plan_table(problem: Problem, plan: dict) -> pd.DataFrame:
    """One row per offer of the input, one column per year (0 where nothing is ordered)."""
    rows = [[s, m, *(plan.get((s, m, t), 0.0) for t in problem.years)] for s, m in problem.offers]
    return pd.DataFrame(rows, columns=["supplier", "material", *problem.years])


def scenario_cost_table(outcome: Outcome) -> pd.DataFrame:
    rows = [
        [w, p, *(outcome.cost_parts[w][c] for c in COST_PARTS), outcome.scenario_costs[w]]
        for w, p in zip(outcome.scenario_names, outcome.probabilities, strict=True)
    ]
    return pd.DataFrame(
        rows, columns=["scenario", "probability", *(f"{c}_usd" for c in COST_PARTS), "total_usd"]
    )


def recovery_table(outcome: Outcome) -> pd.DataFrame:
    """Spot, stock, shortfall and surplus per material, year and scenario (input order)."""
    materials = list(dict.fromkeys(m for m, _, _ in outcome.recovery))
    years = sorted({t for _, t, _ in outcome.recovery})
    rows = [
        [m, t, w, *(outcome.recovery[(m, t, w)][v] for v in ("z", "I", "u", "e"))]
        for m in materials
        for t in years
        for w in outcome.scenario_names
    ]
    return pd.DataFrame(
        rows,
        columns=["material", "year", "scenario", "spot_t", "stock_t", "shortfall_t", "surplus_t"],
    )


def _origin(problem: Problem, s: str, dim: str) -> str:
    return getattr(problem.suppliers[s], dim) if s in problem.suppliers else "?"


def volume_by_origin(problem: Problem, vol: dict[str, float], dim: str) -> dict[str, float]:
    """Tonnes per country of one link (country, ore_origin or processing_country)."""
    by: dict[str, float] = {}
    for s, q in vol.items():
        key = _origin(problem, s, dim)
        by[key] = by.get(key, 0.0) + q
    return by


def share_table(problem: Problem, plan: dict) -> pd.DataFrame:
    """Shares of the plan (spot excluded) by country, ore origin and processing country."""
    rows = []
    grouped = by_material_year(plan)
    for m in problem.materials:
        for t in problem.years:
            vol = grouped.get((m, t), {})
            total = sum(vol.values())
            for dim in DIMENSIONS:
                by = volume_by_origin(problem, vol, dim)
                rows += [[m, t, dim, c, q, q / total] for c, q in by.items()]
    return pd.DataFrame(
        rows, columns=["material", "year", "dimension", "origin", "volume_t", "share"]
    )


def concentration_table(problem: Problem, plan: dict) -> pd.DataFrame:
    """HHI of country shares (0..10,000) and volume-weighted average risk per material, year."""
    rows = []
    grouped = by_material_year(plan)
    for m in problem.materials:
        for t in problem.years:
            vol = grouped.get((m, t), {})
            total = sum(vol.values())
            if total <= 0:
                rows.append([m, t, 0.0, None, None])
                continue
            by = volume_by_origin(problem, vol, "country")
            hhi = 10_000 * sum((q / total) ** 2 for q in by.values())
            risk = (
                sum(problem.supplier_risk(s) * q for s, q in vol.items() if s in problem.suppliers)
                / total
            )
            rows.append([m, t, total, hhi, risk])
    return pd.DataFrame(rows, columns=["material", "year", "volume_t", "hhi", "avg_risk"])


DEPENDENCE_NAMES = ("china", "cn", "prc", "people's republic of china")


def dependence_target(problem: Problem) -> str | None:
    """The country whose links the summary tracks: China under any of its usual names."""
    places = {c for s in problem.suppliers for c in links(problem, s)}
    return next((c for c in sorted(places) if c.strip().lower() in DEPENDENCE_NAMES), None)


def dependence_table(problem: Problem, plan: dict, target: str | None = None) -> pd.DataFrame:
    """Share of contracted volume mined, processed or shipped in `target`, per material, year."""
    target = target or dependence_target(problem)
    rows = []
    grouped = by_material_year(plan)
    for m in problem.materials:
        for t in problem.years:
            vol = grouped.get((m, t), {})
            total = sum(vol.values())
            linked = sum(q for s, q in vol.items() if target in links(problem, s))
            rows.append([m, t, target, linked / total if total > 0 and target else None])
    return pd.DataFrame(rows, columns=["material", "year", "target", "linked_share"])


def shortfall_table(outcome: Outcome, rec: pd.DataFrame) -> pd.DataFrame:
    """Expected and worst-scenario shortfall per material (t over the horizon)."""
    prob = dict(zip(outcome.scenario_names, outcome.probabilities, strict=True))
    by = rec.groupby(["material", "scenario"], sort=False)["shortfall_t"].sum()
    rows = []
    for m in dict.fromkeys(rec["material"]):
        per = {w: float(by.get((m, w), 0.0)) for w in prob}
        worst = max(per, key=per.get)
        rows.append([m, sum(prob[w] * q for w, q in per.items()), worst, per[worst]])
    return pd.DataFrame(
        rows, columns=["material", "expected_shortfall_t", "worst_scenario", "worst_shortfall_t"]
    )


def tree_table(outcome: Outcome) -> pd.DataFrame:
    """One row per node of the scenario tree: its year, the stock at year end of each
    material there, and the scenarios that share their recovery in it."""
    rows = []
    tree = outcome.tree
    materials = sorted({m for m, _, _ in outcome.recovery})
    for n, node in enumerate(tree.nodes):
        names = [outcome.scenario_names[i] for i in node.members]
        stock = [outcome.recovery[(m, node.year, names[0])]["I"] for m in materials]
        rows.append([node.year, n + 1, *stock, len(names), ", ".join(names)])
    columns = ["year", "node", *(f"stock_t {m}" for m in materials), "scenario_count", "scenarios"]
    return pd.DataFrame(rows, columns=columns)


def json_summary(results: Results, command: str) -> dict[str, object]:
    """The `--json` object of SPEC §5."""
    s = results.summary
    costs = results.scenario_costs.set_index("scenario")["total_usd"].to_dict()
    out = {
        "status": s["status"],
        "objective_usd": s["objective_usd"],
        "expected_cost_usd": s["expected_cost_usd"],
        "cvar_usd": s["cvar_usd"],
        "mip_gap": s["mip_gap"],
        "solve_seconds": s["solve_seconds"],
        "scenario_costs_usd": {str(k): float(v) for k, v in costs.items()},
        "substitutions": {
            str(o): None if t is None else int(t)
            for o, t in zip(
                results.substitutions["option"], results.substitutions["start_year"], strict=True
            )
        },
    }
    if command == "solve":
        out |= {
            k: s[k]
            for k in (
                "evpi_usd",
                "vss_usd",
                "price_of_resilience_usd",
                "value_of_resilience_usd",
                "rp_usd",
                "eev_usd",
                "ws_usd",
            )
        }
    else:
        out |= {"breaches": results.breaches}
    out["warnings"] = results.warnings
    return out
