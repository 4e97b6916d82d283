"""The input schema of SPEC §3 as one table.

One row per column of the input workbook: sheet, column, kind, unit, default,
required, meaning. The reader, the defaults, the sample workbook's header comments
and the README all come from this table.

Kinds: ``id`` (identifier text), ``text``, ``number`` (finite, non-negative unless
``signed``), ``fraction`` (0..1), ``integer`` (non-negative whole number), ``yesno``,
``choice`` (one of ``choices``), ``year``, ``years`` (wide year columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUIRED = object()  # default of a column that must be filled


@dataclass(frozen=True)
class Column:
    sheet: str
    name: str
    kind: str
    unit: str
    default: Any
    meaning: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float | None, float | None] = (0.0, None)  # numbers: inclusive lower, upper

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _col(sheet, name, kind, unit, default, meaning, **kw) -> Column:
    return Column(sheet, name, kind, unit, default, meaning, **kw)


SCOPE_CHOICES = ("country", "ore_origin", "processing_country", "supplier", "any_link", "spot")
RULE_CHOICES = ("max_share", "min_share", "min_suppliers", "max_avg_risk")

SCHEMA: tuple[Column, ...] = (
    # Materials
    _col("Materials", "material", "id", "", REQUIRED, "Material name, e.g. NdPr oxide"),
    _col(
        "Materials",
        "spot_price_usd_per_kg",
        "number",
        "USD/kg",
        REQUIRED,
        "Spot market price in a normal year",
    ),
    _col(
        "Materials",
        "spot_max_t",
        "number",
        "t/year",
        None,
        "Most that can be bought spot in a year (blank = unlimited)",
    ),
    _col(
        "Materials",
        "shortfall_penalty_usd_per_kg",
        "number",
        "USD/kg",
        REQUIRED,
        "Cost of a kilogram of demand left unmet (lost production)",
    ),
    _col(
        "Materials",
        "holding_cost_usd_per_kg_year",
        "number",
        "USD/kg/year",
        0.0,
        "Cost of keeping a kilogram in stock for a year",
    ),
    _col("Materials", "initial_stock_t", "number", "t", 0.0, "Stock on hand before the first year"),
    _col(
        "Materials",
        "max_stock_t",
        "number",
        "t",
        None,
        "Largest stock that can be held (blank = unlimited)",
    ),
    # Demand
    _col("Demand", "material", "id", "", REQUIRED, "Material (must be listed in Materials)"),
    _col("Demand", "<year>", "years", "t", 0.0, "Demand in tonnes, one column per year"),
    # Countries
    _col("Countries", "country", "id", "", REQUIRED, "Country name"),
    _col(
        "Countries",
        "risk_score",
        "fraction",
        "0..1",
        0.0,
        "Supply risk of the country, 0 (safe) to 1 (most risky)",
    ),
    _col(
        "Countries",
        "<year>",
        "years",
        "%",
        0.0,
        "Import tariff in percent (25 = 25 %) on goods of this customs origin, per year",
        bounds=(0.0, 1000.0),
    ),
    # Suppliers
    _col("Suppliers", "supplier", "id", "", REQUIRED, "Supplier name"),
    _col("Suppliers", "country", "id", "", REQUIRED, "Country the supplier ships from"),
    _col(
        "Suppliers", "ore_origin", "id", "", None, "Country the ore is mined in (blank = country)"
    ),
    _col(
        "Suppliers",
        "processing_country",
        "id",
        "",
        None,
        "Country the ore is processed in (blank = country)",
    ),
    _col(
        "Suppliers",
        "tariff_country",
        "id",
        "",
        None,
        "Customs origin whose tariffs apply (blank = country)",
    ),
    _col(
        "Suppliers",
        "qualified",
        "yesno",
        "yes/no",
        False,
        "Already qualified: may deliver from the first year",
    ),
    _col(
        "Suppliers",
        "lead_time_years",
        "integer",
        "years",
        0,
        "Years from the start before an unqualified supplier can deliver",
    ),
    _col(
        "Suppliers",
        "qualification_cost_usd",
        "number",
        "USD",
        0.0,
        "One-off cost of qualifying an unqualified supplier (not discounted)",
    ),
    _col(
        "Suppliers",
        "annual_fixed_cost_usd",
        "number",
        "USD/year",
        0.0,
        "Fixed cost of each year the supplier delivers",
    ),
    _col(
        "Suppliers",
        "risk_score",
        "fraction",
        "0..1",
        None,
        "Supply risk of the supplier (blank = its country's)",
    ),
    # Offers
    _col("Offers", "supplier", "id", "", REQUIRED, "Supplier (must be listed in Suppliers)"),
    _col("Offers", "material", "id", "", REQUIRED, "Material (must be listed in Materials)"),
    _col(
        "Offers", "price_usd_per_kg", "number", "USD/kg", REQUIRED, "Contract price before tariff"
    ),
    _col("Offers", "min_order_t", "number", "t", 0.0, "Smallest order in a year the offer is used"),
    _col(
        "Offers",
        "min_contract_years",
        "integer",
        "years",
        1,
        "Once ordered, ordered for at least this many consecutive years (or to the last "
        "year), each at its minimum order; above 1 needs a min_order_t above 0",
        bounds=(1.0, None),
    ),
    _col("Offers", "<year>", "years", "t", 0.0, "Capacity offered to us, one column per year"),
    # Prices
    _col("Prices", "supplier", "id", "", REQUIRED, "Supplier of the offer (as in Offers)"),
    _col("Prices", "material", "id", "", REQUIRED, "Material of the offer (as in Offers)"),
    _col(
        "Prices",
        "<year>",
        "years",
        "USD/kg",
        None,
        "The offer's price in that year before tariff (blank = its price_usd_per_kg)",
    ),
    # Scenarios
    _col(
        "Scenarios", "scenario", "id", "", REQUIRED, "Scenario name; the first is the normal world"
    ),
    _col(
        "Scenarios", "probability", "fraction", "0..1", REQUIRED, "Probability; all must sum to 1"
    ),
    _col("Scenarios", "demand_multiplier", "number", "x", 1.0, "Demand is multiplied by this"),
    _col(
        "Scenarios",
        "spot_price_multiplier",
        "number",
        "x",
        1.0,
        "Spot prices are multiplied by this",
    ),
    _col("Scenarios", "description", "text", "", "", "What the scenario stands for"),
    # Disruptions
    _col("Disruptions", "scenario", "id", "", REQUIRED, "Scenario the disruption belongs to"),
    _col(
        "Disruptions",
        "scope",
        "choice",
        "",
        REQUIRED,
        "What the disruption hits",
        choices=SCOPE_CHOICES,
    ),
    _col("Disruptions", "target", "id", "", None, "Country or supplier hit (blank for spot)"),
    _col("Disruptions", "material", "id", "", None, "Material hit (blank = every material)"),
    _col("Disruptions", "from_year", "year", "year", None, "First year hit (blank = first year)"),
    _col("Disruptions", "to_year", "year", "year", None, "Last year hit (blank = last year)"),
    _col(
        "Disruptions",
        "availability",
        "fraction",
        "0..1",
        0.0,
        "Fraction of contracted volume still delivered (blank = 0, a stop)",
    ),
    _col(
        "Disruptions",
        "price_multiplier",
        "number",
        "x",
        1.0,
        "Price of what is delivered is multiplied by this",
    ),
    # Policy
    _col("Policy", "rule", "choice", "", REQUIRED, "Kind of rule", choices=RULE_CHOICES),
    _col(
        "Policy",
        "scope",
        "choice",
        "",
        None,
        "What the share counts (blank for min_suppliers, max_avg_risk)",
        choices=SCOPE_CHOICES[:-1],
    ),
    _col("Policy", "target", "id", "", None, "Country or supplier counted"),
    _col("Policy", "material", "id", "", None, "Material (blank = each material)"),
    _col("Policy", "from_year", "year", "year", None, "First year (blank = first year)"),
    _col("Policy", "to_year", "year", "year", None, "Last year (blank = last year)"),
    _col("Policy", "value", "number", "", REQUIRED, "Share or risk 0..1, or number of suppliers"),
    # Risks (SPEC §7: read by `scenarios` and `stress`, never by `solve`)
    _col("Risks", "risk", "id", "", REQUIRED, "Risk name, e.g. china_hree_ban"),
    _col(
        "Risks",
        "scope",
        "choice",
        "",
        REQUIRED,
        "What an event hits (as in Disruptions)",
        choices=SCOPE_CHOICES,
    ),
    _col("Risks", "target", "id", "", None, "Country or supplier hit (blank for spot)"),
    _col("Risks", "material", "id", "", None, "Material hit (blank = every material)"),
    _col(
        "Risks",
        "probability",
        "fraction",
        "0..1",
        REQUIRED,
        "Chance that an event starts in a year in which none of this risk is under way",
    ),
    _col(
        "Risks", "from_year", "year", "year", None, "First year an event may start (blank = first)"
    ),
    _col("Risks", "to_year", "year", "year", None, "Last year an event may start (blank = last)"),
    _col("Risks", "min_years", "integer", "years", 1, "Shortest event, in whole years"),
    _col(
        "Risks",
        "max_years",
        "integer",
        "years",
        None,
        "Longest event, in whole years (blank = min_years); drawn uniformly in between",
    ),
    _col(
        "Risks",
        "availability",
        "fraction",
        "0..1",
        0.0,
        "Fraction of contracted volume delivered while an event lasts (blank = 0, a stop)",
    ),
    _col(
        "Risks",
        "price_multiplier",
        "number",
        "x",
        1.0,
        "Price of what is delivered is multiplied by this while an event lasts",
    ),
    _col(
        "Risks",
        "spot_availability",
        "fraction",
        "0..1",
        1.0,
        "What the event leaves of the spot market of its material(s) (ignored on spot rows)",
    ),
    _col(
        "Risks",
        "spot_price_multiplier",
        "number",
        "x",
        1.0,
        "Spot price multiplier while the event lasts (ignored on spot rows)",
    ),
    # Substitutions
    _col("Substitutions", "option", "id", "", REQUIRED, "Name of the substitution option"),
    _col("Substitutions", "material", "id", "", REQUIRED, "Material whose demand it cuts"),
    _col(
        "Substitutions",
        "reduction",
        "fraction",
        "0..1",
        REQUIRED,
        "Fraction of the material's demand removed while in effect, in (0, 1]",
    ),
    _col(
        "Substitutions",
        "from_year",
        "year",
        "year",
        None,
        "First year it can take effect (blank = first year)",
    ),
    _col(
        "Substitutions",
        "investment_usd",
        "number",
        "USD",
        0.0,
        "Paid once, in the year it takes effect (discounted)",
    ),
    _col(
        "Substitutions",
        "annual_cost_usd",
        "number",
        "USD/year",
        0.0,
        "Paid every year it is in effect (discounted)",
    ),
)

# Settings: setting -> (kind, default, meaning, bounds)
SETTINGS: dict[str, tuple[str, Any, str]] = {
    "first_year": ("year", REQUIRED, "First year of the plan"),
    "last_year": ("year", REQUIRED, "Last year of the plan"),
    "discount_rate": ("number", 0.0, "Yearly discount rate (0.08 = 8 %); > -1"),
    "risk_aversion": ("number", 0.0, "Weight λ of CVaR of cost in the objective; >= 0"),
    "cvar_alpha": ("number", 0.9, "CVaR level α in [0, 1): 0.9 = the worst 10 % of outcomes"),
    "min_supplier_share": (
        "fraction",
        0.1,
        "Share of demand each counted supplier must carry (min_suppliers)",
    ),
    "recourse": (
        "choice",
        "nonanticipative",
        "nonanticipative (stock decided before later disruptions are known) or clairvoyant",
    ),
    "time_limit_s": ("number", 60.0, "Seconds allowed for each MILP solve; > 0"),
    "mip_gap": ("number", 1e-4, "Relative MIP gap in [0, 1) for each MILP solve"),
}


@dataclass(frozen=True)
class Range:
    """Allowed values of a setting: low..high, each end included unless marked open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, x: float) -> bool:
        low_ok = self.low is None or x > self.low or (x == self.low and not self.low_open)
        high_ok = self.high is None or x < self.high or (x == self.high and not self.high_open)
        return low_ok and high_ok

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return (
            f"in {'(' if self.low_open else '['}{self.low:g}, "
            f"{self.high:g}{')' if self.high_open else ']'}"
        )


# Settings: setting -> allowed values (SPEC §3 "Value ranges")
SETTING_RANGES: dict[str, Range] = {
    "discount_rate": Range(-1.0, low_open=True),
    "risk_aversion": Range(0.0),
    "cvar_alpha": Range(0.0, 1.0, high_open=True),
    "min_supplier_share": Range(0.0, 1.0),
    "time_limit_s": Range(0.0, low_open=True),
    "mip_gap": Range(0.0, 1.0, high_open=True),
}

SHEETS = (
    "Settings",
    "Materials",
    "Demand",
    "Countries",
    "Suppliers",
    "Offers",
    "Prices",
    "Scenarios",
    "Disruptions",
    "Policy",
    "Substitutions",
    "Risks",
)
REQUIRED_SHEETS = ("Settings", "Materials", "Demand", "Suppliers", "Offers")


def columns(sheet: str) -> tuple[Column, ...]:
    """The schema rows of one sheet, in order."""
    return tuple(c for c in SCHEMA if c.sheet == sheet)
