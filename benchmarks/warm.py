"""Warm kernels (issue 11): every figure, each against a baseline measured in the same run.

    .venv/bin/python benchmarks/warm.py [--repeat 5] [--tasks 20] [--skip rest]

Measures (medians of --repeat; the machine is noisy, so compare ratios, not seconds):
  start-up   `nbflow --help`, `nbflow runs`, `nbflow show 1` against `python -c pass`
  one        one trivial notebook: `nbflow run` against the `papermill` CLI
  fanout     N trivial notebooks, --parallel 2: nbflow (warm), nbflow with
             NBFLOW_WARM_KERNELS=0 (cold, as before) and a sequential in-process
             `papermill.execute_notebook` loop; plus nbflow's orchestration overhead per
             task (attempt wall time minus the cells' own run time, from papermill's
             per-cell durations in the executed notebooks)
  rest       a real `jupyter server` with nbflow: POST notebooks/run to `success` (polled
             every 10 ms), warm pool, against the same server with warm kernels off
  validate   `nbflow validate` of a 1,000-task workflow
  pool       RSS and USS of idle pooled kernels (and of the fork server)
Results go to benchmarks/results/warm-<time>.json as well as stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from fanout import make_project, trivial_notebook  # noqa: E402


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return took


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NBFLOW_DATABASE_URL", None)
    env["NBFLOW_HOME"] = str(root / ".nbflow")
    env.update(extra)
    return env


def nbflow(*args: str) -> list[str]:
    return [str(BIN / "nbflow"), *args]


def startup(root: Path, repeat: int) -> dict[str, Any]:
    env = env_for(root)
    subprocess.run(nbflow("run", "fanout", "--json"), cwd=root, env=env, capture_output=True)
    out: dict[str, Any] = {}
    for name, argv in [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("nbflow --help", nbflow("--help")),
        ("nbflow runs", nbflow("runs")),
        ("nbflow show 1", nbflow("show", "1")),
    ]:
        out[name] = median([timed(argv, root, env) for _ in range(repeat)])
    base = out["python -c pass"]
    return {k: {"s": v, "x_python": v / base} for k, v in out.items()}


def overhead_per_task(root: Path, doc: dict[str, Any]) -> float:
    """Median over tasks of attempt wall time minus the cells' own run time."""
    overheads = []
    for task in doc["tasks"]:
        attempt = task["attempts"][-1]
        nb = json.loads((root / attempt["artifact"]).read_text())
        cells = sum(c["metadata"].get("papermill", {}).get("duration") or 0 for c in nb["cells"])
        wall = (
            dt.datetime.fromisoformat(attempt["end_time"])
            - dt.datetime.fromisoformat(attempt["start_time"])
        ).total_seconds()
        overheads.append(wall - cells)
    return median(overheads)


