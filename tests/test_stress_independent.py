"""The stress test (SPEC §7-§8) checked end to end against an independent reading.

Random problems (2-3 materials, 3-6 suppliers in 2-3 countries whose ore origins and
processing countries differ, several offers per material with price paths and tariffs,
4-6 years, capped and unlimited spot markets, stock limits, initial stock, holding costs,
a substitution taken or not, a discount rate or none) and 3-6 risks of every scope
(`supplier`, `country`, `ore_origin`, `processing_country`, `any_link`, `spot`; some that
also squeeze the spot market; some that only raise prices) are sampled with
`diversify.risks.draw`, and a fixed plan is costed with `stress.stress_costs`. For each
sample the expected figures are computed without `diversify.stress`:

* the sample's data (a, pm per offer and sa, spm per material and year) by hand, in
  plain loops, from SPEC §3/§7's reading of scopes and of events that multiply; the same
  events written as `Disruptions` rows (checked against `risks.disruption_rows`, what
  `diversify scenarios` writes) of a copy of the problem and derived by
  `derive.scenario_data` (the product's reading of a Disruptions sheet) must give the
  same data;
* hindsight (on up to HINDSIGHT_CASES distinct samples per seed, and every sample with
  the same events): `engine.evaluate` of the plan in that one scenario (the recovery LP
  of SPEC §4.6, solved by HiGHS), its cost and its tonnes short per material;
* policy: SPEC §8's rule and SPEC §4.3's C_w, written out below in loops over materials
  and years.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from diversify.data import (
    Country,
    Disruption,
    Material,
    Offer,
    Problem,
    Risk,
    Scenario,
    Settings,
    Substitution,
    Supplier,
)
from diversify.derive import scenario_data
from diversify.engine import evaluate
from diversify.risks import disruption_rows, draw
from diversify.solver import SolveOptions
from diversify.stress import stress_costs

SEEDS = [0, 1, 2, 3, 4, 5, 6, 7]
N_SAMPLES = 150
HINDSIGHT_CASES = 40  # distinct samples per seed re-costed by HiGHS (engine.evaluate)
USED_T = 1e-6  # SPEC §4.6: buy, active, use where x > 1e-6 t

MATERIALS = ["NdPr", "Dy", "Tb"]
COUNTRIES = ["CN", "AU", "BR"]
CHAIN_SCOPES = ("country", "ore_origin", "processing_country", "any_link", "supplier", "spot")


# ---------------------------------------------------------------- random problems and plans


def random_case(seed: int):
    """A problem with risks, a plan {(s, m, t): t} and its substitutions' start years."""
    rng = random.Random(seed)
    t0 = 2025
    years = list(range(t0, t0 + rng.randint(4, 6)))
    countries_used = COUNTRIES[: rng.randint(2, 3)]
    countries = {}
    for c in countries_used:
        tariff = {}
        if rng.random() < 0.6:
            tariff = {t: rng.choice([0.0, 10.0, 25.5, 40.0]) for t in years if rng.random() < 0.7}
        countries[c] = Country(c, round(rng.uniform(0, 1), 3), tariff)

    materials = {}
    for i, m in enumerate(MATERIALS[: rng.randint(2, 3)]):
        spot = rng.uniform(60, 150)
        # material 0: unlimited spot, capped stock; material 1: capped spot, unlimited
        # stock; a third one either way
        if i == 0:
            spot_max = None
        elif i == 1:
            spot_max = rng.uniform(2, 8)
        else:
            spot_max = rng.choice([None, rng.uniform(1, 6), 0.0])
        if i == 0:
            max_stock = rng.choice([rng.uniform(2, 10), 0.0])
        elif i == 1:
            max_stock = None
        else:
            max_stock = rng.choice([None, rng.uniform(1, 8)])
        initial = rng.choice([0.0, rng.uniform(0, 6)])
        if max_stock is not None:
            initial = min(initial, max_stock)
        materials[m] = Material(
            name=m,
            spot_price_usd_per_kg=spot,
            shortfall_penalty_usd_per_kg=spot * rng.uniform(1.3, 3.5),
            spot_max_t=spot_max,
            holding_cost_usd_per_kg_year=rng.choice([0.0, rng.uniform(0.5, 8)]),
            initial_stock_t=initial,
            max_stock_t=max_stock,
        )
    demand = {(m, t): rng.uniform(5, 16) for m in materials for t in years}

    suppliers = {}
    for i in range(rng.randint(3, 6)):
        name = f"S{i}"
        c = countries_used[i] if i < len(countries_used) else rng.choice(countries_used)
        ore = c if rng.random() < 0.5 else rng.choice(countries_used)
        proc = c if rng.random() < 0.5 else rng.choice(countries_used)
        tariff_country = rng.choice([c, c, proc, "XX"])  # XX: no Countries row, no tariff
        qualified = rng.random() < 0.6
        suppliers[name] = Supplier(
            name=name,
            country=c,
            ore_origin=ore,
            processing_country=proc,
            tariff_country=tariff_country,
            qualified=qualified,
            lead_time_years=0 if qualified else rng.choice([0, 1]),
            qualification_cost_usd=0.0 if qualified else rng.uniform(5e4, 3e5),
            annual_fixed_cost_usd=rng.choice([0.0, rng.uniform(1e4, 1e5)]),
        )
    names = list(suppliers)

    offers = {}
    for m in materials:
        for s in rng.sample(names, rng.randint(2, min(4, len(names)))):
            base = rng.uniform(15, 90)
            path = {t: rng.uniform(15, 90) for t in years if rng.random() < 0.3}
            offers[(s, m)] = Offer(
                s,
                m,
                base,
                capacity_t={t: 0.0 if rng.random() < 0.1 else rng.uniform(3, 15) for t in years},
                prices_usd_per_kg=path,
            )
    offers = {k: offers[k] for k in sorted(offers, key=lambda k: (names.index(k[0]), k[1]))}

    substitutions, starts = {}, {}
    if rng.random() < 0.6:  # one option taken (from its from_year or later), one perhaps
        first = rng.choice(years)
        substitutions["redesign"] = Substitution(
            "redesign",
            rng.choice(list(materials)),
            rng.uniform(0.1, 0.4),
            first,
            rng.uniform(1e5, 5e5),
            rng.uniform(0, 2e4),
            row=2,
        )
        substitutions["recycling"] = Substitution(
            "recycling", rng.choice(list(materials)), 0.2, None, 2e5, 1e4, row=3
        )
        starts["redesign"] = rng.choice([t for t in years if t >= first])
        if rng.random() < 0.5:
            starts["recycling"] = rng.choice(years)

    settings = Settings(years[0], years[-1], discount_rate=rng.choice([0.0, 0.05, 0.08]))
    p = Problem(
        settings,
        materials,
        demand,
        countries,
        suppliers,
        offers,
        [Scenario("base", 1.0)],
        substitutions=substitutions,
    )
    p.risks = random_risks(rng, p)

    plan = {}
    for (s, m), offer in offers.items():
        early = p.early_year(s)
        for t in years:
            cap = offer.capacity_t[t]
            if t < early or cap <= 0:
                continue
            r = rng.random()
            if r < 0.2:
                continue
            plan[(s, m, t)] = cap if r < 0.6 else cap * rng.uniform(0.2, 0.9)
    return p, plan, starts


