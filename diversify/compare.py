"""`diversify compare`: plan workbooks side by side (SPEC §5).

Each plan workbook already holds the figures of SPEC §4.6 (written by `solve` or
`evaluate`) and a copy of its input, so nothing is re-solved: the tables are read back
(`Summary` by figure key, `Scenario costs`, `Recovery`, `Shares`, `Concentration`,
`Plan`), the plans are checked to be comparable (same materials, same years), and laid
out side by side with the first plan as the reference: every figure, the plan's
differences by supplier, material and year, which plan wins on what, and charts.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart
from openpyxl.utils import get_column_letter

from diversify import __version__
from diversify.data import Plan, Problem
from diversify.derive import link_share, linked_suppliers, substitution_cost
from diversify.errors import InputError, Issue
from diversify.excel_out import (
    FORMATS,
    add_series,
    safe_value,
    save_atomic,
    title_sheet,
    write_run_sheet,
    write_table,
)
from diversify.planbook import UNIT_FORMAT, plan_sheet, read_plan, split_plan_workbook
from diversify.reader import RawWorkbook, load_raw, parse
from diversify.results import SUMMARY_FIGURES

# sheets a plan workbook must hold, and the columns read from each
NEEDED = {
    "Summary": ("key", "value"),
    "Scenario costs": ("scenario", "probability", "total_usd"),
    "Recovery": ("material", "year", "scenario", "shortfall_t"),
    "Shares": ("material", "year", "dimension", "origin", "share"),
    "Concentration": ("material", "year", "hhi", "avg_risk"),
}
# columns that sit beside one column per plan: no plan may be called so
RESERVED = {
    "figure",
    "unit",
    "key",
    "supplier",
    "material",
    "year",
    "scenario",
    "dimension",
    "origin",
}
SAME = 1e-6  # t or USD: below this two plans agree


# ---------------------------------------------------------------- reading plans back


@dataclass
class PlanBook:
    """What one plan workbook reports, read back."""

    name: str
    path: Path
    problem: Problem
    plan: Plan
    starts: dict[str, int]  # substitution option -> year it takes effect (taken ones)
    summary: dict[str, object]
    scenario_costs: pd.DataFrame
    recovery: pd.DataFrame
    shares: pd.DataFrame
    concentration: pd.DataFrame
    run: dict[str, object]
    inputs: dict[str, list[list]]
    sha256: str


def plan_names(paths: list[Path]) -> list[str]:
    """File stems, made unique (`plan`, `plan-2`, ...)."""
    taken, names = set(RESERVED), []
    for p in paths:
        base = Path(p).stem or "plan"
        name, k = base, 2
        while name.lower() in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name.lower())
        names.append(name)
    return names


def read_plan_book(path: Path, name: str, tables: bool = True) -> PlanBook:
    """Read a plan workbook written by `solve` or `evaluate`; InputError when it is not one.

    `tables=False`: the plan, its inputs, Summary and Run alone (what `stress` needs);
    the results tables are not read and stay empty."""
    path = Path(path)
    needed = NEEDED if tables else {"Summary": NEEDED["Summary"]}
    wanted = {s.lower() for s in needed} | {"run"}  # (not Explain, Scenario tree, ...)
    raw = load_raw(  # the results tables are diversify's own numbers: values alone, fast
        path,
        lambda t: plan_sheet(t) or t.strip().lower() in wanted,
        values_only=lambda t: t.strip().lower() in wanted,
    )
    inputs, plan_name = split_plan_workbook(raw)
    sheets = {n.strip().lower(): n for n in raw.sheets}
    missing = [s for s in needed if s.lower() not in sheets]
    if plan_name is None:
        missing.insert(0, "Plan")
    if not inputs:
        missing.append("Input Settings, Input Offers, ...")
    if missing:
        raise InputError(
            [
                Issue(
                    None,
                    None,
                    None,
                    f"{path} is not a plan workbook written by diversify: "
                    f"no sheet {', '.join(missing)}",
                )
            ]
        )
    try:
        problem = parse(_input_copy(raw, inputs))
    except InputError as exc:
        raise InputError([_located(path, i, "Input ") for i in exc.issues]) from exc
    try:
        plan, starts = read_plan(raw, problem)
    except InputError as exc:
        raise InputError([_located(path, i) for i in exc.issues]) from exc
    read = {s: _table(path, s, raw.sheets[sheets[s.lower()]], cols) for s, cols in needed.items()}
    read |= {s: pd.DataFrame(columns=list(cols)) for s, cols in NEEDED.items() if s not in read}
    summary = dict(zip(read["Summary"]["key"], read["Summary"]["value"], strict=True))
    run: dict[str, object] = {}
    if "run" in sheets:
        df = _table(path, "Run", raw.sheets[sheets["run"]], ())
        if {"item", "value"} <= set(df.columns):
            run = dict(zip(df["item"], df["value"], strict=True))
    return PlanBook(
        name,
        path,
        problem,
        plan,
        starts,
        summary,
        read["Scenario costs"],
        read["Recovery"],
        read["Shares"],
        read["Concentration"],
        run,
        inputs,
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def _input_copy(raw: RawWorkbook, inputs: dict[str, list[list]]) -> RawWorkbook:
    from diversify.pipeline import input_copy  # the one way to read a plan's input back

    return input_copy(raw, inputs)


def _located(path: Path, issue: Issue, prefix: str = "") -> Issue:
    sheet = f"{path.name}: {prefix}{issue.sheet}" if issue.sheet else path.name
    return Issue(sheet, issue.row, issue.column, issue.message)


def _table(path: Path, sheet: str, rows: list[list], needed: tuple[str, ...]) -> pd.DataFrame:
    """A results table: the first row holding every needed column is its header."""
    headers = [[_header(c.value) for c in row] for row in rows]
    h = next((i for i, hd in enumerate(headers) if any(hd) and all(n in hd for n in needed)), None)
    if h is None:
        raise InputError(
            [
                Issue(
                    f"{path.name}: {sheet}",
                    None,
                    None,
                    f"no table with the columns {', '.join(needed)}: not a plan workbook "
                    "written by diversify",
                )
            ]
        )
    header = headers[h]
    data = []
    for row in rows[h + 1 :]:
        values = [c.value for c in row][: len(header)]
        if all(v is None for v in values):
            continue
        data.append(values + [None] * (len(header) - len(values)))
    keep = [j for j, name in enumerate(header) if name]
    return pd.DataFrame(
        [[r[j] for j in keep] for r in data], columns=[header[j] for j in keep], dtype=object
    )


def _header(value) -> str:
    return "" if value is None else str(value).strip()


# ---------------------------------------------------------------- can they be compared?


def check_comparable(books: list[PlanBook]) -> None:
    """Same materials and same years, or InputError naming what differs."""
    ref = books[0]
    issues = []
    for b in books[1:]:
        if set(b.problem.materials) != set(ref.problem.materials):
            issues.append(
                Issue(
                    f"{b.path.name}: Input Materials",
                    None,
                    None,
                    f"plan {b.name} cannot be compared with {ref.name}: its materials are "
                    f"{', '.join(b.problem.materials)}, those of {ref.name} are "
                    f"{', '.join(ref.problem.materials)}",
                )
            )
        if b.problem.years != ref.problem.years:
            issues.append(
                Issue(
                    f"{b.path.name}: Input Settings",
                    None,
                    None,
                    f"plan {b.name} cannot be compared with {ref.name}: its years are "
                    f"{_span(b.problem.years)}, those of {ref.name} are {_span(ref.problem.years)}",
                )
            )
    if issues:
        raise InputError(issues)


def _span(years: list[int]) -> str:
    return f"{years[0]}-{years[-1]}"


def input_differences(books: list[PlanBook]) -> pd.DataFrame:
    """Sheet by sheet, where each plan's input copy differs from the first plan's."""
    ref = books[0]
    rows = []
    for b in books[1:]:
        mine = {n.strip().lower(): n for n in b.inputs}
        theirs = {n.strip().lower(): n for n in ref.inputs}
        for key in [*theirs, *(k for k in mine if k not in theirs)]:
            if key not in mine:
                rows.append([b.name, ref.name, theirs[key], f"only in {ref.name}'s input"])
            elif key not in theirs:
                rows.append([b.name, ref.name, mine[key], f"only in {b.name}'s input"])
            else:
                cells = _differing_cells(ref.inputs[theirs[key]], b.inputs[mine[key]])
                if cells:
                    shown = ", ".join(cells[:8]) + (", ..." if len(cells) > 8 else "")
                    rows.append(
                        [b.name, ref.name, mine[key], f"{len(cells)} cell(s) differ: {shown}"]
                    )
    return pd.DataFrame(rows, columns=["plan", "compared_with", "sheet", "difference"])


def _differing_cells(a: list[list], b: list[list]) -> list[str]:
    out = []
    for i in range(max(len(a), len(b))):
        ra = a[i] if i < len(a) else []
        rb = b[i] if i < len(b) else []
        for j in range(max(len(ra), len(rb))):
            va = ra[j].value if j < len(ra) else None
            vb = rb[j].value if j < len(rb) else None
            if not _same_cell(va, vb):
                out.append(f"{get_column_letter(j + 1)}{i + 1}")
    return out


def _same_cell(a, b) -> bool:
    if isinstance(a, str) and not a.strip():
        a = None
    if isinstance(b, str) and not b.strip():
        b = None
    if _is_number(a) and _is_number(b):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# ---------------------------------------------------------------- the comparison


@dataclass
class Comparison:
    """The plans side by side, as tidy tables; the first plan is the reference."""

    names: list[str]
    target: str
    plans: pd.DataFrame  # plan, file, command, input_file, sha256
    key_figures: pd.DataFrame  # plan, then one column per key figure
    winners: pd.DataFrame  # criterion, unit, best, best_value, runner_up, ...
    figures: pd.DataFrame  # figure, unit, key, one column per plan, differences
    plan_differences: pd.DataFrame  # supplier, material, year, plans, differences
    substitution_differences: pd.DataFrame  # option, material, each plan's start year
    scenario_costs: pd.DataFrame  # plan, scenario, probability, parts, total_usd
    cost_by_scenario: pd.DataFrame  # scenario, one column per plan
    shortfall: pd.DataFrame  # material, year, scenario, one column per plan
    shares: pd.DataFrame  # dimension, origin, material, year, one column per plan
    concentration: pd.DataFrame  # material, year, hhi <plan>..., avg_risk <plan>...
    dependence: pd.DataFrame  # origin, one column per plan
    inputs: pd.DataFrame  # plan, compared_with, sheet, difference
    warnings: list[str] = field(default_factory=list)

    @property
    def n_differences(self) -> int:
        return 0 if "supplier" not in self.plan_differences else len(self.plan_differences)

    @property
    def n_substitution_differences(self) -> int:
        subs = self.substitution_differences
        return 0 if "option" not in subs else len(subs)


KEY_FIGURES = (
    ("objective_usd", "USD"),
    ("expected_cost_usd", "USD"),
    ("cvar_usd", "USD"),
    ("first_scenario_cost_usd", "USD"),
    ("worst_scenario_cost_usd", "USD"),
    ("expected_shortfall_t", "t"),
    ("dependence_share", "share"),
    ("peak_hhi", "hhi"),
    ("peak_avg_risk", "risk"),
    ("breaches", "int"),
)
# (key, criterion): the plan with the lowest value wins each
CRITERIA = (
    ("expected_cost_usd", "Lowest expected cost"),
    ("cvar_usd", "Lowest CVaR of cost"),
    ("first_scenario_cost_usd", "Lowest cost in the normal world (first scenario)"),
    ("worst_scenario_cost_usd", "Lowest cost in the worst scenario"),
    ("objective_usd", "Lowest objective (expected cost + λ·CVaR; λ as each input sets it)"),
    ("expected_shortfall_t", "Lowest expected shortfall"),
    ("dependence_share", "Lowest dependence on {target} (max share, any link)"),
    ("peak_hhi", "Lowest peak country concentration (max HHI over materials, years)"),
    ("peak_avg_risk", "Lowest peak average supplier risk (max over materials, years)"),
    ("breaches", "Fewest broken rules"),
)


def compare(books: list[PlanBook], target: str | None = None) -> Comparison:
    """Lay the plans side by side (they must be comparable: `check_comparable`)."""
    names = [b.name for b in books]
    dependence = dependence_table(books)
    if target is None:
        target = default_target(dependence)
    elif target not in set(dependence["origin"]):
        raise InputError(
            [
                Issue(
                    None,
                    None,
                    "--target",
                    f"no supplier of these plans has {target!r} as its country, ore origin or "
                    "processing country (targets are case-sensitive); they name: "
                    + ", ".join(sorted(map(str, dependence["origin"]))),
                )
            ]
        )
    inputs = input_differences(books)
    key = key_figure_table(books, target)
    return Comparison(
        names=names,
        target=target,
        plans=pd.DataFrame(
            [
                [
                    b.name,
                    str(b.path),
                    b.run.get("command"),
                    b.run.get("input_file"),
                    b.sha256,
                ]
                for b in books
            ],
            columns=["plan", "file", "command", "input_file", "sha256"],
        ),
        key_figures=key,
        winners=winner_table(key, target),
        figures=figure_table(books),
        plan_differences=plan_difference_table(books),
        substitution_differences=substitution_difference_table(books),
        scenario_costs=pd.concat(
            [b.scenario_costs.assign(plan=b.name) for b in books], ignore_index=True
        ).pipe(lambda df: df[["plan", *(col for col in df.columns if col != "plan")]]),
        cost_by_scenario=_wide(books, lambda b: b.scenario_costs, ["scenario"], "total_usd"),
        shortfall=_wide(
            books, lambda b: b.recovery, ["material", "year", "scenario"], "shortfall_t"
        ),
        shares=_wide(
            books, lambda b: b.shares, ["dimension", "origin", "material", "year"], "share", 0.0
        ),
        concentration=pd.merge(
            _wide(books, lambda b: b.concentration, ["material", "year"], "hhi", prefix="hhi "),
            _wide(
                books,
                lambda b: b.concentration,
                ["material", "year"],
                "avg_risk",
                prefix="avg_risk ",
            ),
            on=["material", "year"],
            how="outer",
            sort=False,
        ),
        dependence=dependence,
        inputs=inputs,
        warnings=_input_warnings(books, inputs) + _stale_plan_warnings(books),
    )


def _number(v) -> float | None:
    """A figure read back from a cell: a finite number, or None."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return None
    return float(v) if _is_number(v) and math.isfinite(v) else None


