"""Where the parallel work runs: in this process, a local Dask cluster, or a running one.

Every embarrassingly parallel job of diversify (the re-solves of SPEC §4.6, the points
of `frontier`, the hindsight LPs of `stress`) is a list of tasks: a top-level function
and the plain data it needs (numpy and scipy arrays, a `Program`), never a live Pyomo or
solver object. This module alone decides where they run (STYLE: "one small layer decides
where tasks run, and nothing else in the code knows"):

* `workers=1`: every task in this process, in order;
* `workers=K > 1`: a local cluster of K single-threaded worker processes on 127.0.0.1;
* `scheduler=ADDRESS`: a running Dask cluster whose workers have diversify installed;
* neither: by measurement (`decide`): in this process when the work is small, a local
  cluster of one worker per core when it repays the cluster's start-up.

Whatever runs them, the results come back in the order of the payloads, and a task's
result depends on its payload alone (HiGHS with one thread and a fixed seed), so the
figures are the same to the last bit on one core, two workers or a cluster.

    with Executor(workers, scheduler, verbose) as executor:
        results = executor.map(solve_program, payloads, seconds_each=0.9)

A new parallel job needs no more than that: `stress`, say, builds its plan's recovery
LP here once and maps a top-level `hindsight(shared, sample)` over the samples with
`shared=` that LP (in arrays) and no `seconds_each` (a few samples are timed here to
size the batches); its command takes `--workers`/`--scheduler` (cli._parallel_options)
and opens `with Executor(workers, scheduler, verbose)` in its pipeline function.

Small tasks are batched (`batch_size`) so that scheduling (~1.5-3 ms a task, measured
in benchmarks/RESULTS.md) stays under 5 % of the work; data every task needs is passed
once as `shared` (scattered to each worker once, not shipped with every task).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from diversify.errors import DiversifyError, UsageError

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0  # a --scheduler that does not answer: exit 2 after this long
DASHBOARD_PROBE_S = 2.0  # --verbose: how long the dashboard's page may take to answer
# scheduling cost of one Dask task on the 2-vCPU benchmark machine (a no-op task, end
# to end: 1.5 ms idle, 2.5-7 ms under other runs' load); tasks are batched to take at
# least 20 times the loaded cost: overhead <= 5 % even then
TASK_OVERHEAD_S = 0.0075
MIN_TASK_S = 20 * TASK_OVERHEAD_S
# measured start-up + shut-down of a local cluster of 2 workers that import diversify's
# solver (benchmarks/RESULTS.md, "Where the work runs"): ~1.2 s; the cluster must repay
# it with room to spare, so K cores pay once the work W has W (1 - 1/K) >= 2 s
LOCAL_CLUSTER_COST_S = 1.2
PAYS_AFTER_S = 2.0


class TaskError(DiversifyError):
    """A task failed where it ran; the original error (and its traceback) is the cause."""

    exit_code = 1


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None  # Linux
    return len(usable) if usable else (os.cpu_count() or 1)


def decide(total_seconds: float, cores: int) -> int:
    """Workers for `total_seconds` of parallel work when the planner did not say: a
    local cluster of one worker per core once the time it saves, W (1 - 1/K), reaches
    PAYS_AFTER_S (its start-up and shut-down, ~1.2 s, with room for a misestimate);
    1 (this process) otherwise."""
    if cores < 2 or total_seconds * (1 - 1 / cores) < PAYS_AFTER_S:
        return 1
    return cores


def batch_size(n_tasks: int, seconds_each: float | None, workers: int) -> int:
    """Payloads per Dask task: enough that a task takes MIN_TASK_S, but never so many
    that fewer than 4 tasks per worker are left to balance the load."""
    if not seconds_each or seconds_each >= MIN_TASK_S or n_tasks <= workers:
        return 1
    balance = max(1, n_tasks // (4 * workers))
    return max(1, min(math.ceil(MIN_TASK_S / seconds_each), balance))


LONG_TASK_S = 1.0


def in_flight(workers: int, seconds_each: float | None) -> int:
    """Batches on the cluster at once: one per worker for long tasks (each worker gets
    its next when it finishes one: the round trip, a few ms, is nothing beside a
    second's solve), two per worker for short ones, so that none waits for it."""
    if seconds_each is not None and seconds_each >= LONG_TASK_S:
        return workers
    return 2 * workers


# glibc's malloc, as it settles once big blocks have been freed (its dynamic thresholds'
# ceilings): blocks under 32 MiB reused from the heap, not mapped and unmapped each time
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
_malloc_tuned: list[bool] = []


def tune_malloc() -> None:
    """Set glibc's malloc thresholds where the solves run (this process, every worker),
    once per process; elsewhere (another libc) nothing.

    A Dask nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes
    the mmap threshold at 128 KiB: each of HiGHS's and numpy's big buffers is then
    mapped fresh (page faults) and returned at once. Measured on one frontier point of
    the large benchmark, three rounds side by side: 4.05-4.36 s with that setting,
    3.82-3.96 s with glibc's defaults, 3.07-3.93 s with these (benchmarks/RESULTS.md)."""
    if _malloc_tuned:
        return
    _malloc_tuned.append(True)
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mallopt(m_mmap_threshold, MMAP_THRESHOLD)
    mallopt(m_trim_threshold, TRIM_THRESHOLD)


def _run_batch(fn: Callable[..., Any], shared: Any, payloads: list) -> list:
    """One Dask task: the function over a batch of payloads (top level: picklable)."""
    tune_malloc()
    if shared is None:
        return [fn(p) for p in payloads]
    return [fn(shared, p) for p in payloads]


def _quiet(_label: str) -> None:
    pass


def _stderr(text: str) -> None:
    print(f"diversify: {text}", file=sys.stderr)


def _handshake(address: str) -> None:
    """Dask's handshake with `address`, alone, before a Client is made: OSError unless a
    Dask server answers it within CONNECT_TIMEOUT_S. Something else that accepts the
    connection (a proxy, a web server) answers with bytes that Dask's client reads as
    frame lengths: it then asked numpy for 3 EiB (MemoryError, exit 1) and spent 20 s
    more closing itself."""
    import asyncio

    from distributed.comm import connect
    from distributed.comm.addressing import get_address_host_port

    get_address_host_port(address)  # ValueError: no address at all

    async def shake() -> None:
        comm = await connect(address, timeout=CONNECT_TIMEOUT_S)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(shake(), CONNECT_TIMEOUT_S))
    except (OSError, TimeoutError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the bytes it sent made of Dask's reader
        raise NotAScheduler(type(exc).__name__) from exc


class NotAScheduler(OSError):
    """Something accepted the connection and answered, but not Dask's handshake."""


class Executor:
    """Runs lists of tasks here or on Dask; owns the local cluster it starts.

    A context manager: on the way out every task still pending is cancelled and the
    local cluster (if one was started) is shut down, its worker processes with it,
    whether the run ended normally, with an error or with Ctrl-C. The cluster is started
    lazily, on the first `map` that uses it (or in the background by `expect`), and
    reused by every later `map`.
    """

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        verbose: bool = False,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be 1 or more, not {workers}")
        if workers is not None and scheduler is not None:
            raise UsageError("give --workers or --scheduler, not both")
        self.workers = workers
        self.scheduler = scheduler
        self.verbose = verbose
        self.log = log
        self._client = None
        self._cluster = None
        self._futures: list = []
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self.where = "this process"  # for the run's metadata and the benchmarks
        tune_malloc()  # the solves here (the core solve, tasks in this process)

    # ------------------------------------------------------------ the context

    def __enter__(self) -> Executor:
        if self.scheduler is not None:  # fail fast: before any solve, not after it
            self._connect(self.scheduler)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Cancel what is pending, close the client and stop a local cluster."""
        try:
            self._await_start()
        except BaseException:  # noqa: BLE001 - a start that failed leaves nothing to stop
            pass
        client, cluster, futures = self._client, self._cluster, self._futures
        self._client = self._cluster = None
        self._futures = []
        try:
            if client is not None and futures:
                client.cancel(futures, force=True)
        except Exception:  # noqa: BLE001 - the scheduler may be gone already
            pass
        finally:
            if client is not None:
                client.close(timeout=5)
            if cluster is not None:
                cluster.close(timeout=10)

    # ------------------------------------------------------------ running tasks

    def expect(self, total_seconds: float) -> None:
        """About `total_seconds` of parallel work will follow: start the local cluster
        it needs now, in the background, so that its start-up (~1-2 s) overlaps this
        process's own work (the core solve, the frontier's models) instead of adding
        to it. With --workers K > 1 it starts whatever the estimate."""
        if self.scheduler is not None or self._client is not None or self._starting:
            return
        workers = self.workers or decide(total_seconds, usable_cores())
        if workers > 1:
            self._starting = threading.Thread(
                target=self._start_quietly, args=(workers,), name="diversify-cluster"
            )
            self._starting.start()

    def _start_quietly(self, workers: int) -> None:
        try:
            self._start_local(workers)
        except BaseException as exc:  # noqa: BLE001 - raised again where it is awaited
            self._start_error = exc

    def _await_start(self) -> None:
        """Wait for a start begun by `expect`; raise its error, if any."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._start_error is not None:
            exc, self._start_error = self._start_error, None
            raise exc

    def map(
        self,
        fn: Callable[..., T],
        payloads: Iterable[Any],
        *,
        count: int | None = None,
        shared: Any = None,
        seconds_each: float | None = None,
        progress: Callable[[str], None] = _quiet,
        label: str = "tasks",
        meanwhile: Callable[[], None] | None = None,
    ) -> list[T]:
        """[fn(p) for p in payloads] (fn(shared, p) with `shared`), in payload order.

        `fn` must be a top-level function of an installed module and the payloads plain
        data: they may run in another process or on another machine. `payloads` may be
        a generator (then give `count`): on a cluster each is submitted as soon as it is
        made, so building payload k+1 here overlaps solving payload k there.
        `seconds_each` (an estimate of one task's time) sizes the batches and, without
        --workers or --scheduler, decides where they run; unknown, the first payloads
        (MIN_TASK_S of them) are run here and timed. `meanwhile` runs in this process
        while the workers solve, in a thread beside the batches (first, when everything
        runs here); what it raises is raised here. A task's error is raised as TaskError.
        """
        total = count if count is not None else len(payloads)  # type: ignore[arg-type]
        items: Iterator[Any] = iter(payloads)
        done: list[T] = []
        if seconds_each is None and total and self.workers != 1:
            seconds_each = self._time_a_few(fn, shared, items, total, done, progress, label)
        n = total - len(done)
        workers = self._workers_for(n, seconds_each)
        if not workers:
            if meanwhile is not None:
                meanwhile()
            for k, payload in enumerate(items, start=len(done) + 1):
                progress(f"{label} {k}/{total}")
                done.append(_call(fn, shared, payload, f"{label} {k}/{total}"))
            return done
        size = batch_size(n, seconds_each, workers)
        window = in_flight(workers, None if seconds_each is None else size * seconds_each)
        return done + self._on_cluster(
            fn, items, n, shared, size, window, progress, label, meanwhile
        )

    @property
    def parallel(self) -> bool:
        """Is a cluster up, or asked for (--workers K > 1, --scheduler)?"""
        return self._client is not None or self.scheduler is not None or (self.workers or 1) > 1

    def submit(
        self, fn: Callable[..., T], payload: Any, *, shared: Any = None, label: str = "task"
    ) -> Callable[[], T]:
        """fn(payload) (fn(shared, payload) with `shared`) started now on the cluster, while
        this process goes on; returns a function that waits for its result (a task's
        error raised as TaskError). A local cluster still starting (`expect`) does not
        hold this process up: the task is sent once it is up. Without a cluster (not
        `parallel`) the task runs in this process when its result is asked for: the
        result is the same either way."""
        if not self.parallel:
            return lambda: _call(fn, shared, payload, label)
        starting = self._starting
        if starting is None and self._client is None:
            self._start_local(self.workers or usable_cores())
        key = f"diversify-{label.replace(' ', '-')}-{uuid.uuid4().hex[:8]}"
        sent: list = []  # the future, or the error that kept the task from being sent

        def send() -> None:
            if starting is not None:
                starting.join()
            try:
                if self._client is not None:  # else the start failed: result() raises why
                    future = self._client.submit(
                        _run_batch, fn, shared, [payload], key=key, pure=False
                    )
                    sent.append(future)
                    self._futures.append(future)
            except Exception as exc:  # noqa: BLE001 - raised where the result is asked for
                sent.append(exc)

        sender = None
        if starting is None:
            send()
        else:
            sender = threading.Thread(target=send, name=f"diversify-{label}", daemon=True)
            sender.start()

        def result() -> T:
            if sender is not None:
                sender.join()
            if not sent:
                self._await_start()
                raise TaskError(f"{label}: the cluster went away before the task was sent")
            if isinstance(sent[0], Exception):
                raise _task_error(label, sent[0]) from sent[0]
            try:
                return sent[0].result()[0]
            except Exception as exc:  # noqa: BLE001 - reported to the planner as TaskError
                raise _task_error(label, exc) from exc

        return result

    @staticmethod
    def _time_a_few(fn, shared, items: Iterator[Any], total: int, done: list, progress, label):
        """Run payloads here until MIN_TASK_S has passed (or all are done) and return
        the time of one, the first left out: it pays HiGHS's and numpy's warm-up, and
        taken alone it made batches of 3 where 30 were due (small LPs, 2.5 ms each)."""
        t_first = started = time.perf_counter()
        for k, payload in enumerate(items, start=1):
            progress(f"{label} {k}/{total}")
            done.append(_call(fn, shared, payload, f"{label} {k}/{total}"))
            now = time.perf_counter()
            if k == 1:
                t_first = now
            if now - started >= MIN_TASK_S or k == total:
                break
        k = len(done)
        return (t_first - started) if k == 1 else (time.perf_counter() - t_first) / (k - 1)

    def _workers_for(self, n: int, seconds_each: float | None) -> int:
        """How many workers this map runs on, 0 for this process; starts the cluster.
        With --scheduler every task runs on the cluster, even on one worker (the planner
        sent the work there); a local cluster takes two tasks or more."""
        if n < 1 or (n == 1 and self.scheduler is None):
            return 0
        self._await_start()
        if self._client is not None:  # a scheduler, or a local cluster already paid for
            return self._cluster_workers()
        workers = self.workers
        if workers is None:
            workers = decide(n * (seconds_each or 0.0), usable_cores())
        if workers <= 1:
            return 0
        self._start_local(workers)
        return self._cluster_workers()

    def _on_cluster(
        self,
        fn: Callable[..., T],
        items: Iterator[Any],
        n: int,
        shared: Any,
        size: int,
        window: int,
        progress: Callable[[str], None],
        label: str,
        meanwhile: Callable[[], None] | None,
    ) -> list[T]:
        """The batches on the cluster, `window` of them there at once: a batch is sent
        when one finishes, and the next one is built here while the workers solve.

        So a batch never waits behind a busy worker while another worker idles, and the
        batches start in the order of the payloads. Sent all at once, Dask queued them
        on workers as they were when sent: on a 7-point frontier of the large benchmark
        one worker idled 1.4 s beside a queued point before work stealing moved it, and
        the other idled 4 s at the end (benchmarks/RESULTS.md)."""
        from distributed import as_completed

        client = self._client
        run_id = uuid.uuid4().hex[:8]
        data = None  # scattered in a list: a tuple or list would be scattered item by item
        if shared is not None:
            data = client.scatter([shared], broadcast=True, hash=False)[0]
            self._futures.append(data)
        batches = iter(lambda: list(islice(items, size)), [])
        sizes: list[int] = []
        index: dict[str, int] = {}
        sent: list[Any] = []  # the batches' futures, in the order of the payloads

        def send(batch: list) -> Any:
            key = f"diversify-{label.replace(' ', '-')}-{run_id}-{len(sent)}"
            future = client.submit(_run_batch, fn, data, batch, key=key, pure=False)
            index[key] = len(sent)
            sent.append(future)
            sizes.append(len(batch))
            self._futures.append(future)
            return future

        running = as_completed([send(batch) for batch in islice(batches, window)], loop=client.loop)
        beside = _Beside(meanwhile, lambda: client.cancel(list(sent)))
        ahead = next(batches, None)  # built here while the workers solve
        results: dict[str, list] = {}
        finished = 0
        where = f"on {self._cluster_workers()} workers"
        for future in running:
            beside.raise_its_error()
            if ahead is not None:
                running.add(send(ahead))
                ahead = next(batches, None)
            k = index[future.key]
            try:
                results[future.key] = future.result()
            except Exception as exc:  # noqa: BLE001 - reported to the planner as TaskError
                raise _task_error(f"{label} (batch {k + 1} of {len(sent)})", exc) from exc
            finished += sizes[k]
            progress(f"{label} {where}: {finished}/{n}")
        beside.join()
        return [r for future in sent for r in results[future.key]]

    # ------------------------------------------------------------ the cluster

    def _connect(self, address: str) -> None:
        """A client of a running scheduler; UsageError (exit 2) if it does not answer
        within CONNECT_TIMEOUT_S or has no worker."""
        import dask
        from distributed import Client

        dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT_S}s"})
        _quiet_logs(self.verbose)
        try:
            _handshake(address)
            client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except NotAScheduler as exc:
            raise UsageError(
                f"{address} answers, but not as a Dask scheduler (another service there, or a "
                "proxy?): give the address and port that `dask scheduler` printed, or run "
                "without --scheduler"
            ) from exc
        except ValueError as exc:
            raise UsageError(
                f"--scheduler {address} is not a scheduler's address ({exc}): give it as "
                "tcp://HOST:PORT, as `dask scheduler` prints it (tcp://10.0.0.5:8786, say)"
            ) from exc
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"no Dask scheduler answers at {address} (waited {CONNECT_TIMEOUT_S:g} s"
                f"{': ' + str(exc) if str(exc) else ''}). Start one (`dask scheduler`, then "
                f"`dask worker {address}` on each machine), or run without --scheduler"
            ) from exc
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            client.close()
            raise UsageError(
                f"the Dask scheduler at {address} has no worker (waited "
                f"{CONNECT_TIMEOUT_S:g} s): start `dask worker {address}` where diversify "
                "is installed"
            ) from exc
        self._client = client
        self.where = f"Dask scheduler {address}"
        self._show_dashboard()

    def _start_local(self, workers: int) -> None:
        """A local cluster: K single-threaded worker processes, on 127.0.0.1 only."""
        from distributed import Client, LocalCluster

        _quiet_logs(self.verbose)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # its HTTP server listens anyway: on loopback, a free port; the dashboard
            # pages only with --verbose
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": self.verbose},
            silence_logs=logging.WARNING if self.verbose else logging.CRITICAL,
        )
        try:
            client = Client(cluster, set_as_default=False)
            # Ctrl-C reaches the whole process group: leave it to this process, which
            # then stops the workers (a worker dying of it would be restarted instead)
            client.run(_ignore_interrupts)
        except BaseException:
            cluster.close()
            raise
        self._cluster, self._client = cluster, client
        self.where = f"a local cluster of {workers} worker processes"
        self._show_dashboard()

    def _cluster_workers(self) -> int:
        info = self._client.scheduler_info(n_workers=-1) if self._client else {}
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def _show_dashboard(self) -> None:
        if not self.verbose:
            return
        link = getattr(self._client, "dashboard_link", None)
        if link and _serves(link):
            self.log(f"{self.where}; Dask dashboard at {link}")
        elif self.scheduler is None:
            self.log(f"{self.where}; no Dask dashboard (pip install bokeh for one)")
        else:  # a scheduler's HTTP server runs without a dashboard (--no-dashboard, no bokeh)
            self.log(f"{self.where}; its scheduler serves no Dask dashboard")


