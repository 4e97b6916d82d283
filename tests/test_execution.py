"""Where the parallel work runs (diversify.execution): here, 2 local workers or a
running scheduler give the same figures to the last bit; faults end cleanly.

A module fixture starts a real Dask scheduler and two workers (`dask scheduler`,
`dask worker`, 127.0.0.1, free ports) and stops them again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask_tasks
import psutil
import pytest
from click.testing import CliRunner
from workbooks import example_2, write_workbook

from diversify import execution
from diversify.cli import main
from diversify.errors import UsageError
from diversify.execution import Executor, TaskError, batch_size, decide

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
GENERATE = HERE.parent / "benchmarks" / "generate.py"
TIMINGS = {"solve_seconds", "run_seconds"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler():
    """tcp://127.0.0.1:PORT of a scheduler with two single-threaded workers."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    env = os.environ | {"PYTHONPATH": str(HERE)}
    common = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [
        subprocess.Popen(
            [
                BIN / "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                address.rsplit(":")[-1],
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            start_new_session=True,
            **common,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                    "--death-timeout",
                    "30",
                ],
                start_new_session=True,
                **common,
            )
        )
    try:
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def workers_of(address: str) -> dict[str, int]:
    """Worker address -> its process id (waits for two workers)."""
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        return client.run(os.getpid)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Ten suppliers, five scenarios, λ = 0.5: WS, RP, EEV and least-cost re-solves."""
    spec = importlib.util.spec_from_file_location("benchmarks_generate", GENERATE)
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    path = tmp_path_factory.mktemp("execution") / "small.xlsx"
    generate.make_workbook(
        path, suppliers=10, materials=3, years=8, scenarios=5, seed=3, risk_aversion=0.5
    )
    return path


def no_children_left(before: set[int], within_s: float = 5.0) -> bool:
    """No process of ours is left but multiprocessing's resource tracker (one per
    process that ever started a worker; it exits with us)."""
    me = psutil.Process()
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        left = {p.pid for p in me.children(recursive=True) if _ours(p)} - before
        if not left:
            return True
        time.sleep(0.1)
    return False


def _ours(p: psutil.Process) -> bool:
    try:
        return p.is_running() and "resource_tracker" not in " ".join(p.cmdline())
    except psutil.Error:  # gone meanwhile
        return False


# ---------------------------------------------------------------- the rules


def test_small_work_stays_here_and_large_work_takes_every_core():
    assert decide(0.5, 2) == 1
    assert decide(3.9, 2) == 1  # saves 1.95 s: not enough beside the start-up
    assert decide(4.1, 2) == 2
    assert decide(100.0, 1) == 1
    assert decide(3.0, 8) == 8


def test_small_tasks_are_batched_to_cover_their_scheduling():
    assert batch_size(30, 0.9, 2) == 1  # a MIP: one a task
    assert batch_size(100_000, 0.002, 2) == 75  # 75 LPs of 2 ms: 150 ms a task
    assert batch_size(40, 0.002, 2) == 5  # but 4 tasks a worker left to balance
    assert batch_size(10, None, 2) == 1


def test_in_process_results_come_in_order_with_the_shared_data():
    with Executor(workers=1) as ex:
        assert ex.map(dask_tasks.square_slowly, range(5), shared=0.0) == [0, 1, 4, 9, 16]
        assert ex.where == "this process"


def test_without_an_estimate_a_few_tasks_are_timed_here_first():
    with Executor(workers=2) as ex:  # 0.01 s each: 15 run here (0.15 s), the rest batched
        assert ex.map(dask_tasks.square_slowly, range(40), shared=0.01) == [
            x * x for x in range(40)
        ]


def test_workers_and_scheduler_together_are_a_usage_error(ex2_path):
    with pytest.raises(UsageError):
        Executor(workers=2, scheduler="tcp://127.0.0.1:1")
    r = run("solve", ex2_path, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert r.exit_code == 2 and "not both" in r.stderr
    assert run("frontier", ex2_path, "-o", "x.xlsx", "--workers", "0").exit_code == 2


# ---------------------------------------------------------------- the same figures anywhere


def test_solve_gives_the_same_figures_here_on_two_workers_and_on_a_scheduler(
    generated, scheduler, tmp_path
):
    runs = {}
    for name, where in (
        ("here", ["--workers", "1"]),
        ("local", ["--workers", "2"]),
        ("scheduler", ["--scheduler", scheduler]),
    ):
        r = run("solve", generated, "-o", tmp_path / f"{name}.xlsx", "--json", *where)
        assert r.exit_code == 0, r.stderr
        runs[name] = without_timings(last_json(r))
    assert runs["here"]["evpi_usd"] is not None and runs["here"]["vss_usd"] is not None
    assert runs["local"] == runs["here"]
    assert runs["scheduler"] == runs["here"]


class Recording(Executor):
    """A cluster in this process: says it is parallel, runs every task here when its
    result is asked for, and logs the order of submits, results and maps."""

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.log: list[tuple[str, str]] = []

    @property
    def parallel(self) -> bool:
        return True

    def submit(self, fn, payload, *, shared=None, label="task"):
        self.log.append(("submit", label))
        here = super().submit(fn, payload, shared=shared, label=label)

        def result():
            self.log.append(("result", label))
            return here()

        return result

    def map(self, fn, payloads, **kw):
        self.log.append(("map", kw.get("label", "tasks")))
        return super().map(fn, payloads, **kw)


def test_on_a_cluster_no_re_solve_of_the_figures_waits_for_the_core_plan(generated):
    """The core solve is a task like the re-solves, sent first; the first scenario alone
    goes beside it and the other re-solves follow the first scenario's plan, not the
    core's, which this process asks for only meanwhile. The figures are those of a
    run in this process to the last bit."""
    from diversify.derive import scenario_data
    from diversify.engine import (
        optimise,
        resilience_figures,
        settings_options,
        start_optimise,
    )
    from diversify.reader import load_raw, parse

    problem = parse(load_raw(generated))
    scenarios, options = scenario_data(problem), settings_options(problem)
    lam = problem.settings.risk_aversion
    cluster = Recording()
    solving = start_optimise(problem, scenarios, lam, options, cluster)
    figures = resilience_figures(problem, solving, options, executor=cluster)
    log = cluster.log
    first = next(label for kind, label in log if label.endswith("alone (WS)"))
    assert log[0] == ("submit", "core solve")
    assert log.index(("submit", first)) < log.index(("result", first))
    assert log.index(("result", first)) < log.index(("map", "re-solves"))
    assert log.index(("map", "re-solves")) < log.index(("result", "core solve"))

    here = Executor(workers=1)
    alone = resilience_figures(
        problem, start_optimise(problem, scenarios, lam, options, here), options, executor=here
    )
    for name in ("rp", "eev", "ws", "price_of_resilience", "value_of_resilience"):
        assert getattr(figures, name) == getattr(alone, name), name
    assert figures.scenario_optima == alone.scenario_optima
    assert solving.outcome().objective == optimise(problem, scenarios, lam, options).objective


def test_on_a_cluster_the_frontiers_unconstrained_solve_is_a_task_beside_cap_zero(generated):
    """The unconstrained plan, which every other cap waits for, and cap 0, which needs
    nothing of it, are the first two tasks; the points are those of a run here."""
    from diversify.engine import settings_options
    from diversify.frontier import trace_frontier
    from diversify.reader import load_raw, parse

    problem = parse(load_raw(generated))
    cluster = Recording()
    options = settings_options(problem)
    points = trace_frontier(problem, "China", 3, options, executor=cluster).points
    assert cluster.log[:2] == [("submit", "core solve"), ("submit", "frontier point China <= 0%")]
    here = trace_frontier(problem, "China", 3, options, executor=Executor(workers=1)).points
    assert [(p.cap, p.status, p.figure("expected_cost_usd")) for p in points] == [
        (p.cap, p.status, p.figure("expected_cost_usd")) for p in here
    ]


def test_frontier_gives_the_same_points_here_and_on_a_scheduler(generated, scheduler, tmp_path):
    runs = {}
    for name, where in (("here", ["--workers", "1"]), ("scheduler", ["--scheduler", scheduler])):
        out = tmp_path / f"frontier-{name}.xlsx"
        r = run(
            "frontier", generated, "-o", out, "--points", 4, "--json", "--target", "China", *where
        )
        assert r.exit_code == 0, r.stderr
        runs[name] = without_timings(last_json(r))
        runs[name].pop("output")
    assert len(runs["here"]["points"]) == 4
    assert runs["scheduler"] == runs["here"]


def test_small_tasks_on_a_scheduler_are_batched_and_come_back_in_order(scheduler):
    with Executor(scheduler=scheduler) as ex:
        out = ex.map(dask_tasks.offset_by, range(500), shared=(3, 1), seconds_each=0.001)
    assert out == [3 * x + 1 for x in range(500)]


def test_batches_go_to_the_workers_as_they_free_up_and_a_lone_task_too(scheduler):
    """One long batch per worker on the cluster at a time (the next sent when one
    finishes), none waits behind a busy worker; with --scheduler even a lone task runs
    on the cluster, not here."""
    with Executor(scheduler=scheduler) as ex:
        submit, on_cluster = ex._client.submit, []

        def counted(*args, **kwargs):
            future = submit(*args, **kwargs)
            on_cluster.append(future)
            counted.most = max(counted.most, sum(not f.done() for f in on_cluster))
            return future

        counted.most = 0
        ex._client.submit = counted
        out = ex.map(dask_tasks.square_slowly, range(6), shared=0.3, seconds_each=1.0)
        assert out == [x * x for x in range(6)]
        assert len(on_cluster) == 6 and counted.most <= 2  # two workers
        assert execution.in_flight(2, 1.0) == 2 and execution.in_flight(2, 0.2) == 4
        assert ex.map(dask_tasks.worker_pid, [0], seconds_each=1.0) != [os.getpid()]


def test_the_work_meanwhile_does_not_hold_the_batches_back(scheduler):
    """`meanwhile` runs beside the batches, not before them: here it waits until every
    task has come back (run first, it held back all but the first window: the workers
    idled); an error in it reaches the caller."""
    every_task_back = threading.Event()

    def progress(label: str) -> None:
        if label.endswith(" 12/12"):
            every_task_back.set()

    seen = []
    with Executor(scheduler=scheduler) as ex:
        out = ex.map(
            dask_tasks.square_slowly,
            range(12),
            shared=0.05,
            seconds_each=0.05,
            progress=progress,
            meanwhile=lambda: seen.append(every_task_back.wait(20)),
        )
        assert out == [x * x for x in range(12)] and seen == [True]

        def fails() -> None:
            raise ValueError("the mean-value plan")

        with pytest.raises(ValueError, match="the mean-value plan"):
            ex.map(
                dask_tasks.square_slowly, range(4), shared=0.0, seconds_each=1.0, meanwhile=fails
            )


def test_a_task_submitted_runs_beside_this_process_or_here_when_asked(scheduler):
    """submit: on a cluster the task starts at once, while this process goes on; without
    one it runs here when its result is asked for. The same result; an error in it
    reaches the caller as TaskError."""
    with Executor(workers=1) as ex:
        assert not ex.parallel
        wait = ex.submit(dask_tasks.offset_by, 4, shared=(3, 1))
        assert wait() == 13
        with pytest.raises(TaskError, match="the zero cap"):
            ex.submit(dask_tasks.fail, 1, label="the zero cap")()
    with Executor(scheduler=scheduler) as ex:
        assert ex.parallel
        started = time.perf_counter()
        wait = ex.submit(dask_tasks.square_slowly, 7, shared=1.0)
        assert time.perf_counter() - started < 0.9  # did not wait for the task
        assert wait() == 49
        failing = ex.submit(dask_tasks.fail, 1, label="the zero cap")
        with pytest.raises(TaskError, match="the zero cap"):
            failing()


def test_a_task_submitted_while_the_local_cluster_starts_does_not_wait_for_it():
    """expect starts the cluster in the background (~1 s or more); a task submitted
    meanwhile is sent once it is up, and this process goes on at once."""
    with Executor(workers=2) as ex:
        ex.expect(0.0)
        started = time.perf_counter()
        wait = ex.submit(dask_tasks.offset_by, 5, shared=(2, 1))
        assert time.perf_counter() - started < 0.5  # neither the start nor the task
        assert wait() == 11
        assert ex.map(dask_tasks.malloc_tuned, [0, 1], seconds_each=1.0) == [True, True]


# ---------------------------------------------------------------- faults


def test_an_infeasible_core_solved_on_a_scheduler_exits_3_and_writes_nothing(scheduler, tmp_path):
    """The core plan is a task there, asked for while the re-solves run: its
    infeasibility still ends the run as it does here, with the conflicting rule named."""
    sheets = example_2()
    sheets["Policy"] = [["rule", "value"], ["min_suppliers", 3]]
    src = write_workbook(tmp_path / "bad.xlsx", sheets)
    out = tmp_path / "plan.xlsx"
    r = run("solve", src, "-o", out, "--json", "--scheduler", scheduler)
    assert r.exit_code == 3, r.stderr
    assert last_json(r)["status"] == "infeasible"
    assert "min_suppliers" in r.stderr
    assert not out.exists()


def test_a_worker_killed_mid_run_leaves_its_tasks_to_another(scheduler):
    pids = list(workers_of(scheduler).values())
    killed = []

    def kill_one(_label):
        if not killed:  # the first result is in: both workers are busy with the next
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    with Executor(scheduler=scheduler) as ex:
        out = ex.map(
            dask_tasks.square_slowly, range(12), shared=0.3, seconds_each=0.3, progress=kill_one
        )
    assert killed and out == [x * x for x in range(12)]


def test_a_scheduler_that_does_not_answer_is_a_usage_error_at_once(monkeypatch, ex2_path):
    monkeypatch.setattr(execution, "CONNECT_TIMEOUT_S", 1.0)
    started = time.monotonic()
    r = run("solve", ex2_path, "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--json")
    assert r.exit_code == 2
    assert "no Dask scheduler answers at tcp://127.0.0.1:" in r.stderr
    assert last_json(r)["status"] == "input_error"
    assert time.monotonic() - started < 8


class _NotDask:
    """A TCP server on 127.0.0.1 that is no Dask scheduler: it accepts every connection
    and sends `reply` (an HTTP error, bytes that read as a frame count of 2^64 - 1, or
    nothing at all), as a proxy or a web server on the address would."""

    def __init__(self, reply: bytes) -> None:
        self.reply, self.sock = reply, socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.held.append(conn)  # kept open: a silent server never answers
            if self.reply:
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize(
    "reply", [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", b"\xff" * 64]
)
def test_an_address_that_answers_but_not_as_a_dask_scheduler_is_a_usage_error_at_once(
    reply, tmp_path
):
    """Found on a machine whose network proxy accepts every address: Dask's client read
    the proxy's bytes as frame lengths and asked for 3 EiB (MemoryError, exit 1, then 20 s
    closing). Now: exit 2 at once, a message that says what is there, nothing written."""
    server = _NotDask(reply)
    book = write_workbook(tmp_path / "ex2.xlsx", example_2())
    try:
        started = time.monotonic()
        r = run("solve", book, "-o", tmp_path / "p.xlsx", "--scheduler", server.address, "--json")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert r.exit_code == 2, r.output
    assert f"{server.address} answers, but not as a Dask scheduler" in r.stderr
    assert last_json(r)["status"] == "input_error"
    assert elapsed < 8 and not (tmp_path / "p.xlsx").exists()


@pytest.mark.parametrize("address", ["tcp://host:notaport", "foo://10.0.0.5:8786"])
def test_a_scheduler_address_that_is_none_is_a_usage_error_that_shows_one(address, ex2_path):
    r = run("solve", ex2_path, "--scheduler", address, "--json")
    assert r.exit_code == 2, r.output
    assert f"--scheduler {address} is not a scheduler's address" in r.stderr
    assert "tcp://HOST:PORT" in r.stderr


def test_an_address_that_accepts_and_stays_silent_is_a_usage_error_after_the_timeout(
    monkeypatch, ex2_path
):
    monkeypatch.setattr(execution, "CONNECT_TIMEOUT_S", 1.0)
    server = _NotDask(b"")
    try:
        started = time.monotonic()
        r = run("solve", ex2_path, "--scheduler", server.address, "--json")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert r.exit_code == 2, r.output
    assert f"no Dask scheduler answers at {server.address}" in r.stderr
    assert elapsed < 8


@pytest.mark.slow
def test_a_scheduler_that_does_not_answer_exits_2_within_about_ten_seconds(tmp_path):
    book = write_workbook(tmp_path / "ex2.xlsx", example_2())
    started = time.monotonic()
    r = subprocess.run(
        [
            BIN / "diversify",
            "solve",
            book,
            "-o",
            tmp_path / "p.xlsx",
            "--scheduler",
            f"tcp://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert "no Dask scheduler answers" in r.stderr
    assert time.monotonic() - started < 15
    assert not (tmp_path / "p.xlsx").exists()


@pytest.fixture
def ex2_path(tmp_path) -> Path:
    return write_workbook(tmp_path / "ex2.xlsx", example_2())


def test_an_error_in_a_task_reaches_the_planner_as_a_message(scheduler):
    with Executor(scheduler=scheduler) as ex, pytest.raises(TaskError) as caught:
        ex.map(dask_tasks.fail, range(4), seconds_each=1.0)
    assert "ValueError: no square for" in str(caught.value)
    assert "--debug" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)  # with the worker's traceback


def test_an_error_in_a_task_shows_its_traceback_on_debug(ex2_path, tmp_path, monkeypatch):
    from diversify import program

    def broken(options, task):
        raise RuntimeError("HiGHS went away")

    monkeypatch.setattr(program, "solve_task", broken)
    plain = run("solve", ex2_path, "-o", tmp_path / "a.xlsx", "--workers", "1")
    assert plain.exit_code == 1
    assert "a parallel task failed" in plain.stderr and "HiGHS went away" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = run("solve", ex2_path, "-o", tmp_path / "b.xlsx", "--workers", "1", "--debug")
    assert debug.exit_code == 1 and "Traceback" in debug.stderr and "broken" in debug.stderr
    assert not (tmp_path / "a.xlsx").exists() and not (tmp_path / "b.xlsx").exists()


def test_ctrl_c_stops_every_task_and_local_worker():
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    def interrupted():
        time.sleep(1.0)  # the workers are busy by now
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), Executor(workers=2) as ex:
        ex.map(
            dask_tasks.square_slowly,
            range(4),
            shared=60.0,
            seconds_each=60.0,
            meanwhile=interrupted,
        )
    assert no_children_left(before)
    assert time.monotonic() - started < 15


def test_verbose_names_where_the_work_runs_and_the_dashboard():
    lines: list[str] = []
    with Executor(workers=2, verbose=True, log=lines.append) as ex:
        assert ex.map(dask_tasks.square_slowly, range(4), shared=0.0, seconds_each=1.0) == [
            0,
            1,
            4,
            9,
        ]
    assert any("local cluster of 2 worker processes" in line for line in lines)
    assert any("dashboard" in line for line in lines)


def test_verbose_says_when_a_schedulers_dashboard_serves_nothing(scheduler):
    """The fixture's scheduler runs --no-dashboard, yet reports its HTTP port as one."""
    lines: list[str] = []
    with Executor(scheduler=scheduler, verbose=True, log=lines.append) as ex:
        assert ex.map(dask_tasks.square_slowly, range(2), shared=0.0, seconds_each=0.0) == [0, 1]
    assert any("serves no Dask dashboard" in line for line in lines), lines
    assert not any("http" in line for line in lines), lines


