"""Issue 14: the core solve against CBC on the concentrated family, seed by seed.

    python benchmarks/concentrated.py [--seeds 0,1,2,3,4] [--family concentrated|contracts|rules]
                                      [--out benchmarks/RESULTS.md]

For each seed a workbook of the concentrated family (`generate.make_concentrated`: 40
suppliers × 4 materials × 10 years × 12 scenarios, λ = 0.5 except on seed 2) is solved
three ways, one after the other in the same run (the machine is shared: compare within a
row): (a) `diversify`'s core solve (`engine.optimise`, its `solve_seconds`, heuristics
included), (b) CBC through PuLP on the textbook model (SPEC §4.1 with every binary:
`formulation.build(..., "every binary")`, with Rockafellar-Uryasev's dense rows
excess[w] >= C_w - eta, exported to MPS), (c) HiGHS alone on the same
MPS in a fresh process. Same mip_gap (1e-4) and time limit; the optima must agree.
`--family contracts` adds contract terms and substitution options to the same workbooks,
`--family rules` every kind of rule over part of the horizon and a harder twist per seed
(generate.RULES_TWISTS), `--family orders` minimum orders of half an offer's capacity
and more on top of that (where CBC came closest); each family has its own section of
the output file.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from formulation import build  # noqa: E402
from generate import make_concentrated  # noqa: E402
from run import in_fresh_process, machine, replace_section  # noqa: E402

FAMILY = "concentrated"  # or "contracts", "rules" (--family)
SEEDS = (0, 1, 2, 3, 4)
MIP_GAP = 1e-4
TIME_LIMIT_S = 300.0


def risk_aversion(seed: int) -> float:
    """λ = 0.5 on most seeds (CVaR in the objective), 0 on seed 2 (as in the issue)."""
    return 0.0 if seed == 2 else 0.5


def workbook(path: Path, seed: int) -> Path:
    return make_concentrated(
        path,
        seed=seed,
        family=FAMILY,
        risk_aversion=risk_aversion(seed),
        time_limit_s=TIME_LIMIT_S,
        mip_gap=MIP_GAP,
    )


def core(seed: int) -> dict:
    """diversify's core solve of one seed, in this (fresh) process."""
    from diversify.derive import scenario_data
    from diversify.engine import optimise, settings_options
    from diversify.reader import read_problem

    with tempfile.TemporaryDirectory() as tmp:
        problem = read_problem(workbook(Path(tmp) / "in.xlsx", seed))
    t0 = time.perf_counter()
    out = optimise(problem, scenario_data(problem), risk_aversion(seed), settings_options(problem))
    return {
        "core_s": out.report.solve_seconds,
        "core_wall_s": time.perf_counter() - t0,
        "core_objective": out.objective,
        "core_status": out.report.highs_status,
        "core_gap": out.report.mip_gap,
        "integers": int(out.compiled.program.integrality.sum()),
    }


def textbook(seed: int, mps: Path) -> dict:
    """The textbook model to MPS; CBC (PuLP) solves it here, HiGHS in a fresh process."""
    import pulp

    from diversify import model
    from diversify.program import SolveOptions, to_highs
    from diversify.reader import read_problem

    with tempfile.TemporaryDirectory() as tmp:
        problem = read_problem(workbook(Path(tmp) / "in.xlsx", seed))
    form, model.CVAR_FORM = model.CVAR_FORM, "dense"  # the textbook's CVaR rows
    try:
        program = build(problem, "every binary").program
    finally:
        model.CVAR_FORM = form
    to_highs(program, SolveOptions()).writeModel(str(mps))
    out = {"textbook_integers": int(program.integrality.sum())}
    args = ("--highs-mps", str(mps), "--gap", repr(MIP_GAP), "--limit", repr(TIME_LIMIT_S))
    highs = in_fresh_process(str(HERE / "run.py"), *args)
    out |= {
        "highs_s": highs["highs_mps_solve_s"],
        "highs_objective": highs["highs_mps_objective"],
        "highs_status": highs["highs_mps_status"],
    }
    _, prob = pulp.LpProblem.fromMPS(str(mps))
    log = mps.with_suffix(".cbc.log")
    cbc = pulp.PULP_CBC_CMD(msg=False, gapRel=MIP_GAP, timeLimit=TIME_LIMIT_S, logPath=str(log))
    t0 = time.perf_counter()
    status = prob.solve(cbc)
    out["cbc_pulp_wall_s"] = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    marker = "(Wallclock seconds):"
    out["cbc_s"] = float(text.split(marker)[1].split()[0]) if marker in text else None
    out["cbc_status"] = pulp.LpStatus[status]
    out["cbc_objective"] = (pulp.value(prob.objective) or 0.0) + program.offset
    return out


