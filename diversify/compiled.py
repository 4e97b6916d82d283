"""The compiled model, and the programs the figures re-solve, cut from its arrays.

A model is built and compiled once (`compile_sourcing`). Every column and row is then
known by its place: the first stage (plan, rules), a node of the scenario tree
(recovery, balance), or the CVaR terms. The cost of each scenario, C_w of SPEC §4.3,
is a linear function of the columns (`CostMatrix`). So the re-solves of SPEC §4.6 need
no new Pyomo model:

* a scenario alone (WS): the first stage and the nodes on the scenario's path, with
  C_w as the objective (the same program a one-scenario model compiles to);
* the risk-neutral problem (RP, when λ > 0): all but the CVaR columns and rows, with
  Σ_w π_w C_w as the objective;
* a fixed plan (the least-cost and the mean-value plans under every scenario): x, the
  binaries that follow from it and the substitutions' start columns fixed, the
  first-stage rows dropped (they bind only fixed columns), the recovery left free.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from diversify.data import Rule
from diversify.derive import COST_PARTS
from diversify.model import SourcingModel, plan_binaries, share_terms
from diversify.program import Program
from diversify.solver import CompiledModel, compile_model

FIRST_STAGE, CVAR = -1, -2  # the "node" of first-stage and CVaR columns and rows
RECOVERY = ("z", "I", "u", "e")
CVAR_COMPONENTS = ("eta", "excess", "excess_def")  # model.add_objective's
SHARED_PARTS = ("qualification", "fixed", "undisrupted", "substitution")
SCENARIO_PARTS = ("corrections", "spot", "holding", "shortfall")


@dataclass
class CostMatrix:
    """C_w's parts as rows over the columns: parts = rows @ values + constants.

    `shared` holds the parts every scenario shares (qualification, fixed costs,
    undisrupted purchases, substitutions), `per_scenario` four rows per scenario (purchase
    corrections where a or pm differ from 1, spot, holding, shortfall)."""

    shared: sp.csr_matrix
    shared_constant: np.ndarray
    per_scenario: sp.csr_matrix
    per_scenario_constant: np.ndarray

    def parts(self, values: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
        """Scenario -> part (SPEC §4.6's seven) -> discounted USD, for these column values."""
        q, f, base, sub = (self.shared @ values + self.shared_constant).tolist()
        rows = (self.per_scenario @ values + self.per_scenario_constant).reshape(-1, 4)
        return {
            w: dict(zip(COST_PARTS, (q, f, base + c, s, h, u, sub), strict=True))
            for w, (c, s, h, u) in zip(names, rows.tolist(), strict=True)
        }

    def scenario_cost(self, i: int) -> tuple[np.ndarray, float]:
        """C_w of scenario i as (cost per column, constant)."""
        rows = self.per_scenario[4 * i : 4 * i + 4]
        cost = np.asarray(self.shared.sum(axis=0)).ravel() + np.asarray(rows.sum(axis=0)).ravel()
        constant = self.shared_constant.sum() + self.per_scenario_constant[4 * i : 4 * i + 4].sum()
        return cost, float(constant)

    def expected_cost(self, probabilities: list[float]) -> tuple[np.ndarray, float]:
        """Σ_w π_w C_w as (cost per column, constant)."""
        weights = np.repeat(np.asarray(probabilities, dtype=float), 4)
        cost = np.asarray(self.shared.sum(axis=0)).ravel() * sum(probabilities)
        cost = cost + weights @ self.per_scenario
        constant = self.shared_constant.sum() * sum(probabilities)
        return np.asarray(cost).ravel(), float(constant + weights @ self.per_scenario_constant)


@dataclass
class Compiled:
    """A built model, compiled, with each column and row placed (first stage, tree
    node, CVaR) and the scenario costs over its columns."""

    sm: SourcingModel
    cm: CompiledModel
    column_node: np.ndarray
    row_node: np.ndarray
    costs: CostMatrix
    plan_columns: dict[str, dict]  # "x" | "buy" | "active" | "use" | "start" -> key -> column
    index: dict[int, int]  # id(Pyomo variable) -> column
    # where each recovery value stands (`recovery_of`); placed once, shared by the
    # programs made from this one (`with_share_rule`: the same columns)
    recovery_layout: RecoveryLayout | None = field(default=None, repr=False)

    @property
    def program(self) -> Program:
        return self.cm.program

    def recovery_of(self, values: np.ndarray) -> dict[tuple[str, int, str], dict[str, float]]:
        """z, I, u, e of each (material, year, scenario) in these column values."""
        if self.recovery_layout is None:
            self.recovery_layout = RecoveryLayout.of(self)
        return self.recovery_layout.read(values)

    def column(self, var) -> int | None:
        return self.index.get(id(var))

    def path_nodes(self, i: int) -> np.ndarray:
        return np.array(sorted({self.sm.tree.node_of[(t, i)] for t in self.sm.years}))


@dataclass
class RecoveryLayout:
    """The recovery's place among the columns: for each (material, year, scenario), the
    columns of z, I, u, e (-1 for one not in the program: then its fixed value, or 0)."""

    keys: list[tuple[str, int, str]]
    columns: np.ndarray  # (K, 4)
    fixed: np.ndarray  # (K, 4)

    @classmethod
    def of(cls, c: Compiled) -> RecoveryLayout:
        sm, mdl = c.sm, c.sm.model
        keys, columns, fixed = [], [], []
        for i, w in enumerate(sm.scenarios):
            for t in sm.years:
                n = sm.tree.node_of[(t, i)]
                for m in sm.problem.materials:
                    keys.append((m, t, w.name))
                    row = [getattr(mdl, v)[m, n] for v in RECOVERY]
                    columns.append([-1 if (j := c.column(x)) is None else j for x in row])
                    fixed.append([(x.value or 0.0) if x.fixed else 0.0 for x in row])
        shape = (len(keys), len(RECOVERY))
        return cls(
            keys,
            np.array(columns, dtype=np.int64).reshape(shape),
            np.array(fixed, dtype=float).reshape(shape),
        )

    def read(self, values: np.ndarray) -> dict[tuple[str, int, str], dict[str, float]]:
        placed = self.columns >= 0
        got = np.where(placed, values[np.where(placed, self.columns, 0)], self.fixed)
        return {
            k: dict(zip(RECOVERY, row, strict=True))
            for k, row in zip(self.keys, got.tolist(), strict=True)
        }


def compile_sourcing(sm: SourcingModel) -> Compiled:
    """Compile the model and place its columns and rows."""
    cm = compile_model(sm.model)
    column_node = np.array([_node(v) for v in cm.columns], dtype=np.int64)
    row_node = np.array([_node(c) for c in cm.rows], dtype=np.int64)
    index = cm.column_index()
    plan_columns = {
        name: {k: index[id(v)] for k, v in getattr(sm, name).items() if id(v) in index}
        for name in ("x", "buy", "active", "use", "start")
    }
    costs = cost_matrix(sm, index, len(cm.columns))
    return Compiled(sm, cm, column_node, row_node, costs, plan_columns, index)


def _node(component) -> int:
    """The tree node of a recovery column or balance row; FIRST_STAGE or CVAR otherwise."""
    name = component.parent_component().local_name
    if name in RECOVERY or name == "balance":
        return component.index()[1]
    if name in CVAR_COMPONENTS:
        return CVAR
    return FIRST_STAGE


def cost_matrix(sm: SourcingModel, index: dict[int, int], n: int) -> CostMatrix:
    """The cost terms the model was built from (SourcingModel.cost_terms) as matrices."""

    def block(keys):
        rows, cols, coefs = [], [], []
        constant = np.zeros(len(keys))
        for r, key in enumerate(keys):
            for coef, v in sm.cost_terms.get(key, ()):
                if not hasattr(v, "is_variable_type"):
                    constant[r] += coef * v
                elif id(v) in index:
                    rows.append(r)
                    cols.append(index[id(v)])
                    coefs.append(coef)
                elif v.fixed:  # compiled as a constant
                    constant[r] += coef * v.value
        matrix = sp.csr_matrix((coefs, (rows, cols)), shape=(len(keys), n))
        return matrix, constant

    shared = block([(None, part) for part in SHARED_PARTS])
    scenarios = range(len(sm.scenarios))
    per_scenario = block([(i, part) for i in scenarios for part in SCENARIO_PARTS])
    return CostMatrix(*shared, *per_scenario)


def with_share_rule(c: Compiled, rule: Rule) -> Compiled:
    """The compiled model with one more max_share or min_share rule (the frontier's caps),
    its rows appended to the program's as `model.share_terms` writes them, without
    building the model again (large: 0.25 s a model). The rows are first-stage rules on
    x; they have no Pyomo row (None in `cm.rows`), so no dual of theirs is explained."""
    rows, columns, coefs = [], [], []
    k = 0  # rows so far: one per material and year with a term (an empty one binds nothing)
    for _, _, terms in share_terms(c.sm, rule):
        placed = [(a, j) for a, x in terms if a != 0 and (j := c.column(x)) is not None]
        for a, j in placed:
            rows.append(k)
            columns.append(j)
            coefs.append(a)
        k += bool(placed)
    added = sp.csr_matrix((coefs, (rows, columns)), shape=(k, len(c.column_node)))
    inf = np.inf
    lower = np.zeros(k) if rule.rule == "min_share" else np.full(k, -inf)
    upper = np.full(k, inf) if rule.rule == "min_share" else np.zeros(k)
    p = c.program
    program = replace(
        p,
        matrix=sp.vstack([p.matrix, added]).tocsc(),
        row_lower=np.append(p.row_lower, lower),
        row_upper=np.append(p.row_upper, upper),
    )
    cm = replace(c.cm, program=program, rows=[*c.cm.rows, *[None] * k])
    return replace(c, cm=cm, row_node=np.append(c.row_node, np.full(k, FIRST_STAGE)))


def scenario_alone(c: Compiled, i: int) -> tuple[Program, np.ndarray]:
    """Scenario i alone with probability 1 and λ = 0 (WS): the program and its columns
    (indices into the compiled model's)."""
    path = c.path_nodes(i)
    columns = np.flatnonzero((c.column_node == FIRST_STAGE) | np.isin(c.column_node, path))
    rows = np.flatnonzero((c.row_node == FIRST_STAGE) | np.isin(c.row_node, path))
    cost, constant = c.costs.scenario_cost(i)
    return c.program.restricted(columns, rows, cost, constant), columns


def risk_neutral(c: Compiled) -> tuple[Program, np.ndarray]:
    """The problem with λ = 0 (RP): the CVaR columns and rows left out."""
    columns = np.flatnonzero(c.column_node != CVAR)
    rows = np.flatnonzero(c.row_node != CVAR)
    cost, constant = c.costs.expected_cost([w.probability for w in c.sm.scenarios])
    return c.program.restricted(columns, rows, cost, constant), columns


def fixed_plan(
    c: Compiled,
    plan: dict,
    risk_neutral_only: bool,
    starts: dict[str, int] | None = None,
    ordered: set = frozenset(),
    scenario: int | None = None,
) -> tuple[Program, np.ndarray]:
    """The recovery LP of a given plan: x fixed, buy/active/use as they follow from it
    (SPEC §4.6; `ordered` adds offers the solver ordered, see `plan_binaries`),
    start[o,t] = 1 in the year `starts` gives option o (0 elsewhere), first-stage rows
    dropped. With `risk_neutral_only` also the CVaR terms (the objective is then the
    expected cost); with a `scenario`, that scenario alone (its path, C_w as the
    objective: the cost of a re-solved scenario's own plan)."""
    if scenario is not None:
        path = c.path_nodes(scenario)
        keep_columns = (c.column_node == FIRST_STAGE) | np.isin(c.column_node, path)
        keep_rows = np.isin(c.row_node, path)
        cost, constant = c.costs.scenario_cost(scenario)
    elif risk_neutral_only:
        keep_columns = c.column_node != CVAR
        keep_rows = (c.row_node != FIRST_STAGE) & (c.row_node != CVAR)
        cost, constant = c.costs.expected_cost([w.probability for w in c.sm.scenarios])
    else:
        keep_columns = np.ones(len(c.column_node), dtype=bool)
        keep_rows = c.row_node != FIRST_STAGE
        cost, constant = c.program.cost, c.program.offset
    columns, rows = np.flatnonzero(keep_columns), np.flatnonzero(keep_rows)
    program = c.program.restricted(columns, rows, cost, constant)
    on = dict(zip(("buy", "active", "use"), plan_binaries(plan, ordered), strict=True))
    fixed = {j: plan.get(k, 0.0) for k, j in c.plan_columns["x"].items()}
    for name, keys in on.items():
        fixed |= {j: float(k in keys) for k, j in c.plan_columns[name].items()}
    taken = set((starts or {}).items())
    fixed |= {j: float(k in taken) for k, j in c.plan_columns["start"].items()}
    position = np.full(len(c.column_node), -1)
    position[columns] = np.arange(len(columns))
    where = np.array([position[j] for j in fixed], dtype=np.int64)
    return program.with_fixed(where, np.array(list(fixed.values()), dtype=float)), columns


def full_values(c: Compiled, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values of a sub-program's columns spread over the compiled model's (0 elsewhere)."""
    out = np.zeros(len(c.column_node))
    out[columns] = values
    return out
