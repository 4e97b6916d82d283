"""What the invariant checks of every solve cost beside the figures' re-solves.

    python benchmarks/figure_checks.py [--size large] [--risk-aversion 0.5]

Solves a synthetic workbook (`benchmarks/generate.py`) with every figure, timing the
re-solves (`engine.resilience_figures`) and, inside them, the checks
(`engine._plan_check`: each re-solve's plan re-costed on its own program, and
`engine.verify_figures`). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import make_workbook  # noqa: E402
from run import SIZES  # noqa: E402

from diversify import engine  # noqa: E402
from diversify.derive import scenario_data  # noqa: E402
from diversify.reader import read_problem  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="large", choices=sorted(SIZES))
    ap.add_argument("--risk-aversion", type=float, default=0.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_workbook(
            Path(tmp) / "bench.xlsx", **SIZES[a.size], risk_aversion=a.risk_aversion
        )
        problem = read_problem(path)
    options = engine.settings_options(problem)
    spent = {"checks": 0.0}
    for name in ("_plan_check", "verify_figures"):
        inner = getattr(engine, name)

        def timed(*args, _inner=inner, **kwargs):
            t0 = time.perf_counter()
            try:
                return _inner(*args, **kwargs)
            finally:
                spent["checks"] += time.perf_counter() - t0

        setattr(engine, name, timed)
    t0 = time.perf_counter()
    core = engine.optimise(problem, scenario_data(problem), a.risk_aversion, options)
    core_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.resilience_figures(problem, core, options)
    figures_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "size": a.size,
                "risk_aversion": a.risk_aversion,
                "core_seconds": round(core_s, 3),
                "figures_seconds": round(figures_s, 3),
                "checks_seconds": round(spent["checks"], 3),
                "checks_share_of_figures": round(spent["checks"] / figures_s, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
