"""Stress test of a fixed plan on sampled disruption scenarios (SPEC §8).

Each sample w is costed alone, C_w of SPEC §4.3 (λ plays no part), as

    C_w = Q + F + S + P_w + R_w

    Q   = Σ_s qualification_cost[s] * use[s] * (1 - qualified[s])      (use: ever x > 1e-6 t)
    F   = Σ_t df[t] Σ_s annual_fixed_cost[s] * active[s,t]              (active: x > 1e-6 t)
    S   = Σ_o the option's investment in its start year and annual cost from then on
    P_w = Σ_t df[t] Σ_(s,m) land[s,m,t] * pm[s,m,t,w] * a[s,m,t,w] * x[s,m,t]
    R_w = Σ_t df[t] Σ_m 1000 * (spot_price[m] spm[m,t,w] z + holding[m] I + penalty[m] u)

with land = 1000 * price[s,m,t] * (1 + tariff[s,t]), the need n[m,t] = D'[m,t] (demand
after the plan's substitutions), and the recovery (z, I, u) of one of
two rules:

* hindsight: the recovery LP of the fixed plan for that scenario alone. With x fixed the
  materials separate; per material m it is, over the years t (I[-1] = initial_stock_t),

      min Σ_t df[t] 1000 (spot_price spm[t] z[t] + holding I[t] + penalty u[t])
      s.t. I[t-1] + q[t] + z[t] + u[t] = n[t] + I[t] + e[t],
           0 <= z[t] <= sa[t] spot_max_t,  0 <= I[t] <= max_stock_t,  u, e >= 0,

  q[t] = Σ_s a[s,m,t] x[s,m,t] delivered and n[t] the need. One HiGHS model per material
  is modified (row bounds, z bounds and costs) and re-run, warm, for every distinct
  (q, sa, spm) of that material: identical data are solved once.
* policy: SPEC §8's year-by-year rule (`policy_recovery`), vectorised over samples.

The work is two rounds of tasks of plain data (numpy arrays, no live solver), so that
a task runner (`diversify.execution`) can spread them: the distinct samples in chunks
(`cost_samples`: purchases, the policy, each material's distinct recovery cases), then
the distinct cases of all chunks as LPs (`run_hindsight`). The chunks are fixed by the
data alone, never by the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from diversify.data import Problem
from diversify.derive import discount_factor, hits_offer
from diversify.engine import Plan
from diversify.errors import DiversifyError
from diversify.model import BUY_THRESHOLD_T, Starts, substitution_cost
from diversify.program import Program, SolveOptions, to_highs
from diversify.risks import Samples

SHORT_T = 1e-6  # a sample is short when more than this is unmet (all materials, years)
Z95 = 1.96
CHUNK = 2048  # distinct samples costed at once (memory), and LPs per hindsight task


# ---------------------------------------------------------------- what the plan needs and pays


def need(problem: Problem, starts: Starts) -> np.ndarray:
    """n[m,t] = D'[m,t], the need of SPEC §8 step 1 (materials × years, `Problem` order):

    D'[m,t] = D[m,t] * (1 - Σ_{o of m, taken by t} reduction[o])   (SPEC §4.1)
    """
    cut = {}
    for o, year in starts.items():
        option = problem.substitutions[o]
        for t in problem.years:
            if t >= year:
                cut[(option.material, t)] = cut.get((option.material, t), 0.0) + option.reduction
    return np.array(
        [
            [problem.demand_t.get((m, t), 0.0) * (1 - cut.get((m, t), 0.0)) for t in problem.years]
            for m in problem.materials
        ]
    )


@dataclass
class PlanData:
    """A plan and the problem's data as arrays: offers o (those the plan orders), materials
    m, years t, risks k."""

    materials: list[str]
    years: list[int]
    x: np.ndarray  # (O, T) t contracted
    land: np.ndarray  # (O, T) USD per t, undisrupted, discounted by df[t]
    material_of: np.ndarray  # (O,) material index of each offer
    df: np.ndarray  # (T,)
    need: np.ndarray  # (M, T)
    spot_price: np.ndarray  # (M,) USD/kg
    spot_max: np.ndarray  # (M,) t per year, inf = unlimited
    penalty: np.ndarray  # (M,) USD/kg
    holding: np.ndarray  # (M,) USD/kg/year
    initial: np.ndarray  # (M,)
    max_stock: np.ndarray  # (M,) inf = unlimited
    fixed_usd: float  # Q + F + substitution costs: the same in every sample
    hit: np.ndarray  # (K, O) risk k's events hit offer o
    avail: np.ndarray  # (K,) availability, price multiplier of risk k on the offers it hits
    price_mult: np.ndarray
    spot_hit: np.ndarray  # (K, M) risk k's events hit the spot market of material m
    spot_avail: np.ndarray  # (K,)
    spot_price_mult: np.ndarray  # (K,)


def plan_data(problem: Problem, plan: Plan, starts: Starts | None = None) -> PlanData:
    """The arrays of a plan and its substitutions' start years (see `PlanData`); buy,
    active, use follow from x (SPEC §4.6)."""
    years, materials = problem.years, list(problem.materials)
    offers = [o for o in problem.offers if any(plan.get((*o, t), 0.0) > 0 for t in years)]
    df = np.array([discount_factor(problem, t) for t in years])
    x = np.array([[plan.get((s, m, t), 0.0) for t in years] for s, m in offers]).reshape(
        -1, len(years)
    )
    land = (
        np.array(
            [
                [1000 * problem.offers[(s, m)].price(t) * (1 + problem.tariff(s, t)) for t in years]
                for s, m in offers
            ]
        ).reshape(-1, len(years))
        * df
    )
    active = {(s, t) for (s, _, t), q in plan.items() if q > BUY_THRESHOLD_T}
    fixed = (
        sum(substitution_cost(problem, o, t) for o, t in (starts or {}).items())
        + sum(
            problem.suppliers[s].qualification_cost_usd
            for s in dict.fromkeys(s for s, _ in active)
            if not problem.suppliers[s].qualified
        )
        + sum(
            discount_factor(problem, t) * problem.suppliers[s].annual_fixed_cost_usd
            for s, t in active
        )
    )
    mats = [problem.materials[m] for m in materials]
    risks = problem.risks
    reaches = [[r.material in (None, m) for m in materials] for r in risks]
    hit = np.array(
        [
            [
                r.scope != "spot" and r.material in (None, m) and hits_offer(problem, r, s)
                for s, m in offers
            ]
            for r in risks
        ],
        dtype=bool,
    ).reshape(len(risks), len(offers))
    spot_hit = np.array(
        [
            [reach and (r.scope == "spot" or r.hits_spot_too) for reach in row]
            for r, row in zip(risks, reaches, strict=True)
        ],
        dtype=bool,
    ).reshape(len(risks), len(materials))
    spot = [r.scope == "spot" for r in risks]
    return PlanData(
        materials,
        years,
        x,
        land,
        np.array([materials.index(m) for _, m in offers], dtype=int),
        df,
        need(problem, starts or {}),
        np.array([mt.spot_price_usd_per_kg for mt in mats]),
        np.array([math.inf if mt.spot_max_t is None else mt.spot_max_t for mt in mats]),
        np.array([mt.shortfall_penalty_usd_per_kg for mt in mats]),
        np.array([mt.holding_cost_usd_per_kg_year for mt in mats]),
        np.array([mt.initial_stock_t for mt in mats]),
        np.array([math.inf if mt.max_stock_t is None else mt.max_stock_t for mt in mats]),
        float(fixed),
        hit,
        np.array([r.availability for r in risks]),
        np.array([r.price_multiplier for r in risks]),
        spot_hit,
        np.array(
            [r.availability if s else r.spot_availability for r, s in zip(risks, spot, strict=True)]
        ),
        np.array(
            [
                r.price_multiplier if s else r.spot_price_multiplier
                for r, s in zip(risks, spot, strict=True)
            ]
        ),
    )


# ---------------------------------------------------------------- one chunk of samples


@dataclass
class SampleData:
    """What B samples do to the plan: a, pm per offer and sa, spm per material."""

    a: np.ndarray  # (B, O, T)
    pm: np.ndarray  # (B, O, T)
    sa: np.ndarray  # (B, M, T)
    spm: np.ndarray  # (B, M, T)


def coverage(samples: Samples, which: np.ndarray, years: list[int]) -> np.ndarray:
    """cover[b,k,t]: an event of risk k is under way in year t of sample which[b]."""
    cover = np.zeros((len(which), len(samples.risks), len(years)), dtype=bool)
    position = np.full(samples.n, -1)
    position[which] = np.arange(len(which))
    pos = position[samples.event_sample]
    keep = pos >= 0
    pos, k = pos[keep], samples.event_risk[keep]
    first, last = samples.event_first[keep], samples.event_last[keep]
    for j, t in enumerate(years):
        on = (first <= t) & (last >= t)
        cover[pos[on], k[on], j] = True
    return cover


def sample_data(d: PlanData, cover: np.ndarray) -> SampleData:
    """Products of the events' factors: a = Π_k avail_k where risk k hits (1 elsewhere)."""
    b, o, m, t = cover.shape[0], d.x.shape[0], len(d.materials), len(d.years)
    a, pm = np.ones((b, o, t)), np.ones((b, o, t))
    sa, spm = np.ones((b, m, t)), np.ones((b, m, t))
    for k in range(cover.shape[1]):
        on = cover[:, k, None, :]
        if d.hit[k].any():
            where = on & d.hit[k][None, :, None]
            a[where] *= d.avail[k]
            pm[where] *= d.price_mult[k]
        if d.spot_hit[k].any():
            where = on & d.spot_hit[k][None, :, None]
            sa[where] *= d.spot_avail[k]
            spm[where] *= d.spot_price_mult[k]
    return SampleData(a, pm, sa, spm)


