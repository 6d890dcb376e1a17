"""Attempts on a real Dask cluster: history on PostgreSQL, artifacts on S3 (moto's server).

One scheduler and two workers for the module, each a separate `dask` process started in a
temporary folder of its own, so the workers share nothing with the project by accident
but what the project folder itself is (the demo passes files between its tasks there).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import sqlalchemy as sa

from tests.conftest import REPO, ProjectDir

pytestmark = [pytest.mark.dask, pytest.mark.kernel]

distributed = pytest.importorskip("distributed")
pytest.importorskip("s3fs")
pytest.importorskip("moto")

BUCKET = "nbflow-artifacts"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition, what: str, seconds: float = 120.0):
    """Poll `condition` until it gives something true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_boto_args()).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def _boto_args() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


class Cluster:
    """A `dask scheduler` and its `dask worker` processes, each in a folder of its own."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder = folder
        self.env = env
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        )

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        home = self.folder / name
        home.mkdir()
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), *args],
            cwd=home,
            env=self.env,
            stdout=open(home / "log", "wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str) -> subprocess.Popen:
        # No nanny: a SIGKILLed worker stays dead, as a lost machine does.
        proc = self._start(
            name,
            [
                "worker",
                self.address,
                "--name",
                name,
                "--nthreads",
                "2",
                "--resources",
                "kernel=2",
                "--no-nanny",
                "--no-dashboard",
                "--local-directory",
                str(self.folder / name),
            ],
        )
        self.workers[name] = proc
        return proc

    def wait_for_workers(self, count: int) -> dict[str, int]:
        """{address: pid} of the workers once `count` of them are connected."""
        with distributed.Client(self.address, timeout=60) as client:
            client.wait_for_workers(count, timeout=180)
            return dict(client.run(os.getpid))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_endpoint):
    env = {
        **os.environ,
        **S3_ENV,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        # A worker lost during an attempt fails it at once (nbflow's retries take over).
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    found = Cluster(tmp_path_factory.mktemp("dask"), env)
    try:
        found.start_worker("w1")
        found.start_worker("w2")
        found.wait_for_workers(2)
        yield found
    finally:
        found.stop()


@pytest.fixture
def history(postgres_url):
    name = f"nbflow_dask_{secrets.token_hex(4)}"
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def on_cluster(project: ProjectDir, cluster: Cluster, history: str, s3_endpoint, monkeypatch):
    """The project's commands run with --dask, the history on PostgreSQL, artifacts on S3."""
    prefix = f"s3://{BUCKET}/{secrets.token_hex(4)}"
    env = {
        **S3_ENV,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "NBFLOW_DATABASE_URL": history,
        "NBFLOW_ARTIFACTS": prefix,
        "NBFLOW_DASK_ADDRESS": cluster.address,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return project


def ran_on(doc: dict) -> list[dict]:
    return [a["executor"] for t in doc["tasks"] for a in t["attempts"]]


def test_the_demo_runs_across_both_workers_with_artifacts_on_s3(on_cluster, cluster):
    project = on_cluster
    for folder in ("notebooks", "data", "scripts", "queries"):
        shutil.rmtree(project.root / folder, ignore_errors=True)
        shutil.copytree(REPO / folder, project.root / folder)
    shutil.copy(REPO / "workflows" / "demo.yaml", project.root / "workflows" / "demo.yaml")

    code, doc = project.cli_json("run", "demo")
    assert code == 0 and doc["state"] == "success", json.dumps(doc)[:3000]

    where = ran_on(doc)
    assert {w["kind"] for w in where} == {"dask"}
    workers = {w["worker"] for w in where}
    assert workers == set(cluster.wait_for_workers(2)), where  # both workers took attempts
    artifacts = [a["artifact"] for t in doc["tasks"] for a in t["attempts"]]
    assert artifacts and all(a.startswith(os.environ["NBFLOW_ARTIFACTS"]) for a in artifacts)
    assert not list((project.root / ".nbflow").glob("runs/**/attempt-*.ipynb"))

    # What the workers wrote is read back from S3 by show, logs, report and the REST API.
    shown = project.cli("show", str(doc["id"]))
    assert shown.returncode == 0 and "on tcp://127.0.0.1:" in shown.stdout, shown.stdout
    logs = project.cli("logs", str(doc["id"]), "rank_regions")
    assert logs.returncode == 0 and "statement 1" in logs.stdout, logs.stderr
    out = project.root / "report.html"
    report = project.cli("report", str(doc["id"]), "report", "-o", str(out))
    assert report.returncode == 0 and "Sales report" in out.read_text(), report.stderr

    from nbflow import api
    from nbflow.workflows.project import Project

    served = api.artifact(Project(project.root), doc["id"], "clean")
    assert served["kind"] == "notebook" and served["content"]["cells"]
    opened = api.run_file(Project(project.root), artifacts[0])  # the lab's drive of runs
    assert opened["type"] == "notebook" and opened["path"] == artifacts[0]


def counting_command(counter: Path, code: int) -> str:
    return json.dumps(
        [
            sys.executable,
            "-c",
            f"open({str(counter)!r}, 'a').write('x'); raise SystemExit({code})",
        ]
    )


def test_a_failing_task_is_retried_by_nbflow_and_each_attempt_ran_once(on_cluster):
    project = on_cluster
    counter = project.root / "count.txt"
    project.workflow(
        "flaky",
        f"""
        tasks:
          - key: always_fails
            command: {counting_command(counter, 3)}
            retries: 2
        """,
    )
    code, doc = project.cli_json("run", "flaky")
    assert code == 1 and doc["state"] == "failed"
    (task,) = doc["tasks"]
    assert [a["state"] for a in task["attempts"]] == ["failed"] * 3
    assert all(a["error"]["ename"] == "ProcessError" for a in task["attempts"])
    assert counter.read_text() == "xxx"  # exactly the attempts recorded


def test_a_timeout_kills_the_kernel_on_the_worker(on_cluster):
    project = on_cluster
    marker = project.root / "kernel.pid"
    project.workflow(
        "slow",
        f"""
        tasks:
          - key: sleepy
            notebook: notebooks/sleepy.ipynb
            parameters: {{seconds: 120, marker: "{marker}"}}
            timeout: 15s
        """,
    )
    code, doc = project.cli_json("run", "slow")
    assert code == 1 and doc["tasks"][0]["state"] == "timed_out", doc
    (attempt,) = doc["tasks"][0]["attempts"]
    assert attempt["executor"]["kind"] == "dask" and attempt["executor"]["worker"]
    pid = int(marker.read_text())
    wait_for(lambda: not psutil.pid_exists(pid), "the timed-out kernel to be gone", 30)
    logs = project.cli("logs", str(doc["id"]), "sleepy")
    assert logs.returncode == 0 and "timed out" in logs.stdout, logs.stdout + logs.stderr


def test_a_cancel_kills_the_kernel_on_the_worker(on_cluster):
    project = on_cluster
    marker = project.root / "kernel.pid"
    project.workflow(
        "cancelme",
        f"""
        tasks:
          - key: sleepy
            notebook: notebooks/sleepy.ipynb
            parameters: {{seconds: 120, marker: "{marker}"}}
        """,
    )
    running = subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "run", "cancelme", "--json"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid = int(wait_for(lambda: marker.is_file() and marker.read_text(), "the kernel", 180))
        canceled = project.cli("cancel", "1", "--wait", "120")
        assert canceled.returncode == 0, canceled.stdout + canceled.stderr
        out, _ = running.communicate(timeout=120)
    finally:
        if running.poll() is None:
            running.kill()
    doc = json.loads(out)
    assert doc["state"] == "canceled" and doc["tasks"][0]["attempts"][0]["state"] == "canceled"
    wait_for(lambda: not psutil.pid_exists(pid), "the canceled kernel to be gone", 30)


def test_a_repair_runs_again_on_the_cluster(on_cluster):
    project = on_cluster
    counter = project.root / "count.txt"
    fixed = project.root / "fixed"
    check = f"import os; open({str(counter)!r}, 'a').write('x'); raise SystemExit(0 if os.path.exists({str(fixed)!r}) else 3)"
    project.workflow(
        "mend",
        f"""
        tasks:
          - key: first
            notebook: notebooks/ok.ipynb
            parameters: {{x: 21}}
          - key: second
            command: {json.dumps([sys.executable, "-c", check])}
            depends_on: [first]
        """,
    )
    code, doc = project.cli_json("run", "mend")
    assert code == 1 and [t["state"] for t in doc["tasks"]] == ["success", "failed"]
    assert doc["tasks"][0]["values"] == {"doubled": 42}  # glued on a worker, recorded here
    fixed.write_text("yes")
    code, repaired = project.cli_json("repair", str(doc["id"]))
    assert code == 0 and repaired["state"] == "success", repaired
    attempts = {t["key"]: [a["state"] for a in t["attempts"]] for t in repaired["tasks"]}
    assert attempts == {"first": ["success"], "second": ["failed", "success"]}
    assert counter.read_text() == "xx"
    assert all(w["kind"] == "dask" for w in ran_on(repaired))


def slow_once_notebook(path: Path) -> None:
    """Counts its attempts in `counter`; the first writes its kernel's pid and sleeps."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("counter = 'count.txt'\nmarker = 'kernel.pid'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os, time\n"
            "with open(counter, 'a') as fh:\n"
            "    fh.write('x')\n"
            "if len(open(counter).read()) == 1:\n"
            "    open(marker + '.tmp', 'w').write(str(os.getpid()))\n"
            "    os.replace(marker + '.tmp', marker)\n"
            "    time.sleep(120)"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_a_worker_killed_mid_attempt_fails_that_attempt_and_the_retry_succeeds(on_cluster, cluster):
    project = on_cluster
    counter, marker = project.root / "count.txt", project.root / "kernel.pid"
    slow_once_notebook(project.root / "notebooks" / "slow_once.ipynb")
    project.workflow(
        "survive",
        f"""
        tasks:
          - key: once
            notebook: notebooks/slow_once.ipynb
            parameters: {{counter: "{counter}", marker: "{marker}"}}
            retries: 1
        """,
    )
    workers = cluster.wait_for_workers(2)
    running = subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "run", "survive", "--json"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    leftovers: list[psutil.Process] = []
    try:
        kernel = psutil.Process(
            int(wait_for(lambda: marker.is_file() and marker.read_text(), "the kernel", 180))
        )
        owner = next(p for p in kernel.parents() if p.pid in workers.values())
        leftovers = [c for c in owner.children(recursive=True)]
        os.kill(owner.pid, signal.SIGKILL)  # the machine is gone, as far as Dask knows
        # Its reaper ends the kernel, which would otherwise finish its cell orphaned.
        wait_for(lambda: not psutil.pid_exists(kernel.pid), "the dead worker's kernel to end", 60)
        out, err = running.communicate(timeout=300)
    finally:
        if running.poll() is None:
            running.kill()
        for proc in leftovers:  # should the reaper have failed: no stray processes
            try:
                proc.kill()
            except psutil.Error:
                pass
        name = next(n for n, p in cluster.workers.items() if p.pid == owner.pid)
        cluster.workers[name].wait(30)
        cluster.start_worker(name + "-again")
    doc = json.loads(out)
    assert doc["state"] == "success", err[-3000:]
    (task,) = doc["tasks"]
    lost, retried = task["attempts"]
    assert lost["state"] == "failed" and lost["error"]["ename"] == "WorkerLost", lost
    assert retried["state"] == "success"
    killed = next(a for a, pid in workers.items() if pid == owner.pid)
    assert retried["executor"]["worker"] != killed
    assert counter.read_text() == "xx"  # two attempts recorded, two ran: none twice


def test_a_secret_reaches_the_kernel_on_a_worker_and_no_artifact_on_s3_holds_it(
    on_cluster, s3_endpoint
):
    import boto3

    from tests.integration.test_secrets import SECRET, WORKFLOW

    project = on_cluster
    project.workflow("w", WORKFLOW)
    proc = project.cli("run", "w", "--json", env={"NBFLOW_TEST_SECRET": SECRET})
    assert proc.returncode == 1, proc.stderr  # `boom` fails, by design
    doc = json.loads(proc.stdout)
    tasks = {t["key"]: t for t in doc["tasks"]}
    assert tasks["nb"]["values"] == {"matches": True, "echo": "***"}  # it got the real value
    assert tasks["boom"]["message"] == "ValueError: bad ***"
    assert "got x***x" in project.cli("logs", "1", "cmd").stdout
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, **_boto_args())
    prefix = os.environ["NBFLOW_ARTIFACTS"].split(f"{BUCKET}/", 1)[1]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert len(keys) == 3
    for key in keys:
        assert SECRET.encode() not in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(), key


def test_the_scheduler_daemon_sends_its_runs_to_the_cluster(on_cluster):
    from nbflow.history import Store

    project = on_cluster
    project.workflow(
        "often",
        f"""
        schedule: {{cron: "*/2 * * * * ?"}}
        tasks:
          - key: t
            command: {json.dumps([sys.executable, "-c", "print('scheduled')"])}
        """,
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "schedule", "--tick", "0.2"],  # --dask from env
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Store(os.environ["NBFLOW_DATABASE_URL"])
    try:
        done = wait_for(
            lambda: [r for r in store.list_runs("often", 10) if r["state"] == "success"],
            "a scheduled run to succeed",
            120,
        )
        daemon.send_signal(signal.SIGINT)
        _, err = daemon.communicate(timeout=120)
        assert daemon.returncode == 0, err
        run = store.get_run(done[0]["id"])
        assert run is not None
        (attempt,) = run["tasks"][0]["attempts"]
        assert attempt["executor"]["kind"] == "dask" and attempt["executor"]["worker"]
    finally:
        store.close()
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate(timeout=30)
