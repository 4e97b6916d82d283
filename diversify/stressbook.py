"""The stress-test workbook of SPEC §8: `Stress summary` (figures, histogram, the ten
costliest samples), `Samples`, `Sample events` (continued on `Sample events 2`, … past
Excel's row limit), `Run`. It lays out; it computes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart

from diversify.excel_out import (
    FORMATS,
    SUBTITLE_FONT,
    BulkSheet,
    Columns,
    add_series,
    safe_value,
    save_atomic,
    title_sheet,
    write_run_sheet,
    write_table,
)

SAMPLES_HEADER = [
    "sample",
    "events",
    "hindsight_cost_usd",
    "policy_cost_usd",
    "hindsight_shortfall_t",
    "policy_shortfall_t",
]
SAMPLES_FORMATS = {
    "sample": "int",
    "hindsight_cost_usd": "USD",
    "policy_cost_usd": "USD",
    "hindsight_shortfall_t": "t",
    "policy_shortfall_t": "t",
}
EVENTS_HEADER = ["sample", "risk", "from_year", "to_year"]
FIGURE_ROWS = (
    ("mean cost", "mean_usd", "USD"),
    ("95 % CI of the mean: low", ("ci95_usd", 0), "USD"),
    ("95 % CI of the mean: high", ("ci95_usd", 1), "USD"),
    ("5th percentile", "p5_usd", "USD"),
    ("median", "p50_usd", "USD"),
    ("95th percentile", "p95_usd", "USD"),
    ("99th percentile", "p99_usd", "USD"),
    ("CVaR at cvar_alpha", "cvar_usd", "USD"),
    ("probability of any shortfall", "shortfall_probability", "prob"),
    ("its 95 % Wilson interval: low", ("shortfall_probability_ci95", 0), "prob"),
    ("its 95 % Wilson interval: high", ("shortfall_probability_ci95", 1), "prob"),
)


EXCEL_ROWS = 1_048_576  # rows of a sheet, the header's included


def split_rows(rows: Columns, title: str) -> dict[str, Columns]:
    """A table as sheets Excel can open: `title`, then `title 2`, … each with the
    header and at most EXCEL_ROWS - 1 rows (a million samples can have more events
    than one sheet holds)."""
    per = EXCEL_ROWS - 1
    parts = [rows.part(i, i + per) for i in range(0, len(rows), per)] or [rows]
    return {title if k == 0 else f"{title} {k + 1}": p for k, p in enumerate(parts)}


def _pick(fig: dict, key):
    return fig[key[0]][key[1]] if isinstance(key, tuple) else fig[key]


def figure_table(summary: dict) -> pd.DataFrame:
    rows = [
        (label, _pick(summary["hindsight"], key), _pick(summary["policy"], key), unit)
        for label, key, unit in FIGURE_ROWS
    ]
    for m in summary["hindsight"]["expected_shortfall_t"]:
        rows.append(
            (
                f"expected shortfall of {m} (t, summed over years)",
                summary["hindsight"]["expected_shortfall_t"][m],
                summary["policy"]["expected_shortfall_t"][m],
                "t",
            )
        )
    return pd.DataFrame(rows, columns=["figure", "hindsight", "policy", "unit"])


def histogram(hindsight: np.ndarray, policy: np.ndarray, bins: int = 20) -> pd.DataFrame:
    """Counts of both recoveries' costs in common equal-width bins."""
    lo, hi = float(min(hindsight.min(), policy.min())), float(max(hindsight.max(), policy.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    h, _ = np.histogram(hindsight, edges)
    p, _ = np.histogram(policy, edges)
    return pd.DataFrame(
        {
            "cost_from_usd": edges[:-1],
            "cost_to_usd": edges[1:],
            "label": [
                f"{a / 1e6:,.1f}-{b / 1e6:,.1f} M"
                for a, b in zip(edges[:-1], edges[1:], strict=True)
            ],
            "hindsight_samples": h,
            "policy_samples": p,
        }
    )


def write_stress_workbook(
    path: Path,
    summary: dict,
    samples_rows: Columns,
    event_rows: Columns,
    top: pd.DataFrame,
    hist: pd.DataFrame,
    run_info: dict[str, object],
    force: bool,
) -> None:
    """Lay out the stress test and save atomically (the long sheets streamed)."""
    wb = Workbook()
    ws = wb.active
    title_sheet(ws, "Stress summary", "diversify — stress test of a plan on sampled disruptions")
    safe_value(
        ws["A2"],
        f"Plan: {run_info.get('input_file', '')}   samples: {summary['samples']:,}   "
        f"seed: {summary['seed']}   in-sample expected cost (the plan's Summary): "
        + (
            f"{summary['in_sample_expected_cost_usd']:,.0f} USD"
            if summary["in_sample_expected_cost_usd"] is not None
            else "not stated"
        ),
    )
    safe_value(
        ws["A3"],
        "hindsight: the best recovery knowing the sample's whole future (a lower bound); "
        "policy: year by year without a forecast. The honest cost lies between the two.",
    )
    table = figure_table(summary)
    write_table(ws, table, start_row=5, freeze="A6", autofilter=False)
    for i, unit in enumerate(table["unit"], start=6):
        for j in (2, 3):
            ws.cell(i, j).number_format = FORMATS[unit]
    row = 6 + len(table) + 2
    ws.cell(row, 1, "Histogram of sampled costs").font = SUBTITLE_FONT
    write_table(
        ws,
        hist,
        {"cost_from_usd": "USD", "cost_to_usd": "USD"},
        start_row=row + 1,
        freeze="A6",
        autofilter=False,
    )
    chart = BarChart()
    chart.type, chart.title = "col", "Sampled cost of the plan (discounted USD)"
    chart.y_axis.title, chart.x_axis.title = "samples", "cost (million USD)"
    add_series(chart, ws, row + 1, len(hist), 4, 5, cat_col=3)
    ws.add_chart(chart, "G5")
    row += len(hist) + 4
    ws.cell(row, 1, "The ten costliest samples under the policy").font = SUBTITLE_FONT
    write_table(
        ws,
        top,
        {c: "USD" for c in top.columns if c.endswith("_usd")},
        start_row=row + 1,
        freeze="A6",
        autofilter=False,
    )
    ws.column_dimensions["A"].width = 48
    wb.create_sheet("Samples")
    event_sheets = split_rows(event_rows, "Sample events")
    for title in event_sheets:
        wb.create_sheet(title)
    write_run_sheet(wb, run_info)
    bulk = {
        "Samples": BulkSheet(samples_rows, SAMPLES_FORMATS),
        **{title: BulkSheet(rows, {"sample": "int"}) for title, rows in event_sheets.items()},
    }
    save_atomic(wb, path, force, bulk)