def delivered(d: PlanData, s: SampleData) -> np.ndarray:
    """q[b,m,t] = Σ_s a[s,m,t] x[s,m,t]."""
    q = np.zeros((s.a.shape[0], len(d.materials), len(d.years)))
    np.add.at(q, (slice(None), d.material_of), s.a * d.x[None])
    return q


def purchases(d: PlanData, s: SampleData) -> np.ndarray:
    """P_w = Σ df land pm a x per sample (land already discounted)."""
    return (d.land[None] * s.pm * s.a * d.x[None]).sum(axis=(1, 2))


def spot_cap(d: PlanData, sa: np.ndarray) -> np.ndarray:
    """sa · spot_max_t; unlimited stays unlimited, except 0 where sa = 0."""
    cap = sa * np.where(np.isinf(d.spot_max), 1.0, d.spot_max)[None, :, None]
    return np.where(np.isinf(d.spot_max)[None, :, None] & (sa > 0), np.inf, cap)


def policy_recovery(
    d: PlanData, q: np.ndarray, sa: np.ndarray, spm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """SPEC §8's rule, per material in year order from I = initial_stock_t:

    1. q delivered, need n;
    2. I + q >= n: I = min(I + q - n, max_stock_t), the rest written off;
    3. else g = n - (I + q), I = 0, z = min(g, sa · spot_max_t) when spot_price · spm <
       penalty (else 0), u = g - z.

    Returns the recovery cost R_w (B,) and the tonnes short u per sample and material (B, M).
    """
    b, m, _ = q.shape
    stock = np.broadcast_to(d.initial, (b, m)).copy()
    cost, short = np.zeros(b), np.zeros((b, m))
    cap = spot_cap(d, sa)
    for j in range(len(d.years)):
        have = stock + q[:, :, j]
        gap = d.need[None, :, j] - have
        enough = gap <= 0
        price = d.spot_price[None] * spm[:, :, j]
        z = np.where(
            enough | (price >= d.penalty[None]), 0.0, np.minimum(np.maximum(gap, 0), cap[:, :, j])
        )
        u = np.where(enough, 0.0, gap - z)
        stock = np.where(enough, np.minimum(-gap, d.max_stock[None]), 0.0)
        cost += (
            d.df[j] * 1000 * (price * z + d.holding[None] * stock + d.penalty[None] * u).sum(axis=1)
        )
        short += u
    return cost, short


# ---------------------------------------------------------------- hindsight: per-material LPs


def material_program(d: PlanData, m: int) -> Program:
    """The recovery LP of material m with columns z, I, u, e (T each) and T balance rows."""
    t = len(d.years)
    eye = sp.identity(t, format="csc")
    shift = sp.eye(t, k=-1, format="csc")  # I[t-1] in row t
    matrix = sp.hstack([eye, shift - eye, eye, -eye], format="csc")
    unit = d.df * 1000
    cost = np.concatenate(
        [unit * d.spot_price[m], unit * d.holding[m], unit * d.penalty[m], np.zeros(t)]
    )
    upper = np.concatenate([np.full(t, np.inf), np.full(t, d.max_stock[m]), np.full(2 * t, np.inf)])
    zeros = np.zeros(t)
    return Program(
        cost, 0.0, matrix, np.zeros(4 * t), upper, zeros, zeros, np.zeros(4 * t, dtype=np.int32)
    )


def solve_hindsight(
    program: Program, rhs: np.ndarray, z_upper: np.ndarray, z_cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Objective and tonnes short of each case: one HiGHS model, modified and re-run warm."""
    t = rhs.shape[1]
    h = to_highs(program, SolveOptions(threads=1))  # as every task: the same result anywhere
    optimal = highspy.HighsModelStatus.kOptimal
    rows = np.arange(t, dtype=np.int32)
    zeros = np.zeros(t)
    objective, short = np.zeros(len(rhs)), np.zeros(len(rhs))
    for i in range(len(rhs)):
        h.changeRowsBounds(t, rows, rhs[i], rhs[i])
        h.changeColsBounds(t, rows, zeros, z_upper[i])
        h.changeColsCost(t, rows, z_cost[i])
        h.run()
        if h.getModelStatus() != optimal:  # cannot happen: spot, shortfall, surplus absorb all
            raise DiversifyError(
                f"a hindsight recovery failed: {h.modelStatusToString(h.getModelStatus())}"
            )
        objective[i] = h.getInfo().objective_function_value
        short[i] = float(np.sum(np.asarray(h.getSolution().col_value)[2 * t : 3 * t]))
    return objective, short


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D float array, in order of first appearance, and each
    row's index among them: np.unique(axis=0, return_inverse=True) without its
    lexicographic sort (a hash of each row's bytes: 8x faster on 72,000 rows of 30).
    -0.0 and 0.0 are one value."""
    rows = np.ascontiguousarray(rows + 0.0)
    keys = rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1]))).ravel()
    codes, _ = pd.factorize(keys)
    _, first = np.unique(codes, return_index=True)
    return rows[first], codes.astype(np.int64)


