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

  q[t] = Σ_s a[s,m,t] x[s,m,t] delivered and n[t] the need: a min-cost flow on the path
  of years, solved exactly case by case (`diversify.pathflow`, compiled), once for all the
  samples whose events that matter to the material agree.
* policy: SPEC §8's year-by-year rule (`policy_recovery`), vectorised over samples.

The work is one round of independent tasks of plain data (numpy arrays, no live
solver), so that a task runner (`diversify.execution`) can spread them: the policy on
chunks of distinct samples (`PolicyTask`), and per material the distinct hindsight LPs
(`HindsightTask`), samples being one LP of material m when the events that matter to m
(`relevant`) are the same. A task gets which events run when and computes its own
deliveries; the chunks are fixed by the data alone, never by the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from diversify.data import Plan, Problem, Starts
from diversify.derive import BUY_THRESHOLD_T, discount_factor, hits_offer, substitution_cost
from diversify.risks import Samples, row_keys

SHORT_T = 1e-6  # a sample is short when more than this is unmet (all materials, years)
Z95 = 1.96
CHUNK = 2048  # distinct samples costed at once by the policy, at most (memory)
TABLE_RISKS = 16  # risks up to which a sample-year's set of risks indexes a table


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
    """What B samples do to the plan, by the set of risks under way in each year (most
    sample-years share a few sets): `pattern[b,t]` is the set of sample b in year t,
    and for each distinct set, a and pm per offer and sa and spm per material."""

    pattern: np.ndarray  # (B, T), into the P sets
    a: np.ndarray  # (P, O)
    pm: np.ndarray  # (P, O)
    sa_set: np.ndarray  # (P, M)
    spm_set: np.ndarray  # (P, M)

    def per_sample(self, per_set: np.ndarray) -> np.ndarray:
        """(P, X, T) or (P, X) of the sets as (B, X, T) of the samples."""
        years = np.arange(self.pattern.shape[1])
        if per_set.ndim == 2:
            return per_set[self.pattern].transpose(0, 2, 1)
        return per_set.transpose(0, 2, 1)[self.pattern, years[None]].transpose(0, 2, 1)

    @property
    def sa(self) -> np.ndarray:  # (B, M, T)
        return self.per_sample(self.sa_set)

    @property
    def spm(self) -> np.ndarray:  # (B, M, T)
        return self.per_sample(self.spm_set)


def coverage(samples: Samples, which: np.ndarray, years: list[int]) -> np.ndarray:
    """cover[b,k,t]: an event of risk k is under way in year t of sample which[b]."""
    cover = np.zeros((len(which), len(samples.risks), len(years)), dtype=bool)
    position = np.full(samples.n, -1)
    position[which] = np.arange(len(which))
    pos = position[samples.event_sample]
    keep = pos >= 0
    pos, k = pos[keep], samples.event_risk[keep]
    # each event's years within the horizon (consecutive years), all set at once
    t0 = years[0]
    lo = np.maximum(samples.event_first[keep], t0)
    span = np.maximum(np.minimum(samples.event_last[keep], years[-1]) - lo + 1, 0)
    event = np.repeat(np.arange(len(lo)), span)
    step = np.arange(len(event)) - np.repeat(np.cumsum(span) - span, span)
    cover[pos[event], k[event], lo[event] - t0 + step] = True
    return cover


