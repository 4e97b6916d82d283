"""Build small `Problem`s in a line or two for model tests (no workbook needed)."""

from __future__ import annotations

from diversify.data import (
    Country,
    Disruption,
    Material,
    Offer,
    Problem,
    Rule,
    Scenario,
    Settings,
    Substitution,
    Supplier,
)


def problem(
    years: tuple[int, int],
    materials: dict[str, dict],
    demand: dict[str, float | list[float]],
    suppliers: dict[str, dict],
    offers: dict[tuple[str, str], dict],
    scenarios: list[tuple[str, float]] | list[dict] | None = None,
    disruptions: list[dict] | None = None,
    rules: list[dict] | None = None,
    countries: dict[str, dict] | None = None,
    substitutions: dict[str, dict] | None = None,
    **settings,
) -> Problem:
    """Problem from plain dicts; capacities and demand as one number (every year) or a list.

    An offer's year-by-year prices go in `prices_usd_per_kg` ({year: USD/kg}); a
    substitution option is {name: dict(material=..., reduction=..., from_year=..., ...)}."""
    s = Settings(first_year=years[0], last_year=years[1], **settings)
    yrs = s.years

    def series(v) -> dict[int, float]:
        vals = v if isinstance(v, list) else [v] * len(yrs)
        return dict(zip(yrs, vals, strict=True))

    mats = {m: Material(name=m, **kw) for m, kw in materials.items()}
    dem = {(m, t): q for m, v in demand.items() for t, q in series(v).items()}
    sups = {}
    for name, kw in suppliers.items():
        kw = dict(kw)
        c = kw.pop("country")
        sups[name] = Supplier(
            name=name,
            country=c,
            ore_origin=kw.pop("ore_origin", c),
            processing_country=kw.pop("processing_country", c),
            tariff_country=kw.pop("tariff_country", c),
            **kw,
        )
    offs = {}
    for (sname, m), kw in offers.items():
        kw = dict(kw)
        cap = series(kw.pop("capacity"))
        offs[(sname, m)] = Offer(sname, m, capacity_t=cap, **kw)
    scs = [
        Scenario(*sc) if isinstance(sc, tuple) else Scenario(**sc)
        for sc in (scenarios or [("base", 1.0)])
    ]

    def span(kw) -> tuple[int, ...]:
        lo, hi = kw.pop("from_year", yrs[0]), kw.pop("to_year", yrs[-1])
        return tuple(t for t in yrs if max(lo, yrs[0]) <= t <= min(hi, yrs[-1]))

    dis = []
    for i, kw in enumerate(disruptions or []):
        kw = dict(kw)
        dis.append(
            Disruption(
                scenario=kw.pop("scenario"),
                scope=kw.pop("scope"),
                target=kw.pop("target", None),
                material=kw.pop("material", None),
                years=span(kw),
                row=i + 2,
                **kw,
            )
        )
    rls = []
    for i, kw in enumerate(rules or []):
        kw = dict(kw)
        rls.append(
            Rule(
                rule=kw.pop("rule"),
                scope=kw.pop("scope", None),
                target=kw.pop("target", None),
                material=kw.pop("material", None),
                years=span(kw),
                value=kw.pop("value"),
                row=i + 2,
            )
        )
    ctry = {
        c: Country(
            name=c,
            risk_score=kw.get("risk_score", 0.0),
            tariff_pct=series(kw["tariff"]) if "tariff" in kw else {},
        )
        for c, kw in (countries or {}).items()
    }
    subs = {
        o: Substitution(name=o, row=i + 2, **kw)
        for i, (o, kw) in enumerate((substitutions or {}).items())
    }
    return Problem(s, mats, dem, ctry, sups, offs, scs, dis, rls, substitutions=subs)
