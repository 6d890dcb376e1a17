"""The Dask executor's parts that need no cluster: settings checks, the worker-side attempt
in a folder of its own, and the artifact store read back through fsspec."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nbflow import api
from nbflow.core.errors import UsageError
from nbflow.execution import artifactstore, dask_executor, daskworker, reaper
from nbflow.workflows.project import Project


def test_loopback_schedulers_are_local_and_others_are_not():
    assert dask_executor.is_local("tcp://127.0.0.1:8786")
    assert dask_executor.is_local("localhost:8786")
    assert not dask_executor.is_local("tcp://10.0.0.7:8786")
    assert dask_executor.host_port("tcp://10.0.0.7") == ("10.0.0.7", 8786)


def test_a_remote_scheduler_with_a_sqlite_history_is_refused_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    with pytest.raises(UsageError) as caught:
        api.cluster_executor(Project(tmp_path), "tcp://10.0.0.7:8786")
    assert str(caught.value).startswith("--dask tcp://10.0.0.7:8786: the run history is SQLite")
    assert "\n" not in str(caught.value)


def test_a_remote_scheduler_needs_an_artifact_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NBFLOW_DATABASE_URL", "postgresql+psycopg://nbflow@db/nbflow")
    monkeypatch.delenv("NBFLOW_ARTIFACTS", raising=False)
    with pytest.raises(UsageError, match="set NBFLOW_ARTIFACTS to a folder every worker shares"):
        api.cluster_executor(Project(tmp_path), "tcp://10.0.0.7:8786")


def test_a_scheduler_that_does_not_answer_is_named(tmp_path, monkeypatch):
    import socket

    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once it is closed
    with pytest.raises(UsageError, match=f"--dask tcp://127.0.0.1:{port}: no Dask scheduler"):
        api.cluster_executor(Project(tmp_path), f"tcp://127.0.0.1:{port}")


def test_the_cli_refuses_a_cluster_with_sqlite_with_exit_code_2(tmp_path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "w.yaml").write_text("tasks:\n  - key: a\n    command: 'true'\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("NBFLOW_")}
    proc = subprocess.run(
        [sys.executable, "-m", "nbflow.cli", "run", "w", "--dask", "tcp://10.0.0.7:8786"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert "the run history is SQLite" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / ".nbflow" / "history.db").exists()  # nothing was recorded


def test_a_run_without_dask_imports_nothing_of_dask(tmp_path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "w.yaml").write_text(
        f"tasks:\n  - key: a\n    command: ['{sys.executable}', '-c', 'pass']\n"
    )
    code = (
        "import sys\n"
        "from nbflow import api\n"
        "from pathlib import Path\nfrom nbflow.workflows.project import Project\n"
        f"doc = api.run(Project(Path({str(tmp_path)!r})), 'w')\n"
        "assert doc['state'] == 'success', doc\n"
        "assert doc['tasks'][0]['attempts'][0]['executor'] == {'kind': 'local'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('distributed', 'dask', 'fsspec', 's3fs', 'nbflow.execution.dask_executor')))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("NBFLOW_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_an_attempt_runs_on_a_worker_without_the_project_and_its_log_goes_to_the_store(
    tmp_path,
):
    store = tmp_path / "store"
    job = {
        "kind": "process",
        "files": {"0-hello.py": b"import os\nprint('hello from', os.path.basename(os.getcwd()))\n"},
        "argv": [{"python": ""}, {"file": "0-hello.py"}],
        "artifact": "attempt-1.log",
        "artifact_url": f"file://{store}/runs/w/1/a/attempt-1.log",
        "cwd": str(tmp_path / "not-on-this-worker"),
        "env": {},
        "timeout": 60,
        "context": None,
    }
    folder = tmp_path / "attempt"
    folder.mkdir()
    report = asyncio.run(daskworker._attempt_here(job, folder, lambda: False))
    assert report["state"] == "success", report
    assert (store / "runs/w/1/a/attempt-1.log").read_text() == "hello from attempt\n"


def test_a_canceled_attempt_on_a_worker_stops_its_process_and_keeps_its_log(tmp_path):
    store = tmp_path / "store"
    job = {
        "kind": "process",
        "files": {},
        "argv": [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"],
        "artifact": "attempt-1.log",
        "artifact_url": f"file://{store}/attempt-1.log",
        "cwd": str(tmp_path),
        "env": {},
        "timeout": None,
        "context": None,
    }
    log = tmp_path / "attempt" / "attempt-1.log"
    log.parent.mkdir()

    def canceled() -> bool:  # asked once the process has said it started
        return log.is_file() and "started" in log.read_text()

    report = asyncio.run(daskworker._attempt_here(job, log.parent, canceled))
    assert report["state"] == "canceled"
    assert (store / "attempt-1.log").read_text() == "started\n"


def test_the_store_is_read_through_a_refreshed_local_copy(tmp_path):
    (tmp_path / "store").mkdir()
    kept = tmp_path / "store" / "attempt-1.log"
    kept.write_text("one\n")
    url = f"file://{kept}"
    cache = tmp_path / "cache"
    first = artifactstore.local_path(tmp_path, cache, url)
    assert first.read_text() == "one\n" and first.is_relative_to(cache)
    kept.write_text("one\ntwo\n")  # the attempt wrote more since
    assert artifactstore.local_path(tmp_path, cache, url).read_text() == "one\ntwo\n"
    assert not artifactstore.local_path(tmp_path, cache, f"file://{tmp_path}/gone.log").exists()
    assert artifactstore.local_path(tmp_path, cache, ".nbflow/x.log") == tmp_path / ".nbflow/x.log"


def test_the_store_root_from_the_environment(tmp_path):
    assert artifactstore.root_from_env({}) is None
    assert artifactstore.root_from_env({"NBFLOW_ARTIFACTS": "s3://b/p/"}) == "s3://b/p"
    shared = artifactstore.root_from_env({"NBFLOW_ARTIFACTS": str(tmp_path)})
    assert shared == f"file://{Path(tmp_path).resolve()}"


def test_the_runs_drive_reads_an_artifact_from_the_store_and_nothing_else(tmp_path, monkeypatch):
    import nbformat

    from nbflow.core.errors import Forbidden
    from nbflow.review import runfiles

    store = tmp_path / "store"
    (store / "runs/w/1/a").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, store / "runs/w/1/a/attempt-1.ipynb")
    monkeypatch.setenv("NBFLOW_ARTIFACTS", str(store))
    project = Project(tmp_path / "project")
    url = f"file://{store.resolve()}/runs/w/1/a/attempt-1.ipynb"
    model = runfiles.file_model(project, url)
    assert model["type"] == "notebook" and model["path"] == url and not model["writable"]
    assert model["content"]["cells"][0]["source"] == "x = 1"
    collapsed = re.sub("/+", "/", url)  # as JupyterLab normalises a drive's path
    assert runfiles.file_model(project, collapsed)["name"] == "attempt-1.ipynb"
    with pytest.raises(Forbidden):
        runfiles.file_model(project, f"file://{tmp_path}/elsewhere.ipynb")


def test_the_reaper_ends_what_a_dead_worker_left_running_and_nothing_that_ended():
    import psutil

    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    done = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed = reaper.reap([f"+{left.pid}\n", f"+{done.pid}\n", f"-{done.pid}\n"])
        assert killed == 1
        assert not psutil.pid_exists(left.pid)  # killed (and reaped by kill_tree's wait)
        assert done.poll() is None and psutil.pid_exists(done.pid)  # ended as far as it knew
    finally:
        for proc in (left, done):
            proc.kill()
            proc.wait()
