"""Warm kernels: attempts run on pre-forked single-use kernels, and nothing passes between them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from nbflow import api
from nbflow.execution.kernels import forkserver, kernelpool
from nbflow.execution.kernels.kernelpool import KernelPool, PoolSettings
from nbflow.history import Store
from nbflow.workflows.project import Project
from tests.integration.test_schedule import daemons, runs, start, stop  # noqa: F401

pytestmark = pytest.mark.kernel


def task(doc, key):
    return next(t for t in doc["tasks"] if t["key"] == key)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


TRACES = """
    tasks:
      - key: first
        notebook: notebooks/traces.ipynb
        parameters: {token: first}
        env: {NBFLOW_TASK_ENV: one}
      - key: second
        notebook: notebooks/traces.ipynb
        parameters: {token: second}
        depends_on: [first]
    """


def test_nothing_one_attempt_leaves_reaches_the_next_on_a_warm_kernel(project, monkeypatch):
    # One idle kernel at a time: the second attempt takes the kernel forked after the first.
    monkeypatch.setenv(kernelpool.POOL_SIZE_ENV, "1")
    project.workflow("traces", TRACES)
    doc = api.run(Project(project.root), "traces")
    assert doc["state"] == "success", doc
    first, second = task(doc, "first")["values"], task(doc, "second")["values"]
    clean = {"global": False, "module": False, "env": "", "thread": False, "imported": False}
    assert first["found"] == clean
    assert second["found"] == clean  # the first left all of these behind in its kernel
    assert first["token"] == "first" and second["token"] == "second"
    # Each attempt its own cwd (the notebook's folder; the first chdir'd away) and environment.
    assert first["cwd"] == second["cwd"] == str(project.root / "notebooks")
    assert first["task_env"] == "one" and second["task_env"] == ""
    # Both ran on kernels the fork server made, each killed after its attempt.
    assert (
        "nbflow.execution.kernels.kernelfork" in first["parent"]
        and "nbflow.execution.kernels.kernelfork" in second["parent"]
    )
    assert first["pid"] != second["pid"]
    assert gone(first["pid"]) and gone(second["pid"])
    # The attempt's recorded process is its kernel: what recovery kills after a kill -9.
    store = Store(f"sqlite:///{project.root / '.nbflow' / 'history.db'}")
    recorded = [t["attempts"][0]["pid"] for t in store.get_run(1)["tasks"]]
    store.close()
    assert sorted(recorded) == sorted([first["pid"], second["pid"]])


def test_without_warm_kernels_each_attempt_starts_its_own(project, monkeypatch):
    monkeypatch.setenv(kernelpool.POOL_SIZE_ENV, "0")
    project.workflow("traces", TRACES)
    doc = api.run(Project(project.root), "traces")
    assert doc["state"] == "success", doc
    first = task(doc, "first")["values"]
    assert "nbflow.execution.worker" in first["parent"]
    assert task(doc, "second")["values"]["found"]["global"] is False


def test_a_kernel_that_cannot_be_forked_starts_the_ordinary_way_and_is_still_pooled(project):
    """PYTHONPATH is read when Python starts: a kernel forked long ago cannot honour it. Such
    kernels are started by jupyter_client for the task's folder and environment, the next
    one while an attempt runs; each serves one attempt and gets that attempt's context."""
    import datetime as dt

    extra = project.root / "extra"
    extra.mkdir()
    project.workflow(
        "startup",
        f"""
        tasks:
          - key: t
            notebook: notebooks/traces.ipynb
            for_each: {{inputs: [a, b, c], concurrency: 1}}
            parameters: {{token: "{{{{input}}}}"}}
            env: {{PYTHONPATH: "{extra}"}}
        """,
    )
    doc = api.run(Project(project.root), "startup")
    assert doc["state"] == "success", doc
    iterations = task(doc, "t")["iterations"]
    values = [it["values"] for it in iterations]
    assert [v["token"] for v in values] == ["a", "b", "c"]
    assert all(v["ppid"] == os.getpid() for v in values)  # started here, not forked
    assert len({v["pid"] for v in values}) == 3  # one kernel per attempt
    assert all(v["pythonpath"] == str(extra) for v in values)
    assert all(v["cwd"] == str(project.root / "notebooks") for v in values)
    clean = {"global": False, "module": False, "env": "", "thread": False, "imported": False}
    assert all(v["found"] == clean for v in values)
    contexts = [v["context"] for v in values]  # set in the waiting kernel when handed out
    assert len(set(contexts)) == 3
    for it, context in zip(iterations, contexts, strict=True):
        artifact = it["attempts"][-1]["artifact"]
        assert Path(context).parent == (project.root / artifact).parent
    for it, v in zip(iterations[1:], values[1:], strict=True):  # ready before their attempts began
        began = dt.datetime.fromisoformat(it["attempts"][-1]["start_time"]).timestamp()
        assert v["started"] < began