def random_risks(rng: random.Random, p: Problem) -> list[Risk]:
    """3-6 risks: an `any_link` one on CN, a `spot` one, a `supplier` one on a supplier
    in CN (its events overlap the first's), then any scope; fractional spot
    availabilities only where every market reached has a spot_max_t (SPEC §3: else an
    input error); a risk that delivers everything raises the price."""
    years, mats, names = p.years, list(p.materials), list(p.suppliers)
    countries = list(p.countries)
    risks = []

    def fraction(capped: bool) -> float:
        """An availability: a stop, none, or (where allowed) a fraction."""
        return rng.choice([0.0, 1.0] + ([rng.uniform(0.2, 0.8)] * 2 if capped else []))

    for i in range(rng.randint(3, 6)):
        scope = ("any_link", "spot", "supplier")[i] if i < 3 else rng.choice(CHAIN_SCOPES)
        if i == 0:
            target = "CN"
        elif i == 2:  # S0 is in CN
            target = "S0"
        elif scope == "supplier":
            target = rng.choice(names)
        elif scope == "spot":
            target = None
        else:  # now and then a target that matches nothing (a warning, SPEC §3)
            target = rng.choice(countries * 4 + ["RU"])
        material = None if i == 2 else rng.choice([None, None, *mats])
        reached = [material] if material else mats
        capped = all(p.materials[m].spot_max_t is not None for m in reached)

        lo = rng.choice(years[:-1])
        hi = rng.choice([t for t in years if t >= lo])
        min_years = rng.choice([1, 1, 1, 2])
        max_years = max(min_years, rng.choice([1, 2]))
        availability = fraction(capped or scope != "spot")
        price_mult = rng.choice([1.0, rng.uniform(1.1, 2.5)])
        if availability == 1.0:
            price_mult = rng.uniform(1.1, 2.5)
        if scope == "spot":  # ignored on a spot row (SPEC §3): not all 1 here, on purpose
            spot_avail, spot_mult = rng.choice([(1.0, 1.0), (0.5, 2.0)])
        elif rng.random() < 0.5:
            spot_avail, spot_mult = fraction(capped), rng.choice([1.0, rng.uniform(1.2, 3.0)])
        else:
            spot_avail, spot_mult = 1.0, 1.0
        risks.append(
            Risk(
                f"r{i}_{scope}",
                scope,
                target,
                material,
                rng.uniform(0.2, 0.6),
                tuple(range(lo, hi + 1)),
                min_years,
                max_years,
                availability,
                price_mult,
                spot_avail,
                spot_mult,
                row=i + 2,
            )
        )
    return risks


