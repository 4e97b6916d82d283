"""Derived data of SPEC §4: availabilities, price multipliers, the scenario tree, what
rules and options cost or cover, a plan's dependence on a country.

Pure Python on `Problem`; no Pyomo. Every scenario becomes a `ScenarioData` whose
disruption effects are stored sparsely (only where they differ from 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diversify.data import CLAIRVOYANT, Disruption, Plan, Problem, Rule, Scenario

TOL = 1e-9  # SPEC §4.2: data equal within 1e-9 (absolute)
DATA = ("avail", "price_mult", "spot_avail", "spot_price_mult")  # ScenarioData's tables
BUY_THRESHOLD_T = 1e-6  # an evaluated plan orders an offer in a year above this
COST_PARTS = (  # of a scenario's cost C_w (SPEC §4.3), as the results tables name them
    "qualification",
    "fixed",
    "purchases",
    "spot",
    "holding",
    "shortfall",
    "substitution",
)


@dataclass
class ScenarioData:
    """One scenario's data, as the model sees it.

    avail[s,m,t] = a, price_mult[s,m,t] = pm, spot_avail[m,t] = sa,
    spot_price_mult[m,t] = spm: each 1 where absent.
    """

    name: str
    probability: float
    demand_multiplier: float = 1.0
    spot_price_multiplier: float = 1.0
    avail: dict[tuple[str, str, int], float] = field(default_factory=dict)
    price_mult: dict[tuple[str, str, int], float] = field(default_factory=dict)
    spot_avail: dict[tuple[str, int], float] = field(default_factory=dict)
    spot_price_mult: dict[tuple[str, int], float] = field(default_factory=dict)

    def a(self, s: str, m: str, t: int) -> float:
        return self.avail.get((s, m, t), 1.0)

    def pm(self, s: str, m: str, t: int) -> float:
        return self.price_mult.get((s, m, t), 1.0)

    def sa(self, m: str, t: int) -> float:
        return self.spot_avail.get((m, t), 1.0)

    def spm(self, m: str, t: int) -> float:
        return self.spot_price_mult.get((m, t), 1.0)

    def alone(self) -> ScenarioData:
        """This scenario with probability 1 (for WS and the least-cost plan)."""
        return ScenarioData(
            self.name,
            1.0,
            self.demand_multiplier,
            self.spot_price_multiplier,
            self.avail,
            self.price_mult,
            self.spot_avail,
            self.spot_price_mult,
        )


def hits_offer(problem: Problem, d: Disruption | Rule, supplier: str) -> bool:
    """Does a (non-spot) disruption or share rule's scope/target match this supplier?"""
    s = problem.suppliers[supplier]
    match d.scope:
        case "country":
            return s.country == d.target
        case "ore_origin":
            return s.ore_origin == d.target
        case "processing_country":
            return s.processing_country == d.target
        case "supplier":
            return s.name == d.target
        case "any_link":
            return d.target in (s.country, s.ore_origin, s.processing_country)
    return False


def by_material_year(
    plan: dict[tuple[str, str, int], float], floor: float = 0.0
) -> dict[tuple[str, int], dict[str, float]]:
    """A plan regrouped: (material, year) -> {supplier: tonnes above `floor`}."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for (s, m, t), q in plan.items():
        if q > floor:
            out.setdefault((m, t), {})[s] = q
    return out


def links(problem: Problem, supplier: str) -> tuple[str, ...]:
    """Where a supplier's material is mined, processed and shipped from (any_link)."""
    s = problem.suppliers.get(supplier)
    return (s.country, s.ore_origin, s.processing_country) if s else ()


def scenario_data(problem: Problem) -> list[ScenarioData]:
    """Each scenario's availabilities and price multipliers: products over its disruptions."""
    out = []
    for sc in problem.scenarios:
        data = ScenarioData(sc.name, sc.probability, sc.demand_multiplier, sc.spot_price_multiplier)
        for d in problem.disruptions:
            if d.scenario == sc.name:
                _apply(problem, d, data)
        out.append(data)
    return out


def _apply(problem: Problem, d: Disruption, data: ScenarioData) -> None:
    materials = [d.material] if d.material else list(problem.materials)
    if d.scope == "spot":
        for m in materials:
            for t in d.years:
                _multiply(data.spot_avail, (m, t), d.availability)
                _multiply(data.spot_price_mult, (m, t), d.price_multiplier)
        return
    for s, m in problem.offers:
        if m in materials and hits_offer(problem, d, s):
            for t in d.years:
                _multiply(data.avail, (s, m, t), d.availability)
                _multiply(data.price_mult, (s, m, t), d.price_multiplier)


def _multiply(table: dict, key, factor: float) -> None:
    table[key] = table.get(key, 1.0) * factor


def mean_value_scenario(scenarios: list[ScenarioData]) -> ScenarioData:
    """The probability-weighted mean of every datum, taken separately (SPEC §4.6)."""
    mean = ScenarioData(
        "mean value",
        1.0,
        sum(w.probability * w.demand_multiplier for w in scenarios),
        sum(w.probability * w.spot_price_multiplier for w in scenarios),
    )
    for attr in DATA:
        keys = set().union(*(getattr(w, attr) for w in scenarios))
        table = getattr(mean, attr)
        for k in sorted(keys):
            table[k] = sum(w.probability * getattr(w, attr).get(k, 1.0) for w in scenarios)
    return mean


