"""Time `diversify scenarios` and `diversify stress` on the shipped sample (issue 11).

Targets (2 cores): `scenarios --samples 100000` <= 10 s; `stress` of the sample's optimised
plan with 10,000 samples <= 20 s end to end, 100,000 <= 3 min with peak memory <= 2 GiB.
Each command runs in a fresh process (the CLI, as a planner runs it); wall time and the
process's peak RSS are measured, and the table goes into RESULTS.md between markers.

    python benchmarks/sampling.py [--sizes 10000,100000] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import replace_section  # noqa: E402

SAMPLE = HERE.parent / "inputs" / "rare_earths_sample.xlsx"
BEGIN, END = "<!-- BEGIN sampling.py -->", "<!-- END sampling.py -->"


def timed(*args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `diversify` command in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "diversify.cli", *args, "-q", "--force"],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="stress sample counts")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.xlsx"
        subprocess.run(
            [sys.executable, "-m", "diversify.cli", "solve", str(SAMPLE), "-o", str(plan), "-q"],
            check=True,
            capture_output=True,
        )
        for n in (20_000, 100_000):
            s, mb = timed(
                "scenarios", str(SAMPLE), "-o", f"{tmp}/sampled.xlsx", "--samples", str(n)
            )
            rows.append((f"scenarios --samples {n:,}", s, mb))
        for n in map(int, args.sizes.split(",")):
            s, mb = timed("stress", str(plan), "-o", f"{tmp}/stress.xlsx", "--samples", str(n))
            rows.append((f"stress --samples {n:,} (optimised plan)", s, mb))
    lines = [
        BEGIN,
        f"### Sampling and stress test (issue 11), {time.strftime('%Y-%m-%d')}, "
        f"{len(os.sched_getaffinity(0))} cores",
        "",
        "| command on inputs/rare_earths_sample.xlsx | wall s | peak RSS MiB |",
        "|---|---|---|",
        *(f"| `{label}` | {s:.1f} | {mb:,.0f} |" for label, s, mb in rows),
        END,
    ]
    replace_section(args.out, BEGIN, END, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