# ---------------------------------------------------------------- SPEC §3/§7: a sample's data


def reaches(p: Problem, risk: Risk, supplier: str) -> bool:
    """Does a non-spot risk's scope and target reach this supplier (SPEC §3)?"""
    s = p.suppliers[supplier]
    if risk.scope == "supplier":
        return supplier == risk.target
    if risk.scope == "country":
        return s.country == risk.target
    if risk.scope == "ore_origin":
        return s.ore_origin == risk.target
    if risk.scope == "processing_country":
        return s.processing_country == risk.target
    if risk.scope == "any_link":  # counts once, however many links match
        return risk.target in (s.country, s.ore_origin, s.processing_country)
    return False


def sample_factors(p: Problem, events) -> tuple[dict, dict, dict, dict, int]:
    """a, pm per (s, m, t) and sa, spm per (m, t) of one sample's events (1 where none),
    and how many of these cells more than one event's factor (not 1) multiplies."""
    years = p.years
    a = {(s, m, t): 1.0 for s, m in p.offers for t in years}
    pm = dict(a)
    sa = {(m, t): 1.0 for m in p.materials for t in years}
    spm = dict(sa)
    hits: dict[tuple, int] = {}

    def hit(table: dict, key: tuple, factor: float) -> None:
        table[key] *= factor
        if factor != 1.0:
            hits[(id(table), key)] = hits.get((id(table), key), 0) + 1

    for k, first, last in events:
        r = p.risks[k]
        for t in range(first, last + 1):
            assert t in years
            for m in p.materials:
                if r.material not in (None, m):
                    continue
                if r.scope == "spot":  # its own availability and multiplier; the spot_ pair ignored
                    hit(sa, (m, t), r.availability)
                    hit(spm, (m, t), r.price_multiplier)
                    continue
                hit(sa, (m, t), r.spot_availability)  # the event squeezes the spot market too
                hit(spm, (m, t), r.spot_price_multiplier)
                for s in p.suppliers:
                    if (s, m) in p.offers and reaches(p, r, s):
                        hit(a, (s, m, t), r.availability)
                        hit(pm, (s, m, t), r.price_multiplier)
    return a, pm, sa, spm, sum(1 for n in hits.values() if n > 1)


