"""Every kind of output workbook opens in a real spreadsheet application.

LibreOffice converts each to PDF and each sheet to CSV, headless; the converted
figures must be the ones the tool computed. Skipped where LibreOffice is not
installed, except in CI (`.ci/run` installs it), where that is a failure.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from workbooks import example_2, write_workbook

from diversify.cli import main

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
if SOFFICE is None and os.environ.get("CI"):
    raise RuntimeError("LibreOffice is not installed: .ci/run must install libreoffice-calc")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")

CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def convert(path: Path, fmt: str, tmp: Path) -> Path:
    """soffice exits 0 even when it cannot load a file: the output must exist and parse."""
    out = tmp / f"{fmt.split(':')[0]}-{path.stem}"
    out.mkdir(exist_ok=True)
    profile = (tmp / "profile").as_uri()  # a fresh profile: no stale settings or locks
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    sheets = example_2() | {
        "Risks": [
            ["risk", "scope", "target", "probability", "min_years", "max_years"],
            ["cn_ban", "any_link", "CN", 0.3, 1, 2],
        ]
    }
    src = write_workbook(d / "input.xlsx", sheets)
    solved = json.loads(run("solve", src, "-o", d / "plan.xlsx", "--json").stdout.splitlines()[-1])
    run("scenarios", src, "-o", d / "sampled.xlsx", "--samples", "50")
    run("stress", d / "plan.xlsx", "-o", d / "stress.xlsx", "--samples", "200")
    run("evaluate", d / "plan.xlsx", "-o", d / "evaluated.xlsx")
    run("compare", d / "plan.xlsx", d / "evaluated.xlsx", "-o", d / "compare.xlsx")
    run("frontier", src, "-o", d / "frontier.xlsx", "--target", "CN", "--points", "3")
    run("init", d / "sample.xlsx")
    return d, solved


@pytest.mark.parametrize(
    "name", ["plan", "evaluated", "compare", "frontier", "sample", "sampled", "stress"]
)
def test_opens_and_renders_to_pdf(outputs, name, tmp_path):
    d, _ = outputs
    pdf = convert(d / f"{name}.xlsx", "pdf", tmp_path) / f"{name}.pdf"
    assert pdf.exists(), f"LibreOffice could not open {name}.xlsx"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 2000


def summary_values(folder: Path, stem: str) -> dict[str, str]:
    with open(folder / f"{stem}-Summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return {r[3]: r[1] for r in rows if len(r) > 3 and r[3]}


@pytest.mark.parametrize("name", ["plan", "evaluated"])
def test_converted_figures_match_the_tool(outputs, name, tmp_path):
    d, solved = outputs
    folder = convert(d / f"{name}.xlsx", CSV_ALL_SHEETS, tmp_path)
    values = summary_values(folder, name)
    assert float(values["objective_usd"]) == pytest.approx(solved["objective_usd"], rel=1e-9)
    assert float(values["expected_cost_usd"]) == pytest.approx(solved["expected_cost_usd"])
    if name == "plan":
        assert float(values["evpi_usd"]) == pytest.approx(solved["evpi_usd"], rel=1e-9)
    with open(folder / f"{name}-Plan.csv", newline="", encoding="utf-8") as fh:
        plan = list(csv.reader(fh))
    assert plan[0] == ["supplier", "material", "2025", "2026"]
    assert {tuple(r[:2]) for r in plan[1:]} == {("CN1", "M"), ("BR1", "M")}
    with open(folder / f"{name}-Scenario costs.csv", newline="", encoding="utf-8") as fh:
        costs = {r[0]: float(r[-1]) for r in list(csv.reader(fh))[1:]}
    assert costs == pytest.approx(solved["scenario_costs_usd"])


def test_a_workbook_saved_as_ods_by_libreoffice_gets_told_how_to_save_it(outputs, tmp_path):
    d, _ = outputs
    ods = convert(d / "sample.xlsx", "ods", tmp_path) / "sample.ods"
    r = CliRunner().invoke(main, ["validate", str(ods)])
    assert r.exit_code == 2
    assert "OpenDocument spreadsheet (.ods" in r.stderr and "Excel 2007-365 (.xlsx)" in r.stderr


def test_the_stress_workbook_reads_back_in_libreoffice_as_written(outputs, tmp_path):
    d, _ = outputs
    r = CliRunner().invoke(
        main,
        ["stress", str(d / "plan.xlsx"), "-o", str(tmp_path / "s.xlsx"), "-n", "200", "--json"],
    )
    figures = json.loads(r.stdout.splitlines()[-1])
    folder = convert(tmp_path / "s.xlsx", CSV_ALL_SHEETS, tmp_path)
    with open(folder / "s-Samples.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["sample", "events", "hindsight_cost_usd", "policy_cost_usd"]
    policy = [float(row[3]) for row in rows[1:]]
    assert len(policy) == 200
    assert sum(policy) / len(policy) == pytest.approx(figures["policy"]["mean_usd"], rel=1e-9)


def test_the_plan_tables_read_back_in_libreoffice_as_written(outputs, tmp_path):
    """Recovery, Shares, Concentration, Scenario tree and Explain are streamed as XML
    (excel_out.table_sheet): LibreOffice reads every cell of them as the tool computed."""
    from diversify.pipeline import solve_workbook

    d, _ = outputs
    results = solve_workbook(d / "input.xlsx", None).results
    folder = convert(d / "plan.xlsx", CSV_ALL_SHEETS, tmp_path)
    tables = {
        "Recovery": results.recovery,
        "Shares": results.shares,
        "Concentration": results.concentration,
        "Scenario tree": results.tree,
        "Explain": results.explain,
    }
    for title, df in tables.items():
        with open(folder / f"plan-{title}.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == [str(c) for c in df.columns], title
        assert len(rows) == len(df) + 1, title
        for row, expected in zip(rows[1:], df.itertuples(index=False), strict=True):
            for cell, value in zip(row, expected, strict=True):
                if isinstance(value, str):
                    assert cell == value, title
                elif value is None or value != value:  # NaN: a blank cell
                    assert cell == "", title
                else:  # a share's cell keeps its percent sign in CSV
                    number = float(cell[:-1]) / 100 if cell.endswith("%") else float(cell)
                    assert number == pytest.approx(float(value), rel=1e-12, abs=1e-12), title
