"""When things go wrong: timeouts, dead kernels, retries, cancel, run timeouts, crash recovery
and repair, on real kernels and real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from nbflow import api
from nbflow.core.clock import Clock
from nbflow.history import Store
from nbflow.workflows.project import Project

pytestmark = pytest.mark.kernel


def run(project, name, **kw):
    return api.run(Project(project.root), name, **kw)


def task(doc, key):
    return next(t for t in doc["tasks"] if t["key"] == key)


def wait_for(predicate, what: str, timeout: float = 60.0):
    """Poll an observable condition (another process's progress) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kernel_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def banner_and_marked_cell(path: Path) -> tuple[str, int]:
    nb = nbformat.read(path, as_version=4)
    assert "nbflow-error-banner" in nb.cells[0].metadata.get("tags", [])
    marked = [
        i
        for i, c in enumerate(nb.cells)
        if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert len(marked) == 1
    return nb.cells[0].source, marked[0]


def test_attempt_timeout_kills_the_kernel_and_marks_the_notebook(project):
    project.workflow(
        "slow",
        """
        tasks:
          - key: nap
            notebook: notebooks/sleepy.ipynb
            timeout: 3s
            retries: 1
            retry_on_timeout: true
          - key: no_retry
            notebook: notebooks/sleepy.ipynb
            parameters: {marker: other.pid}
            timeout: 3s
            retries: 1
        """,
    )
    doc = run(project, "slow")
    nap = task(doc, "nap")
    assert nap["state"] == "timed_out"
    assert [a["state"] for a in nap["attempts"]] == ["timed_out", "timed_out"]
    assert [a["state"] for a in task(doc, "no_retry")["attempts"]] == ["timed_out"]
    attempt = nap["attempts"][1]
    assert attempt["error"]["evalue"] == "timed out after 3s"
    source, marked = banner_and_marked_cell(project.root / attempt["artifact"])
    assert "this attempt timed out after 3s in cell" in source
    assert attempt["error"]["cell_index"] == marked
    executed = nbformat.read(project.root / attempt["artifact"], as_version=4)
    assert "time.sleep(seconds)" in executed.cells[marked].source
    assert gone(kernel_pid(project.root / "notebooks" / "sleepy.pid"))
    assert doc["state"] == "failed"


@pytest.mark.parametrize("how", ["exit", "segv"])
def test_a_dead_kernel_fails_the_task_clearly_and_never_hangs(project, how):
    project.workflow(
        "dies",
        f"tasks:\n  - {{key: d, notebook: notebooks/die.ipynb, parameters: {{how: {how}}}}}\n",
    )
    doc = run(project, "dies")
    d = task(doc, "d")
    assert d["state"] == "failed"
    error = d["attempts"][0]["error"]
    assert error["ename"] == "DeadKernelError"
    assert "kernel died" in error["evalue"]
    source, marked = banner_and_marked_cell(project.root / d["attempts"][0]["artifact"])
    assert "the kernel died in cell" in source
    executed = nbformat.read(project.root / d["attempts"][0]["artifact"], as_version=4)
    assert "os._exit(3)" in executed.cells[marked].source


class RecordingClock(Clock):
    """Real time for timestamps; retry waits are recorded and skipped."""

    def __init__(self, seen_states):
        self.waits: list[float] = []
        self.seen_states = seen_states

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.seen_states.append(self.peek())

    def peek(self):
        raise NotImplementedError


def test_retry_delays_back_off_and_waiting_is_visible(project):
    project.workflow(
        "retry",
        "defaults: {retries: 3, retry_delay: 10s, retry_backoff: 2}\n"
        "tasks:\n  - {key: f, notebook: notebooks/fail.ipynb}\n",
    )
    seen: list[str] = []
    clock = RecordingClock(seen)
    db = project.root / ".nbflow" / "history.db"

    def peek():
        store = Store(f"sqlite:///{db}")
        try:
            run_doc = store.get_run(1)
            return run_doc["tasks"][0]["state"]
        finally:
            store.close()

    clock.peek = peek
    doc = run(project, "retry", clock=clock)
    f = task(doc, "f")
    assert clock.waits == [10.0, 20.0, 40.0]
    assert seen == ["waiting_for_retry"] * 3
    assert [a["number"] for a in f["attempts"]] == [1, 2, 3, 4]
    assert len({a["artifact"] for a in f["attempts"]}) == 4
    assert f["state"] == "failed"


def start_run(project, name, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "run", name, "--json", *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


CANCELABLE = """
tasks:
  - {key: nap, notebook: notebooks/sleepy.ipynb}
  - {key: after, notebook: notebooks/ok.ipynb, depends_on: [nap]}
  - {key: handler, notebook: notebooks/ok.ipynb, depends_on: [nap], run_if: at_least_one_failed}
"""


def test_cancel_from_another_shell_stops_everything_and_leaves_no_process(project):
    project.workflow("cancel", CANCELABLE)
    runner = start_run(project, "cancel")
    marker = project.root / "notebooks" / "sleepy.pid"
    kernel = wait_for(lambda: kernel_pid(marker), "the kernel to start")
    store = Store(f"sqlite:///{project.root / '.nbflow' / 'history.db'}")
    worker = store.get_run(1)["tasks"][0]["attempts"][0]["pid"]
    assert worker and not gone(worker)
    proc = project.cli("cancel", "1")
    assert proc.returncode == 0, proc.stderr
    assert "run 1 of cancel: canceled" in proc.stdout
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1, err
    doc = json.loads(out)
    assert doc["state"] == "canceled"
    states = {t["key"]: t["state"] for t in doc["tasks"]}
    assert states == {"nap": "canceled", "after": "upstream_canceled", "handler": "success"}
    assert task(doc, "nap")["attempts"][0]["state"] == "canceled"
    assert gone(kernel) and gone(worker)
    source, _ = banner_and_marked_cell(project.root / task(doc, "nap")["attempts"][0]["artifact"])
    assert "this attempt was canceled" in source
    again = project.cli("cancel", "1")
    assert again.returncode == 2
    assert "run 1 has already finished (canceled); nothing to cancel" in again.stderr


def test_run_timeout_stops_what_runs_and_ends_timed_out(project):
    project.workflow(
        "deadline",
        """
        timeout: 10s
        tasks:
          - {key: nap, notebook: notebooks/sleepy.ipynb}
          - {key: after, notebook: notebooks/ok.ipynb, depends_on: [nap], run_if: all_done}
        """,
    )
    doc = run(project, "deadline")
    assert doc["state"] == "timed_out"
    assert "timeout of 10s" in doc["message"]
    assert {t["key"]: t["state"] for t in doc["tasks"]} == {"nap": "canceled", "after": "canceled"}
    assert gone(kernel_pid(project.root / "notebooks" / "sleepy.pid"))


def test_a_killed_runner_leaves_no_stuck_run_and_the_run_can_be_repaired(project):
    project.workflow("crash", CANCELABLE)
    runner = start_run(project, "crash")
    marker = project.root / "notebooks" / "sleepy.pid"
    kernel = wait_for(lambda: kernel_pid(marker), "the kernel to start")
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=30)
    code, doc = project.cli_json("show", "1")
    assert code == 0
    assert doc["state"] == "failed"
    assert "runner died" in doc["message"]
    nap = task(doc, "nap")
    assert nap["state"] == "failed" and "runner died" in nap["message"]
    assert nap["attempts"][0]["error"]["ename"] == "RunnerDied"
    assert {t["key"]: t["state"] for t in doc["tasks"]}["after"] == "upstream_failed"
    assert wait_for(lambda: gone(kernel), "the orphaned kernel to be gone", timeout=10)
    source, _ = banner_and_marked_cell(project.root / nap["attempts"][0]["artifact"])
    assert "the runner died" in source
    # Repaired with a parameter that makes the nap short: success, attempts continue.
    project.workflow(
        "crash",
        CANCELABLE.replace(
            "{key: nap, notebook: notebooks/sleepy.ipynb}",
            "{key: nap, notebook: notebooks/sleepy.ipynb, parameters: {seconds: 0}}",
        ),
    )
    code, doc = project.cli_json("repair", "1")
    assert code == 0, doc
    assert doc["state"] == "success"
    assert doc["repair_count"] == 1
    assert [a["number"] for a in task(doc, "nap")["attempts"]] == [1, 2]
    assert {t["key"]: t["state"] for t in doc["tasks"]} == {
        "nap": "success",
        "after": "success",
        "handler": "excluded",
    }
    (repair,) = doc["repairs"]
    assert repair["number"] == 1 and repair["result"] == "success"
    assert repair["tasks"] == ["nap", "after", "handler"]


def test_ctrl_c_on_the_runner_cancels_the_run_cleanly(project):
    project.workflow("interrupt", CANCELABLE)
    runner = start_run(project, "interrupt")
    kernel = wait_for(lambda: kernel_pid(project.root / "notebooks" / "sleepy.pid"), "the kernel")
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1, err
    doc = json.loads(out)
    assert doc["state"] == "canceled"
    assert {t["key"]: t["state"] for t in doc["tasks"]} == {
        "nap": "canceled",
        "after": "upstream_canceled",
        "handler": "success",
    }
    assert gone(kernel)


def never_ready_kernel(project) -> tuple[Path, Path]:
    """A kernelspec `never` whose process writes its pid and never answers (JUPYTER_PATH)."""
    folder = project.root / "jupyter"
    spec = folder / "kernels" / "never"
    spec.mkdir(parents=True)
    pid_file = project.root / "never.pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
    argv = [sys.executable, "-c", code, str(pid_file)]
    kernel = {"argv": argv, "display_name": "never ready", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return folder, pid_file


def kernel_start_banner(project, attempt: dict) -> str:
    """The banner of an attempt's notebook, which must hold the injected parameters."""
    nb = nbformat.read(project.root / attempt["artifact"], as_version=4)
    assert "nbflow-error-banner" in nb.cells[0].metadata.get("tags", [])
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'received = "kept"' in injected[0].source
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    return nb.cells[0].source


@pytest.mark.parametrize("how", ["worker_starting", "kernel_never_ready"])
def test_a_timeout_before_the_kernel_runs_a_cell_leaves_the_parameterised_notebook(project, how):
    # 100ms ends the attempt before its worker has even imported papermill; the kernel that
    # never answers keeps papermill waiting for it whatever the machine's load.
    folder, pid_file = never_ready_kernel(project)
    timeout, kernel = ("100ms", "") if how == "worker_starting" else ("3s", "kernel: never")
    project.workflow(
        "early",
        f"""
        tasks:
          - key: t
            notebook: notebooks/receive.ipynb
            parameters: {{received: kept}}
            timeout: {timeout}
            {kernel}
            env: {{JUPYTER_PATH: "{folder}"}}
        """,
    )
    doc = run(project, "early")
    (attempt,) = task(doc, "t")["attempts"]
    assert attempt["state"] == "timed_out"
    assert attempt["error"]["cell_index"] is None
    shown = "0.1s" if how == "worker_starting" else "3s"
    banner = kernel_start_banner(project, attempt)
    assert f"this attempt timed out after {shown} while the kernel was starting." in banner
    log = project.cli("logs", "1", "t")
    assert log.returncode == 0, log.stderr
    assert log.stdout.startswith("executed notebook: ")
    started = kernel_pid(pid_file)  # None when the timeout came before the kernel's launch
    assert started is None or gone(started)


def test_a_cancel_while_the_kernel_starts_leaves_the_parameterised_notebook(project):
    folder, pid_file = never_ready_kernel(project)
    project.workflow(
        "starting",
        f"""
        tasks:
          - key: t
            notebook: notebooks/receive.ipynb
            parameters: {{received: kept}}
            kernel: never
            env: {{JUPYTER_PATH: "{folder}"}}
        """,
    )
    runner = start_run(project, "starting")
    kernel = wait_for(lambda: kernel_pid(pid_file), "the kernel process to start")
    assert project.cli("cancel", "1").returncode == 0
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1, err
    (attempt,) = task(json.loads(out), "t")["attempts"]
    assert attempt["state"] == "canceled"
    banner = kernel_start_banner(project, attempt)
    assert "this attempt was canceled while the kernel was starting." in banner
    assert gone(kernel)