def _peak(df: pd.DataFrame, column: str) -> float | None:
    values = [x for x in (_number(v) for v in df[column]) if x is not None]
    return max(values) if values else None


def key_figure_table(books: list[PlanBook], target: str) -> pd.DataFrame:
    rows = []
    for b in books:
        s = b.summary
        rows.append(
            [
                b.name,
                s.get("status"),
                *(_number(s.get(k)) for k, _ in KEY_FIGURES[:6]),
                link_share(b.problem, b.plan, target) if target else None,
                _peak(b.concentration, "hhi"),
                _peak(b.concentration, "avg_risk"),
                _number(s.get("breaches")),
            ]
        )
    return pd.DataFrame(rows, columns=["plan", "status", *(k for k, _ in KEY_FIGURES)])


def winner_table(key: pd.DataFrame, target: str) -> pd.DataFrame:
    """Per criterion the plan(s) with the lowest value (ties named together) and the margin
    to the next best."""
    rows = []
    units = dict(KEY_FIGURES)
    for k, label in CRITERIA:
        label = label.format(target=target or "?")
        values = [(p, _number(v)) for p, v in zip(key["plan"], key[k], strict=True)]
        values = [(p, v) for p, v in values if v is not None]
        if not values:
            rows.append([label, "n/a", None, None, None, None, units[k], k])
            continue
        best = min(v for _, v in values)
        tol = SAME + 1e-9 * abs(best)
        winners = [p for p, v in values if v <= best + tol]
        others = sorted(((v, p) for p, v in values if v > best + tol), key=lambda x: x[0])
        runner, runner_value = (others[0][1], others[0][0]) if others else (None, None)
        margin = None if runner_value is None else runner_value - best
        rows.append([label, ", ".join(winners), best, runner, runner_value, margin, units[k], k])
    return pd.DataFrame(
        rows,
        columns=[
            "criterion",
            "best",
            "best_value",
            "runner_up",
            "runner_up_value",
            "margin",
            "unit",
            "key",
        ],
    )


