"""`nbflow values`: glued values across the runs of a workflow, one row per run."""

from __future__ import annotations

import csv
import io
import json
import shutil

from tests.conftest import REPO

WORKFLOW = """\
parameters: {who: a}
tasks:
  - key: pub
    script: scripts/report_args.py
    args: ["--name", "{{params.who}}", "x"]
"""


def test_values_of_three_runs_as_table_json_and_csv(project):
    shutil.copytree(REPO / "tests" / "scripts", project.root / "scripts")
    project.workflow("pubs", WORKFLOW)
    for who in ("ann", "bob", "cy"):
        assert project.cli("run", "pubs", "-p", f"who={who}").returncode == 0
    proc = project.cli("values", "pubs", "pub.name", "pub.rest", "--last", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["run"], r["pub.name"], r["pub.rest"]) for r in rows] == [
        (2, "bob", ["x"]),
        (3, "cy", ["x"]),
    ]
    table = project.cli("values", "pubs").stdout.splitlines()
    assert table[0].split()[:5] == ["run", "start_time", "state", "pub.name", "pub.rest"]
    assert [line.split()[3:5] for line in table[1:]] == [
        ["ann", '["x"]'],
        ["bob", '["x"]'],
        ["cy", '["x"]'],
    ]
    parsed = list(csv.DictReader(io.StringIO(project.cli("values", "pubs", "--csv").stdout)))
    assert [(r["run"], r["pub.name"], r["pub.rest"]) for r in parsed] == [
        ("1", "ann", '["x"]'),
        ("2", "bob", '["x"]'),
        ("3", "cy", '["x"]'),
    ]


def test_values_refusals(project):
    project.workflow("pubs", WORKFLOW)
    bad = project.cli("values", "pubs", "nodot")
    assert bad.returncode == 2 and "'nodot': expected TASK.NAME" in bad.stderr
    unknown = project.cli("values", "pubz")
    assert unknown.returncode == 2 and "no workflow 'pubz'" in unknown.stderr
    empty = project.cli("values", "pubs")
    assert (empty.returncode, empty.stdout.strip()) == (0, "no runs of pubs yet")