def divergence_years(scenarios: list[ScenarioData], first_year: int):
    """A function (i, j) -> first year in which scenarios i and j differ (inf if never).

    Every scenario's year-dependent data (a, pm, sa, spm) become one row of a matrix
    over all keys that any scenario sets (1 elsewhere), so comparing two scenarios is
    one vector operation; differing demand or spot-price multipliers part them at once.
    """
    keys = sorted({(attr, k) for w in scenarios for attr in DATA for k in getattr(w, attr)})
    column = {key: j for j, key in enumerate(keys)}
    years = np.array([k[-1] for _, k in keys], dtype=float)
    data = np.ones((len(scenarios), len(keys)))
    for i, w in enumerate(scenarios):
        for attr in DATA:
            for k, v in getattr(w, attr).items():
                data[i, column[(attr, k)]] = v
    multipliers = np.array([[w.demand_multiplier, w.spot_price_multiplier] for w in scenarios])

    def first_apart(i: int, j: int) -> float:
        if (np.abs(multipliers[i] - multipliers[j]) > TOL).any():
            return first_year
        differ = np.abs(data[i] - data[j]) > TOL
        return float(years[differ].min()) if differ.any() else float("inf")

    return first_apart


@dataclass(frozen=True)
class Node:
    """A node of the scenario tree: the scenarios that share their recovery in a year."""

    year: int
    members: tuple[int, ...]  # scenario indices, the first is the group's leader

    @property
    def leader(self) -> int:
        return self.members[0]


@dataclass
class ScenarioTree:
    nodes: list[Node]
    node_of: dict[tuple[int, int], int]  # (year, scenario index) -> node index

    def shared_years(self, names: list[str]) -> list[tuple[int, list[str]]]:
        """For reporting: each node's year and member scenario names."""
        return [(n.year, [names[i] for i in n.members]) for n in self.nodes]


def scenario_tree(scenarios: list[ScenarioData], years: list[int], recourse: str) -> ScenarioTree:
    """Group scenarios that are indistinguishable up to each year (SPEC §4.2).

    Each scenario is compared with the leader (first in sheet order) of each group formed
    so far in that year and joins the first whose data match in every year up to it.
    With clairvoyant recourse every scenario is a group of its own.
    """
    first = years[0]
    if recourse == CLAIRVOYANT:
        first_apart = lambda _i, _lead: first  # noqa: E731  (apart from the first year on)
    else:
        first_apart = divergence_years(scenarios, first)
    diverge: dict[tuple[int, int], float] = {}  # (scenario, leader) -> first year apart

    def apart(i: int, lead: int) -> float:
        if (i, lead) not in diverge:
            diverge[(i, lead)] = first_apart(i, lead)
        return diverge[(i, lead)]

    nodes: list[Node] = []
    node_of: dict[tuple[int, int], int] = {}
    for t in years:
        groups: list[list[int]] = []
        for i in range(len(scenarios)):
            for g in groups:
                if t < apart(i, g[0]):
                    g.append(i)
                    break
            else:
                groups.append([i])
        for g in groups:
            for i in g:
                node_of[(t, i)] = len(nodes)
            nodes.append(Node(t, tuple(g)))
    return ScenarioTree(nodes, node_of)


def discount_factor(problem: Problem, year: int) -> float:
    """df[t] = (1 + discount_rate) ** -(t - t0)."""
    s = problem.settings
    return (1.0 + s.discount_rate) ** -(year - s.first_year)


def scenario_from(sc: Scenario) -> ScenarioData:
    """A scenario with no disruptions (tests and tools)."""
    return ScenarioData(sc.name, sc.probability, sc.demand_multiplier, sc.spot_price_multiplier)


def rules_by_material_year(problem: Problem, kind: str) -> dict[tuple[str, int], list[Rule]]:
    """Rules of one kind per (material, year) they cover; blank material = each material."""
    out: dict[tuple[str, int], list[Rule]] = {}
    for r in problem.rules:
        if r.rule != kind:
            continue
        for m in [r.material] if r.material else problem.materials:
            for t in r.years:
                out.setdefault((m, t), []).append(r)
    return out


def substitution_cost(p: Problem, option: str, year: int) -> float:
    """What taking option o from year τ costs, discounted: its investment in τ and its
    annual cost in every year from τ on (the same in every scenario)."""
    o = p.substitutions[option]
    later = sum(discount_factor(p, t) for t in p.years if t >= year)
    return discount_factor(p, year) * o.investment_usd + o.annual_cost_usd * later


# ---------------------------------------------------------------- dependence on a country


def cap_rule(problem: Problem, target: str, cap: float) -> Rule:
    """`max_share any_link TARGET <= cap` over every material and year (row 0: no sheet row)."""
    return Rule(
        rule="max_share",
        scope="any_link",
        target=target,
        material=None,
        years=tuple(problem.years),
        value=cap,
        row=0,
    )


def link_share(problem: Problem, plan: Plan, target: str) -> float:
    """Max over materials and years of the share of x from suppliers linked to TARGET."""
    rule = cap_rule(problem, target, 1.0)
    worst = 0.0
    grouped = by_material_year(plan, floor=BUY_THRESHOLD_T)
    for m in problem.materials:
        for t in problem.years:
            vol = {s: q for s, q in grouped.get((m, t), {}).items() if s in problem.suppliers}
            total = sum(vol.values())
            if total > 0:
                hit = sum(q for s, q in vol.items() if hits_offer(problem, rule, s))
                worst = max(worst, hit / total)
    return worst


def linked_suppliers(problem: Problem, target: str) -> list[str]:
    rule = cap_rule(problem, target, 1.0)
    return [s for s in problem.suppliers if hits_offer(problem, rule, s)]
