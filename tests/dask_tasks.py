"""Task functions for tests/test_execution.py, importable by Dask workers (the test
scheduler's workers get this folder on their PYTHONPATH; local workers inherit sys.path)."""

from __future__ import annotations

import os
import time


def square_slowly(seconds: float, x: int) -> int:
    time.sleep(seconds)
    return x * x


def worker_pid(_: object) -> int:
    time.sleep(0.2)
    return os.getpid()


def fail(x: int) -> int:
    raise ValueError(f"no square for {x}")


def offset_by(shared: tuple[int, int], x: int) -> int:
    """The shared data arrives as it was given (a tuple, not scattered item by item)."""
    assert isinstance(shared, tuple), type(shared)
    return shared[0] * x + shared[1]


def malloc_tuned(_: object) -> bool:
    """Whether this process set glibc's malloc thresholds (diversify.execution)."""
    from diversify import execution

    return bool(execution._malloc_tuned)
