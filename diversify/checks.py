"""Rebuild every rule of SPEC §4.1 and §4.4 from a plan and list what it breaks.

Used after every solve (a broken rule there is a bug) and by `evaluate` (a planner's
edits may break rules: every breach is listed, the plan is still costed).
"""

from __future__ import annotations

from diversify.data import Problem
from diversify.derive import BUY_THRESHOLD_T, by_material_year, hits_offer, rules_by_material_year

TOL_T = 1e-6  # tonnes
REL = 1e-7


def _slack(total: float) -> float:
    return TOL_T + REL * abs(total)


def breaches(
    problem: Problem,
    plan: dict[tuple[str, str, int], float],
    ordered: set[tuple[str, str, int]] | None = None,
    starts: dict[str, int] | None = None,
) -> list[str]:
    """Every rule the plan (x, and the substitutions' start years) breaks, in words a
    planner reads; empty when none.

    `ordered` are the offers ordered (buy = 1) where the solver says so; by default
    those with x above 1e-6 t (a solver may count an order of 0 t where no floor applies).
    """
    out = []
    out += offer_breaches(problem, plan)
    out += contract_breaches(problem, plan, ordered)
    out += substitution_breaches(problem, starts or {})
    out += share_breaches(problem, plan)
    out += min_supplier_breaches(problem, plan, ordered)
    return out


def offer_breaches(problem: Problem, plan: dict) -> list[str]:
    """Capacity, minimum order, lead time; and orders for offers the input lacks."""
    out = []
    for (s, m, t), q in sorted(plan.items()):
        if q <= BUY_THRESHOLD_T:
            continue
        offer = problem.offers.get((s, m))
        if offer is None:
            out.append(f"{s} / {m} {t}: {q:g} t ordered, but the input has no such offer")
            continue
        cap = offer.capacity_t.get(t, 0.0)
        if q > cap + _slack(cap):
            out.append(f"capacity: {s} / {m} {t}: {q:,.6g} t ordered, capacity is {cap:,.6g} t")
        if q < offer.min_order_t - _slack(offer.min_order_t):
            out.append(
                f"minimum order: {s} / {m} {t}: {q:,.6g} t ordered, "
                f"minimum order is {offer.min_order_t:,.6g} t"
            )
        early = problem.early_year(s)
        if t < early:
            out.append(
                f"lead time: {s} / {m} {t}: {q:,.6g} t ordered, but {s} can deliver "
                f"from {early} only (not qualified, lead time "
                f"{problem.suppliers[s].lead_time_years} years)"
            )
    return out


def contract_breaches(problem: Problem, plan: dict, ordered: set | None = None) -> list[str]:
    """Contract length: a run of ordered years shorter than min_contract_years that ends
    before the last year (SPEC §4.1, §4.6)."""
    out = []
    years = problem.years
    for (s, m), offer in problem.offers.items():
        term = offer.min_contract_years
        if term <= 1:
            continue
        on = [
            plan.get((s, m, t), 0.0) > BUY_THRESHOLD_T or (s, m, t) in (ordered or ())
            for t in years
        ]
        k = 0
        while k < len(years):
            if not on[k]:
                k += 1
                continue
            end = k
            while end + 1 < len(years) and on[end + 1]:
                end += 1
            if end - k + 1 < term and end + 1 < len(years):
                span = f"{years[k]}" if end == k else f"{years[k]}-{years[end]}"
                out.append(
                    f"contract length: {s} / {m} ordered in {span} only ({end - k + 1} "
                    f"year(s)), but a contract runs at least {term} consecutive years "
                    f"or to {years[-1]}"
                )
            k = end + 1
    return out


def substitution_breaches(problem: Problem, starts: dict[str, int]) -> list[str]:
    """A substitution option taking effect before its from_year."""
    out = []
    for o, t in sorted(starts.items()):
        first = problem.substitutions[o].from_year
        if first is not None and t < first:
            out.append(
                f"substitution: {o} takes effect in {t}, but it cannot take effect before {first}"
            )
    return out


def share_breaches(problem: Problem, plan: dict) -> list[str]:
    """max_share, min_share and max_avg_risk, per material and year of each rule."""
    out = []
    grouped = by_material_year(plan)
    for r in problem.rules:
        if r.rule not in ("max_share", "min_share", "max_avg_risk"):
            continue
        for m in [r.material] if r.material else problem.materials:
            for t in r.years:
                vol = grouped.get((m, t), {})
                total = sum(vol.values())
                if total <= 0:
                    continue
                if r.rule == "max_avg_risk":
                    risk = sum(problem.supplier_risk(s) * q for s, q in vol.items()) / total
                    if risk * total > r.value * total + _slack(total):
                        out.append(
                            f"{r.label}: {m} {t}: average risk {risk:.4f} exceeds {r.value:g}"
                        )
                    continue
                share = sum(q for s, q in vol.items() if hits_offer(problem, r, s)) / total
                over = share * total > r.value * total + _slack(total)
                under = share * total < r.value * total - _slack(total)
                if (r.rule == "max_share" and over) or (r.rule == "min_share" and under):
                    word = "above" if over else "below"
                    out.append(f"{r.label}: {m} {t}: share {share:.2%} is {word} {r.value:.2%}")
    return out


def min_supplier_breaches(problem: Problem, plan: dict, ordered: set | None = None) -> list[str]:
    """min_suppliers: enough offers ordered, each carrying its floor."""
    out = []
    share = problem.settings.min_supplier_share
    grouped = by_material_year(plan, floor=BUY_THRESHOLD_T)
    for (m, t), rules in sorted(rules_by_material_year(problem, "min_suppliers").items()):
        rule = max(rules, key=lambda r: r.value)
        vol = dict(grouped.get((m, t), {}))
        vol |= {s: plan.get((s, m, t), 0.0) for s, mm, tt in ordered or () if (mm, tt) == (m, t)}
        if len(vol) < rule.value:
            out.append(
                f"{rule.label}: {m} {t}: {len(vol)} supplier(s) ordered, {int(rule.value)} required"
            )
        for s, q in sorted(vol.items()):
            moq = problem.offers[(s, m)].min_order_t if (s, m) in problem.offers else 0.0
            floor = max(moq, share * problem.demand_t.get((m, t), 0.0))
            if q < floor - _slack(floor):
                out.append(
                    f"{rule.label}: {m} {t}: {s} carries {q:,.6g} t, a counted "
                    f"supplier must carry at least {floor:,.6g} t"
                )
    return out