@dataclass
class SampleCosts:
    """What one chunk of distinct samples costs, before the hindsight LPs: the policy's
    recovery in full, the purchases every recovery shares, and per material the chunk's
    distinct recovery cases (q, sa · spot_max, spm over the years) with each sample's
    case among them."""

    bought: np.ndarray  # (B,) fixed costs + purchases
    policy_cost: np.ndarray  # (B,)
    policy_short: np.ndarray  # (B, M)
    cases: list[tuple[np.ndarray, np.ndarray]]  # per material: (U, 3T) distinct, (B,) index


def cost_samples(d: PlanData, cover: np.ndarray) -> SampleCosts:
    """Task 1 of the stress test (here or on a worker): one chunk of samples, given which
    risks' events are under way in which years (`coverage`)."""
    s = sample_data(d, cover)
    q = delivered(d, s)
    bought = d.fixed_usd + purchases(d, s)
    cost, short = policy_recovery(d, q, s.sa, s.spm)
    cap = spot_cap(d, s.sa)
    cases = [
        distinct_rows(np.concatenate([q[:, m], cap[:, m], s.spm[:, m]], axis=1))
        for m in range(len(d.materials))
    ]
    return SampleCosts(bought, bought + cost, short, cases)


@dataclass
class HindsightTask:
    """Task 2 of the stress test: one chunk of distinct hindsight LPs of one material.

    `rhs[i,t]` = n[t] - q[t] (minus initial stock in the first year), `z_upper[i,t]`
    and `z_cost[i,t]` the spot bounds and discounted costs of the i-th distinct case.
    """

    material: int
    rhs: np.ndarray
    z_upper: np.ndarray
    z_cost: np.ndarray