def rows_of(p: Problem, name: str, events) -> list[list]:
    """SPEC §7: an event's `Disruptions` rows, every value written out, and a `spot` row
    (blank target) for a non-spot risk whose spot_availability or multiplier is not 1."""
    rows = []
    for k, first, last in events:
        r = p.risks[k]
        rows.append(
            [name, r.scope, r.target, r.material, first, last, r.availability, r.price_multiplier]
        )
        if r.scope != "spot" and (r.spot_availability != 1 or r.spot_price_multiplier != 1):
            rows.append(
                [name, "spot", None, r.material, first, last, r.spot_availability]
                + [r.spot_price_multiplier]
            )
    return rows


def scenario_of_rows(p: Problem, rows: list[list]):
    """A copy of the problem whose one scenario has these `Disruptions` rows (years
    clipped to the horizon, as the reader does), through the product's own reading of
    Disruptions (`derive.scenario_data`)."""
    name = rows[0][0] if rows else "w"
    disruptions = []
    for i, (scenario, scope, target, material, first, last, avail, mult) in enumerate(rows):
        years = tuple(t for t in p.years if first <= t <= last)
        disruptions.append(
            Disruption(scenario, scope, target, material, years, avail, mult, row=i + 2)
        )
    copy = replace(p, scenarios=[Scenario(name, 1.0)], disruptions=disruptions)
    (w,) = scenario_data(copy)
    return w


# ---------------------------------------------------------------- SPEC §8's policy, §4.3's C_w


def policy_cost(p: Problem, plan: dict, starts: dict, a, pm, sa, spm):
    """C_w of the plan under SPEC §8's policy recovery, and the tonnes short per material."""
    years = p.years
    rate = p.settings.discount_rate
    df = {t: (1.0 + rate) ** -(t - years[0]) for t in years}
    cost = 0.0
    used = {s for (s, _, _), x in plan.items() if x > USED_T}
    for s in used:
        if not p.suppliers[s].qualified:
            cost += p.suppliers[s].qualification_cost_usd  # once, not discounted
    for s, t in {(s, t) for (s, _, t), x in plan.items() if x > USED_T}:
        cost += df[t] * p.suppliers[s].annual_fixed_cost_usd
    for o, start in starts.items():
        option = p.substitutions[o]
        cost += df[start] * option.investment_usd
        for t in years:
            if t >= start:
                cost += df[t] * option.annual_cost_usd
    for (s, m, t), x in plan.items():
        offer = p.offers[(s, m)]
        price = offer.prices_usd_per_kg.get(t, offer.price_usd_per_kg)
        country = p.countries.get(p.suppliers[s].tariff_country)
        tariff = country.tariff_pct.get(t, 0.0) / 100 if country else 0.0
        cost += df[t] * 1000 * price * (1 + tariff) * pm[(s, m, t)] * a[(s, m, t)] * x

    short = {}
    for m, mat in p.materials.items():
        stock = mat.initial_stock_t
        short[m] = 0.0
        for t in years:
            delivered = 0.0
            for (s, mm, tt), x in plan.items():
                if mm == m and tt == t:
                    delivered += a[(s, m, t)] * x
            cut = 0.0
            for o, start in starts.items():
                if p.substitutions[o].material == m and t >= start:
                    cut += p.substitutions[o].reduction
            need = p.demand_t.get((m, t), 0.0) * (1 - cut)
            spot_price = mat.spot_price_usd_per_kg * spm[(m, t)]
            z = u = 0.0
            if stock + delivered >= need:
                surplus = stock + delivered - need
                stock = surplus if mat.max_stock_t is None else min(surplus, mat.max_stock_t)
            else:
                gap = need - (stock + delivered)
                stock = 0.0
                if spot_price < mat.shortfall_penalty_usd_per_kg:
                    if sa[(m, t)] == 0:
                        cap = 0.0
                    elif mat.spot_max_t is None:
                        cap = math.inf
                    else:
                        cap = sa[(m, t)] * mat.spot_max_t
                    z = min(gap, cap)
                u = gap - z
            cost += (
                df[t]
                * 1000
                * (
                    spot_price * z
                    + mat.holding_cost_usd_per_kg_year * stock
                    + mat.shortfall_penalty_usd_per_kg * u
                )
            )
            short[m] += u
    return cost, short