def figure_table(books: list[PlanBook]) -> pd.DataFrame:
    """Every figure of the Summary sheets (SPEC §4.6), with differences to the first plan."""
    ref = books[0]
    rows = []
    for key, label, unit in SUMMARY_FIGURES:
        values = [b.summary.get(key) for b in books]
        base = _number(values[0])
        diffs = []
        for v in values[1:]:
            x = _number(v)
            diffs.append(None if x is None or base is None or key == "status" else x - base)
        rows.append([label, unit, key, *values, *diffs])
    columns = ["figure", "unit", "key", *(b.name for b in books)]
    columns += [f"Δ {b.name} − {ref.name}" for b in books[1:]]
    return pd.DataFrame(rows, columns=columns)


def plan_difference_table(books: list[PlanBook]) -> pd.DataFrame:
    """Supplier, material, year, each plan's tonnes, differences to the first plan.

    Only rows where some plan differs from the first; one line saying so when none does.
    """
    ref = books[0]
    order: dict[tuple[str, str], int] = {}
    for b in books:
        for offer in b.problem.offers:
            order.setdefault(offer, len(order))
    keys = sorted(
        {k for b in books for k in b.plan}, key=lambda k: (order.get(k[:2], len(order)), k[2])
    )
    rows = []
    for k in keys:
        values = [b.plan.get(k, 0.0) for b in books]
        diffs = [v - values[0] for v in values[1:]]
        if any(abs(d) > SAME for d in diffs):
            rows.append([*k, *values, *diffs])
    if not rows:
        return pd.DataFrame(
            {
                "difference": [
                    "None: every plan contracts the same tonnes from every supplier, "
                    "material and year as " + ref.name + "."
                ]
            }
        )
    columns = ["supplier", "material", "year", *(b.name for b in books)]
    columns += [f"Δ {b.name} − {ref.name}" for b in books[1:]]
    return pd.DataFrame(rows, columns=columns)