def run_hindsight(d: PlanData, task: HindsightTask) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of hindsight LPs (here or on a worker): objectives and tonnes short."""
    program = material_program(d, task.material)
    return solve_hindsight(program, task.rhs, task.z_upper, task.z_cost)


def hindsight_tasks(d: PlanData, m: int, cases: np.ndarray) -> list[HindsightTask]:
    """The LP chunks of material m's distinct cases (q | sa · spot_max | spm per year)."""
    t = len(d.years)
    rhs = d.need[m][None] - cases[:, :t]
    rhs[:, 0] -= d.initial[m]
    z_cost = cases[:, 2 * t :] * (d.df * 1000 * d.spot_price[m])[None]
    return [
        HindsightTask(
            m, rhs[lo : lo + CHUNK], cases[lo : lo + CHUNK, t : 2 * t], z_cost[lo : lo + CHUNK]
        )
        for lo in range(0, len(cases), CHUNK)
    ]


# ---------------------------------------------------------------- the whole test


@dataclass
class StressCosts:
    """Per sample (0-based, N of them): both recoveries' costs and shortfalls."""

    hindsight_cost: np.ndarray
    policy_cost: np.ndarray
    hindsight_short: np.ndarray  # (N, M)
    policy_short: np.ndarray  # (N, M)
    materials: list[str] = field(default_factory=list)