def sample_data(d: PlanData, cover: np.ndarray) -> SampleData:
    """Products of the events' factors: a = Π_k avail_k where risk k hits (1 elsewhere),
    once per distinct set of risks under way (100,000 samples of large's plan: 2.2 s
    over every sample, offer and year, 0.1 s so)."""
    b, k, t = cover.shape
    on, pattern = _sets_of_risks(cover.transpose(0, 2, 1).reshape(b * t, k))  # (P, K)
    a, pm = np.ones((len(on), d.x.shape[0])), np.ones((len(on), d.x.shape[0]))
    sa, spm = np.ones((len(on), len(d.materials))), np.ones((len(on), len(d.materials)))
    for j in range(k):  # in risk order, as the events multiply
        if d.hit[j].any():
            where = on[:, j, None] & d.hit[j][None]
            np.multiply(a, d.avail[j], out=a, where=where)
            np.multiply(pm, d.price_mult[j], out=pm, where=where)
        if d.spot_hit[j].any():
            where = on[:, j, None] & d.spot_hit[j][None]
            np.multiply(sa, d.spot_avail[j], out=sa, where=where)
            np.multiply(spm, d.spot_price_mult[j], out=spm, where=where)
    return SampleData(pattern.reshape(b, t), a, pm, sa, spm)


