"""The stochastic MILP of SPEC §4 in Pyomo: the only module that builds the model.

`build_model` reads like the SPEC: sets, first-stage variables, recovery variables on
the nodes of the scenario tree, one function per constraint family, scenario costs,
objective. With a `fixed_plan` the first stage is data (evaluation of a given plan):
only the recovery z, I, u, e is optimised.

Symbols (input column in brackets):
    x[s,m,t]    t contracted from offer (s,m) in year t           (the plan)
    buy[s,m,t]  1 if offer (s,m) is ordered in year t
    active[s,t] 1 if supplier s delivers in year t
    use[s]      1 if supplier s is engaged at all
    start[o,t]  1 if substitution option o takes effect from year t on
    on[o,t]     Σ_{τ<=t} start[o,τ]: option o is in effect in year t (a sum, no variable)
    z[m,n]      t bought spot at tree node n (year t, a group of scenarios)
    I[m,n]      t in stock at the end of node n's year
    u[m,n]      t of demand left unmet;  e[m,n] t of surplus written off
    cap         capacity [Offers, year columns];  moq [min_order_t]
    L[s,m]      contract term [Offers, min_contract_years]
    price       price[s,m,t] [Prices, year columns; blank = Offers price_usd_per_kg]
    reduction   [Substitutions]: share of D[m(o),t] that option o removes while on
    D[m,t]      demand [Demand];  a, pm, sa, spm: availabilities and price multipliers
                derived from [Disruptions] (`diversify.derive`)

Binaries the data make needless are left out or relaxed (same optimum): `buy` is a
binary only where a minimum order, a contract term (L > 1, which needs a minimum
order) or a `min_suppliers` rule needs it, `active` only
for suppliers with a fixed cost, `use` only for suppliers with a qualification cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from diversify.data import Problem, Rule, Starts
from diversify.derive import (
    BUY_THRESHOLD_T,
    COST_PARTS,
    ScenarioData,
    ScenarioTree,
    discount_factor,
    hits_offer,
    rules_by_material_year,
    substitution_cost,
)
from diversify.errors import InfeasibleError


@dataclass
class SourcingModel:
    """The Pyomo model with the data it was built from and its index sets."""

    problem: Problem
    scenarios: list[ScenarioData]
    tree: ScenarioTree
    risk_aversion: float
    fixed_plan: dict[tuple[str, str, int], float] | None = None
    fixed_starts: Starts | None = None
    model: pyo.ConcreteModel = field(default_factory=lambda: pyo.ConcreteModel("diversify"))
    # first-stage quantities: a Pyomo variable, or a number when the plan is fixed
    x: dict = field(default_factory=dict)
    buy: dict = field(default_factory=dict)
    active: dict = field(default_factory=dict)
    use: dict = field(default_factory=dict)
    start: dict = field(default_factory=dict)  # (option, year) -> start[o,t]
    floor_t: dict[tuple[str, str, int], float] = field(default_factory=dict)
    count_rules: dict[tuple[str, int], list[Rule]] = field(default_factory=dict)
    elastic: bool = False  # policy rows may be broken at a price (diagnosis)
    # the linear terms (coefficient, variable or number) of the cost parts: shared by
    # every scenario under key (None, part), per scenario under (i, part); purchases are
    # (None, "undisrupted") + (i, "corrections")
    cost_terms: dict[tuple[int | None, str], list[tuple[float, object]]] = field(
        default_factory=dict
    )
    _orders: dict | None = None

    @property
    def years(self) -> list[int]:
        return self.problem.years

    def orders(self, m: str, t: int) -> list[tuple[str, object]]:
        """(supplier, x[s,m,t]) of every offer of material m that can deliver in year t."""
        if self._orders is None:
            self._orders = {}
            for (s, mm, tt), x in self.x.items():
                self._orders.setdefault((mm, tt), []).append((s, x))
        return self._orders.get((m, t), [])


def build_model(
    problem: Problem,
    scenarios: list[ScenarioData],
    tree: ScenarioTree,
    risk_aversion: float,
    fixed_plan: dict[tuple[str, str, int], float] | None = None,
    elastic: bool = False,
    fixed_starts: Starts | None = None,
) -> SourcingModel:
    """Build the MILP (or, with `fixed_plan`, the recovery LP of a given plan, whose
    substitutions take effect as `fixed_starts` says: none where it is None).

    `elastic`: every policy row gets a violation variable and the objective becomes
    the total violation: which rules, materials and years must give for a plan to exist.
    """
    sm = SourcingModel(problem, scenarios, tree, risk_aversion, fixed_plan, fixed_starts)
    sm.count_rules = rules_by_material_year(problem, "min_suppliers")
    sm.elastic = elastic
    if elastic:
        sm.model.violation = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)
    if fixed_plan is None:
        add_plan_variables(sm)
        add_substitution_variables(sm)
        add_capacity_and_min_order(sm)
        add_contract_length(sm)
        add_supplier_links(sm)
        add_substitution_once(sm)
        add_min_suppliers(sm)
        add_share_rules(sm)
        add_max_avg_risk(sm)
    else:
        fix_plan(sm, fixed_plan, fixed_starts or {})
    add_recovery_variables(sm)
    add_balance(sm)
    add_scenario_costs(sm)
    add_objective(sm)
    return sm


# ---------------------------------------------------------------- first stage


def order_floor(sm: SourcingModel, s: str, m: str, t: int) -> float:
    """Smallest order: moq, raised to min_supplier_share * D[m,t] under min_suppliers."""
    problem = sm.problem
    floor = problem.offers[(s, m)].min_order_t
    if (m, t) in sm.count_rules:
        floor = max(floor, problem.settings.min_supplier_share * problem.demand_t.get((m, t), 0.0))
    return floor


def add_plan_variables(sm: SourcingModel) -> None:
    """x, buy, active, use (SPEC §4.1), indexed only where they can be non-zero.

    buy[s,m,t] = 0 for t < early[s] and x = 0 where cap = 0: such entries are left out.
    """
    p, mdl = sm.problem, sm.model
    x_idx, buy_idx = [], []
    for (s, m), offer in p.offers.items():
        early = p.early_year(s)
        for t in sm.years:
            if t < early:
                continue
            cap = offer.capacity_t.get(t, 0.0)
            floor = order_floor(sm, s, m, t)
            sm.floor_t[(s, m, t)] = floor
            if floor > cap:  # an order could not meet its own floor
                continue
            if floor > 0 or offer.min_contract_years > 1 or (m, t) in sm.count_rules:
                buy_idx.append((s, m, t))
            if cap > 0:
                x_idx.append((s, m, t))
    active_idx = [
        (s, t)
        for s, sup in p.suppliers.items()
        if sup.annual_fixed_cost_usd > 0
        for t in sm.years
        if t >= p.early_year(s)
    ]
    use_idx = [
        s for s, sup in p.suppliers.items() if sup.qualification_cost_usd > 0 and not sup.qualified
    ]
    mdl.x = pyo.Var(
        x_idx,
        domain=pyo.NonNegativeReals,
        bounds=lambda _, s, m, t: (0, p.offers[(s, m)].capacity_t.get(t, 0.0)),
    )
    mdl.buy = pyo.Var(buy_idx, domain=pyo.Binary)
    mdl.supplier_active = pyo.Var(active_idx, domain=pyo.Binary)
    mdl.use = pyo.Var(use_idx, domain=pyo.Binary)
    sm.x, sm.buy = dict(mdl.x.items()), dict(mdl.buy.items())
    sm.active, sm.use = dict(mdl.supplier_active.items()), dict(mdl.use.items())


def add_substitution_variables(sm: SourcingModel) -> None:
    """start[o,t] binary for the years in which option o may take effect (SPEC §4.1):
    start[o,t] = 0 for t before its `from_year`, so those entries are left out."""
    p = sm.problem
    idx = [(o, t) for o in p.substitutions for t in p.start_years(o)]
    sm.model.start = pyo.Var(idx, domain=pyo.Binary)
    sm.start = dict(sm.model.start.items())


def on_terms(sm: SourcingModel, option: str, year: int) -> list[tuple[float, object]]:
    """on[o,t] = Σ_{τ<=t} start[o,τ] as terms: the option is in effect in year t."""
    return [(1.0, v) for (o, t), v in sm.start.items() if o == option and t <= year]


def plan_binaries(
    plan: dict[tuple[str, str, int], float], ordered: set[tuple[str, str, int]] = frozenset()
) -> tuple[set, set, set]:
    """buy, active and use that follow from a plan (SPEC §4.6): an offer is ordered above
    1e-6 t (or where `ordered` says the solver ordered it), a supplier is active in a year
    it has an order, used if it is ever active."""
    buy = set(ordered) | {k for k, q in plan.items() if q > BUY_THRESHOLD_T}
    active = {(s, t) for s, _, t in buy}
    return buy, active, {s for s, _ in active}


def fix_plan(sm: SourcingModel, plan: dict[tuple[str, str, int], float], starts: Starts) -> None:
    """A given plan: buy, active and use follow from x, start[o,t] = 1 in the year each
    option of `starts` takes effect (SPEC §4.6, evaluation)."""
    sm.x = {k: v for k, v in plan.items() if v > 0}
    sm.start = {(o, t): 1.0 for o, t in starts.items()}
    buy, active, use = plan_binaries(plan)
    sm.buy = dict.fromkeys(buy, 1.0)
    sm.active = dict.fromkeys(active, 1.0)
    sm.use = dict.fromkeys(use, 1.0)


def _gate(sm: SourcingModel, s: str, t: int):
    """The binary an order of s in year t needs switched on: active, else use, else none."""
    return sm.active.get((s, t), sm.use.get(s))


def add_capacity_and_min_order(sm: SourcingModel) -> None:
    """Capacity and minimum order (SPEC §4.1).

    x[s,m,t] <= cap[s,m,t] * buy[s,m,t]          (buy, else active/use, else a bound)
    x[s,m,t] >= floor[s,m,t] * buy[s,m,t]         floor = moq, or the min_suppliers floor
    buy[s,m,t] <= active[s,t] (<= use[s])
    """
    p, mdl = sm.problem, sm.model
    cap_rows, floor_rows, link_rows = {}, {}, {}
    for (s, m, t), x in sm.x.items():
        cap = p.offers[(s, m)].capacity_t[t]
        on = sm.buy.get((s, m, t)) if (s, m, t) in sm.buy else _gate(sm, s, t)
        if on is not None:
            cap_rows[(s, m, t)] = x - cap * on <= 0
        if (s, m, t) in sm.buy and sm.floor_t[(s, m, t)] > 0:
            floor_rows[(s, m, t)] = x - sm.floor_t[(s, m, t)] * sm.buy[(s, m, t)] >= 0
    for (s, m, t), b in sm.buy.items():
        gate = _gate(sm, s, t)
        if gate is not None:
            link_rows[(s, m, t)] = b - gate <= 0
    mdl.capacity = _constraints(cap_rows)
    mdl.min_order = _constraints(floor_rows)
    mdl.order_needs_supplier = _constraints(link_rows)


def add_contract_length(sm: SourcingModel) -> None:
    """Contract length (SPEC §4.1): a contract started in year t runs L[s,m] years, or
    to tN where fewer remain,

        buy[s,m,t] - buy[s,m,t-1] <= buy[s,m,τ]     t < τ <= min(t + L[s,m] - 1, tN)

    with buy[s,m,t0-1] = 0, and buy = 0 where it is left out (before the supplier's
    early year, or where the capacity is below the minimum order: such a year cannot lie
    inside a contract). Offers with L = 1 have no row.
    """
    p, years = sm.problem, sm.years
    rows = {}
    for (s, m), offer in p.offers.items():
        term = offer.min_contract_years
        if term <= 1:
            continue
        for k, t in enumerate(years):
            b = sm.buy.get((s, m, t))
            if b is None:
                continue
            before = sm.buy.get((s, m, years[k - 1]), 0.0) if k else 0.0
            for tau in years[k + 1 : k + term]:
                later = sm.buy.get((s, m, tau), 0.0)
                rows[(s, m, t, tau)] = _linear([(1, b), (-1, before), (-1, later)]) <= 0
    sm.model.contract_length = _constraints(rows)


def add_substitution_once(sm: SourcingModel) -> None:
    """Each option takes effect at most once: Σ_t start[o,t] <= 1 (SPEC §4.1).

    Once taken it stays in effect (on[o,t] sums start up to t), so there is no row
    for stopping; an option with a single possible year needs no row."""
    rows = {}
    for o in sm.problem.substitutions:
        starts = [v for (oo, _), v in sm.start.items() if oo == o]
        if len(starts) > 1:
            rows[(o,)] = pyo.quicksum(starts) <= 1
    sm.model.substitution_once = _constraints(rows)


def add_supplier_links(sm: SourcingModel) -> None:
    """A supplier delivers only once engaged: active[s,t] <= use[s]."""
    rows = {(s, t): a - sm.use[s] <= 0 for (s, t), a in sm.active.items() if s in sm.use}
    sm.model.active_needs_use = _constraints(rows)


def add_min_suppliers(sm: SourcingModel) -> None:
    """`min_suppliers`: Σ_s buy[s,m,t] >= value for each (m,t) the rule covers (SPEC §4.4).

    The floor x >= max(moq, min_supplier_share * D[m,t]) * buy is set in
    `add_capacity_and_min_order`. A count that no offer can meet is reported here.
    """
    rows = {}
    for (m, t), rules in sm.count_rules.items():
        need = max(r.value for r in rules)
        buys = [sm.buy[(s, m, t)] for s in sm.problem.suppliers if (s, m, t) in sm.buy]
        if need <= 0:
            continue
        if len(buys) < need and not sm.elastic:
            worst = max(rules, key=lambda r: r.value)
            raise InfeasibleError(
                f"{worst.label} cannot hold for {m} in {t}: only {len(buys)} offer(s) can "
                f"deliver {m} that year (capacity, lead times and minimum orders counted)"
            )
        rows[(m, t)] = pyo.quicksum(buys) + _violation(sm, "min_suppliers", m, t) >= need
    sm.model.min_suppliers = _constraints(rows)


def share_terms(sm: SourcingModel, rule: Rule) -> Iterator[tuple[str, int, list]]:
    """A max_share or min_share rule's rows, (material, year, terms), where it has
    orders: Σ_s (hit[s] - value) * x[s,m,t], i.e. Σ matched x - value * Σ x (SPEC §4.4)."""
    p = sm.problem
    for m in [rule.material] if rule.material else p.materials:
        for t in rule.years:
            terms = [(float(hits_offer(p, rule, s)) - rule.value, x) for s, x in sm.orders(m, t)]
            if terms:
                yield m, t, terms


def _share_rows(sm: SourcingModel, kind: str) -> dict:
    rows = {}
    for r_i, r in enumerate(sm.problem.rules):
        if r.rule != kind:
            continue
        for m, t, terms in share_terms(sm, r):
            share_gap = _linear(terms)  # Σ matched x - value * Σ x
            slack = _violation(sm, r_i, m, t)
            if kind == "max_share":
                rows[(r_i, m, t)] = share_gap - slack <= 0
            else:
                rows[(r_i, m, t)] = share_gap + slack >= 0
    return rows


def add_share_rules(sm: SourcingModel) -> None:
    """`max_share` / `min_share` for each material and year of the rule (SPEC §4.4):

    Σ_{s matching scope=target} x[s,m,t]  <=  value * Σ_s x[s,m,t]    (max_share)
    Σ_{s matching scope=target} x[s,m,t]  >=  value * Σ_s x[s,m,t]    (min_share)
    """
    sm.model.max_share = _constraints(_share_rows(sm, "max_share"))
    sm.model.min_share = _constraints(_share_rows(sm, "min_share"))


def add_max_avg_risk(sm: SourcingModel) -> None:
    """`max_avg_risk`: Σ_s (risk[s] - value) * x[s,m,t] <= 0 for each material and year."""
    p = sm.problem
    rows = {}
    for r_i, r in enumerate(p.rules):
        if r.rule != "max_avg_risk":
            continue
        for m in [r.material] if r.material else p.materials:
            for t in r.years:
                terms = [(p.supplier_risk(s) - r.value, x) for s, x in sm.orders(m, t)]
                if any(c > 0 for c, _ in terms):
                    slack = _violation(sm, r_i, m, t)
                    rows[(r_i, m, t)] = pyo.quicksum(c * x for c, x in terms) - slack <= 0
    sm.model.max_avg_risk = _constraints(rows)


# ---------------------------------------------------------------- recovery


def add_recovery_variables(sm: SourcingModel) -> None:
    """z, I, u, e on the nodes of the scenario tree (SPEC §4.2), bounded by the data:

    0 <= z[m,n] <= sa[m,t,leader(n)] * spot_max_t[m]   (unbounded if blank, 0 if sa = 0)
    0 <= I[m,n] <= max_stock_t[m]
    """
    p, mdl = sm.problem, sm.model
    idx = [(m, n) for n in range(len(sm.tree.nodes)) for m in p.materials]

    def spot_bounds(_, m, n):
        node = sm.tree.nodes[n]
        sa = sm.scenarios[node.leader].sa(m, node.year)
        cap = p.materials[m].spot_max_t
        if cap is None:
            return (0, 0 if sa <= 0 else None)
        return (0, sa * cap)

    mdl.z = pyo.Var(idx, domain=pyo.NonNegativeReals, bounds=spot_bounds)
    mdl.I = pyo.Var(
        idx, domain=pyo.NonNegativeReals, bounds=lambda _, m, n: (0, p.materials[m].max_stock_t)
    )
    mdl.u = pyo.Var(idx, domain=pyo.NonNegativeReals)
    mdl.e = pyo.Var(idx, domain=pyo.NonNegativeReals)


def _delivered(sm: SourcingModel, w: ScenarioData, m: str, t: int) -> list[tuple[float, object]]:
    """Σ_s a[s,m,t,w] * x[s,m,t]: what the contracts deliver in scenario w (as terms)."""
    return [(w.a(s, m, t), x) for s, x in sm.orders(m, t)]


def add_balance(sm: SourcingModel) -> None:
    """Stock balance for each material, year and scenario, on the tree's nodes:

        I[m,n(t-1,w)] + Σ_s a[s,m,t,w] x[s,m,t] + z[m,n] + u[m,n]
            = demand_multiplier[w] * D'[m,t] + I[m,n] + e[m,n],     n = n(t,w)

        D'[m,t] = D[m,t] * (1 - Σ_{o: m(o)=m} reduction[o] * on[o,t])

    with I before the first year = initial_stock_t[m]; the substitution terms stand on
    the left-hand side. Scenarios that share both their node and their previous node
    share one row.
    """
    p, mdl, tree = sm.problem, sm.model, sm.tree
    rows = {}
    for m, mat in p.materials.items():
        for k, t in enumerate(sm.years):
            for i, w in enumerate(sm.scenarios):
                n = tree.node_of[(t, i)]
                prev = tree.node_of[(sm.years[k - 1], i)] if k else -1
                if (m, n, prev) in rows:
                    continue
                stock_in = mdl.I[m, prev] if k else mat.initial_stock_t
                need = w.demand_multiplier * p.demand_t.get((m, t), 0.0)
                saved = [
                    (need * o.reduction * c, v)
                    for name, o in p.substitutions.items()
                    if o.material == m
                    for c, v in on_terms(sm, name, t)
                ]
                terms = [
                    *saved,
                    (1, stock_in),
                    *_delivered(sm, w, m, t),
                    (1, mdl.z[m, n]),
                    (1, mdl.u[m, n]),
                    (-1, mdl.I[m, n]),
                    (-1, mdl.e[m, n]),
                ]
                rows[(m, n, prev)] = _linear(terms) == need
    mdl.balance = _constraints(rows)


# ---------------------------------------------------------------- costs and objective


def purchase_cost(sm: SourcingModel, key: tuple[str, str, int], w: ScenarioData | None) -> float:
    """df[t] * land[s,m,t,w] * a[s,m,t,w]: discounted USD per t contracted (undisrupted: w None).

    land = 1000 * price[s,m,t] * (1 + tariff[s,t]) * pm[s,m,t,w]; withheld volume is not paid.
    """
    p = sm.problem
    s, m, t = key
    land = 1000 * p.offers[(s, m)].price(t) * (1 + p.tariff(s, t))
    if w is not None:
        land *= w.pm(s, m, t) * w.a(s, m, t)
    return discount_factor(p, t) * land


def add_scenario_costs(sm: SourcingModel) -> None:
    """C_w (SPEC §4.3) and its parts as named expressions cost[w], cost_part[w, part]:

        qualification = Σ_s qualification_cost[s] * use[s] * (1 - qualified[s])
        fixed         = Σ_t df[t] Σ_s annual_fixed_cost[s] * active[s,t]
        purchases     = Σ_t df[t] Σ_(s,m) land[s,m,t,w] * a[s,m,t,w] * x[s,m,t]
        spot          = Σ_t df[t] Σ_m 1000 * spot_price[m] * spot_price_multiplier[w]
                                          * spm[m,t,w] * z[m,n(t,w)]
        holding       = Σ_t df[t] Σ_m 1000 * holding_cost[m] * I[m,n(t,w)]
        shortfall     = Σ_t df[t] Σ_m 1000 * shortfall_penalty[m] * u[m,n(t,w)]
        substitution  = Σ_t df[t] Σ_o (investment[o] * start[o,t] + annual_cost[o] * on[o,t])
                      = Σ_(o,τ) (df[τ] investment[o] + Σ_{t>=τ} df[t] annual_cost[o]) start[o,τ]

    The first-stage parts are one expression shared by every scenario; purchases are
    the undisrupted sum plus each scenario's corrections where a or pm differ from 1.
    """
    p, mdl = sm.problem, sm.model
    terms = sm.cost_terms
    terms[(None, "qualification")] = [
        (p.suppliers[s].qualification_cost_usd, v)
        for s, v in sm.use.items()
        if not p.suppliers[s].qualified
    ]
    terms[(None, "fixed")] = [
        (discount_factor(p, t) * p.suppliers[s].annual_fixed_cost_usd, v)
        for (s, t), v in sm.active.items()
    ]
    terms[(None, "substitution")] = [
        (substitution_cost(p, o, t), v) for (o, t), v in sm.start.items()
    ]
    base = {k: purchase_cost(sm, k, None) for k in sm.x}
    terms[(None, "undisrupted")] = [(base[k], x) for k, x in sm.x.items()]
    mdl.qualification_cost = pyo.Expression(expr=_linear(terms[(None, "qualification")]))
    mdl.fixed_cost = pyo.Expression(expr=_linear(terms[(None, "fixed")]))
    mdl.undisrupted_purchases = pyo.Expression(expr=_linear(terms[(None, "undisrupted")]))
    mdl.substitution_cost = pyo.Expression(expr=_linear(terms[(None, "substitution")]))
    parts = {}
    for i, w in enumerate(sm.scenarios):
        hit = sorted(k for k in w.avail.keys() | w.price_mult.keys() if k in sm.x)
        terms[(i, "corrections")] = [(purchase_cost(sm, k, w) - base[k], sm.x[k]) for k in hit]
        spot, holding, shortfall = [], [], []
        for t in sm.years:
            n = sm.tree.node_of[(t, i)]
            df = discount_factor(p, t)
            for m, mat in p.materials.items():
                price = mat.spot_price_usd_per_kg * w.spot_price_multiplier * w.spm(m, t)
                spot.append((df * 1000 * price, mdl.z[m, n]))
                holding.append((df * 1000 * mat.holding_cost_usd_per_kg_year, mdl.I[m, n]))
                shortfall.append((df * 1000 * mat.shortfall_penalty_usd_per_kg, mdl.u[m, n]))
        terms |= {(i, "spot"): spot, (i, "holding"): holding, (i, "shortfall"): shortfall}
        parts |= {
            (i, "qualification"): mdl.qualification_cost,
            (i, "fixed"): mdl.fixed_cost,
            (i, "purchases"): mdl.undisrupted_purchases + _linear(terms[(i, "corrections")]),
            (i, "spot"): _linear(spot),
            (i, "holding"): _linear(holding),
            (i, "shortfall"): _linear(shortfall),
            (i, "substitution"): mdl.substitution_cost,
        }
    mdl.cost_part = pyo.Expression(list(parts), initialize=parts)
    mdl.cost = pyo.Expression(
        range(len(sm.scenarios)),
        initialize={
            i: pyo.quicksum(mdl.cost_part[i, name] for name in COST_PARTS)
            for i in range(len(sm.scenarios))
        },
    )


CVAR_FORMS = ("dense", "shifted")
CVAR_FORM = "shifted"  # how excess[w] >= C_w - eta is written (add_objective)
CVAR_UNIT_USD = 1e6  # the shifted form's eta and excess: in M USD


def add_objective(sm: SourcingModel) -> None:
    """min Σ_w π_w C_w + λ (η + 1/(1-α) Σ_w π_w excess[w]),  excess[w] >= C_w - η, >= 0.

    The CVaR terms (Rockafellar-Uryasev) are left out when λ = 0. How the rows
    excess[w] >= C_w - η are written is `CVAR_FORM`:

    * "dense": one row per scenario holding all of C_w (every x of the plan in each);
    * "shifted" (the default): C_w = S + Y_w (`split_scenario_costs`), S the terms every
      scenario has alike (the first-stage costs; the recovery of nodes all scenarios
      share), Y_w the rest. CVaR is translation-equivariant: for S the same in every
      scenario, CVaR_α(S + Y) = S + CVaR_α(Y) (put η = S + η' in the minimum; this
      holds for any probabilities). So the objective is

          Σ_w π_w C_w + λ (S + η' + 1/(1-α) Σ_w π_w excess[w]),  excess[w] >= Y_w - η',

      the same optimum and plans, with excess rows that hold only what differs between
      scenarios (a ban's withheld purchases, spot, stock and shortfall of w's own
      nodes): short rows, no copy of the plan's cost. η' and excess are in M USD.
    """
    mdl, lam = sm.model, sm.risk_aversion
    if sm.elastic:
        mdl.objective = pyo.Objective(expr=pyo.quicksum(mdl.violation.values()))
        return
    probs = [w.probability for w in sm.scenarios]
    expected = pyo.quicksum(pi * mdl.cost[i] for i, pi in enumerate(probs))
    if lam <= 0:
        mdl.objective = pyo.Objective(expr=expected, sense=pyo.minimize)
        return
    alpha = sm.problem.settings.cvar_alpha
    mdl.eta = pyo.Var(domain=pyo.Reals)
    mdl.excess = pyo.Var(range(len(probs)), domain=pyo.NonNegativeReals)
    shifted = CVAR_FORM == "shifted" and sm.fixed_plan is None  # an evaluation: dense
    if shifted:
        alike, own = split_scenario_costs(sm)
        unit = CVAR_UNIT_USD
        costs = {i: _linear([(c / unit, v) for c, v in terms]) for i, terms in enumerate(own)}
    else:
        costs = {i: mdl.cost[i] for i in range(len(probs))}
    mdl.excess_def = pyo.Constraint(
        range(len(probs)), rule=lambda _, i: mdl.excess[i] - costs[i] + mdl.eta >= 0
    )
    cvar = mdl.eta + pyo.quicksum(pi / (1 - alpha) * mdl.excess[i] for i, pi in enumerate(probs))
    if shifted:  # S + 10^6 (η' + ...)
        cvar = CVAR_UNIT_USD * cvar + _linear(alike)
    mdl.objective = pyo.Objective(expr=expected + lam * cvar, sense=pyo.minimize)


def split_scenario_costs(
    sm: SourcingModel,
) -> tuple[list[tuple[float, object]], list[list[tuple[float, object]]]]:
    """C_w = S + Y_w as terms (coefficient, variable): S, then Y_w for every scenario.

    S: the parts every scenario shares (`sm.cost_terms` under key None: qualification,
    fixed costs, undisrupted purchases, substitutions) and each scenario term whose
    variable has that very coefficient in every scenario (spot, stock and shortfall on
    a node of the tree that all scenarios pass through). Y_w: the rest of w's terms.
    Every part of `sm.cost_terms` is taken, so a cost part added there is in both."""
    alike = [t for (i, _), part in sm.cost_terms.items() if i is None for t in part]
    own: list[dict[int, list]] = [{} for _ in sm.scenarios]
    for (i, _), part in sm.cost_terms.items():
        if i is not None:
            for c, v in part:
                if c != 0:
                    own[i].setdefault(id(v), [0.0, v])[0] += c
    first, *others = own
    everywhere = [k for k, (c, _) in first.items() if all(k in o and o[k][0] == c for o in others)]
    alike += [(first[k][0], first[k][1]) for k in everywhere]
    for o in own:
        for k in everywhere:
            del o[k]
    return alike, [[(c, v) for c, v in o.values()] for o in own]


# ---------------------------------------------------------------- helpers


def _violation(sm: SourcingModel, *key):
    """0, or in an elastic model the amount by which a policy row may be broken.

    key: (rule index, material, year), or ("min_suppliers", material, year).
    """
    return sm.model.violation[key] if sm.elastic else 0


def _constraints(rows: dict) -> pyo.Constraint:
    """An indexed constraint from {index: relational expression}, trivial rows dropped."""
    rows = {k: v for k, v in rows.items() if not isinstance(v, bool)}
    return pyo.Constraint(list(rows), rule=lambda _, *k: rows[k])


def _linear(terms: list[tuple[float, object]]):
    """Σ coef * var over (coef, var-or-number) pairs, as one flat linear expression.

    The terms are made directly (no operator dispatch per product): the model's
    largest rows and costs are built here."""
    const = 0.0
    args = []
    for c, v in terms:
        if not hasattr(v, "is_variable_type"):
            const += c * v
        elif c == 1:
            args.append(v)
        elif c != 0:
            args.append(MonomialTermExpression((c, v)))
    if not args:
        return const
    return LinearExpression([const, *args] if const else args)
