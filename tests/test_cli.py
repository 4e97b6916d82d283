"""The command line end to end: exit codes, JSON, files written or not (SPEC §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from workbooks import example_1, example_2, example_4, write_workbook

from diversify.cli import main


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def ex2(tmp_path):
    return write_workbook(tmp_path / "ex2.xlsx", example_2())


def test_solve_spec_example_1_from_a_workbook(tmp_path):
    src = write_workbook(tmp_path / "ex1.xlsx", example_1())
    r = run("solve", src, "-o", tmp_path / "plan.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    out = last_json(r)
    assert out["status"] == "optimal"
    assert out["objective_usd"] == pytest.approx(680_000)
    assert out["evpi_usd"] == pytest.approx(0, abs=1e-6)
    assert out["scenario_costs_usd"] == {"base": pytest.approx(680_000)}


def test_solve_spec_example_2_figures(ex2, tmp_path):
    out = last_json(run("solve", ex2, "-o", tmp_path / "plan.xlsx", "--json"))
    assert out["objective_usd"] == pytest.approx(1_136_363.636, rel=1e-8)
    assert out["evpi_usd"] == pytest.approx(298_181.818, rel=1e-8)
    assert out["vss_usd"] == pytest.approx(1_445_454.545, rel=1e-8)
    for key in (
        "cvar_usd",
        "mip_gap",
        "solve_seconds",
        "price_of_resilience_usd",
        "value_of_resilience_usd",
    ):
        assert key in out


@pytest.mark.parametrize(
    "recourse, objective, evpi",
    [("nonanticipative", 920_000, 153_600), ("clairvoyant", 766_400, 0)],
)
def test_solve_spec_example_4_both_recourse_modes(tmp_path, recourse, objective, evpi):
    src = write_workbook(tmp_path / "ex4.xlsx", example_4(recourse))
    out = last_json(run("solve", src, "-o", tmp_path / "plan.xlsx", "--json"))
    assert out["objective_usd"] == pytest.approx(objective)
    assert out["evpi_usd"] == pytest.approx(evpi, abs=1e-6)


def test_solve_then_evaluate_reproduces_the_objective(ex2, tmp_path):
    plan = tmp_path / "plan.xlsx"
    solved = last_json(run("solve", ex2, "-o", plan, "--json"))
    r = run("evaluate", plan, "-o", tmp_path / "again.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    again = last_json(r)
    assert again["objective_usd"] == pytest.approx(solved["objective_usd"], rel=1e-9)
    assert again["breaches"] == []
    assert again["scenario_costs_usd"] == pytest.approx(solved["scenario_costs_usd"])


def test_edited_plan_is_costed_and_every_breach_listed(ex2, tmp_path):
    plan = tmp_path / "plan.xlsx"
    run("solve", ex2, "-o", plan)
    wb = load_workbook(plan)
    ws = wb["Plan"]
    assert [c.value for c in ws[1]] == ["supplier", "material", 2025, 2026]
    rows = {(r[0].value, r[1].value): r for r in ws.iter_rows(min_row=2)}
    rows[("CN1", "M")][2].value = 25  # capacity is 20
    rows[("BR1", "M")][2].value = 5  # BR1 can deliver from 2026 only
    wb.save(plan)
    r = run("evaluate", plan, "-o", tmp_path / "edited.xlsx", "--json")
    assert r.exit_code == 0, r.stderr
    out = last_json(r)
    text = " ".join(out["breaches"])
    assert "capacity" in text and "lead time" in text
    # 2025: 25 t of CN1 at 40 $/kg (surplus written off) + 5 t BR1 at 70 $/kg, all paid
    assert out["scenario_costs_usd"]["normal"] == pytest.approx(
        100_000 + 25 * 40_000 + 5 * 70_000 + 10 * 70_000 / 1.1
    )


def test_existing_output_needs_force(ex2, tmp_path):
    out = tmp_path / "plan.xlsx"
    out.write_bytes(b"precious")
    r = run("solve", ex2, "-o", out, "--json")
    assert r.exit_code == 2
    assert out.read_bytes() == b"precious"
    assert last_json(r)["status"] == "input_error"
    assert run("solve", ex2, "-o", out, "--force").exit_code == 0
    assert out.read_bytes()[:2] == b"PK"


def test_an_output_through_a_folder_not_yet_made_is_checked_where_it_lands(ex2, tmp_path):
    """`-o new/../x.xlsx` is x.xlsx once the writer makes `new`: found overwriting the
    input (with --force) and an existing file (without), as `new` did not exist when
    they were checked. Both refused now, and no folder is made."""
    before = ex2.read_bytes()
    r = run("solve", ex2, "-o", tmp_path / "new" / ".." / ex2.name, "--force")
    assert r.exit_code == 2 and "is an input of this command" in r.stderr
    other = tmp_path / "other.xlsx"
    other.write_bytes(b"precious")
    r = run("solve", ex2, "-o", tmp_path / "new" / ".." / "other.xlsx")
    assert r.exit_code == 2 and "pass --force" in r.stderr
    assert ex2.read_bytes() == before and other.read_bytes() == b"precious"
    assert not (tmp_path / "new").exists()


def test_an_exported_model_is_never_overwritten_unasked_nor_left_half_written(ex2, tmp_path):
    models = tmp_path / "models"
    assert run("solve", ex2, "-o", tmp_path / "a.xlsx", "--export-model", models).exit_code == 0
    lp = models / "ex2.lp"
    written = lp.read_bytes()
    assert b"\nmin\n" in written[:300]  # an LP file
    lp.write_bytes(b"precious")
    r = run("solve", ex2, "-o", tmp_path / "b.xlsx", "--export-model", models)
    assert r.exit_code == 2 and "pass --force" in r.stderr and lp.read_bytes() == b"precious"
    assert not (tmp_path / "b.xlsx").exists()  # refused before anything was solved
    r = run("solve", ex2, "-o", tmp_path / "b.xlsx", "--export-model", models, "--force")
    assert r.exit_code == 0 and lp.read_bytes() == written
    assert sorted(p.name for p in models.iterdir()) == ["ex2.lp"]  # no temporary file left
    r = run("solve", ex2, "-o", tmp_path / "c.xlsx", "--export-model", ex2, "--force")
    assert r.exit_code == 2 and "is a file but no .lp or .mps" in r.stderr
    for name in ("m.lp", "plan.csv", "plan"):  # a workbook is .xlsx, or Excel cannot open it
        r = run("solve", ex2, "-o", tmp_path / name, "--force")
        assert r.exit_code == 2 and "its name ends in .xlsx" in r.stderr
        assert not (tmp_path / name).exists()


def test_infeasible_rules_exit_3_and_write_nothing(tmp_path):
    sheets = example_2()
    sheets["Policy"] = [["rule", "value"], ["min_suppliers", 3]]
    src = write_workbook(tmp_path / "bad.xlsx", sheets)
    out = tmp_path / "plan.xlsx"
    r = run("solve", src, "-o", out, "--json")
    assert r.exit_code == 3
    j = last_json(r)
    assert j["status"] == "infeasible" and j["objective_usd"] is None
    assert "min_suppliers" in r.stderr
    assert not out.exists()


def test_bad_input_exit_2_with_every_error(tmp_path):
    sheets = example_2()
    sheets["Offers"][1][2] = "n/a"
    sheets["Scenarios"][2][1] = 0.3
    src = write_workbook(tmp_path / "bad.xlsx", sheets)
    r = run("solve", src, "-o", tmp_path / "plan.xlsx", "--json")
    assert r.exit_code == 2
    errors = last_json(r)["errors"]
    assert {e["sheet"] for e in errors} >= {"Offers", "Scenarios"}
    assert "Traceback" not in r.stderr
    assert run("validate", src).exit_code == 2


def test_validate_ok(ex2):
    r = run("validate", ex2)
    assert r.exit_code == 0
    assert "no input errors" in r.stderr


def test_formula_like_names_stay_text(tmp_path):
    sheets = example_1()
    evil = '=HYPERLINK("http://x","y")'
    sheets["Suppliers"][1][0] = evil
    sheets["Offers"][1][0] = evil
    src = write_workbook(tmp_path / "evil.xlsx", sheets)
    plan = tmp_path / "plan.xlsx"
    assert run("solve", src, "-o", plan).exit_code == 0
    wb = load_workbook(plan)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} became a formula"
    assert wb["Plan"]["A2"].value == evil


@pytest.mark.parametrize("command", ["init", "validate", "solve", "evaluate"])
def test_every_command_has_help_with_an_example(command):
    r = run(command, "--help")
    assert r.exit_code == 0
    assert "Example" in r.stdout


def test_workers_give_the_same_figures(ex2, tmp_path):
    serial = last_json(run("solve", ex2, "-o", tmp_path / "a.xlsx", "--json"))
    pooled = last_json(run("solve", ex2, "-o", tmp_path / "b.xlsx", "--json", "--workers", "2"))
    for key in ("objective_usd", "evpi_usd", "vss_usd", "price_of_resilience_usd"):
        assert pooled[key] == pytest.approx(serial[key], rel=1e-9)


def test_the_solve_path_does_not_import_scipy_stats():
    """Pyomo would import scipy.stats (about 1 s) as soon as scipy is imported;
    diversify/__init__.py tells it not to. Checked in a fresh process: the import
    order is what matters."""
    import subprocess
    import sys

    code = "import sys, diversify.pipeline; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_plan_tables_are_laid_out_as_every_table(ex2, tmp_path):
    """The long tables, streamed (excel_out.table_sheet), look as write_table's: a bold
    header, frozen and filtered; number formats per column; widths fitted."""
    from diversify.excel_out import FORMATS

    plan = tmp_path / "plan.xlsx"
    assert run("solve", ex2, "-o", plan).exit_code == 0
    wb = load_workbook(plan)
    expected = {"Recovery": "shortfall_t", "Shares": "share", "Explain": "usd_per_t"}
    for title in ("Recovery", "Shares", "Concentration", "Scenario tree", "Explain"):
        ws = wb[title]
        head = [c.value for c in ws[1]]
        assert all(c.font.b for c in ws[1]), title
        assert ws.freeze_panes == "A2", title
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(head)).column_letter}{ws.max_row}"
        width = ws.column_dimensions["A"].width
        assert width >= len(str(head[0])) + 2 and width != 16, title
        if title in expected and ws.max_row > 1:  # (ex2 has no binding rule to explain)
            j = head.index(expected[title]) + 1
            fmt = {"shortfall_t": "t", "share": "share", "usd_per_t": "USD"}[expected[title]]
            assert ws.cell(2, j).number_format == FORMATS[fmt], title


@pytest.mark.parametrize("command", ["solve", "validate", "frontier", "scenarios"])
def test_a_plan_workbook_given_as_input_is_one_clear_error(ex2, tmp_path, command):
    """Not five missing sheets each listing the plan's 20-odd sheets: what the file is,
    the input it came from and the command that re-costs it."""
    plan = tmp_path / "plan.xlsx"
    assert run("solve", ex2, "-o", plan).exit_code == 0
    args = [] if command == "validate" else ["-o", tmp_path / "out.xlsx"]
    r = run(command, plan, *args)
    assert r.exit_code == 2
    assert r.stderr.count("\n  ") == 1, r.stderr  # one issue
    assert "plan.xlsx is a plan workbook written by diversify" in r.stderr
    assert "ex2.xlsx, as its Run sheet says" in r.stderr
    assert "diversify evaluate" in r.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_a_missing_sheets_message_names_a_dozen_of_the_sheets_found(tmp_path):
    sheets = {f"Notes {k}": [["x"], [k]] for k in range(20)}
    r = run("validate", write_workbook(tmp_path / "in.xlsx", sheets))
    assert r.exit_code == 2
    line = next(x for x in r.stderr.splitlines() if "no sheet 'Settings'" in x)
    assert "'Notes 11'" in line and "'Notes 12'" not in line and "(20 in all)" in line


def test_stress_and_compare_need_neither_pyomo_nor_highs():
    """`stress` and `compare` solve nothing: the modules they run import no Pyomo model
    layer and no HiGHS (0.5-0.9 s of every run), only what reading and writing need."""
    import subprocess
    import sys

    code = (
        "import sys, diversify.cli, diversify.pipeline, diversify.compare, diversify.stress, "
        "diversify.stressbook, diversify.risks, diversify.pathflow; "
        "print(sorted(m for m in ('pyomo.environ', 'highspy', 'diversify.engine', "
        "'diversify.model') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("command", ["init", "solve", "evaluate", "compare"])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(ex2, tmp_path, command):
    """A file where a folder should be, or a folder that takes no file (/proc on Linux;
    root ignores permissions, so a chmod'ed folder would not do): exit 2 with the reason,
    before the input is solved, not an unexpected error once it is."""
    plan = tmp_path / "plan.xlsx"
    if command in ("evaluate", "compare"):
        assert run("solve", ex2, "-o", plan).exit_code == 0
    source = {"init": [], "solve": [ex2], "evaluate": [plan], "compare": [plan, plan]}[command]
    (tmp_path / "afile").write_text("not a folder")
    for target, reason in [
        (tmp_path / "afile" / "sub" / "out.xlsx", "afile is a file, not a folder"),
        (Path("/proc/out.xlsx"), "cannot be written in /proc"),
    ]:
        if not Path("/proc").is_dir() and str(target).startswith("/proc"):
            continue
        r = run(command, *source, *([] if command == "init" else ["-o"]), target)
        assert r.exit_code == 2, r.output
        assert reason in r.stderr and "Unexpected" not in r.stderr
        assert "optimal" not in r.stderr  # refused before solving


def test_a_file_system_refusal_while_writing_is_a_message_and_leaves_nothing(
    ex2, tmp_path, monkeypatch
):
    """A full disk as the finished file is renamed into place: the file named, no
    traceback, no temporary file left, nothing at the target."""
    import errno
    import os

    from diversify import files

    def full(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "replace", full)
    out = tmp_path / "plan.xlsx"
    r = run("solve", ex2, "-o", out)
    assert r.exit_code == 1
    assert f"{out} could not be written: No space left on device" in r.stderr
    assert "Traceback" not in r.stderr and "Unexpected" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ex2.xlsx"]
