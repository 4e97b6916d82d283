"""The sample workbook that `diversify init PATH` writes (SPEC §3 layout).

A US maker of NdFeB magnets plans its rare-earth oxide purchases for 2026-2035: NdPr,
dysprosium and terbium oxide for its magnet lines, plus a little mixed rare-earth oxide
bought as feed for a toll-separation agreement. Twelve suppliers (Chinese, Malaysian,
Australian, US, Brazilian and European), five scenarios (a normal world, a Chinese ban
on heavy rare earths, a 2010-style halt, a delayed Australian refinery, a demand surge)
three policy rules, year-by-year price paths (the MP Materials price floor, Dy and Tb
oxide), multi-year terms on the offtake agreements and two substitution options (a
motor redesign, a Dy-lean magnet grade). Every figure is either sourced (the `Sources`
sheet, from the project's collection of public figures) or marked as our own
assumption.

The data below are plain Python so that a developer can read and change them in one
place; `write_sample` lays them out with header comments taken from `diversify.schema`,
number formats, drop-down lists and a README sheet. No cell holds a formula.

Run as a script: ``python -m diversify.sample PATH``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from diversify.schema import REQUIRED, RULE_CHOICES, SCOPE_CHOICES, SETTINGS, columns

FIRST_YEAR, LAST_YEAR = 2026, 2035
YEARS = list(range(FIRST_YEAR, LAST_YEAR + 1))

NDPR, DY, TB, MREO = "NdPr oxide", "Dy oxide", "Tb oxide", "Mixed REO"
CHINA, MALAYSIA, US, AUSTRALIA = "China", "Malaysia", "United States", "Australia"
BRAZIL, FRANCE, ESTONIA = "Brazil", "France", "Estonia"
EX_CHINA_FEED = "Various ex-China"  # ore origin of separators that buy feed on the market

# --------------------------------------------------------------------------- settings

SETTING_VALUES: list[tuple[str, Any, str]] = [
    ("first_year", FIRST_YEAR, "Ten-year plan"),
    ("last_year", LAST_YEAR, ""),
    ("discount_rate", 0.08, "Assumption: a typical corporate cost of capital"),
    ("risk_aversion", 0.2, "Assumption: some weight on the cost of the worst 10 % of outcomes"),
    ("cvar_alpha", 0.9, "CVaR of the worst 10 % (by probability) of scenarios"),
    ("min_supplier_share", 0.1, "Each supplier counted by min_suppliers carries >= 10 % of demand"),
    ("recourse", "nonanticipative", "Stock is built before anyone knows which scenario comes"),
    ("time_limit_s", 60, "Per MILP solve"),
    ("mip_gap", 0.0001, "Relative gap per MILP solve"),
]

# --------------------------------------------------------------------------- materials

# Spot prices are duty-paid US prices: a Chinese reference price plus the 25 % tariff on
# Chinese-origin goods (Countries), since the model adds no tariff to spot purchases.
MATERIALS: list[dict[str, Any]] = [
    dict(
        material=NDPR,
        spot_price_usd_per_kg=75,
        spot_max_t=60,
        shortfall_penalty_usd_per_kg=500,
        holding_cost_usd_per_kg_year=1.5,
        initial_stock_t=60,
        max_stock_t=300,
        note="Spot: ~60 USD/kg China benchmark + 25 % tariff. Penalty: lost magnet "
        "production (assumption). Initial stock ~2 months of 2026 demand.",
    ),
    dict(
        material=DY,
        spot_price_usd_per_kg=375,
        spot_max_t=5,
        shortfall_penalty_usd_per_kg=3000,
        holding_cost_usd_per_kg_year=8,
        initial_stock_t=6,
        max_stock_t=60,
        note="Spot: ~300 USD/kg (USGS average 260-330 in 2023-24) + 25 % tariff. "
        "Penalty, holding and stock limits are assumptions.",
    ),
    dict(
        material=TB,
        spot_price_usd_per_kg=1250,
        spot_max_t=1.5,
        shortfall_penalty_usd_per_kg=8000,
        holding_cost_usd_per_kg_year=25,
        initial_stock_t=1.5,
        max_stock_t=15,
        note="Spot: ~1,000 USD/kg (USGS average 810-1,298 in 2023-24) + 25 % tariff. "
        "Penalty, holding and stock limits are assumptions.",
    ),
    dict(
        material=MREO,
        spot_price_usd_per_kg=28,
        spot_max_t=50,
        shortfall_penalty_usd_per_kg=100,
        holding_cost_usd_per_kg_year=0.5,
        initial_stock_t=0,
        max_stock_t=200,
        note="Mixed rare-earth oxide, feed for a toll-separation agreement. Priced at "
        "PRODUCTION COST plus margin, not a market price (see Offers). Spot: 20 + 25 %.",
    ),
]

# --------------------------------------------------------------------------- demand

NDFEB_2026_T = 1200.0  # magnets made in 2026 (assumption)
NDFEB_GROWTH = 0.06  # a year (assumption)
MREO_FEED_T = 200.0  # a year (assumption)
# oxide per tonne of magnet: element share of NdFeB / element share of the oxide
OXIDE_PER_MAGNET = {NDPR: 0.30 / 0.857, DY: 0.025 / 0.871, TB: 0.006 / 0.851}


def ndfeb_t(year: int) -> float:
    return NDFEB_2026_T * (1 + NDFEB_GROWTH) ** (year - FIRST_YEAR)


def demand_t(material: str, year: int) -> float:
    if material == MREO:
        return MREO_FEED_T
    digits = 0 if material == NDPR else 1
    return round(ndfeb_t(year) * OXIDE_PER_MAGNET[material], digits)


DEMAND_NOTES = {
    NDPR: "NdFeB output x 30 % Nd+Pr / 0.857 (Nd share of the oxide)",
    DY: "NdFeB output x 2.5 % Dy / 0.871 (Dy share of Dy2O3)",
    TB: "NdFeB output x 0.6 % Tb / 0.851 (Tb share of Tb4O7)",
    MREO: "Flat feed for the toll-separation agreement (assumption)",
}

# --------------------------------------------------------------------------- countries

CHINA_TARIFF_PCT = 25  # US tariff on Chinese-origin oxide, every year (assumption)
COUNTRIES: list[dict[str, Any]] = [
    dict(
        country=CHINA,
        risk_score=0.8,
        tariff=CHINA_TARIFF_PCT,
        note="~60-70 % of mining, ~90 % of processing, ~99 % of heavy REE separation; "
        "export licences since April 2025. Tariff: assumption, check the current schedule.",
    ),
    dict(
        country=MALAYSIA,
        risk_score=0.3,
        tariff=0,
        note="Lynas separation plant; operating-licence conditions (assumption)",
    ),
    dict(country=AUSTRALIA, risk_score=0.1, tariff=0, note="Allied mining country"),
    dict(country=US, risk_score=0.05, tariff=0, note="Domestic: no import tariff"),
    dict(country=BRAZIL, risk_score=0.3, tariff=0, note="Ionic-clay deposits; 21 Mt reserves"),
    dict(country=FRANCE, risk_score=0.1, tariff=0, note="EU"),
    dict(country=ESTONIA, risk_score=0.15, tariff=0, note="EU, on the Russian border"),
]

# --------------------------------------------------------------------------- suppliers

SUPPLIERS: list[dict[str, Any]] = [
    dict(
        supplier="China North Oxide",
        country=CHINA,
        qualified="yes",
        annual_fixed_cost_usd=50_000,
        note="Illustrative Chinese light-REE separator (not a real company's terms)",
    ),
    dict(
        supplier="China South Heavy",
        country=CHINA,
        qualified="yes",
        annual_fixed_cost_usd=50_000,
        note="Illustrative Chinese ionic-clay heavy-REE separator (not a real company's terms)",
    ),
    dict(
        supplier="Lynas Malaysia",
        country=MALAYSIA,
        ore_origin=AUSTRALIA,
        qualified="yes",
        annual_fixed_cost_usd=75_000,
        note="Australian ore, separated in Malaysia; first Dy/Tb oxide outside China in 2025",
    ),
    dict(
        supplier="MP Materials",
        country=US,
        qualified="no",
        lead_time_years=1,
        qualification_cost_usd=300_000,
        annual_fixed_cost_usd=100_000,
        note="Mountain Pass (US); NdPr at the 110 USD/kg DoD price floor",
    ),
    dict(
        supplier="Iluka Eneabba",
        country=AUSTRALIA,
        qualified="no",
        lead_time_years=1,
        qualification_cost_usd=250_000,
        annual_fixed_cost_usd=80_000,
        risk_score=0.15,
        note="Refinery commissioning 2027; risk above Australia's for start-up risk",
    ),
    dict(
        supplier="Energy Fuels",
        country=US,
        qualified="no",
        lead_time_years=1,
        qualification_cost_usd=200_000,
        annual_fixed_cost_usd=60_000,
        risk_score=0.25,
        note="White Mesa (US); phase 2 with Dy/Tb ~2029 is uncertain",
    ),
    dict(
        supplier="Serra Verde MREC",
        country=BRAZIL,
        qualified="no",
        lead_time_years=1,
        qualification_cost_usd=100_000,
        annual_fixed_cost_usd=40_000,
        note="Mixed rare-earth concentrate made in Brazil from ionic clay",
    ),
    dict(
        supplier="Serra Verde via China",
        country=BRAZIL,
        processing_country=CHINA,
        tariff_country=CHINA,
        qualified="no",
        lead_time_years=0,
        qualification_cost_usd=100_000,
        annual_fixed_cost_usd=50_000,
        risk_score=0.7,
        note="Brazilian ore separated in China: customs origin China; a Chinese ban "
        "reaches it through any_link",
    ),
    dict(
        supplier="Solvay La Rochelle",
        country=FRANCE,
        ore_origin=EX_CHINA_FEED,
        qualified="no",
        lead_time_years=1,
        qualification_cost_usd=200_000,
        annual_fixed_cost_usd=60_000,
        note="Separation line opened April 2025; feed bought ex-China (assumption)",
    ),
    dict(
        supplier="Neo Narva",
        country=ESTONIA,
        ore_origin=EX_CHINA_FEED,
        qualified="no",
        lead_time_years=0,
        qualification_cost_usd=150_000,
        annual_fixed_cost_usd=50_000,
        note="Neo Performance Materials, Narva: a long-running separation plant, so it can "
        "qualify within the first year (assumption); feed ex-China (assumption)",
    ),
    dict(
        supplier="Arafura Nolans",
        country=AUSTRALIA,
        qualified="no",
        lead_time_years=3,
        qualification_cost_usd=200_000,
        annual_fixed_cost_usd=80_000,
        risk_score=0.35,
        note="Investment decision 2026 is uncertain: first oxide assumed 2029",
    ),
    dict(
        supplier="Aclara",
        country=US,
        ore_origin=BRAZIL,
        qualified="no",
        lead_time_years=2,
        qualification_cost_usd=250_000,
        annual_fixed_cost_usd=80_000,
        risk_score=0.25,
        note="US separation plant 2027, feed 2028; ionic-clay feed from Brazil (assumption)",
    ),
]


def _ramp(*values: float) -> list[float]:
    """Capacity per year: the given values for the first years, the last one after."""
    vals = list(values)
    return (vals + [vals[-1]] * len(YEARS))[: len(YEARS)]


# Capacities are the share of each plant offered to us (t/year), not the plant's size.
# Offtake agreements (MP Materials, Lynas, Iluka, Arafura) bind us for OFFTAKE_YEARS
# consecutive years at their minimum order once started; the other offers year by year.
OFFTAKE_YEARS = 3  # assumption
OFFERS: list[dict[str, Any]] = [
    dict(
        supplier="China North Oxide",
        material=NDPR,
        price_usd_per_kg=57,
        min_order_t=20,
        capacity=_ramp(450),
        note="FOB China 50-55 (2024), ~60 (2025) USD/kg",
    ),
    dict(
        supplier="China North Oxide",
        material=MREO,
        price_usd_per_kg=20,
        min_order_t=10,
        capacity=_ramp(300),
        note="PRODUCTION COST 11-15 USD/kg in China + ~40 % margin (cost-plus)",
    ),
    dict(
        supplier="China South Heavy",
        material=NDPR,
        price_usd_per_kg=58,
        min_order_t=10,
        capacity=_ramp(150),
        note="FOB China ~60 USD/kg",
    ),
    dict(
        supplier="China South Heavy",
        material=DY,
        price_usd_per_kg=280,
        min_order_t=2,
        capacity=_ramp(60),
        note="USGS average 2024: 260 USD/kg",
    ),
    dict(
        supplier="China South Heavy",
        material=TB,
        price_usd_per_kg=900,
        min_order_t=0.5,
        capacity=_ramp(16),
        note="USGS average 2024: 810 USD/kg",
    ),
    dict(
        supplier="Lynas Malaysia",
        material=NDPR,
        price_usd_per_kg=75,
        min_order_t=20,
        min_contract_years=OFFTAKE_YEARS,
        capacity=_ramp(200),
        note="Of ~10,500 t/yr; ex-China premium (assumption); offtake: 3-year term (assumption)",
    ),
    dict(
        supplier="Lynas Malaysia",
        material=DY,
        price_usd_per_kg=450,
        min_order_t=1,
        capacity=_ramp(4, 6, 8),
        note="First Dy outside China 2025, ramping (assumption)",
    ),
    dict(
        supplier="Lynas Malaysia",
        material=TB,
        price_usd_per_kg=1400,
        min_order_t=0.2,
        capacity=_ramp(1, 1.5, 2),
        note="First Tb outside China 2025, ramping (assumption)",
    ),
    dict(
        supplier="MP Materials",
        material=NDPR,
        price_usd_per_kg=110,
        min_order_t=20,
        min_contract_years=OFFTAKE_YEARS,
        capacity=_ramp(50, 100, 150, 200),
        note="DoD price floor 110 USD/kg (Prices); 10X plant 2028; offtake: 3-year term "
        "(assumption)",
    ),
    dict(
        supplier="Iluka Eneabba",
        material=NDPR,
        price_usd_per_kg=85,
        min_order_t=10,
        min_contract_years=OFFTAKE_YEARS,
        capacity=_ramp(0, 40, 100, 150),
        note="Of 17,500 t/yr REO; commissioning 2027; offtake: 3-year term (assumption)",
    ),
    dict(
        supplier="Iluka Eneabba",
        material=DY,
        price_usd_per_kg=480,
        min_order_t=1,
        capacity=_ramp(0, 2, 5, 8),
        note="Eneabba makes Dy; ex-China premium (assumption)",
    ),
    dict(
        supplier="Iluka Eneabba",
        material=TB,
        price_usd_per_kg=1500,
        min_order_t=0.2,
        capacity=_ramp(0, 0.5, 1, 2),
        note="Eneabba makes Tb; ex-China premium (assumption)",
    ),
    dict(
        supplier="Energy Fuels",
        material=NDPR,
        price_usd_per_kg=90,
        min_order_t=10,
        capacity=_ramp(20, 40, 60, 100),
        note="Of 850-1,000 t/yr (phase 1)",
    ),
    dict(
        supplier="Energy Fuels",
        material=DY,
        price_usd_per_kg=460,
        min_order_t=1,
        capacity=_ramp(0, 0, 0, 4),
        note="Phase 2 ~240 t/yr Dy from ~2029 (uncertain)",
    ),
    dict(
        supplier="Energy Fuels",
        material=TB,
        price_usd_per_kg=1450,
        min_order_t=0.2,
        capacity=_ramp(0, 0, 0, 1),
        note="Phase 2 ~66 t/yr Tb from ~2029 (uncertain)",
    ),
    dict(
        supplier="Serra Verde MREC",
        material=MREO,
        price_usd_per_kg=48,
        min_order_t=10,
        capacity=_ramp(100, 120, 150),
        note="PRODUCTION COST 35-40 USD/kg in Brazil + ~25 % margin (cost-plus)",
    ),
    dict(
        supplier="Serra Verde via China",
        material=NDPR,
        price_usd_per_kg=60,
        min_order_t=10,
        capacity=_ramp(50),
        note="China-separated: China price (assumption)",
    ),
    dict(
        supplier="Serra Verde via China",
        material=DY,
        price_usd_per_kg=290,
        min_order_t=1,
        capacity=_ramp(8),
        note="Ionic clay is rich in Dy (assumption)",
    ),
    dict(
        supplier="Serra Verde via China",
        material=TB,
        price_usd_per_kg=920,
        min_order_t=0.2,
        capacity=_ramp(2),
        note="Ionic clay is rich in Tb (assumption)",
    ),
    dict(
        supplier="Solvay La Rochelle",
        material=NDPR,
        price_usd_per_kg=88,
        min_order_t=10,
        capacity=_ramp(20, 40, 60, 80, 100),
        note="A few hundred t (2025) to ~4,500 t/yr by 2030; Europe NdPr 82.5-85 USD/kg",
    ),
    dict(
        supplier="Neo Narva",
        material=NDPR,
        price_usd_per_kg=85,
        min_order_t=10,
        capacity=_ramp(50, 60, 80),
        note="Magnet plant ramp-up 2026; Europe NdPr 82.5-85 USD/kg",
    ),
    dict(
        supplier="Arafura Nolans",
        material=NDPR,
        price_usd_per_kg=88,
        min_order_t=10,
        min_contract_years=OFFTAKE_YEARS,
        capacity=_ramp(0, 0, 0, 50, 100, 150),
        note="Of 4,440 t/yr NdPr; FID 2026 (uncertain); offtake: 3-year term (assumption)",
    ),
    dict(
        supplier="Arafura Nolans",
        material=DY,
        price_usd_per_kg=470,
        min_order_t=1,
        capacity=_ramp(0, 0, 0, 0, 3),
        note="Of 474 t/yr heavy REO (uncertain)",
    ),
    dict(
        supplier="Aclara",
        material=NDPR,
        price_usd_per_kg=90,
        min_order_t=10,
        capacity=_ramp(0, 0, 50, 80, 100),
        note="Of 1,400 t/yr NdPr; feed 2028",
    ),
    dict(
        supplier="Aclara",
        material=DY,
        price_usd_per_kg=470,
        min_order_t=1,
        capacity=_ramp(0, 0, 5, 10),
        note="Of 200 t/yr Dy; feed 2028",
    ),
    dict(
        supplier="Aclara",
        material=TB,
        price_usd_per_kg=1450,
        min_order_t=0.2,
        capacity=_ramp(0, 0, 1, 2),
        note="Of 30 t/yr Tb; feed 2028",
    ),
]

# Year-by-year prices (the `Prices` sheet); a year left out keeps the offer's price.
PRICES: list[dict[str, Any]] = [
    dict(
        supplier="MP Materials",
        material=NDPR,
        prices={t: 110 for t in YEARS},
        note="DoD price floor: 110 USD/kg for 10 years from July 2025 (sourced), written out "
        "year by year",
    ),
    dict(
        supplier="China South Heavy",
        material=DY,
        prices=dict(zip(YEARS, [300, 320, 340, 360, 380, 380, 380, 380, 380, 380], strict=True)),
        note="USGS averages 382 (2022), 330 (2023), 260 (2024) USD/kg (sourced); the path "
        "back to ~380 by 2030 after the 2025 export controls is our assumption",
    ),
    dict(
        supplier="China South Heavy",
        material=TB,
        prices=dict(
            zip(YEARS, [950, 1000, 1100, 1200, 1300, 1300, 1300, 1300, 1300, 1300], strict=True)
        ),
        note="USGS averages 2,051 (2022), 1,298 (2023), 810 (2024) USD/kg (sourced); the "
        "path back to ~1,300 (the 2023 average) by 2030 is our assumption",
    ),
]

# --------------------------------------------------------------------------- substitutions

SUBSTITUTIONS: list[dict[str, Any]] = [
    dict(
        option="motor_redesign",
        material=NDPR,
        reduction=0.25,
        from_year=2028,
        investment_usd=20_000_000,
        annual_cost_usd=1_000_000,
        note="Tesla cut the rare earths in its motors by 25 % (sourced); that our customers' "
        "motors can follow from 2028, and its cost, are our assumptions",
    ),
    dict(
        option="dy_lean_grade",
        material=DY,
        reduction=0.5,
        from_year=2027,
        investment_usd=5_000_000,
        annual_cost_usd=300_000,
        note="NdFeB holds ~1-4 % Dy (sourced); a grade with ~1.25 % instead of 2.5 % halves "
        "our Dy need (assumption within that range); cost and timing are assumptions",
    ),
]

# --------------------------------------------------------------------------- scenarios

SCENARIOS: list[dict[str, Any]] = [
    dict(
        scenario="normal",
        probability=0.55,
        demand_multiplier=1,
        spot_price_multiplier=1,
        description="No disruption: every contract delivers in full at its price",
    ),
    dict(
        scenario="china_hree_ban",
        probability=0.15,
        demand_multiplier=1,
        spot_price_multiplier=1,
        description="China withholds Dy and Tb export licences in 2027-2028 (as in April-May "
        "2025, when Dy/Tb exports fell to zero); China-mined or China-processed Dy/Tb is "
        "tracked (any_link); spot Dy/Tb at half volume and 3x price",
    ),
    dict(
        scenario="china_halt_2030",
        probability=0.10,
        demand_multiplier=1,
        spot_price_multiplier=1,
        description="A 2010-style halt: about two months without Chinese exports in 2030 "
        "(availability 0.8 for that year, every material); spot at 0.8 volume and 2x price",
    ),
    dict(
        scenario="iluka_delay",
        probability=0.10,
        demand_multiplier=1,
        spot_price_multiplier=1,
        description="Eneabba refinery commissioning slips two years: nothing from Iluka in "
        "2027-2028",
    ),
    dict(
        scenario="demand_surge",
        probability=0.10,
        demand_multiplier=1.1,
        spot_price_multiplier=1.1,
        description="EV and wind orders 10 % above plan every year; a tighter spot market "
        "costs 10 % more",
    ),
]

DISRUPTIONS: list[dict[str, Any]] = [
    dict(
        scenario="china_hree_ban",
        scope="any_link",
        target=CHINA,
        material=DY,
        from_year=2027,
        to_year=2028,
        availability=0,
        price_multiplier=1,
        note="Full-year stop: Dy exports were zero in May 2025",
    ),
    dict(
        scenario="china_hree_ban",
        scope="any_link",
        target=CHINA,
        material=TB,
        from_year=2027,
        to_year=2028,
        availability=0,
        price_multiplier=1,
        note="Full-year stop: Tb exports were zero in May 2025",
    ),
    dict(
        scenario="china_hree_ban",
        scope="spot",
        target=None,
        material=DY,
        from_year=2027,
        to_year=2028,
        availability=0.5,
        price_multiplier=3,
        note="Spot Dy roughly tripled after April 2025 (Europe 700-1,000 vs 250-310 USD/kg)",
    ),
    dict(
        scenario="china_hree_ban",
        scope="spot",
        target=None,
        material=TB,
        from_year=2027,
        to_year=2028,
        availability=0.5,
        price_multiplier=3,
        note="Spot Tb roughly tripled after April 2025 (Europe 2,000-4,000 vs 930-1,000)",
    ),
    dict(
        scenario="china_halt_2030",
        scope="any_link",
        target=CHINA,
        material=None,
        from_year=2030,
        to_year=2030,
        availability=0.8,
        price_multiplier=1,
        note="Sep-Nov 2010: ~2 months of halted exports = 0.8 of a year",
    ),
    dict(
        scenario="china_halt_2030",
        scope="spot",
        target=None,
        material=None,
        from_year=2030,
        to_year=2030,
        availability=0.8,
        price_multiplier=2,
        note="Spot doubles in the halt year (assumption; Dy rose 26x over 2009-11)",
    ),
    dict(
        scenario="iluka_delay",
        scope="supplier",
        target="Iluka Eneabba",
        material=None,
        from_year=2027,
        to_year=2028,
        availability=0,
        price_multiplier=1,
        note="Commissioning slips from 2027 to 2029 (assumption)",
    ),
]

# --------------------------------------------------------------------------- risks

# Base rates, not forecasts: every probability below is an assumption derived from the
# counts in Sources (three Chinese rare-earth restrictions that hit foreign buyers in
# 2010-2025, more since 2023; start-up slips of ex-China plants).
RISKS: list[dict[str, Any]] = [
    dict(
        risk="china_dy_licences",
        scope="any_link",
        target=CHINA,
        material=DY,
        probability=0.15,
        min_years=1,
        max_years=2,
        availability=0.5,
        price_multiplier=1,
        spot_availability=0.5,
        spot_price_multiplier=3,
        note="A licence squeeze like April-May 2025: half of China-linked Dy arrives, the "
        "spot market halves and triples in price (probability: assumption, ~2-3 episodes "
        "in 16 years)",
    ),
    dict(
        risk="china_tb_licences",
        scope="any_link",
        target=CHINA,
        material=TB,
        probability=0.15,
        min_years=1,
        max_years=2,
        availability=0.5,
        price_multiplier=1,
        spot_availability=0.5,
        spot_price_multiplier=3,
        note="The same squeeze on Tb, drawn independently of Dy (assumption)",
    ),
    dict(
        risk="china_full_ban",
        scope="any_link",
        target=CHINA,
        material=None,
        probability=0.05,
        min_years=1,
        max_years=1,
        availability=0,
        price_multiplier=1,
        spot_availability=0.5,
        spot_price_multiplier=2,
        note="The severe case: a full-year stop of every China-linked material "
        "(probability: assumption)",
    ),
    dict(
        risk="iluka_startup_slip",
        scope="supplier",
        target="Iluka Eneabba",
        material=None,
        probability=0.5,
        from_year=2027,
        to_year=2027,
        min_years=1,
        max_years=2,
        availability=0,
        price_multiplier=1,
        spot_availability=1,
        spot_price_multiplier=1,
        note="Commissioning (2027) slips by 1-2 years: even odds (assumption)",
    ),
    dict(
        risk="arafura_startup_slip",
        scope="supplier",
        target="Arafura Nolans",
        material=None,
        probability=0.5,
        from_year=2029,
        to_year=2029,
        min_years=1,
        max_years=2,
        availability=0,
        price_multiplier=1,
        spot_availability=1,
        spot_price_multiplier=1,
        note="First oxide (2029) slips by 1-2 years: even odds, the investment decision "
        "is uncertain (assumption)",
    ),
]

# --------------------------------------------------------------------------- policy

POLICY: list[dict[str, Any]] = [
    dict(
        rule="max_share",
        scope="any_link",
        target=CHINA,
        material=NDPR,
        from_year=2028,
        to_year=None,
        value=0.6,
        note="At most 60 % of contracted NdPr mined or processed in China, from 2028 "
        "(company policy, assumption)",
    ),
    dict(
        rule="min_suppliers",
        scope=None,
        target=None,
        material=NDPR,
        from_year=None,
        to_year=None,
        value=2,
        note="Two NdPr suppliers every year, each with >= min_supplier_share of demand",
    ),
    dict(
        rule="max_avg_risk",
        scope=None,
        target=None,
        material=None,
        from_year=2028,
        to_year=None,
        value=0.65,
        note="Volume-weighted supplier risk <= 0.65 for each material from 2028",
    ),
]

# --------------------------------------------------------------------------- sources

ASSUMPTION, SOURCED, UNCERTAIN = "our assumption", "sourced", "sourced, UNCERTAIN"

SOURCES: list[tuple[str, str, str, str, str]] = [
    # figure, value, source, used in, status
    (
        "China's share of world mining",
        "~60-70 % (270,000 of 390,000 t REO, 2024)",
        "USGS Mineral Commodity Summaries 2025",
        "Countries: China risk_score",
        SOURCED,
    ),
    (
        "China's share of processing",
        "~90 %; ~99 % for heavy REE (Dy, Tb) until 2023",
        "TRT World, June 2025; J. Wong 2025",
        "Countries: China risk_score; Scenarios",
        SOURCED,
    ),
    (
        "US import sources 2020-23",
        "China 70 %, Malaysia 13 %, Japan 6 %, Estonia 5 %",
        "USGS MCS 2025",
        "Suppliers: choice of suppliers",
        SOURCED,
    ),
    (
        "Reserves",
        "China 44 Mt, Brazil 21 Mt, Australia 5.7 Mt, US 1.9 Mt",
        "USGS MCS 2025",
        "Countries: notes; choice of Brazilian and Australian suppliers",
        SOURCED,
    ),
    (
        "Ore-to-oxide production cost, China",
        "11-15 USD/kg (production cost, not a price)",
        "Benchmark Mineral Intelligence, via TRT World 2025",
        "Offers: China North Oxide / Mixed REO at 20 USD/kg (cost-plus)",
        SOURCED,
    ),
    (
        "Ore-to-oxide production cost, Brazil",
        "35-40 USD/kg (production cost, not a price)",
        "Benchmark Mineral Intelligence, via TRT World 2025",
        "Offers: Serra Verde MREC / Mixed REO at 48 USD/kg (cost-plus)",
        SOURCED,
    ),
    (
        "Cost-plus margins on mixed REO",
        "~40 % (China), ~25 % (Brazil)",
        "-",
        "Offers: Mixed REO prices",
        ASSUMPTION,
    ),
    (
        "NdPr oxide, FOB China",
        "50-55 USD/kg (Apr-Jun 2024)",
        "Fastmarkets 2024",
        "Offers: Chinese NdPr 57-60 USD/kg; Materials: NdPr spot",
        SOURCED,
    ),
    (
        "China NdPr benchmark, mid-2025",
        "~60 USD/kg",
        "US DoD / MP Materials, July 2025",
        "Materials: NdPr spot 75 = 60 + 25 % tariff",
        SOURCED,
    ),
    (
        "NdPr oxide, Europe",
        "82.5-85 USD/kg (Sep 2025)",
        "Argus 2025",
        "Offers: European and Australian NdPr 85-88 USD/kg",
        SOURCED,
    ),
    (
        "US price floor for MP Materials NdPr",
        "110 USD/kg for 10 years",
        "US DoD / MP Materials, July 2025",
        "Offers and Prices: MP Materials NdPr 110 USD/kg every year",
        SOURCED,
    ),
    (
        "Dy oxide average price",
        "382 (2022), 330 (2023), 260 (2024) USD/kg",
        "USGS MCS 2025 (Argus)",
        "Offers: Chinese Dy 280-290; Prices: China South Heavy Dy; Materials: Dy spot 375",
        SOURCED,
    ),
    (
        "Tb oxide average price",
        "2,051 (2022), 1,298 (2023), 810 (2024) USD/kg",
        "USGS MCS 2025 (Argus)",
        "Offers: Chinese Tb 900-920; Prices: China South Heavy Tb; Materials: Tb spot 1,250",
        SOURCED,
    ),
    (
        "Dy / Tb in Europe after April 2025 controls",
        "Dy 700-1,000, Tb 2,000-4,000 USD/kg (May 2025) vs 250-310 and 930-1,000 a month before",
        "Argus 2025",
        "Disruptions: spot price_multiplier 3 in china_hree_ban",
        SOURCED,
    ),
    (
        "Ex-China premium on long-term contracts",
        "NdPr +25-50 %, Dy/Tb +50-65 % over China",
        "-",
        "Offers: prices of non-Chinese suppliers",
        ASSUMPTION,
    ),
    (
        "US tariff on Chinese-origin oxide",
        "25 % every year",
        "- (check the current schedule)",
        "Countries: China year columns; spot prices",
        ASSUMPTION,
    ),
    (
        "Country risk scores",
        "China 0.8 ... United States 0.05",
        "-",
        "Countries: risk_score; Suppliers: risk_score overrides for project risk",
        ASSUMPTION,
    ),
    (
        "Lynas Malaysia separation",
        "~10,500 t/yr NdPr; first Dy/Tb outside China 2025",
        "Lynas 2025",
        "Offers: Lynas (200 t NdPr, 4-8 t Dy, 1-2 t Tb to us)",
        SOURCED,
    ),
    (
        "Lynas Texas heavy REE plant",
        "said unlikely to proceed (late 2025)",
        "Northern Miner 2025",
        "Not modelled",
        SOURCED,
    ),
    (
        "MP Materials",
        "~1,000 t/yr magnets from late 2025; 10X plant ~10,000 t/yr, 2028",
        "MP / DoD 2025",
        "Offers: MP NdPr ramp 50-200 t to us",
        SOURCED,
    ),
    (
        "Iluka Eneabba refinery",
        "17,500 t/yr REO incl. Dy, Tb; commissioning 2027",
        "WA Government; NS Energy",
        "Offers: Iluka from 2027; Scenarios: iluka_delay",
        SOURCED,
    ),
    (
        "Energy Fuels White Mesa",
        "850-1,000 t/yr NdPr; phase 2 >6,000 t NdPr, ~240 t Dy, ~66 t Tb ~2029",
        "mining.com 2024",
        "Offers: Energy Fuels (Dy/Tb from 2029)",
        UNCERTAIN,
    ),
    (
        "Serra Verde (Brazil, ionic clay)",
        ">=5,000 t/yr REO, 6,500 t by end-2027; since 2024",
        "NS Energy",
        "Suppliers: Serra Verde MREC and Serra Verde via China",
        SOURCED,
    ),
    (
        "Serra Verde ore separated in China",
        "processing_country China",
        "-",
        "Suppliers: Serra Verde via China (any_link example)",
        ASSUMPTION,
    ),
    (
        "Neo Performance, Narva (Estonia)",
        "2,000 t/yr magnets, scalable to 5,000; ramp-up 2026",
        "Automotive World; Argus 2025",
        "Offers: Neo Narva 50-80 t NdPr to us",
        SOURCED,
    ),
    (
        "Solvay La Rochelle (France)",
        "a few hundred t (2025), ~4,500 t/yr by 2030; opened April 2025",
        "Automotive World 2025",
        "Offers: Solvay ramp 20-100 t NdPr to us",
        SOURCED,
    ),
    (
        "Arafura Nolans (Australia)",
        "4,440 t/yr NdPr + 474 t heavy REO; FID 2026",
        "Mining Weekly",
        "Offers: Arafura from 2029; lead_time_years 3",
        UNCERTAIN,
    ),
    (
        "Aclara (US)",
        "1,400 t NdPr + 200 t Dy + 30 t Tb a year; plant 2027, feed 2028",
        "mining.com 2025",
        "Offers: Aclara from 2028",
        SOURCED,
    ),
    ("Aclara feed from Brazil", "ore_origin Brazil", "-", "Suppliers: Aclara", ASSUMPTION),
    (
        "Capacity offered to us",
        "a small share of each plant (see Offers)",
        "-",
        "Offers: year columns",
        ASSUMPTION,
    ),
    (
        "Qualification cost, lead time, fixed cost, minimum orders",
        "100,000-300,000 USD; 0-3 years; 40,000-100,000 USD/yr; 0.2-20 t",
        "-",
        "Suppliers, Offers",
        ASSUMPTION,
    ),
    (
        "NdFeB composition",
        "~30 % rare earths (Nd+Pr ~29-32 %), Dy ~1-4 %",
        "Heim & Vander Wal, Minerals 2023",
        "Demand: 30 % NdPr, 2.5 % Dy, 0.6 % Tb",
        SOURCED,
    ),
    ("Tb content of NdFeB", "0.6 %", "-", "Demand: Tb oxide", ASSUMPTION),
    (
        "Rare earths in Tesla's motors",
        "cut by 25 %; GM exploring elimination",
        "TRT World 2025",
        "Substitutions: motor_redesign reduction 0.25",
        SOURCED,
    ),
    (
        "Motor redesign: start year and cost",
        "from 2028; 20M USD once, 1M USD a year",
        "-",
        "Substitutions: motor_redesign",
        ASSUMPTION,
    ),
    (
        "Dy-lean magnet grade",
        "Dy 2.5 % -> ~1.25 % of NdFeB (within the published 1-4 %); from 2027; 5M USD "
        "once, 0.3M USD a year",
        "-",
        "Substitutions: dy_lean_grade",
        ASSUMPTION,
    ),
    (
        "Dy and Tb price paths 2026-2035",
        "Dy 300 -> 380, Tb 950 -> 1,300 USD/kg by 2030, flat after",
        "- (anchored on the USGS averages above)",
        "Prices: China South Heavy Dy and Tb",
        ASSUMPTION,
    ),
    (
        "Offtake contract term",
        "3 consecutive years at the minimum order once started",
        "-",
        "Offers: min_contract_years of MP Materials, Lynas, Iluka and Arafura NdPr",
        ASSUMPTION,
    ),
    ("Our magnet output", "1,200 t NdFeB in 2026, +6 %/yr", "-", "Demand", ASSUMPTION),
    (
        "China's share of magnet output",
        "~90 % of ~200,000 t/yr NdFeB",
        "TRT World, June 2025",
        "README: context",
        SOURCED,
    ),
    (
        "China's halt of exports to Japan",
        "Sep-Nov 2010, ~2 months; quota cut ~40 %",
        "Global Trade Alert; Japan Metal Bulletin",
        "Disruptions: china_halt_2030 availability 0.8",
        SOURCED,
    ),
    (
        "2009-11 price spike",
        "Dy oxide x26 (Jan 2009 - Aug 2011)",
        "Adamas Intelligence",
        "Disruptions: china_halt_2030 spot x2 (a mild version)",
        SOURCED,
    ),
    (
        "April 2025 export licences",
        "Tb, Dy and 5 others; Dy/Tb exports zero in May 2025",
        "Reuters / Bloomberg 2025",
        "Scenarios: china_hree_ban",
        SOURCED,
    ),
    (
        "October 2025 expansion",
        "12 of 17 REE, 0.1 % content rule; suspended for a year",
        "Pillsbury 2025",
        "Scenarios: a reason for a renewed ban in 2027",
        UNCERTAIN,
    ),
    (
        "Re-export via third countries tracked",
        "end-user declarations",
        "TRT World 2025",
        "Disruptions: scope any_link",
        SOURCED,
    ),
    (
        "US supply short before ~2027",
        "DPA invoked March 2025; $439M DoD since 2020",
        "TRT World 2025; J. Wong 2025",
        "Offers: US ramp-ups 2027-2028",
        SOURCED,
    ),
    ("Scenario probabilities", "0.55 / 0.15 / 0.10 / 0.10 / 0.10", "-", "Scenarios", ASSUMPTION),
    ("Demand surge", "+10 % demand, +10 % spot price", "-", "Scenarios: demand_surge", ASSUMPTION),
    (
        "Shortfall penalties",
        "NdPr 500, Dy 3,000, Tb 8,000, mixed REO 100 USD/kg",
        "-",
        "Materials",
        ASSUMPTION,
    ),
    (
        "Spot volume limits",
        "NdPr 60, Dy 5, Tb 1.5, mixed REO 50 t/yr",
        "-",
        "Materials",
        ASSUMPTION,
    ),
    (
        "Policy rules",
        "China-linked NdPr <= 60 % from 2028; 2 NdPr suppliers; avg risk <= 0.65",
        "-",
        "Policy",
        ASSUMPTION,
    ),
]

SOURCES += [
    (
        "China's rare-earth restrictions that hit foreign buyers, 2010-2025",
        "three episodes: Sep-Nov 2010; April 2025; October 2025 (suspended)",
        "Global Trade Alert; Reuters / Bloomberg 2025; Pillsbury 2025",
        "Risks: china_* (base rate)",
        SOURCED,
    ),
    (
        "Chance that a restriction starts in a year",
        "0.15 on Dy and on Tb (each 1-2 years); 0.05 for a full ban of every material",
        "derived from the counts above",
        "Risks: probability, min_years, max_years",
        ASSUMPTION,
    ),
    (
        "Severity of a licence squeeze at a yearly step",
        "availability 0.5 (Dy/Tb exports zero in May 2025, recovering from June)",
        "derived from Reuters / Bloomberg 2025",
        "Risks: availability, spot_availability",
        ASSUMPTION,
    ),
    (
        "Dy/Tb spot during a restriction",
        "roughly x3 in Europe (May 2025 against a month before)",
        "Argus 2025",
        "Risks: spot_price_multiplier 3",
        SOURCED,
    ),
    (
        "Start-up slips of plants not yet commissioned",
        "1-2 year slip at even odds (Lynas Texas unlikely; Arafura FID uncertain)",
        "Northern Miner 2025; Mining Weekly; WA Government",
        "Risks: iluka_startup_slip, arafura_startup_slip",
        ASSUMPTION,
    ),
]

# --------------------------------------------------------------------------- README

README_TEXT: list[tuple[str, str]] = [
    ("title", "diversify sample workbook: rare-earth sourcing for a US magnet maker, 2026-2035"),
    (
        "",
        "A US maker of NdFeB magnets (~1,200 t in 2026, growing 6 % a year) plans where to "
        "buy NdPr, dysprosium and terbium oxide, plus mixed rare-earth oxide feed for a toll-"
        "separation agreement. China is cheap but can stop exports; ex-China plants cost more "
        "and mostly ramp up from 2027. diversify picks which suppliers to qualify, how much to "
        "contract from each year by year, and how much to stock, so that the plan is cheap in a "
        "normal world and survives a Chinese export ban.",
    ),
    (
        "",
        "Run it:  diversify validate rare_earths_sample.xlsx   then   diversify solve "
        "rare_earths_sample.xlsx -o plan.xlsx",
    ),
    ("heading", "How to edit"),
    (
        "",
        "Change the numbers in place; add rows for new suppliers, offers, scenarios, "
        "disruptions or rules. Row 1 of every sheet is its header: keep the column names (hover "
        "over a header for its unit and meaning; red headers are required). Year columns hold "
        "the year as a number. A blank cell takes its default (a blank year cell is 0). Type "
        "plain numbers: no thousands separators, no % signs (tariffs are typed as 25 for 25 %). "
        "Columns named note or source, and this sheet and Sources, are ignored by diversify: "
        "use them for your own comments. Prefer plain values to formulas: a formula is read "
        "through the result Excel saved with it, so save the file in Excel after editing.",
    ),
    ("heading", "Units"),
    (
        "",
        "Quantities in metric tonnes (t); prices in USD per kg; money in USD; shares, "
        "probabilities, availabilities and risk scores as fractions 0..1 (0.6 = 60 %); tariffs "
        "in percent. Cost of q tonnes at p USD/kg = 1,000 x q x p USD. Costs are discounted to "
        "2026 at discount_rate. Spot prices are entered duty-paid: diversify adds no tariff "
        "to spot purchases.",
    ),
    ("heading", "Sheets"),
    (
        "Settings",
        "Horizon (first_year..last_year), discount rate, risk aversion (weight of "
        "the CVaR of cost), CVaR level, recourse and solver limits.",
    ),
    (
        "Materials",
        "One row per material: spot price and how much can be bought spot a year, "
        "the penalty for demand left unmet (lost production), holding cost, opening and "
        "largest stock.",
    ),
    ("Demand", "Tonnes needed per material and year (one column per year)."),
    (
        "Countries",
        "Risk score per country (0 safe .. 1 most risky) and the US import tariff "
        "in % on goods of that customs origin, per year.",
    ),
    (
        "Suppliers",
        "Where each supplier ships from, where its ore is mined and processed, its "
        "customs origin, whether it is already qualified, its lead time (an unqualified supplier "
        "delivers from first_year + lead_time_years), one-off qualification cost, yearly fixed "
        "cost and an optional risk score overriding its country's.",
    ),
    (
        "Offers",
        "One row per supplier and material: contract price before tariff, smallest "
        "yearly order, the contract term (min_contract_years: once ordered, ordered that many "
        "consecutive years at least at the minimum order; 3 for the offtake agreements) and "
        "the capacity offered to us each year (a share of the plant, not its size).",
    ),
    (
        "Prices",
        "An offer's price year by year where it changes (a price floor, a forecast); a "
        "blank year keeps the offer's price_usd_per_kg.",
    ),
    (
        "Scenarios",
        "The possible futures and their probabilities (sum 1). The first is the "
        "normal world. Demand and spot-price multipliers apply to every year.",
    ),
    (
        "Disruptions",
        "What goes wrong in each scenario: scope country / ore_origin / "
        "processing_country / supplier / any_link (any of the three countries) / spot, a target, "
        "material (blank = all), years, availability (share still delivered: 0 = stop) and a "
        "price multiplier.",
    ),
    (
        "Policy",
        "Company rules on the plan: max_share / min_share of a country or supplier, "
        "min_suppliers per material and year, max_avg_risk (volume-weighted risk score).",
    ),
    (
        "Substitutions",
        "Ways to need less of a material (a motor redesign, a Dy-lean grade): the share "
        "of demand each removes from the year it takes effect, its one-off investment and "
        "yearly cost. diversify decides whether and when to take each.",
    ),
    (
        "Risks",
        "What can go wrong and how often, for diversify scenarios and diversify stress "
        "(solve ignores it): each year in which no event of a risk is under way, one starts "
        "with its probability and lasts min_years..max_years, hitting its scope like a "
        "Disruptions row; spot_availability and spot_price_multiplier say what it does to "
        "the spot market. The probabilities are assumptions from base rates (Sources).",
    ),
    (
        "Sources",
        "Every figure used, its source and where it is used. Figures marked "
        "UNCERTAIN and 'our assumption' are ours to revisit: check them before a decision.",
    ),
    ("heading", "Two figures to keep apart"),
    (
        "",
        "The 11-15 USD/kg (China) and 35-40 USD/kg (Brazil) figures are PRODUCTION COSTS "
        "of mixed rare-earth oxide, not market prices. They appear only in the Mixed REO offers, "
        "priced at cost plus a margin. Separated oxides (NdPr, Dy, Tb) are priced at market.",
    ),
    ("heading", "What the sample is built to show"),
    (
        "",
        "Cheap Chinese oxide against dearer ex-China contracts that ramp up from 2027; a "
        "two-year Chinese stop on Dy and Tb (2027-2028) that only stock built in 2026 and "
        "early ex-China contracts can bridge; a policy cap on China-linked NdPr from 2028 that "
        "brings in Lynas, Iluka and others; Serra Verde's Brazilian ore separated in China, "
        "which a Chinese ban still reaches (any_link); and the price of resilience: what the "
        "plan costs more than the least-cost plan in a normal world.",
    ),
    ("heading", "Caveats"),
    (
        "",
        "Supplier names other than the two illustrative Chinese separators are real "
        "companies, but every commercial term here (price, volume offered to us, minimum order, "
        "qualification cost, lead time) is an illustrative assumption, not a quote.",
    ),
]

# --------------------------------------------------------------------------- layout

HEADER_FONT = Font(bold=True)
REQUIRED_FONT = Font(bold=True, color="9C0006")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
EXTRA_FILL = PatternFill("solid", fgColor="EDEDED")
TITLE_FONT = Font(bold=True, size=14)
HEADING_FONT = Font(bold=True, size=12)
WRAP = Alignment(wrap_text=True, vertical="top")

EXTRA_COLUMNS = {
    "note": "Free text: what the row stands for and where its figures come from. "
    "Ignored by diversify.",
    "meaning": "What the setting means. Ignored by diversify.",
}

FORMATS = {
    "USD/kg": "#,##0.00",
    "USD/kg/year": "#,##0.00",
    "USD": "#,##0",
    "USD/year": "#,##0",
    "t": "#,##0.0",
    "t/year": "#,##0.0",
    "0..1": "0.00",
    "x": "0.00",
    "year": "0",
    "years": "0",
    "%": '0" %"',
}


def _schema_comment(sheet: str, name: str) -> str:
    col = next(c for c in columns(sheet) if c.name == name)
    parts = [col.meaning + "."]
    if col.unit:
        parts.append(f"Unit: {col.unit}.")
    if col.choices:
        parts.append("One of: " + ", ".join(col.choices) + ".")
    if col.default is REQUIRED:
        parts.append("Required.")
    elif col.default not in (None, "") and col.kind != "years":
        d = col.default
        shown = (
            ("yes" if d else "no")
            if isinstance(d, bool)
            else f"{d:g}"
            if isinstance(d, float)
            else str(d)
        )
        parts.append(f"Blank = {shown}.")
    return " ".join(parts)


def _comment(text: str) -> Comment:
    c = Comment(text, "diversify")
    c.width, c.height = 260, 110
    return c


def _header(ws: Worksheet, sheet: str, names: list[Any]) -> None:
    """Row 1: bold, frozen, with a unit-and-meaning comment on every cell."""
    schema = {c.name: c for c in columns(sheet)}
    for j, name in enumerate(names, start=1):
        cell = ws.cell(row=1, column=j, value=name)
        if isinstance(name, int):
            text, col = _schema_comment(sheet, "<year>"), schema["<year>"]
            cell.comment = _comment(f"{name}: {text}")
        elif name in schema:
            col = schema[name]
            cell.comment = _comment(_schema_comment(sheet, name))
        elif sheet == "Settings":
            col = None
            cell.comment = _comment(
                "Name of the setting (see the list)."
                if name == "setting"
                else "Value of the setting (units in the meaning column)."
                if name == "value"
                else EXTRA_COLUMNS[name]
            )
        else:
            col = None
            cell.comment = _comment(EXTRA_COLUMNS[name])
        cell.font = REQUIRED_FONT if col is not None and col.required else HEADER_FONT
        cell.fill = HEADER_FILL if col is not None or sheet == "Settings" else EXTRA_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 30


def _number_format(sheet: str, name: Any) -> str | None:
    if isinstance(name, int):
        name = "<year>"
    col = next((c for c in columns(sheet) if c.name == name), None)
    if col is None:
        return None
    if sheet == "Policy" and name == "value":
        return None  # a share (0.6) or a count of suppliers (2)
    if col.kind == "integer":
        return "0"
    return FORMATS.get(col.unit)


def _table(
    ws: Worksheet,
    sheet: str,
    names: list[Any],
    rows: list[list[Any]],
    freeze: str = "A2",
    widths: dict[Any, float] | None = None,
) -> None:
    _header(ws, sheet, names)
    formats = [_number_format(sheet, n) for n in names]
    for i, row in enumerate(rows, start=2):
        for j, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=i, column=j, value=value)
            if formats[j - 1] and isinstance(value, int | float):
                cell.number_format = formats[j - 1]
    ws.freeze_panes = freeze
    _fit(ws, names, rows, widths or {})


def _fit(ws: Worksheet, names: list[Any], rows: list[list[Any]], widths: dict) -> None:
    for j, name in enumerate(names, start=1):
        if name in widths:
            width = widths[name]
        elif isinstance(name, int):
            width = 8
        else:
            longest = max(
                [len(str(name))]
                + [
                    len(f"{r[j - 1]:,}")
                    if isinstance(r[j - 1], int | float)
                    else len(str(r[j - 1] or ""))
                    for r in rows
                ]
            )
            width = min(max(10, longest + 2), 60)
        ws.column_dimensions[get_column_letter(j)].width = width
        if name == "note" or name == "description" or name == "meaning":
            for i in range(2, len(rows) + 2):
                ws.cell(row=i, column=j).alignment = Alignment(wrap_text=True, vertical="top")


def _dropdown(
    ws: Worksheet, col: int, last_row: int, formula: str, prompt: str, first_row: int = 2
) -> None:
    dv = DataValidation(type="list", formula1=formula, allow_blank=True)
    dv.error, dv.errorTitle = f"Choose one of the list ({prompt}).", "diversify"
    dv.prompt, dv.promptTitle = prompt, "diversify"
    dv.showErrorMessage = dv.showInputMessage = True
    letter = get_column_letter(col)
    dv.add(f"{letter}{first_row}:{letter}{last_row}")
    ws.add_data_validation(dv)


def _choices(words: tuple[str, ...] | list[str]) -> str:
    return '"' + ",".join(words) + '"'


def _ref(sheet: str, last_row: int = 200) -> str:
    return f"{sheet}!$A$2:$A${last_row}"


# --------------------------------------------------------------------------- sheets


def _readme(ws: Worksheet) -> None:
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 110
    row = 1
    for kind, text in README_TEXT:
        if kind == "title":
            ws.cell(row=row, column=1, value=text).font = TITLE_FONT
            row += 2
            continue
        if kind == "heading":
            row += 1
            ws.cell(row=row, column=1, value=text).font = HEADING_FONT
        elif kind:
            ws.cell(row=row, column=1, value=kind).font = HEADER_FONT
            ws.cell(row=row, column=2, value=text).alignment = WRAP
            ws.cell(row=row, column=1).alignment = WRAP
        else:
            ws.cell(row=row, column=2, value=text).alignment = WRAP
        if kind != "heading":
            ws.row_dimensions[row].height = 15 * max(1, -(-len(text) // 100))
        row += 1


def _settings(ws: Worksheet) -> None:
    names = ["setting", "value", "meaning", "note"]
    rows = [[k, v, SETTINGS[k][2], note] for k, v, note in SETTING_VALUES]
    _table(ws, "Settings", names, rows, widths={"meaning": 60, "note": 60})
    for i, (key, value, _) in enumerate(SETTING_VALUES, start=2):
        kind = SETTINGS[key][0]
        cell = ws.cell(row=i, column=2)
        cell.alignment = Alignment(horizontal="right")
        if kind == "year":
            cell.number_format = "0"
        elif isinstance(value, float) and value < 0.01:
            cell.number_format = "0.0000"
        elif isinstance(value, float):
            cell.number_format = "0.00"
        if key == "recourse":
            words = ["nonanticipative", "clairvoyant"]
            _dropdown(ws, 2, i, _choices(words), "recourse", first_row=i)


def _materials(ws: Worksheet) -> None:
    names = [c.name for c in columns("Materials")] + ["note"]
    rows = [[m.get(n) for n in names] for m in MATERIALS]
    _table(ws, "Materials", names, rows, widths={"note": 70})


def _demand(ws: Worksheet) -> None:
    names: list[Any] = ["material", *YEARS, "note"]
    rows = [[m, *(demand_t(m, t) for t in YEARS), DEMAND_NOTES[m]] for m in DEMAND_NOTES]
    _table(ws, "Demand", names, rows, freeze="B2", widths={"note": 60})
    _dropdown(ws, 1, 50, _ref("Materials"), "a material listed in Materials")


def _countries(ws: Worksheet) -> None:
    names: list[Any] = ["country", "risk_score", *YEARS, "note"]
    rows = [
        [c["country"], c["risk_score"], *([c["tariff"]] * len(YEARS)), c["note"]] for c in COUNTRIES
    ]
    _table(ws, "Countries", names, rows, freeze="B2", widths={"note": 70})


def _suppliers(ws: Worksheet) -> None:
    names = [c.name for c in columns("Suppliers")] + ["note"]
    rows = [[s.get(n) for n in names] for s in SUPPLIERS]
    _table(ws, "Suppliers", names, rows, freeze="B2", widths={"note": 70})
    _dropdown(ws, names.index("qualified") + 1, 200, _choices(["yes", "no"]), "yes or no")


def _offers(ws: Worksheet) -> None:
    fixed = [c for c in columns("Offers") if c.kind != "years"]
    names: list[Any] = [*(c.name for c in fixed), *YEARS, "note"]
    rows = [
        [o.get(c.name, None if c.required else c.default) for c in fixed]
        + list(o["capacity"])
        + [o["note"]]
        for o in OFFERS
    ]
    _table(ws, "Offers", names, rows, freeze="C2", widths={"note": 60})
    _dropdown(ws, 1, 500, _ref("Suppliers"), "a supplier listed in Suppliers")
    _dropdown(ws, 2, 500, _ref("Materials"), "a material listed in Materials")


def _prices(ws: Worksheet) -> None:
    names: list[Any] = ["supplier", "material", *YEARS, "note"]
    rows = [
        [p["supplier"], p["material"], *(p["prices"].get(t) for t in YEARS), p["note"]]
        for p in PRICES
    ]
    _table(ws, "Prices", names, rows, freeze="C2", widths={"note": 70})
    _dropdown(ws, 1, 500, _ref("Suppliers"), "a supplier listed in Suppliers")
    _dropdown(ws, 2, 500, _ref("Materials"), "a material listed in Materials")


def _substitutions(ws: Worksheet) -> None:
    names = [c.name for c in columns("Substitutions")] + ["note"]
    rows = [[o.get(n) for n in names] for o in SUBSTITUTIONS]
    _table(ws, "Substitutions", names, rows, widths={"note": 80})
    _dropdown(ws, 2, 500, _ref("Materials"), "a material listed in Materials")


def _scenarios(ws: Worksheet) -> None:
    names = [c.name for c in columns("Scenarios")]
    rows = [[s[n] for n in names] for s in SCENARIOS]
    _table(ws, "Scenarios", names, rows, widths={"description": 90})


def _disruptions(ws: Worksheet) -> None:
    names = [c.name for c in columns("Disruptions")] + ["note"]
    rows = [[d.get(n) for n in names] for d in DISRUPTIONS]
    _table(ws, "Disruptions", names, rows, widths={"target": 16, "note": 60})
    _dropdown(ws, 1, 500, _ref("Scenarios"), "a scenario listed in Scenarios")
    _dropdown(ws, 2, 500, _choices(SCOPE_CHOICES), "scope")
    _dropdown(ws, 4, 500, _ref("Materials"), "a material listed in Materials, or blank")


def _policy(ws: Worksheet) -> None:
    names = [c.name for c in columns("Policy")] + ["note"]
    rows = [[p.get(n) for n in names] for p in POLICY]
    _table(ws, "Policy", names, rows, widths={"target": 12, "note": 70})
    _dropdown(ws, 1, 500, _choices(RULE_CHOICES), "rule")
    _dropdown(ws, 2, 500, _choices(SCOPE_CHOICES[:-1]), "scope, or blank")
    _dropdown(ws, 4, 500, _ref("Materials"), "a material listed in Materials, or blank")


def _risks(ws: Worksheet) -> None:
    names = [c.name for c in columns("Risks")] + ["note"]
    rows = [[r.get(n) for n in names] for r in RISKS]
    _table(ws, "Risks", names, rows, widths={"target": 16, "note": 70})
    _dropdown(ws, 2, 500, _choices(SCOPE_CHOICES), "scope")
    _dropdown(ws, 4, 500, _ref("Materials"), "a material listed in Materials, or blank")


def _sources(ws: Worksheet) -> None:
    names = {
        "figure": "What the figure is.",
        "value": "The figure as published (or as we assume it).",
        "source": "Where it comes from; '-' for our own assumptions.",
        "used in": "The sheet and column where the sample uses it.",
        "status": f"'{SOURCED}': a published figure; '{UNCERTAIN}': published but the "
        f"project or date is uncertain; '{ASSUMPTION}': ours, to be checked.",
    }
    for j, (name, meaning) in enumerate(names.items(), start=1):
        cell = ws.cell(row=1, column=j, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.comment = _comment(meaning + " Ignored by diversify.")
    for i, row in enumerate(SOURCES, start=2):
        for j, value in enumerate(row, start=1):
            cell = ws.cell(row=i, column=j, value=value)
            cell.alignment = WRAP
            if j == 5 and value != SOURCED:
                cell.font = Font(bold=True, color="9C0006")
    for letter, width in zip("ABCDE", (38, 50, 40, 50, 20), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"


BUILDERS = [
    ("README", _readme),
    ("Settings", _settings),
    ("Materials", _materials),
    ("Demand", _demand),
    ("Countries", _countries),
    ("Suppliers", _suppliers),
    ("Offers", _offers),
    ("Prices", _prices),
    ("Scenarios", _scenarios),
    ("Disruptions", _disruptions),
    ("Policy", _policy),
    ("Substitutions", _substitutions),
    ("Risks", _risks),
    ("Sources", _sources),
]


def build_workbook() -> Workbook:
    """The sample as an openpyxl workbook (not saved)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, build in BUILDERS:
        build(wb.create_sheet(name))
    wb.properties.title = "diversify sample: rare-earth sourcing 2026-2035"
    wb.properties.creator = "diversify"
    return wb


def write_sample(path: str | Path) -> None:
    """Write the sample workbook to `path` (replaced whole: never left half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = build_workbook()
    fd, tmp = tempfile.mkstemp(prefix=".sample-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m diversify.sample PATH")
    write_sample(sys.argv[1])
    print(f"Sample workbook written to {sys.argv[1]}", file=sys.stderr)