class _Beside:
    """`meanwhile` run in a thread of this process while the batches are sent and
    gathered: run first, it held back every batch behind the window (the stress test's
    texts, 0.9 s for 100,000 samples; the figures' plan evaluations, which wait for the
    mean-value MIP): the workers idled meanwhile. A daemon, so that Ctrl-C or a task's
    error does not wait for it. If it fails, `stop` cancels the batches (so that the
    caller's wait ends) and the caller raises its error (`raise_its_error`, `join`)."""

    def __init__(self, meanwhile: Callable[[], None] | None, stop: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.thread = None
        if meanwhile is not None:
            self.thread = threading.Thread(
                target=self._run, args=(meanwhile, stop), name="diversify-meanwhile", daemon=True
            )
            self.thread.start()

    def _run(self, meanwhile: Callable[[], None], stop: Callable[[], None]) -> None:
        try:
            meanwhile()
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            self.error = exc
            stop()

    def raise_its_error(self) -> None:
        if self.error is not None:
            raise self.error

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        self.raise_its_error()


def _call(fn: Callable[..., T], shared: Any, payload: Any, label: str) -> T:
    """A task in this process, its error reported as a remote one would be."""
    try:
        return fn(payload) if shared is None else fn(shared, payload)
    except Exception as exc:  # noqa: BLE001 - reported to the planner as TaskError
        raise _task_error(label, exc) from exc


def _task_error(label: str, exc: BaseException) -> TaskError:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError | ImportError):
        text += " (do the Dask workers have diversify installed, the same version?)"
    if type(exc).__name__ == "KilledWorker":
        text += " (the task's worker died again and again: out of memory?)"
    return TaskError(f"a parallel task failed, {label}: {text}. Run with --debug for details")


def _ignore_interrupts() -> None:
    """In a local worker process: leave Ctrl-C to the main process."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_logs(verbose: bool) -> None:
    """Dask's INFO lines and shut-down chatter would bury the planner's messages."""
    level = logging.WARNING if verbose else logging.ERROR
    for name in ("distributed", "distributed.client", "distributed.scheduler"):
        logging.getLogger(name).setLevel(level)


def _serves(link: str, timeout_s: float = DASHBOARD_PROBE_S) -> bool:
    """Does the dashboard's page answer? A scheduler reports its HTTP server's port as
    its dashboard even when it runs none (`dask scheduler --no-dashboard`, or no bokeh
    where it runs): the page is then "404 Not Found". Asked directly, as the client
    reaches the scheduler (no proxy from the environment)."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(link, timeout=timeout_s) as reply:
            return reply.status == 200
    except (OSError, ValueError):  # (urllib's HTTPError, URLError and timeouts are OSErrors)
        return False
