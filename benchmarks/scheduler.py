"""The commands through a running scheduler, 1 against 2 workers: issue 13's own check.

    python benchmarks/scheduler.py [--size large] [--pairs 3] [--points 7]
                                   [--samples 100000] [--only solve,frontier,stress]
                                   [--out benchmarks/RESULTS.md] [--json FILE]

On one synthetic instance (`benchmarks/generate.py`, seed 0), for each command: a
`dask scheduler` and N `dask worker --nthreads 1` on 127.0.0.1 are started, the command
runs end to end (`diversify solve|frontier|stress … --scheduler ADDRESS --json`, a
fresh process: reading, the model, every solve, writing the workbook), and the cluster
is stopped; N = 1 and N = 2 alternate, `--pairs` times (the machine's speed drifts
between identical runs, so only neighbours compare). The JSON of the two runs must be
the same but for timings and the output's path.

The machine's own ceiling is measured beside them: one HiGHS solve (a scenario alone
of the instance, five times) in one process, then in two processes at once; two cores
that share a socket's caches and memory, or a neighbour's load, make two solves at
once slower than one alone, and no scheduling can beat 2 × alone / (two at once).

The section between its markers in the output file is replaced; the rest is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
BEGIN = "<!-- BEGIN SCHEDULER (benchmarks/scheduler.py) -->"
END = "<!-- END SCHEDULER -->"


def markers(size: str) -> tuple[str, str]:
    """The section's markers: large's section, or one of its own for another size."""
    if size == "large":
        return BEGIN, END
    tag = f"SCHEDULER {size.upper()}"
    return BEGIN.replace("SCHEDULER", tag), END.replace("SCHEDULER", tag)


COMMANDS = ("solve", "frontier", "stress")
TIMINGS = {"solve_seconds", "run_seconds", "output"}

ONE_SOLVE = """
import sys, time
from diversify import engine
from diversify import program as hp
from diversify.compiled import scenario_alone
from diversify.derive import scenario_data
from diversify.reader import read_problem
problem = read_problem(sys.argv[1])
c, _ = engine.plan_task(problem, scenario_data(problem), problem.settings.risk_aversion)
program, _ = scenario_alone(c, 1)
options = engine.settings_options(problem)
hp.solve_task(options, (program, None))  # warm-up
t0 = time.perf_counter()
for _ in range(5):
    hp.solve_task(options, (program, None))