def kernelspec(folder: Path, name: str, argv: list[str]) -> None:
    spec = folder / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )


def test_which_kernelspecs_the_fork_server_serves(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    tail = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernelspec(tmp_path, "ours", [sys.executable, *tail, "--matplotlib=inline"])
    kernelspec(tmp_path, "plain", ["python", *tail])
    kernelspec(tmp_path, "other", ["/opt/elsewhere/bin/python", *tail])
    kernelspec(
        tmp_path, "r", ["R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"]
    )
    ours = forkserver.forkable_spec("ours")
    assert ours is not None and ours.argv[0] == "--matplotlib=inline"
    assert forkserver.forkable_spec("plain") is not None
    assert forkserver.forkable_spec("other") is None
    assert forkserver.forkable_spec("r") is None
    assert forkserver.forkable_spec("no-such-kernel") is None
    base = {"PATH": "/bin", "HOME": "/root"}
    assert not forkserver.starts_differently({**base, "MY_SETTING": "1"}, base)
    assert forkserver.starts_differently({**base, "PYTHONHASHSEED": "0"}, base)
    assert forkserver.starts_differently({**base, "JUPYTER_PATH": "/x"}, base)


def test_pool_settings_come_from_the_environment():
    settings = PoolSettings.from_env(
        {"NBFLOW_WARM_KERNELS": "3", "NBFLOW_PRELOAD": "pandas, numpy", "NBFLOW_KERNEL_IDLE": "30"}
    )
    assert settings == PoolSettings(size=3, preload=("pandas", "numpy"), idle_seconds=30.0)
    assert PoolSettings.from_env({}) == PoolSettings()


def test_idle_kernels_are_culled_reported_and_ended_with_the_pool(tmp_path):
    async def scenario() -> tuple[dict, int, list[int], list[int]]:
        pool = KernelPool(PoolSettings(size=2, idle_seconds=60))
        assert pool.serves("python3", dict(os.environ))
        pool.warm(["python3"])
        while len(pool.idle["python3"].kernels) < 2:  # the fork server starts, then forks
            await asyncio.sleep(0.05)
        status = pool.status()
        pids = [k.pid for k in pool.idle["python3"].kernels]
        born = min(k.born for k in pool.idle["python3"].kernels)
        assert pool.cull(now=born + 30) == 0  # not idle long enough
        culled = pool.cull(now=born + 3600)
        server = pool.server.proc.pid
        await pool.close()
        return status, culled, pids, [server]

    status, culled, pids, server = asyncio.run(scenario())
    assert status["python3"]["idle"] == 2
    assert all(rss > 10_000_000 for rss in status["python3"]["rss"])
    assert culled == 2
    for pid in pids + server:
        wait_for(lambda pid=pid: gone(pid), f"process {pid} to end")


def fork_servers() -> list[psutil.Process]:
    """This test process's kernel fork servers."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "nbflow.execution.kernels.kernelfork" in " ".join(p.cmdline()) and not gone(p.pid)
    ]


def test_a_pool_launched_before_its_loop_serves_with_that_process_or_ends_unused(project):
    """`nbflow run` starts the fork server before it loads the workflow: the process launched
    without a loop is the one that forks the kernels, and one no run took over ends."""
    pool = KernelPool(PoolSettings(size=1))
    pool.launch()
    launched = pool.launched.proc.pid

    async def scenario() -> tuple[int, int]:
        pool.serves("python3", dict(os.environ))
        kernel = await pool.take("python3", str(project.root), dict(os.environ))
        pool.release(kernel)
        server = pool.server.proc.pid
        await pool.close()
        return server, kernel.pid

    server, kernel = asyncio.run(scenario())
    assert server == launched
    for pid in (server, kernel):
        wait_for(lambda pid=pid: gone(pid), f"process {pid} to end with the pool")

    unused = KernelPool(PoolSettings(size=1))
    unused.launch()
    pid = unused.launched.proc.pid
    unused.abandon()
    assert gone(pid)

    project.workflow("broken", "tasks: [{key: a, notebook: notebooks/missing.ipynb}]")
    before = {p.pid for p in fork_servers()}  # other tests' pools may still be ending
    with pytest.raises(api.UsageError):
        api.run(Project(project.root), "broken")
    # The run that never started ended the server it launched.
    assert [p for p in fork_servers() if p.pid not in before] == []


def kernel_has(kernel, module: str) -> bool:
    """Ask a leased kernel whether `module` is imported in it."""
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_file(kernel.connection_file)
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        seen: list[str] = []
        kc.execute_interactive(
            f"import sys; print({module!r} in sys.modules)",
            timeout=60,
            output_hook=lambda m: seen.append(m["content"].get("text", "")),
        )
        return "".join(seen).strip() == "True"
    finally:
        kc.stop_channels()


async def found_ready(kernel, *, lose_first_request: bool = False, timeout: float = 10) -> None:
    """A client of a leased kernel, as papermill makes it, finds it ready in `timeout` s."""
    kc = kernel.client()
    if lose_first_request:
        sent = kc.kernel_info
        calls: list[int] = []

        def lossy() -> str:
            calls.append(1)
            return "lost" if len(calls) == 1 else sent()

        kc.kernel_info = lossy
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=timeout)
    finally:
        kc.stop_channels()


def test_a_leased_kernel_is_found_ready_while_another_client_listens_to_it(tmp_path):
    """ipykernel greets each new IOPub subscriber, but zmq's XPUB reports a topic's first
    subscription only: a client that joins while another one listens is never greeted.
    Waiting for the greeting alone, the attempt failed after the 60 s startup timeout
    ("Kernel didn't respond") on a live kernel."""
    import zmq

    async def scenario() -> None:
        pool = KernelPool(PoolSettings(size=0, preload=()))
        context = zmq.Context()
        listener = context.socket(zmq.SUB)
        try:
            assert pool.serves("python3", dict(os.environ))
            kernel = await pool.take("python3", str(tmp_path), dict(os.environ))
            with open(kernel.connection_file) as f:
                info = json.load(f)
            listener.setsockopt(zmq.SUBSCRIBE, b"")
            listener.connect(f"ipc://{info['ip']}-{info['iopub_port']}")
            # Subscribed once the kernel greeted it (the first subscriber is greeted).
            assert await asyncio.to_thread(listener.poll, 60_000), "the listener was not greeted"
            await found_ready(kernel)
            pool.release(kernel)
        finally:
            listener.close(0)
            context.term()
            await pool.close()

    asyncio.run(scenario())


def test_a_leased_kernel_is_found_ready_when_a_kernel_info_request_is_lost(tmp_path):
    """The request is asked again every second, as jupyter_client's own client does; one
    lost request made the attempt wait out the whole startup timeout."""

    async def scenario() -> None:
        pool = KernelPool(PoolSettings(size=0, preload=()))
        try:
            assert pool.serves("python3", dict(os.environ))
            kernel = await pool.take("python3", str(tmp_path), dict(os.environ))
            await found_ready(kernel, lose_first_request=True)
            pool.release(kernel)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_leased_kernel_that_does_not_answer_is_described_in_the_error(tmp_path):
    """A kernel that never answers: the error says what the pool saw of it (here stopped
    before it could read its attempt's line), so a rare hang leaves evidence behind."""

    async def scenario() -> str:
        pool = KernelPool(PoolSettings(size=0, preload=()))
        try:
            assert pool.serves("python3", dict(os.environ))
            spec = pool.forked.specs["python3"]
            kernel = await pool._spawn("python3", spec)  # not yet handed its attempt
            os.kill(kernel.pid, signal.SIGSTOP)
            pool.leased[kernel.kernel_id] = kernel
            await forkserver.write_job(kernel.job_fd, b'{"cwd": "/", "env": {}}\n')
            with pytest.raises(RuntimeError) as raised:
                await found_ready(kernel, timeout=2)
            pool.release(kernel)
            return str(raised.value)
        finally:
            await pool.close()

    message = asyncio.run(scenario())
    assert message.startswith("Kernel didn't respond in 2 seconds (kernel k1, pid ")
    assert "stopped, 24 bytes unread by it; IOPub heard: " in message
    assert message.endswith("kernel_info answered: no)")


def test_kernels_keep_coming_while_a_preload_imports_and_later_ones_have_it(tmp_path, monkeypatch):
    """A preloaded module is imported by a copy of the fork server: while its import lasts
    (held here until the test lets it go) kernels are still forked, without it; once it is
    in, the kernels come from the copy and have it."""
    modules = tmp_path / "modules"
    modules.mkdir()
    started, release = tmp_path / "started", tmp_path / "release"
    (modules / "slowpreload.py").write_text(
        textwrap.dedent(
            f"""
            import os, time
            open({str(started)!r}, "w").close()
            deadline = time.monotonic() + 120
            while not os.path.exists({str(release)!r}) and time.monotonic() < deadline:
                time.sleep(0.02)
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", f"{modules}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")

    async def scenario() -> None:
        pool = KernelPool(PoolSettings(size=1, preload=("slowpreload",)))
        env = dict(os.environ)
        try:
            assert pool.serves("python3", env)
            pool.warm(["python3"])
            while not started.exists():  # the copy imports it once no request came
                await asyncio.sleep(0.05)
            server = pool.server.proc.pid
            for _ in range(3):  # each take asks for another kernel: none waits for the import
                kernel = await asyncio.wait_for(pool.take("python3", str(tmp_path), env), 60)
                assert psutil.Process(kernel.pid).ppid() == server
                assert not await asyncio.to_thread(kernel_has, kernel, "slowpreload")
                pool.release(kernel)
            release.touch()
            deadline = time.monotonic() + 120
            while True:  # the kernels forked before the copy was ready come first
                kernel = await pool.take("python3", str(tmp_path), env)
                from_copy = psutil.Process(kernel.pid).ppid() != server
                if from_copy:
                    assert await asyncio.to_thread(kernel_has, kernel, "slowpreload")
                pool.release(kernel)
                if from_copy:
                    break
                assert time.monotonic() < deadline, "no kernel came from the preloaded copy"
        finally:
            release.touch()
            await pool.close()

    asyncio.run(scenario())


def test_a_pool_for_one_run_forks_what_the_run_asks_for_and_preloads_only_for_more(tmp_path):
    """`nbflow run` of a one-notebook workflow forks one kernel, no spare and no preload
    (it could not finish before the kernel is needed); a longer run preloads."""

    async def scenario() -> None:
        short = KernelPool(PoolSettings(size=2, preload=("json",)), one_run=True)
        try:
            short.warm(["python3"])  # one notebook task
            while not short.idle["python3"].kernels:
                await asyncio.sleep(0.05)
            assert len(short.idle["python3"].kernels) == 1
            assert short.idle["python3"].spawning == 0  # and no second one on its way
            kernel = await short.take("python3", str(tmp_path), dict(os.environ))
            assert short.idle["python3"].spawning == 0 and not short.idle["python3"].kernels
            short.release(kernel)
            assert not short.preload_wanted
        finally:
            await short.close()
        longer = KernelPool(PoolSettings(size=2, preload=("json",)), one_run=True)
        try:
            longer.warm(["python3"] * 3)
            while len(longer.idle["python3"].kernels) < 2:
                await asyncio.sleep(0.05)
            assert longer.preload_wanted
        finally:
            await longer.close()

    asyncio.run(scenario())


def test_when_the_pools_owner_is_killed_its_fork_server_and_idle_kernels_end(tmp_path):
    script = textwrap.dedent(
        """
        import asyncio, os, sys
        from nbflow.execution.kernels.kernelpool import KernelPool, PoolSettings

        async def main():
            pool = KernelPool(PoolSettings(size=2))
            pool.serves("python3", dict(os.environ))
            pool.warm(["python3"])
            while len(pool.idle.get("python3").kernels) < 2:
                await asyncio.sleep(0.05)
            pids = [k.pid for k in pool.idle["python3"].kernels] + [pool.server.proc.pid]
            print(" ".join(map(str, pids)), flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = owner.stdout.readline()
    pids = [int(p) for p in line.split()]
    assert len(pids) == 3 and not any(gone(p) for p in pids)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(timeout=30)
    for pid in pids:
        wait_for(lambda pid=pid: gone(pid), f"process {pid} to end after its owner died")


def test_the_scheduler_keeps_its_kernels_warm_between_runs_and_reports_them(
    project,
    daemons,  # noqa: F811 - the fixture imported from test_schedule
):
    project.workflow(
        "often",
        """
        schedule: {cron: "*/2 * * * * ?"}
        tasks:
          - {key: t, notebook: notebooks/traces.ipynb}
        """,
    )
    daemon = start(project, keep=daemons)
    wait_for(lambda: len([r for r in runs(project) if r["state"] == "success"]) >= 2, "two runs")

    def reported():
        listing = project.cli("schedule", "list")
        return listing.stdout if "warm kernels (pid" in listing.stdout else None

    shown = wait_for(reported, "the daemon's pool in `schedule list`", 30)
    assert f"warm kernels (pid {daemon.pid}): python3 " in shown
    assert "MiB RSS each" in shown
    status = api.scheduler_status(Project(project.root))
    (mine,) = [s for s in status["schedulers"] if s["pid"] == daemon.pid]
    assert mine["kernels"]["python3"]["idle"] >= 1
    # Every run's kernel came from the daemon's one fork server: the pool outlived the runs.
    done = [api.show(Project(project.root), run["id"]) for run in runs(project)]
    values = [d["tasks"][0]["values"] for d in done if d["state"] == "success"]
    assert len({v["ppid"] for v in values}) == 1
    assert len({v["pid"] for v in values}) == len(values)  # one kernel per run
    assert "nbflow.execution.kernels.kernelfork" in values[0]["parent"]
    code, err = stop(daemon)
    assert code == 0, err
    assert not list((project.root / ".nbflow" / "pools").glob("*.json"))  # removed at exit