def measure(seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        row = {"seed": seed, "lambda": risk_aversion(seed)}
        row |= in_fresh_process(__file__, "--core", str(seed), "--family", FAMILY)
        row |= textbook(seed, Path(tmp) / "textbook.mps")
    objectives = [row["core_objective"], row["cbc_objective"], row["highs_objective"]]
    row["max_rel_diff"] = (max(objectives) - min(objectives)) / abs(row["core_objective"])
    return row


def render(rows: list[dict]) -> str:
    info = machine()
    begin, end = markers(FAMILY)
    lines = [
        begin,
        "",
        f"### {FAMILY.capitalize()} family, measured",
        "",
        f"Measured {info['date']} on {info['nproc']} shared cores ({info['cpu']}); HiGHS "
        f"{info['highs']}, PuLP {info['pulp']} (CBC, 1 thread); mip_gap {MIP_GAP:g}. "
        "Seconds: diversify = the core solve's `solve_seconds` (every LP, heuristic and "
        "MIP of `engine.optimise`); CBC = its own wall time (log), on the textbook model; "
        "HiGHS alone = `getRunTime` on the same textbook MPS.",
        "",
        "| seed | λ | integers (ours / textbook) | diversify core (s) | CBC textbook (s) "
        "| HiGHS alone, textbook (s) | speed-up vs CBC | objective (USD) | max rel. diff |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        speed = r["cbc_s"] / r["core_s"] if r["cbc_s"] and r["core_s"] else math.nan
        lines.append(
            f"| {r['seed']} | {r['lambda']:g} | {r['integers']} / {r['textbook_integers']} | "
            f"{r['core_s']:.2f} | {r['cbc_s']:.2f} | {r['highs_s']:.2f} | {speed:.1f}× | "
            f"{r['core_objective']:,.0f} | {r['max_rel_diff']:.1e} |"
        )
    speeds = [r["cbc_s"] / r["core_s"] for r in rows if r["cbc_s"] and r["core_s"]]
    if speeds:
        lines += [
            "",
            f"Speed-up against CBC: geometric mean {statistics.geometric_mean(speeds):.1f}×, "
            f"least {min(speeds):.1f}×.",
        ]
    return "\n".join([*lines, "", end])


def markers(family: str) -> tuple[str, str]:
    """The output file's section of a family (concentrated: the original markers)."""
    tag = "CONCENTRATED" if family == "concentrated" else f"CONCENTRATED {family.upper()}"
    return f"<!-- BEGIN {tag} (benchmarks/concentrated.py) -->", f"<!-- END {tag} -->"


def main(argv: list[str] | None = None) -> int:
    global FAMILY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--json", type=Path, help="also write the raw measurements here")
    ap.add_argument(
        "--family", choices=("concentrated", "contracts", "rules", "orders"), default=FAMILY
    )
    ap.add_argument("--core", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    FAMILY = a.family
    if a.core is not None:
        a.child_out.write_text(json.dumps(core(a.core)))
        return 0
    rows = []
    for seed in (int(s) for s in a.seeds.split(",")):
        rows.append(measure(seed))
        r = rows[-1]
        print(
            f"seed {seed}: diversify {r['core_s']:.2f} s, CBC {r['cbc_s']} s, "
            f"HiGHS alone {r['highs_s']:.2f} s, diff {r['max_rel_diff']:.1e}",
            file=sys.stderr,
            flush=True,
        )
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    begin, end = markers(FAMILY)
    replace_section(a.out, begin, end, render(rows))
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