def substitution_difference_table(books: list[PlanBook]) -> pd.DataFrame:
    """Option, material, the year each plan takes it from ("not taken"): the options
    whose start differs from the first plan's; one line saying so when none does."""
    ref = books[0]
    options: dict[str, str] = {}
    for b in books:
        for o, sub in b.problem.substitutions.items():
            options.setdefault(o, sub.material)
    rows = []
    for o, material in options.items():
        years = [b.starts.get(o) for b in books]
        if any(y != years[0] for y in years[1:]):
            rows.append([o, material, *("not taken" if y is None else y for y in years)])
    if not rows:
        what = (
            "takes the same substitution options in the same years"
            if options
            else ("has no substitution options")
        )
        return pd.DataFrame({"difference": [f"None: every plan {what} as {ref.name}."]})
    return pd.DataFrame(rows, columns=["option", "material", *(b.name for b in books)])


def _wide(
    books: list[PlanBook],
    table,
    index: list[str],
    value: str,
    fill: float | None = None,
    prefix: str = "",
) -> pd.DataFrame:
    """One row per index value met in any plan (first plan's order first), a column per plan."""
    rows: dict[tuple, list] = {}
    for i, b in enumerate(books):
        df = table(b)
        if value not in df.columns:
            continue
        for rec in df[[*index, value]].itertuples(index=False):
            key = tuple(rec[:-1])
            rows.setdefault(key, [fill] * len(books))[i] = _number(rec[-1])
    return pd.DataFrame(
        [[*k, *v] for k, v in rows.items()],
        columns=[*index, *(prefix + b.name for b in books)],
    )