def run_nbflow(root: Path, workflow: str, env: dict[str, str], *extra: str) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run(
        nbflow("run", workflow, "--json", *extra), cwd=root, env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    doc = json.loads(proc.stdout)
    if doc.get("state") != "success":
        raise SystemExit(f"nbflow run {workflow}: {doc.get('state')}\n{proc.stderr[-3000:]}")
    return took, doc


def fanout(root: Path, n: int, repeat: int) -> dict[str, Any]:
    warm, cold, loop, overheads, cold_overheads = [], [], [], [], []
    notebook = root / "notebooks" / "trivial.ipynb"
    for _ in range(repeat):
        took, doc = run_nbflow(root, "fanout", env_for(root), "--parallel", "2")
        warm.append(took)
        overheads.append(overhead_per_task(root, doc))
        took, doc = run_nbflow(
            root, "fanout", env_for(root, NBFLOW_WARM_KERNELS="0"), "--parallel", "2"
        )
        cold.append(took)
        cold_overheads.append(overhead_per_task(root, doc))
        code = (
            "import papermill, sys, time\n"
            "t = time.perf_counter()\n"
            f"for i in range({n}):\n"
            f"    papermill.execute_notebook({str(notebook)!r}, '/dev/null', parameters={{'i': i}},"
            " progress_bar=False)\n"
            "print(time.perf_counter() - t)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        loop.append(float(proc.stdout.strip().splitlines()[-1]))
    w, c, p = median(warm), median(cold), median(loop)
    return {
        "tasks": n,
        "nbflow_warm_s": w,
        "nbflow_cold_s": c,
        "papermill_inprocess_loop_s": p,
        "speedup_warm_vs_loop": p / w,
        "speedup_cold_vs_loop": p / c,
        "overhead_per_task_warm_ms": median(overheads) * 1000,
        "overhead_per_task_cold_ms": median(cold_overheads) * 1000,
        "samples": {"warm": warm, "cold": cold, "loop": loop},
    }


def one(root: Path, repeat: int) -> dict[str, Any]:
    (root / "workflows" / "one.yaml").write_text(
        "tasks:\n  - {key: t, notebook: notebooks/trivial.ipynb}\n"
    )
    nb = root / "notebooks" / "trivial.ipynb"
    ours = [run_nbflow(root, "one", env_for(root))[0] for _ in range(repeat)]
    pm = [
        timed([str(BIN / "papermill"), str(nb), str(root / "out.ipynb")], root, os.environ.copy())
        for _ in range(repeat)
    ]
    return {
        "nbflow_run_s": median(ours),
        "papermill_cli_s": median(pm),
        "ratio": median(ours) / median(pm),
    }


def validate(root: Path, repeat: int) -> dict[str, Any]:
    lines = ["tasks:"]
    for i in range(1000):
        dep = f", depends_on: [t{i - 1}]" if i % 10 else ""
        lines.append(f"  - {{key: t{i}, notebook: notebooks/trivial.ipynb{dep}}}")
    (root / "workflows" / "big.yaml").write_text("\n".join(lines) + "\n")
    env = env_for(root)
    took = [timed(nbflow("validate", "workflows/big.yaml"), root, env) for _ in range(repeat)]
    return {"validate_1000_tasks_s": median(took)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rest(root: Path, repeat: int, warm: bool) -> dict[str, Any]:
    token = secrets.token_hex(16)
    port = free_port()
    env = env_for(root, NBFLOW_WARM_KERNELS="2" if warm else "0")
    env.pop("NBFLOW_HOME")  # the server reads its root project's own .nbflow
    server = subprocess.Popen(
        [
            str(BIN / "jupyter"),
            "server",
            f"--port={port}",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/nbflow/api/"

    def call(method: str, route: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + route, data=data, method=method)
        req.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(req, timeout=60) as answer:
            return json.loads(answer.read())

    try:
        for _ in range(1200):  # a loaded machine starts a server slowly
            try:
                call("GET", "runs")
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("jupyter server exited") from None
                time.sleep(0.1)
        took = []
        for i in range(repeat + 1):  # the first one starts the pool
            start = time.perf_counter()
            run = call(
                "POST", "notebooks/run", {"path": "notebooks/trivial.ipynb", "parameters": {"i": i}}
            )
            while (doc := call("GET", f"runs/{run['id']}"))["state"] in ("queued", "running"):
                time.sleep(0.01)
            if doc["state"] != "success":
                raise SystemExit(f"REST run ended {doc['state']}")
            took.append(time.perf_counter() - start)
        return {"median_s": median(took[1:]), "samples": took}
    finally:
        server.terminate()
        server.wait(timeout=60)


def pool_memory() -> dict[str, Any]:
    import psutil

    from nbflow.execution.kernels.kernelpool import KernelPool, PoolSettings

    async def measure() -> dict[str, Any]:
        pool = KernelPool(PoolSettings(size=3))
        pool.serves("python3", dict(os.environ))
        pool.warm(["python3"])
        while len(pool.idle["python3"].kernels) < 3:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2)  # let them finish initialising
        kernels = [psutil.Process(k.pid).memory_full_info() for k in pool.idle["python3"].kernels]
        server = psutil.Process(pool.server.proc.pid).memory_full_info()  # type: ignore[union-attr]
        await pool.close()
        mib = 1024 * 1024
        return {
            "kernel_rss_mib": median([m.rss / mib for m in kernels]),
            "kernel_uss_mib": median([m.uss / mib for m in kernels]),
            "fork_server_rss_mib": server.rss / mib,
        }

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--skip", action="append", default=[])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="nbflow-warm-"))
    try:
        make_project(root, args.tasks)
        results: dict[str, Any] = {"cores": os.cpu_count(), "repeat": args.repeat}
        steps = [
            ("startup", lambda: startup(root, args.repeat)),
            ("one", lambda: one(root, args.repeat)),
            ("fanout", lambda: fanout(root, args.tasks, max(1, args.repeat // 2))),
            ("validate", lambda: validate(root, args.repeat)),
            (
                "rest",
                lambda: {
                    "warm": rest(root, args.repeat * 2, True),
                    "cold": rest(root, args.repeat, False),
                },
            ),
            ("pool", pool_memory),
        ]
        for name, step in steps:
            if name in args.skip:
                continue
            results[name] = step()
            print(name, json.dumps(results[name], indent=1), flush=True)
        out = HERE / "results" / f"warm-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print("results:", out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    assert trivial_notebook  # the same notebook as the fan-out benchmark
    main()