print(time.perf_counter() - t0)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and `workers` single-threaded workers on 127.0.0.1, as the planner
    starts them (`dask scheduler`, `dask worker ADDRESS`); stopped on the way out."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> str:
        from distributed import Client

        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = self.address.rsplit(":", 1)[1]
        self.procs.append(
            subprocess.Popen(
                [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", port]
                + ["--no-dashboard"],
                **quiet,
            )
        )
        for _ in range(self.workers):
            self.procs.append(
                subprocess.Popen(
                    [BIN / "dask", "worker", self.address, "--nthreads", "1", "--no-dashboard"],
                    **quiet,
                )
            )
        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(self.workers, timeout=60)
        return self.address

    def __exit__(self, *exc) -> None:
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def timed_run(args: list[str], workers: int) -> tuple[float, dict]:
    """The command through a fresh cluster of `workers`: wall seconds and its JSON."""
    with Cluster(workers) as address:
        t0 = time.perf_counter()
        done = subprocess.run(
            [BIN / "diversify", *args, "--json", "--force", "--scheduler", address],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"diversify {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def ceiling(book: Path) -> dict:
    """One HiGHS solve alone, then two at once: the most 2 cores give here."""

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", ONE_SOLVE, str(book)], stdout=subprocess.PIPE, text=True
        )

    rounds = []
    for _ in range(3):
        alone = float(start().communicate()[0])
        two = [start(), start()]
        together = max(float(p.communicate()[0]) for p in two)
        rounds.append((alone, together, 2 * alone / together))
    best = statistics.median(r[2] for r in rounds)
    return {"ceiling_rounds": rounds, "ceiling": best}


def measure(size: str, pairs: int, points: int, samples: int, commands: list[str]) -> dict:
    sys.path.insert(0, str(HERE))
    from generate import make_workbook
    from run import SIZES

    out: dict = {"size": size, **SIZES[size], "cores": os.cpu_count(), "pairs": pairs}
    out |= {"points": points, "samples": samples, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        book = Path(tmp) / "input.xlsx"
        make_workbook(book, **SIZES[size], seed=0, time_limit_s=300.0, mip_gap=1e-4)
        plan = Path(tmp) / "plan.xlsx"
        subprocess.run([BIN / "diversify", "solve", book, "-o", plan], check=True)
        argv = {
            "solve": ["solve", str(book), "-o", str(Path(tmp) / "out.xlsx")],
            "frontier": ["frontier", str(book), "-o", str(Path(tmp) / "out.xlsx")]
            + ["--points", str(points)],
            "stress": ["stress", str(plan), "-o", str(Path(tmp) / "out.xlsx")]
            + ["--samples", str(samples)],
        }
        out |= ceiling(book)
        print(f"ceiling: {out['ceiling']:.2f}x", file=sys.stderr)
        for command in commands:
            rows = []
            for k in range(pairs):
                (t1, j1), (t2, j2) = (timed_run(argv[command], n) for n in (1, 2))
                same = without_timings(j1) == without_timings(j2)
                rows.append({"one": t1, "two": t2, "ratio": t1 / t2, "same": same})
                print(f"{command} pair {k + 1}: {t1:.1f} / {t2:.1f} s", file=sys.stderr)
            out[command] = rows
    out["load_after"] = os.getloadavg()[0]
    return out


def render(r: dict) -> str:
    begin, end = markers(r["size"])
    lines = [
        begin,
        "",
        "## The commands through a running scheduler: 1 against 2 workers (issue 13's check)"
        + ("" if r["size"] == "large" else f", {r['size']}"),
        "",
        f"Instance {r['size']} ({r['suppliers']}×{r['materials']}×{r['years']}×"
        f"{r['scenarios']}), {r['cores']} cores; load average {r['load_before']:.2f} before, "
        f"{r['load_after']:.2f} after. Each run is the command end to end in a fresh process "
        "through a fresh `dask scheduler` with `dask worker --nthreads 1` processes; "
        "1 and 2 workers alternate, pair by pair.",
        "",
        "| command | pairs: 1 worker / 2 workers (s) | speed-up per pair | median | same JSON |",
        "|---|---|---|---|---|",
    ]
    label = {
        "solve": "`solve`, every figure",
        "frontier": f"`frontier --points {r['points']}`",
        "stress": f"`stress --samples {r['samples']:,}`",
    }
    for command in COMMANDS:
        rows = r.get(command)
        if not rows:
            continue
        times = ", ".join(f"{x['one']:.1f} / {x['two']:.1f}" for x in rows)
        ratios = ", ".join(f"{x['ratio']:.2f}×" for x in rows)
        median = statistics.median(x["ratio"] for x in rows)
        same = "yes" if all(x["same"] for x in rows) else "NO"
        lines.append(f"| {label[command]} | {times} | {ratios} | {median:.2f}× | {same} |")
    rounds = ", ".join(
        f"{alone:.2f} s alone / {two:.2f} s two at once" for alone, two, _ in r["ceiling_rounds"]
    )
    lines += [
        "",
        f"The machine's ceiling: one HiGHS solve (5 × a scenario alone) {rounds}: two "
        f"cores give at most {r['ceiling']:.2f}× (median), before any scheduling.",
        "",
        end,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from run import measured_or_rendered, output_options

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--points", type=int, default=7)
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--only", default=",".join(COMMANDS))
    output_options(ap)
    a = ap.parse_args(argv)
    commands = [c.strip() for c in a.only.split(",") if c.strip()]
    size = json.loads(a.render.read_text())["size"] if a.render else a.size
    return measured_or_rendered(
        a,
        lambda: measure(a.size, a.pairs, a.points, a.samples, commands),
        render,
        *markers(size),
    )


if __name__ == "__main__":
    raise SystemExit(main())