def dependence_table(books: list[PlanBook]) -> pd.DataFrame:
    """Each origin named by any supplier (any link: country, ore origin or processing
    country): per plan the largest share over materials and years (as `frontier` caps it),
    then the share of all contracted tonnes. The reference plan's heaviest first."""
    origins: dict[str, None] = {}
    for b in books:
        for s in b.problem.suppliers.values():
            for c in (s.country, s.ore_origin, s.processing_country):
                origins.setdefault(c, None)
    rows = [
        [
            o,
            *(link_share(b.problem, b.plan, o) for b in books),
            *(overall_share(b.problem, b.plan, o) for b in books),
        ]
        for o in origins
    ]
    rows.sort(key=lambda r: (-r[1], -r[1 + len(books)], str(r[0])))
    return pd.DataFrame(
        rows, columns=["origin", *(b.name for b in books), *(f"overall {b.name}" for b in books)]
    )


def overall_share(problem: Problem, plan: Plan, target: str) -> float:
    """Share of every contracted tonne (all materials, all years) linked to TARGET."""
    total = sum(plan.values())
    hit = set(linked_suppliers(problem, target))
    linked = sum(q for (s, _, _), q in plan.items() if s in hit)
    return linked / total if total > 0 else 0.0


def default_target(dependence: pd.DataFrame) -> str:
    """China when a supplier is linked to it, else the origin the reference depends on most."""
    origins = [str(o) for o in dependence["origin"]]
    if "China" in origins or not origins:
        return "China" if origins else ""
    return origins[0]


