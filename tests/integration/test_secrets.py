"""Secret parameters: the kernel gets the value, nothing nbflow keeps or answers holds it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import tornado

from tests.conftest import TEST_NOTEBOOKS
from tests.integration.conftest import call

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.kernel

SECRET = "s3cr3t-Value_42"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()

# The notebook prints the secret and glues it; a command gets it in its arguments and
# prints it; a notebook fails with it in its error message.
WORKFLOW = f"""\
parameters:
  token: {{secret: true, env: NBFLOW_TEST_SECRET}}
  digest: "{DIGEST}"
tasks:
  - key: nb
    notebook: notebooks/secret.ipynb
  - key: cmd
    command: [python, -c, "import sys; print('got', sys.argv[1])", "x{{{{params.token}}}}x"]
  - key: boom
    notebook: notebooks/fail.ipynb
    parameters: {{message: "bad {{{{params.token}}}}"}}
"""


def holding_the_secret(root: Path) -> list[str]:
    """Every file under .nbflow/ whose bytes hold the secret."""
    return [
        str(p.relative_to(root))
        for p in (root / ".nbflow").rglob("*")
        if p.is_file() and SECRET.encode() in p.read_bytes()
    ]


def test_a_run_masks_the_secret_everywhere_while_the_kernel_gets_it(project, monkeypatch):
    project.workflow("w", WORKFLOW)
    missing = project.cli("run", "w")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "nbflow: parameter 'token' is secret and its environment variable "
        "NBFLOW_TEST_SECRET is not set"
    )
    assert not (project.root / ".nbflow" / "runs").exists()  # nothing recorded
    refused = project.cli("run", "w", "-p", "token=x", env={"NBFLOW_TEST_SECRET": SECRET})
    assert refused.returncode == 2 and "parameter 'token' is secret" in refused.stderr

    env = {"NBFLOW_TEST_SECRET": SECRET}
    proc = project.cli("run", "w", "--json", env=env)
    assert proc.returncode == 1, proc.stderr  # `boom` fails, by design
    assert SECRET not in proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    tasks = {t["key"]: t for t in doc["tasks"]}
    assert tasks["nb"]["values"] == {"matches": True, "echo": "***"}  # it got the real value
    assert doc["parameters"]["token"] == "***"
    assert tasks["cmd"]["attempts"][0]["parameters"]["argv"][-1] == "x***x"
    assert tasks["boom"]["message"] == "ValueError: bad ***"
    printed = project.cli("logs", "1", "nb").stdout
    assert "Authorization: Bearer ***" in printed and SECRET not in printed
    assert "got x***x" in project.cli("logs", "1", "cmd").stdout
    for args in (("report", "1"), ("report", "1", "boom"), ("show", "1", "--json")):
        out = project.cli(*args, "-o", "-") if args[0] == "report" else project.cli(*args)
        assert out.returncode == 0 and SECRET not in out.stdout, args
    assert project.cli("report", "1").returncode == 0  # written under .nbflow/ too
    assert holding_the_secret(project.root) == []


async def test_the_rest_api_answers_nothing_holding_the_secret(
    jp_fetch, jp_root_dir: Path, monkeypatch
):
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("NBFLOW_TEST_SECRET", SECRET)  # the server's runs inherit it
    root = jp_root_dir
    shutil.copytree(TEST_NOTEBOOKS, root / "notebooks")
    (root / "workflows").mkdir()
    (root / "workflows" / "w.yaml").write_text(WORKFLOW)

    answers: list[str] = []

    async def get(route: str, **params: str) -> str:
        try:
            response = await jp_fetch("nbflow", "api", *route.split("/"), params=params or None)
            text = response.body.decode()
        except tornado.httpclient.HTTPClientError as exc:
            text = exc.response.body.decode() if exc.response else ""
        answers.append(text)
        return text

    code, started = await call(jp_fetch, "POST", "runs", {"workflow": "w"})
    assert code == 202
    answers.append(json.dumps(started))
    code, refused = await call(
        jp_fetch, "POST", "runs", {"workflow": "w", "parameters": {"token": "x"}}
    )
    assert code == 400 and "is secret" in refused["message"]
    for _ in range(1200):  # the run goes on in its own process; poll its document
        doc = json.loads(await get("runs/1"))
        if doc["state"] not in ("queued", "running"):
            break
        await tornado.gen.sleep(0.25)
    assert doc["state"] == "failed", doc
    assert {t["key"]: t["values"] for t in doc["tasks"]}["nb"]["matches"] is True
    await get("runs")
    await get("workflows")
    await get("runs/1/report")
    await get("runs/1/diff/1")
    for task in ("nb", "cmd", "boom"):
        artifact = json.loads(await get("runs/1/artifact", task=task))
        await get("files", path=artifact["path"])
        if task != "cmd":
            await get("runs/1/report", task=task)
    assert len(answers) >= 12
    assert [a[:200] for a in answers if SECRET in a] == []
    assert any("Authorization: Bearer ***" in a for a in answers)
    assert holding_the_secret(root) == []