def _sets_of_risks(under: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of `under` (sample-years × risks, bool), in order of their bits
    read as a number, and each row's index among them. Up to TABLE_RISKS risks a row's
    number indexes a table (no sort: 2,048 samples × 20 years of 13 risks in 0.3 ms,
    3.5 ms through np.unique); beyond, np.unique over the rows' packed bits."""
    n, k = under.shape
    if k > TABLE_RISKS:
        keys, index = np.unique(np.packbits(under, axis=1), axis=0, return_inverse=True)
        return np.unpackbits(keys, axis=1, count=k).astype(bool), index.ravel()
    codes = under.astype(np.int32) @ (1 << np.arange(k, dtype=np.int32))  # exact: integers
    seen = np.zeros(1 << k, dtype=bool)
    seen[codes] = True
    sets = np.flatnonzero(seen)
    position = np.zeros(1 << k, dtype=np.intp)
    position[sets] = np.arange(len(sets))
    return ((sets[:, None] >> np.arange(k)) & 1).astype(bool), position[codes]


def delivered(d: PlanData, s: SampleData) -> np.ndarray:
    """q[b,m,t] = Σ_s a[s,m,t] x[s,m,t], per set of risks, then per sample. (np.einsum
    sums in its own loops, never through BLAS, whose order depends on the thread count.)"""
    q = np.zeros((s.a.shape[0], len(d.materials), len(d.years)))
    for m in range(len(d.materials)):
        mine = d.material_of == m
        q[:, m] = np.einsum("po,ot->pt", s.a[:, mine], d.x[mine])
    return s.per_sample(q)


def purchases(d: PlanData, s: SampleData) -> np.ndarray:
    """P_w = Σ df land pm a x per sample (land already discounted): per set of risks and
    year, then over each sample's years."""
    per_year = np.einsum("po,ot->pt", s.pm * s.a, d.land * d.x)  # (P, T)
    years = np.arange(s.pattern.shape[1])
    return per_year[s.pattern, years[None]].sum(axis=1)


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


# ---------------------------------------------------------------- hindsight: per material


def material_data(d: PlanData, m: int) -> PlanData:
    """The plan's data of material m alone (its offers; its spot market as material 0):
    all a hindsight recovery of m needs."""
    mine = d.material_of == m
    one = slice(m, m + 1)
    return replace(
        d,
        materials=[d.materials[m]],
        x=d.x[mine],
        land=d.land[mine],
        material_of=np.zeros(int(mine.sum()), dtype=int),
        need=d.need[one],
        spot_price=d.spot_price[one],
        spot_max=d.spot_max[one],
        penalty=d.penalty[one],
        holding=d.holding[one],
        initial=d.initial[one],
        max_stock=d.max_stock[one],
        hit=d.hit[:, mine],
        spot_hit=d.spot_hit[:, one],
    )


def relevant(d: PlanData) -> np.ndarray:
    """matters[k,t]: an event of risk k in year t changes what this material's recovery
    sees (q, sa · spot_max or spm), for `material_data`: it hits an offer delivering in
    t, or the spot market. Samples equal on these are one hindsight LP."""
    delivers = d.x > 0  # (O, T)
    offers = (d.hit[:, :, None] & delivers[None]).any(axis=1)  # (K, T)
    return offers | d.spot_hit[:, 0][:, None]


@dataclass
class Cover:
    """cover[b,k,t] (risk k's event under way in year t of sample b) as bits: a task's
    payload, 8 times smaller than booleans."""

    bits: np.ndarray
    shape: tuple[int, ...]

    @classmethod
    def of(cls, cover: np.ndarray) -> Cover:
        return cls(np.packbits(cover.reshape(len(cover), -1), axis=1), cover.shape)

    def __getitem__(self, rows) -> Cover:
        """The cover of these samples (a slice or an index array), still packed."""
        bits = self.bits[rows]
        return Cover(bits, (len(bits), *self.shape[1:]))

    def unpack(self) -> np.ndarray:
        count = int(np.prod(self.shape[1:]))
        return np.unpackbits(self.bits, axis=1, count=count).astype(bool).reshape(self.shape)


@dataclass
class PolicyTask:
    """Distinct samples and the events under way in them, costed `step` at a time."""

    cover: Cover
    step: int

    def run(self, d: PlanData, _per_material: list[PlanData]):
        """Fixed costs + purchases (what both recoveries pay) and the policy's recovery."""
        parts = []
        for lo in range(0, len(self.cover.bits), self.step):
            s = sample_data(d, self.cover[lo : lo + self.step].unpack())
            bought = d.fixed_usd + purchases(d, s)
            cost, short = policy_recovery(d, delivered(d, s), s.sa, s.spm)
            parts.append((bought, bought + cost, short))
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


@dataclass
class HindsightTask:
    """A chunk of distinct hindsight LPs of one material, each given by the events that
    matter to it (`cover[i,k,t]`, masked by `relevant`)."""

    material: int
    cover: Cover

    def run(self, _d: PlanData, per_material: list[PlanData]):
        """Each case's optimal recovery cost and tonnes short."""
        dm = per_material[self.material]
        s = sample_data(dm, self.cover.unpack())
        q = delivered(dm, s)[:, 0]
        rhs = dm.need[0][None] - q
        rhs[:, 0] -= dm.initial[0]
        z_upper = spot_cap(dm, s.sa)[:, 0]
        z_cost = s.spm[:, 0] * (dm.df * 1000 * dm.spot_price[0])[None]
        from diversify.pathflow import hindsight_flows  # numba: where the cases are solved

        unit = dm.df * 1000
        return hindsight_flows(
            rhs, z_upper, z_cost, unit * dm.holding[0], unit * dm.penalty[0], dm.max_stock[0]
        )


def run_task(shared: tuple[PlanData, list[PlanData]], task: PolicyTask | HindsightTask):
    """One task of the stress test, here or on a worker (diversify.execution)."""
    return task.run(*shared)


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

    def __call__(self, fn: Callable, payloads: list, shared: object, label: str) -> list: ...


def run_here(fn: Callable, payloads: list, shared: object, label: str) -> list:
    """Every task in this process, in order."""
    return [fn(shared, p) for p in payloads]


def chunk_size(d: PlanData) -> int:
    """Distinct samples costed at once by the policy: CHUNK, fewer where the materials ×
    years would make its arrays (B × M × T floats; the offers' are per set of risks)
    pass ~3 MB each, in a core's cache rather than in the memory that two workers share.
    Fixed by the data alone, never by the number of workers (nor do the figures depend
    on it: `test_stress_figures_do_not_depend_on_the_chunk_size`)."""
    return max(64, min(CHUNK, 400_000 // max(1, len(d.materials) * len(d.years))))


# the stress test's tasks, seconds per distinct sample, offer of the plan and year, as
# `Executor.expect` weighs them against a local cluster's cost (workers when they save 2 s):
# 100,000 samples of large's plan, 2.4-3.6 s of tasks in one process (estimated 2.4 s;
# the command 8.6-9.7 s, on 2 local workers 10.0-10.5 s), of xlarge's 4.4 s (estimated
# 5.5 s: 2 workers; the command 11.1-11.6 s so, 10.9-11.1 s in one process, the same)
SECONDS_PER_SAMPLE_OFFER_YEAR = 1.6e-8
# a policy task's samples × the plan's offers × years: ~0.1 s on the large plan (10,240
# samples), as a hindsight task (`hindsight_task_size`)
POLICY_TASK_SAMPLE_OFFER_YEARS = 16_000_000
# a hindsight task's cases × years: ~0.1 s (4.6 µs a case of 25 years on the xlarge plan)
HINDSIGHT_TASK_CASE_YEARS = 500_000


def policy_task_size(d: PlanData, step: int) -> int:
    """Samples in one policy task: a multiple of `step`, ~0.1 s of work, so that the
    last tasks leave no worker idle long (policy tasks of 263 samples, 10 ms, made the
    executor's batches 15 tasks, 3 s of LPs each, on the large plan)."""
    return step * max(1, round(POLICY_TASK_SAMPLE_OFFER_YEARS / (max(1, d.x.size) * step)))


def hindsight_task_size(d: PlanData) -> int:
    """Distinct hindsight cases in one task: ~0.1 s of work, as a policy task. The
    executor sizes its batches from the first tasks' time (policy tasks, 0.16 s on the
    xlarge plan: one a batch), so hindsight tasks of 2,048 cases (9 ms) went one at a
    time, and the round trips left 2 workers no faster than 1. Fixed by the data alone."""
    return max(1, round(HINDSIGHT_TASK_CASE_YEARS / max(1, len(d.years))))


def work_seconds(plan: Plan, problem: Problem, distinct: int) -> float:
    """The stress test's parallel work as `Executor.expect` weighs it (the policy and the
    hindsight flows; the flows' count is known only once the samples are compared)."""
    offers = {(s, m) for s, m, _ in plan if (s, m) in problem.offers}
    return distinct * len(offers) * len(problem.years) * SECONDS_PER_SAMPLE_OFFER_YEAR


def stress_costs(
    problem: Problem,
    plan: Plan,
    samples: Samples,
    run: Runner = run_here,
    starts: Starts | None = None,
) -> StressCosts:
    """Cost the plan (and its substitutions' start years) in every sample with both
    recoveries; identical samples once, and a material's hindsight LP once for all the
    samples whose events that matter to it are the same.

    One round of independent tasks, spread by `run`: the policy on chunks of samples
    (`PolicyTask`) and the distinct hindsight LPs of each material (`HindsightTask`).
    Only which events run when is shipped; each task computes its own deliveries."""
    d = plan_data(problem, plan, starts)
    per_material = [material_data(d, m) for m in range(len(d.materials))]
    cover = coverage(samples, samples.distinct, d.years)  # (N_d, K, T)
    step = chunk_size(d)
    size = policy_task_size(d, step)
    packed = Cover.of(cover)
    tasks: list[PolicyTask | HindsightTask] = [
        PolicyTask(packed[lo : lo + size], step) for lo in range(0, len(cover), size)
    ]
    n_policy, lookups, cut = len(tasks), [], hindsight_task_size(d)
    for m, dm in enumerate(per_material):
        matters = Cover.of(cover & relevant(dm)[None])
        _, first, index = np.unique(row_keys(matters.bits), return_index=True, return_inverse=True)
        cases = matters[first]
        tasks += [HindsightTask(m, cases[lo : lo + cut]) for lo in range(0, len(first), cut)]
        lookups.append(index)
    results = run(run_task, tasks, (d, per_material), "costing the samples")
    policy, hindsight = results[:n_policy], results[n_policy:]
    h_cost = np.concatenate([r[0] for r in policy])
    p_cost = np.concatenate([r[1] for r in policy])
    p_short = np.concatenate([r[2] for r in policy])
    h_short = np.zeros_like(p_short)
    lps = tasks[n_policy:]
    for m, lookup in enumerate(lookups):
        mine = [r for task, r in zip(lps, hindsight, strict=True) if task.material == m]
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