def _input_warnings(books: list[PlanBook], diff: pd.DataFrame) -> list[str]:
    out = []
    for plan, group in diff.groupby("plan", sort=False):
        sheets = ", ".join(group["sheet"].astype(str))
        out.append(
            f"the inputs of {plan} differ from those of {books[0].name} in: {sheets} "
            "(see the sheet Inputs)"
        )
    return out


def _stale_plan_warnings(books: list[PlanBook]) -> list[str]:
    """A Plan sheet edited after its figures were computed: the volumes disagree."""
    out = []
    for b in books:
        if "volume_t" not in b.concentration:
            continue
        stored: dict[tuple[str, int], float] = {}
        for m, t, v in b.concentration[["material", "year", "volume_t"]].itertuples(index=False):
            if _number(t) is not None:
                stored[(str(m), int(_number(t)))] = _number(v) or 0.0
        planned: dict[tuple[str, int], float] = {}
        for (_, m, t), q in b.plan.items():
            planned[(m, t)] = planned.get((m, t), 0.0) + q
        if any(
            abs(stored.get(k, 0.0) - planned.get(k, 0.0)) > 1e-6 * max(1.0, planned.get(k, 0.0))
            for k in stored.keys() | planned.keys()
        ):
            out.append(
                f"{b.name}: its Plan sheet does not match the figures stored with it (edited "
                f"after it was solved?): run `diversify evaluate {b.path}` and compare that"
            )
        elif _stale_substitutions(b):
            out.append(
                f"{b.name}: its Substitution plan sheet does not match the figures stored "
                f"with it (edited after it was solved?): run `diversify evaluate {b.path}` "
                "and compare that"
            )
    return out


def _stale_substitutions(b: PlanBook) -> bool:
    """Does the stored substitution cost differ from what the plan's options cost?"""
    costs = b.scenario_costs
    if "substitution_usd" not in costs or costs.empty:
        return False
    stored = _number(costs["substitution_usd"].iloc[0]) or 0.0
    planned = sum(substitution_cost(b.problem, o, t) for o, t in b.starts.items())
    return abs(stored - planned) > 1e-6 * max(1.0, abs(planned))


def comparison_json(c: Comparison, output: Path | None) -> dict[str, object]:
    figures = {
        row["plan"]: {k: _plain(row[k]) for k in ("status", *(k for k, _ in KEY_FIGURES))}
        for _, row in c.key_figures.iterrows()
    }
    return {
        "status": "ok",
        "plans": c.names,
        "figures": figures,
        "target": c.target,
        "winners": {
            row["key"]: (row["best"].split(", ") if row["best"] != "n/a" else [])
            for _, row in c.winners.iterrows()
        },
        "plan_differences": c.n_differences,
        "substitution_differences": c.n_substitution_differences,
        "input_differences": [
            {"plan": r.plan, "sheet": r.sheet, "difference": r.difference}
            for r in c.inputs.itertuples(index=False)
        ],
        "output": None if output is None else str(output),
        "warnings": c.warnings,
    }


def _plain(v):
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# ---------------------------------------------------------------- the workbook


