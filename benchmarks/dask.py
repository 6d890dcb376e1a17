"""Dask benchmark: 40 notebook tasks that each sleep 1 s, on 1, 2 and 4 Dask workers.

For each worker count a fresh `dask scheduler` and that many `dask worker` processes (two
threads and `--resources kernel=2` each) are started on this machine; the workflow runs once
with `nbflow run --dask` (SQLite history and the state folder for artifacts, as a loopback
scheduler allows). Then the same workflow runs locally (`--parallel 2`, warm kernels on) in
the same invocation. Reported per configuration:

  wall s        the `nbflow run` subprocess, start to exit
  ideal s       tasks x 1 s / kernels at once (the workers' kernels, or --parallel)
  / ideal       wall / ideal
  per task s    wall x kernels / tasks - sleep: what each task cost beyond its sleep, all
                in (dispatch, kernel start, saving and uploading the notebook, recording)
  attempt s     an attempt's recorded duration (end - start) minus its sleep, the median:
                what one attempt costs from the runner's start to its result (`--parallel`
                equals the kernels, so attempts do not wait in Dask's queue)

    .venv/bin/python benchmarks/dask.py [--tasks 40] [--workers 1,2,4] [--sleep 1]

Every run must end `success`; results go to benchmarks/results/dask-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# This file is named dask.py: its folder must not shadow the `dask` package it imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
BIN = Path(sys.executable).parent
KERNELS_PER_WORKER = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(root: Path, tasks: int, sleep: float) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "params",
                "metadata": {"tags": ["parameters"]},
                "outputs": [],
                "source": f"seconds = {sleep}",
            },
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "sleep",
                "metadata": {},
                "outputs": [],
                "source": "import time\ntime.sleep(seconds)",
            },
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "notebooks").mkdir(parents=True)
    (root / "workflows").mkdir()
    (root / "notebooks" / "sleep.ipynb").write_text(json.dumps(notebook))
    lines = ["name: sleepers", "tasks:"]
    for i in range(tasks):
        lines += [f"  - key: t{i:02d}", "    notebook: notebooks/sleep.ipynb"]
    (root / "workflows" / "sleepers.yaml").write_text("\n".join(lines) + "\n")


class Cluster:
    def __init__(self, workers: int, folder: Path):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        dask = str(BIN / "dask")
        port = self.address.rsplit(":", 1)[1]
        self._start(
            folder / "scheduler",
            [dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
            env,
        )
        for i in range(workers):
            home = folder / f"w{i}"
            self._start(
                home,
                [
                    dask,
                    "worker",
                    self.address,
                    "--nthreads",
                    str(KERNELS_PER_WORKER),
                    "--resources",
                    f"kernel={KERNELS_PER_WORKER}",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(home),
                ],
                env,
            )
        from distributed import Client

        try:
            with Client(self.address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=180)
        except BaseException:
            self.stop()
            raise

    def _start(self, home: Path, argv: list[str], env: dict[str, str]) -> None:
        home.mkdir(parents=True)
        self.procs.append(
            subprocess.Popen(
                argv, cwd=home, env=env, stdout=open(home / "log", "wb"), stderr=subprocess.STDOUT
            )
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def run_once(root: Path, home: Path, extra: list[str], sleep: float) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    env["NBFLOW_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbflow.cli",
            "--project",
            str(root),
            "run",
            "sleepers",
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"nbflow run {' '.join(extra)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    doc = json.loads(proc.stdout)
    assert doc["state"] == "success", doc["state"]
    attempts = [t["attempts"][-1] for t in doc["tasks"]]
    overheads = [seconds(a["end_time"]) - seconds(a["start_time"]) - sleep for a in attempts]
    workers = sorted({(a.get("executor") or {}).get("worker") or "local" for a in attempts})
    return {
        "wall": wall,
        "overhead_median": statistics.median(overheads),
        "overhead_mean": statistics.fmean(overheads),
        "workers_used": workers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--sleep", type=float, default=1.0)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.1f} (cores: {os.cpu_count()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="nbflow-bench-dask-") as tmp:
        root = Path(tmp) / "project"
        write_project(root, args.tasks, args.sleep)
        for n, count in enumerate(int(w) for w in args.workers.split(",")):
            cluster = Cluster(count, Path(tmp) / f"cluster-{n}")
            try:
                kernels = count * KERNELS_PER_WORKER
                found = run_once(
                    root,
                    Path(tmp) / f"home-{n}",
                    ["--dask", cluster.address, "--parallel", str(kernels)],
                    args.sleep,
                )
            finally:
                cluster.stop()
            rows.append(
                {
                    "config": f"dask, {count} worker(s) x {KERNELS_PER_WORKER} kernels",
                    "kernels": kernels,
                    **found,
                }
            )
            print_row(rows[-1], args)
        local = run_once(root, Path(tmp) / "home-local", ["--parallel", "2"], args.sleep)
        rows.append({"config": "local, --parallel 2 (warm kernels)", "kernels": 2, **local})
        print_row(rows[-1], args)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"dask-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "tasks": args.tasks,
                "sleep": args.sleep,
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "load_before": load_before,
                "load_after": os.getloadavg(),
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"written {out}")
    return 0


def print_row(row: dict[str, Any], args: argparse.Namespace) -> None:
    ideal = args.tasks * args.sleep / row["kernels"]
    row["ideal"] = ideal
    row["ratio"] = row["wall"] / ideal
    row["per_task"] = row["wall"] * row["kernels"] / args.tasks - args.sleep
    print(
        f"{row['config']:40} wall {row['wall']:6.1f} s  ideal {ideal:5.1f} s  "
        f"/ ideal {row['ratio']:4.2f}  per task {row['per_task']:5.2f} s  "
        f"attempt {row['overhead_median']:5.2f} s  workers used {len(row['workers_used'])}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
