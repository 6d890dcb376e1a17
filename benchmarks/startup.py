"""Start-up benchmark: how long `nbflow` commands that execute nothing take, against Python.

Measures, alternating the commands each round so that load on the machine hits all alike:

  python-pass      `python -c pass` (the floor: the interpreter alone)
  help             `nbflow --help`
  runs             `nbflow runs` on a project with one recorded run
  show             `nbflow show 1`
  validate         `nbflow validate` of the demo's workflow files
  validate-1000    `nbflow validate` of a generated 1,000-task chain

and prints the median wall time of each, its ratio to `python -c pass`, and writes the
samples to `benchmarks/results/startup-<timestamp>.json`.

    .venv/bin/python benchmarks/startup.py [--repeat 15] [--compare DIR]

`--compare DIR` times the same commands with another nbflow source tree first on PYTHONPATH
(for example `git worktree add /tmp/before HEAD~5`), interleaved, as the before figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"


def chain_workflow(n: int) -> str:
    """A workflow of `n` command tasks, each depending on the one before."""
    lines = ["name: chain", "tasks:"]
    for i in range(n):
        lines.append(f"  - key: t{i}")
        lines.append('    command: ["true"]')
        if i:
            lines.append(f"    depends_on: [t{i - 1}]")
    return "\n".join(lines) + "\n"


def make_project(root: Path) -> None:
    """The demo project's files, one recorded run of a one-task workflow, a 1,000-task chain."""
    for name in ("notebooks", "workflows", "data", "scripts", "queries"):
        shutil.copytree(REPO / name, root / name)
    (root / "workflows" / "one.yaml").write_text(
        'name: one\ntasks:\n  - key: hello\n    command: ["true"]\n'
    )
    (root / "big").mkdir()
    (root / "big" / "chain.yaml").write_text(chain_workflow(1000))
    nbflow = [sys.executable, "-m", "nbflow.cli"]
    subprocess.run([*nbflow, "run", "one"], cwd=root, check=True, capture_output=True)


def timed(argv: list[str], cwd: Path, src: str | None = None) -> float:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--compare", metavar="DIR", help="another nbflow source tree to time")
    args = parser.parse_args()
    nbflow = str(Path(sys.executable).parent / "nbflow")
    here = str(REPO)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root)
        commands = {
            "python-pass": [sys.executable, "-c", "pass"],
            "help": [nbflow, "--help"],
            "runs": [nbflow, "runs"],
            "show": [nbflow, "show", "1"],
            "validate": [nbflow, "validate", "workflows/demo.yaml"],
            "validate-1000": [nbflow, "validate", "big/chain.yaml"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        before: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, argv in commands.items():
                samples[name].append(timed(argv, root, here))
                if args.compare:
                    before[name].append(timed(argv, root, args.compare))
    base = statistics.median(samples["python-pass"])
    head = f"{'command':16} {'median s':>9} {'x python -c pass':>17}"
    print(head + (f" {'before s':>9} {'speed-up':>9}" if args.compare else ""))
    for name, values in samples.items():
        med = statistics.median(values)
        line = f"{name:16} {med:9.3f} {med / base:17.1f}"
        if args.compare:
            old = statistics.median(before[name])
            line += f" {old:9.3f} {old / med:8.1f}x"
        print(line)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS_DIR / f"startup-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "repeat": args.repeat,
                "cpus": os.cpu_count(),
                "samples": samples,
                "compare": args.compare,
                "before": before if args.compare else None,
            },
            indent=2,
        )
    )
    print(f"samples: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