def write_comparison(path: Path, c: Comparison, force: bool = False) -> None:
    """Summary first (winners, key figures, chart), then every table; saved atomically."""
    wb = Workbook()
    _summary_sheet(wb.active, c)
    ws = wb.create_sheet("Figures")
    write_table(ws, c.figures, freeze="D2")
    for i, unit in enumerate(c.figures["unit"], start=2):
        fmt = FORMATS.get(UNIT_FORMAT.get(unit, ""))
        if fmt:
            for j in range(4, len(c.figures.columns) + 1):
                ws.cell(i, j).number_format = fmt
    diff = c.plan_differences
    write_table(
        wb.create_sheet("Plan differences"),
        diff,
        {col: "t" for col in diff.columns[3:]} if "supplier" in diff else {},
        freeze="D2" if "supplier" in diff else None,
    )
    subs = c.substitution_differences
    write_table(
        wb.create_sheet("Substitution differences"),
        subs,
        {n: "int" for n in c.names} if "option" in subs else {},
        freeze="C2" if "option" in subs else None,
    )
    ws = wb.create_sheet("Cost by scenario")
    write_table(ws, c.cost_by_scenario, {n: "USD" for n in c.names}, freeze="B2")
    _bar_chart(
        ws,
        "Cost by scenario and plan (discounted USD)",
        len(c.cost_by_scenario),
        2,
        1 + len(c.names),
        1,
    )
    costs = c.scenario_costs
    write_table(
        wb.create_sheet("Scenario costs"),
        costs,
        {col: "USD" for col in costs.columns if str(col).endswith("_usd")}
        | {"probability": "prob"},
        freeze="C2",
    )
    write_table(wb.create_sheet("Shortfall"), c.shortfall, {n: "t" for n in c.names}, freeze="D2")
    write_table(wb.create_sheet("Shares"), c.shares, {n: "share" for n in c.names}, freeze="E2")
    write_table(
        wb.create_sheet("Concentration"),
        c.concentration,
        {f"hhi {n}": "hhi" for n in c.names} | {f"avg_risk {n}": "risk" for n in c.names},
        freeze="C2",
    )
    write_table(
        wb.create_sheet("Dependence"),
        c.dependence,
        {col: "share" for col in c.dependence.columns[1:]},
        freeze="B2",
    )
    inputs = c.inputs
    if inputs.empty:
        inputs = pd.DataFrame({"difference": ["Every plan has the same input as the first."]})
    write_table(wb.create_sheet("Inputs"), inputs)
    write_table(wb.create_sheet("Plans"), c.plans)
    write_table(
        wb.create_sheet("Warnings"), pd.DataFrame({"warning": c.warnings or ["No warnings."]})
    )
    run = {
        "tool": f"diversify {__version__}",
        "command": "compare",
        "plans": ", ".join(c.names),
        "reference": c.names[0],
        "dependence_target": c.target,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_run_sheet(wb, run)
    save_atomic(wb, path, force)


def _summary_sheet(ws, c: Comparison) -> None:
    title_sheet(ws, "Summary", "diversify — plans compared")
    safe_value(
        ws["A2"],
        f"Plans: {', '.join(c.names)}. Reference (differences against it): {c.names[0]}. "
        "Figures as stored in each plan workbook.",
    )
    safe_value(
        ws["A3"],
        f"Plan differences: {c.n_differences} supplier/material/year row(s)"
        + (f"; {len(c.warnings)} warning(s), see Warnings" if c.warnings else ""),
    )
    winners = c.winners.drop(columns=["key"])
    start = 5
    write_table(ws, winners, start_row=start, freeze="A1", autofilter=False)
    for i, unit in enumerate(winners["unit"], start=start + 1):
        for j in (3, 5, 6):  # best_value, runner_up_value, margin
            ws.cell(i, j).number_format = FORMATS[unit]
    key_row = start + len(winners) + 3
    key = c.key_figures
    write_table(
        ws,
        key,
        {k: unit for k, unit in KEY_FIGURES},
        start_row=key_row,
        freeze="A1",
        autofilter=False,
    )
    cols = list(key.columns)
    _bar_chart(
        ws,
        "Expected cost and CVaR per plan (USD)",
        len(key),
        cols.index("expected_cost_usd") + 1,
        cols.index("cvar_usd") + 1,
        1,
        header_row=key_row,
        anchor=f"A{key_row + len(key) + 3}",
    )
    ws.column_dimensions["A"].width = 60


def _bar_chart(
    ws,
    title: str,
    n_rows: int,
    min_col: int,
    max_col: int,
    category_col: int,
    header_row: int = 1,
    anchor: str | None = None,
) -> None:
    """Clustered bars: one series per column, one cluster per row."""
    if n_rows == 0:
        return
    chart = BarChart()
    chart.type, chart.grouping = "col", "clustered"
    chart.title, chart.y_axis.title = title, "USD"
    chart.y_axis.number_format = "#,##0"
    chart.x_axis.delete = chart.y_axis.delete = False
    add_series(chart, ws, header_row, n_rows, min_col, max_col, category_col)
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, anchor or f"A{header_row + n_rows + 3}")
