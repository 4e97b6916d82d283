"""Plain, validated input data: what the workbook says, with no Pyomo and no Excel.

The reader (`diversify.reader`) builds a `Problem`; the model builder
(`diversify.model`) and everything after it only ever see these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NONANTICIPATIVE = "nonanticipative"
CLAIRVOYANT = "clairvoyant"
SCOPES = ("country", "ore_origin", "processing_country", "supplier", "any_link", "spot")
RULES = ("max_share", "min_share", "min_suppliers", "max_avg_risk")
# a plan: what is ordered, and which substitution options are taken when
Plan = dict[tuple[str, str, int], float]  # (supplier, material, year) -> t
Starts = dict[str, int]  # substitution option -> the year it takes effect (taken ones only)


@dataclass(frozen=True)
class Settings:
    first_year: int
    last_year: int
    discount_rate: float = 0.0
    risk_aversion: float = 0.0
    cvar_alpha: float = 0.9
    min_supplier_share: float = 0.1
    recourse: str = NONANTICIPATIVE
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))


@dataclass(frozen=True)
class Material:
    name: str
    spot_price_usd_per_kg: float
    shortfall_penalty_usd_per_kg: float
    spot_max_t: float | None = None  # None: unlimited
    holding_cost_usd_per_kg_year: float = 0.0
    initial_stock_t: float = 0.0
    max_stock_t: float | None = None  # None: unlimited


@dataclass(frozen=True)
class Country:
    name: str
    risk_score: float = 0.0
    tariff_pct: dict[int, float] = field(default_factory=dict)  # year -> percent


@dataclass(frozen=True)
class Supplier:
    name: str
    country: str
    ore_origin: str
    processing_country: str
    tariff_country: str
    qualified: bool = False
    lead_time_years: int = 0
    qualification_cost_usd: float = 0.0
    annual_fixed_cost_usd: float = 0.0
    risk_score: float | None = None  # None: the country's


@dataclass(frozen=True)
class Offer:
    supplier: str
    material: str
    price_usd_per_kg: float
    min_order_t: float = 0.0
    capacity_t: dict[int, float] = field(default_factory=dict)  # year -> t
    min_contract_years: int = 1  # once ordered, ordered this many consecutive years
    prices_usd_per_kg: dict[int, float] = field(default_factory=dict)  # year -> `Prices` cell

    def price(self, year: int) -> float:
        """price[s,m,t]: the `Prices` cell of the year, else `price_usd_per_kg` (SPEC §4)."""
        return self.prices_usd_per_kg.get(year, self.price_usd_per_kg)


@dataclass(frozen=True)
class Scenario:
    name: str
    probability: float
    demand_multiplier: float = 1.0
    spot_price_multiplier: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class Disruption:
    """One `Disruptions` row; years already clipped to the horizon (empty when outside)."""

    scenario: str
    scope: str
    target: str | None
    material: str | None  # None: every material
    years: tuple[int, ...]
    availability: float = 0.0
    price_multiplier: float = 1.0
    row: int = 0  # Excel row, for messages


@dataclass(frozen=True)
class Rule:
    """One `Policy` row; years already clipped to the horizon."""

    rule: str
    scope: str | None
    target: str | None
    material: str | None  # None: every material
    years: tuple[int, ...]
    value: float
    row: int = 0  # Excel row, for messages

    @property
    def label(self) -> str:
        """How a planner finds the rule again: its row and what it says."""
        what = self.rule
        if self.rule in ("max_share", "min_share"):
            what += f" {self.scope}={self.target}"
        return f"Policy row {self.row} ({what} {self.value:g})"


@dataclass(frozen=True)
class Risk:
    """One `Risks` row (SPEC §7); start years already clipped to the horizon."""

    name: str
    scope: str
    target: str | None
    material: str | None  # None: every material
    probability: float
    start_years: tuple[int, ...]
    min_years: int = 1
    max_years: int = 1
    availability: float = 0.0
    price_multiplier: float = 1.0
    spot_availability: float = 1.0
    spot_price_multiplier: float = 1.0
    row: int = 0  # Excel row, for messages

    @property
    def hits_spot_too(self) -> bool:
        """A non-spot risk whose events also squeeze the spot market (an extra spot row)."""
        return self.scope != "spot" and (
            self.spot_availability != 1.0 or self.spot_price_multiplier != 1.0
        )


@dataclass(frozen=True)
class Substitution:
    """One `Substitutions` row: a way to need less of one material (SPEC §4.1)."""

    name: str
    material: str
    reduction: float  # fraction of the material's demand removed while in effect
    from_year: int | None = None  # first year it can take effect (None: the first year)
    investment_usd: float = 0.0  # paid once, in the year it takes effect
    annual_cost_usd: float = 0.0  # paid every year it is in effect
    row: int = 0  # Excel row, for messages


@dataclass
class Problem:
    """Everything the model needs, in sheet order."""

    settings: Settings
    materials: dict[str, Material]
    demand_t: dict[tuple[str, int], float]  # (material, year) -> t
    countries: dict[str, Country]
    suppliers: dict[str, Supplier]
    offers: dict[tuple[str, str], Offer]  # (supplier, material) -> offer
    scenarios: list[Scenario]
    disruptions: list[Disruption] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)  # only `scenarios` and `stress` read them
    substitutions: dict[str, Substitution] = field(default_factory=dict)  # option -> it

    @property
    def years(self) -> list[int]:
        return self.settings.years

    def supplier_risk(self, supplier: str) -> float:
        s = self.suppliers[supplier]
        if s.risk_score is not None:
            return s.risk_score
        country = self.countries.get(s.country)
        return country.risk_score if country else 0.0

    def tariff(self, supplier: str, year: int) -> float:
        """Tariff of the supplier's customs origin in a year, as a fraction."""
        country = self.countries.get(self.suppliers[supplier].tariff_country)
        return country.tariff_pct.get(year, 0.0) / 100.0 if country else 0.0

    def start_years(self, option: str) -> list[int]:
        """The horizon years in which a substitution option may take effect."""
        first = self.substitutions[option].from_year
        return [t for t in self.years if first is None or t >= first]

    def early_year(self, supplier: str) -> int:
        """First year the supplier may deliver: now if qualified, else after its lead time."""
        s = self.suppliers[supplier]
        first = self.settings.first_year
        return first if s.qualified else first + s.lead_time_years
