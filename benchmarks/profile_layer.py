"""Which functions the model layer spends its time in: cProfile, stage by stage.

    python benchmarks/profile_layer.py [--size large] [--top 8] [--out benchmarks/RESULTS.md]

Runs the stages of `diversify solve` one by one (read, derive, build, compile, solve =
compile again + HiGHS + solution back, outcome, tabulate, write, and one
scenario-alone re-solve as a figure worker runs it), each under its own profiler, and
times Python's cyclic garbage collector in each (`gc.callbacks`). Profiling slows pure
Python code down about twofold; the wall times shown are those of a plain pass.
Each pass runs in a fresh process, so one-off costs (imports on first use) show where
`diversify solve` pays them. The section goes into the output file between its own markers.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- BEGIN PROFILE (benchmarks/profile_layer.py) -->"
END = "<!-- END PROFILE -->"


class GcTimer:
    """Seconds spent in cyclic garbage collection while active."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0

    def __call__(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


def stages(book: Path, out: Path):
    """(label, thunk) pairs; each thunk runs one stage and returns what the next needs."""
    from diversify import engine, pipeline, solver
    from diversify.compiled import compile_sourcing, scenario_alone
    from diversify.derive import scenario_data, scenario_tree
    from diversify.model import build_model
    from diversify.planbook import write_plan_workbook
    from diversify.program import solve_program
    from diversify.results import tabulate

    state: dict = {}

    def read():
        state["raw"], state["problem"] = pipeline.read_input(book)

    def derive():
        p = state["problem"]
        state["scenarios"] = scenario_data(p)
        state["tree"] = scenario_tree(state["scenarios"], p.years, p.settings.recourse)
        state["options"] = engine.settings_options(p)

    def build():
        p = state["problem"]
        state["sm"] = build_model(p, state["scenarios"], state["tree"], p.settings.risk_aversion)

    def compile_():
        state["compiled"] = compile_sourcing(state["sm"])

    def solve():
        c = state["compiled"]
        state["report"], _, state["solution"] = solver.solve(
            state["sm"].model, state["options"], cm=c.cm, load=False
        )

    def outcome():
        c = state["compiled"]
        state["core"] = engine._outcome(c, state["report"], state["solution"].col_value)

    def table():
        state["results"] = tabulate(state["problem"], state["core"])

    def write():
        p = state["problem"]
        info = pipeline.run_info(book, "solve", time.perf_counter(), p)
        write_plan_workbook(out, p, state["results"], state["raw"].sheets, info, True)

    def figure_task():
        core = state["core"]
        program, columns = scenario_alone(core.compiled, len(state["scenarios"]) - 1)
        solve_program(program, state["options"], engine._start(core.values, columns))

    return [
        ("read + validate (pipeline.read_input)", read),
        ("derive (scenario_data + scenario_tree)", derive),
        ("build (model.build_model)", build),
        ("compile + place columns (compiled.compile_sourcing), first call", compile_),
        ("solver.solve: hand-off + HiGHS + solution back", solve),
        ("outcome (engine._outcome)", outcome),
        ("tabulate (results.tabulate)", table),
        ("write (planbook.write_plan_workbook)", write),
        ("one figure re-solve: the last scenario alone (compiled.scenario_alone)", figure_task),
    ]


def one_pass(size: str, profiled: bool, top: int) -> list[dict]:
    """Every stage once in this process: wall and GC seconds, or the top functions."""
    sys.path.insert(0, str(HERE))
    from generate import make_workbook
    from run import MIP_GAP, SIZES, TIME_LIMIT_S

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        book = make_workbook(
            Path(tmp) / "input.xlsx",
            **SIZES[size],
            seed=0,
            time_limit_s=TIME_LIMIT_S,
            mip_gap=MIP_GAP,
        )
        from diversify.cli import tune_garbage_collection

        tune_garbage_collection()  # as the CLI does
        for label, thunk in stages(book, Path(tmp) / "plan.xlsx"):
            if not profiled:
                with GcTimer() as gct:
                    t0 = time.perf_counter()
                    thunk()
                    wall = time.perf_counter() - t0
                out.append({"label": label, "wall": wall, "gc": gct.seconds})
                continue
            prof = cProfile.Profile()
            prof.enable()
            thunk()
            prof.disable()
            rows = sorted(pstats.Stats(prof).stats.items(), key=lambda kv: -kv[1][2])[:top]
            out.append(
                {
                    "label": label,
                    "top": [
                        {
                            "own": tt,
                            "cum": ct,
                            "calls": nc,
                            "name": name,
                            "where": f"{_short(f)}:{line}",
                        }
                        for (f, line, name), (_cc, nc, tt, ct, _callers) in rows
                    ],
                }
            )
    return out


def fresh_pass(size: str, profiled: bool, top: int) -> list[dict]:
    """`one_pass` in a new process, so that first calls cost what they cost in the CLI."""
    from run import in_fresh_process

    flags = ("--profiled",) if profiled else ()
    return in_fresh_process(__file__, "--size", size, "--top", str(top), *flags)


def run(size: str, top: int) -> str:
    sys.path.insert(0, str(HERE))
    from run import SIZES

    dims = SIZES[size]
    plain = fresh_pass(size, False, top)
    profiles = fresh_pass(size, True, top)
    lines = [
        BEGIN,
        "",
        f"## Profile of the {size} instance, stage by stage",
        "",
        f"{dims['suppliers']}×{dims['materials']}×{dims['years']}×{dims['scenarios']}; "
        f"measured {time.strftime('%Y-%m-%d')}. Wall and GC seconds from a plain pass, the "
        "functions from a profiled pass (cProfile, about 2× slower on pure Python), each "
        "in a fresh process as `diversify solve` is: the "
        f"{top} functions with the most own time (tottime), with cumulative time and calls.",
        "",
    ]
    for stage, prof in zip(plain, profiles, strict=True):
        lines += [
            f"**{stage['label']}**: {stage['wall']:.3f} s wall, of which "
            f"{stage['gc']:.3f} s cyclic GC",
            "",
            "| own s | cum. s | calls | function |",
            "|---:|---:|---:|---|",
        ]
        for r in prof["top"]:
            lines.append(
                f"| {r['own']:.3f} | {r['cum']:.3f} | {r['calls']:,} | `{r['name']}` {r['where']} |"
            )
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _short(file: str) -> str:
    stdlib = sysconfig.get_paths()["stdlib"] + "/"
    for marker in (str(HERE.parent) + "/", "site-packages/", stdlib, "<frozen "):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--out", type=Path, help="insert the section into this Markdown file")
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--profiled", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child_out:
        a.child_out.write_text(json.dumps(one_pass(a.size, a.profiled, a.top)))
        return 0
    text = run(a.size, a.top)
    print(text)
    if a.out:
        sys.path.insert(0, str(HERE))
        from run import replace_section

        replace_section(a.out, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