# ---------------------------------------------------------------- the test


def hindsight_cases(groups: dict[tuple, list[int]]) -> list[tuple]:
    """Up to HINDSIGHT_CASES distinct samples: the first drawn, then those with most events."""
    order = list(groups)
    busiest = sorted(order, key=lambda e: (-len(e), groups[e][0]))
    chosen = list(dict.fromkeys(order[:4] + busiest))
    return chosen[:HINDSIGHT_CASES]


@pytest.mark.parametrize("seed", SEEDS)
def test_stress_costs_agree_with_an_independent_reading_of_the_spec(seed):
    p, plan, starts = random_case(seed)
    samples = draw(p, N_SAMPLES, seed)
    c = stress_costs(p, plan, samples, starts=starts)
    materials = list(p.materials)
    assert c.policy_cost.shape == c.hindsight_cost.shape == (N_SAMPLES,)
    assert c.policy_short.shape == c.hindsight_short.shape == (N_SAMPLES, len(materials))

    # policy: every sample, from its own events
    groups: dict[tuple, list[int]] = {}
    overlaps = 0
    for n in range(N_SAMPLES):
        events = tuple(samples.events_of(n))
        groups.setdefault(events, []).append(n)
        *data, overlapping = sample_factors(p, events)
        overlaps += overlapping
        cost, short = policy_cost(p, plan, starts, *data)
        assert c.policy_cost[n] == pytest.approx(cost, rel=1e-9), (n, events)
        for j, m in enumerate(materials):
            assert c.policy_short[n, j] == pytest.approx(short[m], abs=1e-9), (n, m, events)
        assert c.hindsight_cost[n] <= c.policy_cost[n] + 1e-6, n
    assert overlaps > 0  # events that multiply on one offer or market were drawn
    assert len(groups) == len(samples.distinct)

    # what `diversify scenarios` writes is SPEC §7's rows of each distinct sample
    written: dict[str, list[list]] = {}
    for row in disruption_rows(samples)[1:]:
        written.setdefault(row[0], []).append(row)
    reps = samples.distinct[1:] if samples.has_normal else samples.distinct
    for name, rep in zip(samples.names[1:], reps.tolist(), strict=True):
        assert written.get(name, []) == rows_of(p, name, samples.events_of(rep)), name

    # hindsight: HiGHS's recovery LP of the fixed plan in the sample's scenario alone
    for events in hindsight_cases(groups):
        rows = rows_of(p, "w", events)
        w = scenario_of_rows(p, rows)
        a, pm, sa, spm, _ = sample_factors(p, events)
        for key in a:
            assert w.a(*key) == pytest.approx(a[key], rel=1e-12), (key, events)
            assert w.pm(*key) == pytest.approx(pm[key], rel=1e-12), (key, events)
        for key in sa:
            assert w.sa(*key) == pytest.approx(sa[key], rel=1e-12), (key, events)
            assert w.spm(*key) == pytest.approx(spm[key], rel=1e-12), (key, events)
        out = evaluate(p, plan, [w], 0.0, SolveOptions(), starts)
        short = {m: sum(out.recovery[(m, t, w.name)]["u"] for t in p.years) for m in materials}
        for n in groups[events]:
            assert c.hindsight_cost[n] == pytest.approx(out.expected_cost, rel=1e-9, abs=1e-3), (
                n,
                events,
            )
            # the LP's tonnes short are unique here: random, non-round prices, penalties and
            # holding costs leave no tie between a tonne short and one bought or kept
            for j, m in enumerate(materials):
                assert c.hindsight_short[n, j] == pytest.approx(short[m], abs=1e-6), (n, m)