@pytest.mark.parametrize("code, serves", [(200, True), (404, False)])
def test_a_dashboard_link_counts_only_when_its_page_answers(code, serves):
    import http.server

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"dashboard")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert execution._serves(f"http://127.0.0.1:{server.server_port}/status") is serves
    finally:
        server.shutdown()
        server.server_close()
    assert execution._serves(f"http://127.0.0.1:{free_port()}/status") is False  # nothing there


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_writes_nothing_and_leaves_no_process(tmp_path):
    """A real SIGINT to the command's process group, as a terminal sends it, while two
    local workers solve the figures of an instance whose re-solves take seconds."""
    spec = importlib.util.spec_from_file_location("benchmarks_generate", GENERATE)
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    book = generate.make_workbook(
        tmp_path / "large.xlsx", suppliers=80, materials=8, years=20, scenarios=30, seed=0
    )
    out = tmp_path / "plan.xlsx"
    proc = subprocess.Popen(
        [BIN / "diversify", "solve", book, "-o", out, "--workers", "2", "--verbose"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stderr:  # HiGHS's log, then the cluster's line
            if "local cluster of 2 worker processes" in line:
                break
        time.sleep(2.0)  # the workers are solving scenarios by now
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, (proc.returncode, rest[-3000:])
    assert "Interrupted: nothing was written." in rest
    assert not out.exists()
    time.sleep(1.0)
    left = [
        p
        for p in psutil.process_iter(["pid", "status", "cmdline"])
        if _session(p) == proc.pid and p.info["status"] != psutil.STATUS_ZOMBIE  # dead
    ]
    assert not left, [p.info["cmdline"] for p in left]


def _session(p: psutil.Process) -> int | None:
    try:
        return os.getsid(p.pid)
    except (ProcessLookupError, PermissionError):
        return None


def _risky_workbook(path: Path) -> Path:
    """Ten years, two suppliers, two risks: thousands of distinct samples to cost."""
    years = list(range(2025, 2035))
    return write_workbook(
        path,
        {
            "Settings": [["setting", "value"], ["first_year", 2025], ["last_year", 2034]],
            "Materials": [
                ["material", "spot_price_usd_per_kg", "spot_max_t", "shortfall_penalty_usd_per_kg"],
                ["M", 100, 4, 1000],
            ],
            "Demand": [["material", *years], ["M", *[10] * 10]],
            "Suppliers": [
                ["supplier", "country", "qualified"],
                ["CN1", "CN", "yes"],
                ["AU1", "AU", "yes"],
            ],
            "Offers": [
                ["supplier", "material", "price_usd_per_kg", *years],
                ["CN1", "M", 40, *[10] * 10],
                ["AU1", "M", 60, *[6] * 10],
            ],
            "Risks": [
                [
                    "risk",
                    "scope",
                    "target",
                    "probability",
                    "min_years",
                    "max_years",
                    "availability",
                    "spot_availability",
                ],
                ["cn_ban", "any_link", "CN", 0.3, 1, 3, 0.2, 0.5],
                ["au_slip", "supplier", "AU1", 0.4, 1, 2, 0.5, 1],
            ],
        },
    )


def test_stress_gives_the_same_figures_here_and_on_a_scheduler(scheduler, tmp_path):
    src = _risky_workbook(tmp_path / "risky.xlsx")
    assert run("solve", src, "-o", tmp_path / "plan.xlsx", "--workers", "1").exit_code == 0
    runs = {}
    for name, where in (("here", ["--workers", "1"]), ("scheduler", ["--scheduler", scheduler])):
        out = tmp_path / f"stress-{name}.xlsx"
        r = run("stress", tmp_path / "plan.xlsx", "-o", out, "-n", "20000", "--json", *where)
        assert r.exit_code == 0, r.stderr
        runs[name] = last_json(r)
        runs[name].pop("output")
    assert runs["here"]["hindsight"]["mean_usd"] > 0
    assert runs["scheduler"] == runs["here"]


COST_OF = """
import sys, numpy as np, scipy.sparse as sp
from diversify.program import Program
rng = np.random.default_rng(7)
n = 200_000
cost, values = rng.normal(0, 1e6, n), rng.uniform(0, 50, n)
p = Program(cost, 3.5, sp.csc_matrix((0, n)), np.zeros(n), values, np.zeros(0), np.zeros(0),
            np.zeros(n, dtype=np.int32))
print(repr(p.cost_of(values)))
"""


def test_a_plans_cost_is_the_same_to_the_last_bit_whatever_the_blas_threads():
    """A BLAS dot product sums in an order set by its thread count, and Dask's workers
    run with one (OPENBLAS_NUM_THREADS=1): the frontier's points cost a few units in the
    last place apart here and on 2 workers. `Program.cost_of` is correctly rounded."""
    import math

    import numpy as np

    figures = set()
    for threads in ("1", "2", "4"):
        env = os.environ | {"OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        out = subprocess.run(
            [sys.executable, "-c", COST_OF], env=env, capture_output=True, text=True, check=True
        )
        figures.add(out.stdout.strip())
    assert len(figures) == 1
    rng = np.random.default_rng(7)
    cost, values = rng.normal(0, 1e6, 200_000), rng.uniform(0, 50, 200_000)
    assert float(figures.pop()) == math.fsum((cost * values).tolist()) + 3.5