class Runner(Protocol):
    """Runs fn(shared, payload) for each payload and returns the results in order
    (`diversify.execution.Executor.map`, or `run_here`)."""

    def __call__(self, fn: Callable, payloads: list, shared: PlanData, label: str) -> list: ...


def run_here(fn: Callable, payloads: list, shared: PlanData, label: str) -> list:
    """Every task in this process, in order."""
    return [fn(shared, p) for p in payloads]


def chunk_size(d: PlanData) -> int:
    """Distinct samples costed in one task: CHUNK, fewer where the plan's offers × years
    would make the chunk's arrays (B × O × T floats, four of them) pass ~16 MB each.
    Fixed by the data alone, never by the number of workers."""
    return max(64, min(CHUNK, 2_000_000 // max(1, d.x.size)))


def stress_costs(
    problem: Problem,
    plan: Plan,
    samples: Samples,
    run: Runner = run_here,
    starts: Starts | None = None,
) -> StressCosts:
    """Cost the plan (and its substitutions' start years) in every sample with both
    recoveries; identical samples once, identical recovery cases of a material once.

    Two rounds of tasks, each spread by `run`: the samples in chunks (`cost_samples`:
    purchases, the policy, the chunk's distinct cases), then the distinct cases of all
    chunks together as LPs (`run_hindsight`)."""
    d = plan_data(problem, plan, starts)
    reps = samples.distinct
    size = chunk_size(d)
    covers = [coverage(samples, reps[lo : lo + size], d.years) for lo in range(0, len(reps), size)]
    parts: list[SampleCosts] = run(cost_samples, covers, d, "costing the samples")
    h_cost = np.concatenate([p.bought for p in parts])
    p_cost = np.concatenate([p.policy_cost for p in parts])
    p_short = np.concatenate([p.policy_short for p in parts])
    h_short = np.zeros_like(p_short)
    tasks, lookups = [], []
    for m in range(len(d.materials)):
        cases, index = distinct_rows(np.concatenate([p.cases[m][0] for p in parts]))
        offsets = np.cumsum([0] + [len(p.cases[m][0]) for p in parts[:-1]])
        lookups.append(
            index[np.concatenate([o + p.cases[m][1] for o, p in zip(offsets, parts, strict=True)])]
        )
        tasks += hindsight_tasks(d, m, cases)
    results = run(run_hindsight, tasks, d, "hindsight recoveries")
    for m, lookup in enumerate(lookups):
        mine = [r for task, r in zip(tasks, results, strict=True) if task.material == m]
        h_cost += np.concatenate([r[0] for r in mine])[lookup]
        h_short[:, m] = np.concatenate([r[1] for r in mine])[lookup]
    of = samples.scenario_of
    return StressCosts(h_cost[of], p_cost[of], h_short[of], p_short[of], d.materials)


# ---------------------------------------------------------------- the figures


def cvar(alpha: float, costs: np.ndarray) -> float:
    """CVaR_α with π = 1/N (SPEC §4.5, as `engine.cvar`): min over η in the sample of
    η + 1/((1-α) N) Σ max(0, C - η); for sorted C, Σ_{i>j} (C_i - C_j) by suffix sums."""
    c = np.sort(costs)
    n = len(c)
    tail = np.concatenate([np.cumsum(c[::-1])[::-1][1:], [0.0]])  # Σ_{i>j} C_i
    above = tail - c * (n - 1 - np.arange(n))
    return float(np.min(c + above / ((1 - alpha) * n)))


def wilson(k: int, n: int, z: float = Z95) -> list[float]:
    """Wilson score interval of a share k/n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(0.0, centre - half), min(1.0, centre + half)]


def figures(costs: np.ndarray, short: np.ndarray, materials: list[str], alpha: float) -> dict:
    """SPEC §8's figures of one recovery: mean ± 1.96 s/√N, percentiles, CVaR, P(short)."""
    n = len(costs)
    mean = float(np.mean(costs))
    half = Z95 * float(np.std(costs, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    p5, p50, p95, p99 = (float(v) for v in np.percentile(costs, [5, 50, 95, 99]))
    k = int(np.count_nonzero(short.sum(axis=1) > SHORT_T))
    return {
        "mean_usd": mean,
        "ci95_usd": [mean - half, mean + half],
        "p5_usd": p5,
        "p50_usd": p50,
        "p95_usd": p95,
        "p99_usd": p99,
        "cvar_usd": cvar(alpha, costs),
        "shortfall_probability": k / n,
        "shortfall_probability_ci95": wilson(k, n),
        "expected_shortfall_t": dict(zip(materials, short.mean(axis=0).tolist(), strict=True)),
    }
