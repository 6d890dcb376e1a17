"""Executed notebooks an attempt leaves: marked when stopped early, read or named when damaged."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from nbflow.core.errors import UsageError
from nbflow.execution import annotate
from nbflow.review import logs


def prepared() -> nbformat.NotebookNode:
    """A notebook as papermill prepares it: parameters injected, nothing executed."""
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell("n = 3")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells = [injected, nbformat.v4.new_code_cell("print(n)")]
    return nb


def banner(nb: nbformat.NotebookNode) -> str:
    assert annotate.BANNER_TAG in nb.cells[0].metadata["tags"]
    return nb.cells[0].source


def test_an_attempt_stopped_before_its_worker_wrote_anything_leaves_the_prepared_notebook(
    tmp_path: Path,
):
    artifact = tmp_path / "attempt-1.ipynb"
    index = annotate.mark_interrupted(
        artifact,
        headline="this attempt timed out after 0.1s",
        ename="TimeoutError",
        evalue="timed out after 0.1s",
        prepared=prepared(),
    )
    assert index is None
    nb = nbformat.read(str(artifact), as_version=4)
    assert "this attempt timed out after 0.1s while the kernel was starting." in banner(nb)
    assert [c.source for c in nb.cells[1:]] == ["n = 3", "print(n)"]


def test_a_notebook_cut_off_while_saving_is_replaced_by_the_prepared_one(tmp_path: Path):
    artifact = tmp_path / "attempt-1.ipynb"
    artifact.write_text('{"cells": [{"cell_type": "code", "sou')
    annotate.mark_interrupted(
        artifact,
        headline="this attempt was canceled",
        ename="Canceled",
        evalue="canceled",
        prepared=prepared(),
    )
    text = banner(nbformat.read(str(artifact), as_version=4))
    assert "this attempt was canceled." in text
    assert "cut off while being saved" in text


CUT_OFF = (
    "is not complete JSON; it was probably cut off while being saved when its attempt was stopped"
)


@pytest.mark.parametrize(
    "content, why",
    [
        ('{"cells": [{"cell_type": "code", "sou', CUT_OFF),
        ("", CUT_OFF),
        ("[1, 2]", "is not a Jupyter notebook"),
        ("{}", "is not a Jupyter notebook"),
    ],
)
def test_the_log_of_a_damaged_notebook_is_one_sentence_naming_it(tmp_path, content, why):
    artifact = tmp_path / "attempt-1.ipynb"
    artifact.write_text(content)
    with pytest.raises(UsageError) as caught:
        logs.attempt_text(artifact, ".nbflow/runs/wf/1/t/attempt-1.ipynb")
    assert str(caught.value) == f".nbflow/runs/wf/1/t/attempt-1.ipynb: the executed notebook {why}"


def test_an_attempt_whose_worker_cannot_start_leaves_its_notebook_saying_so(tmp_path: Path):
    import asyncio
    import sys

    from nbflow.execution import execute

    source = tmp_path / "n.ipynb"
    nb = prepared()
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(source))
    artifact = tmp_path / "attempt-1.ipynb"
    result = asyncio.run(
        execute.run_notebook(
            python=sys.executable,
            source=source,
            artifact=artifact,
            parameters={"n": 4},
            kernel=None,
            cwd=tmp_path / "missing",
            env={},
            timeout=None,
        )
    )
    assert result.state == "failed"
    assert (
        result.message
        == f"FileNotFoundError: working directory {tmp_path / 'missing'} does not exist"
    )
    kept = nbformat.read(str(artifact), as_version=4)
    assert "nbflow: this attempt could not start.</span>" in banner(kept)
    injected = [c.source for c in kept.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected == ["# Parameters\nn = 4\n"]


# Saves a big notebook through the path the worker gives papermill, again and again (as
# papermill does while a notebook executes: `write_ipynb` serialises, then calls this),
# saying when the first save is done.
_SAVING = """
import sys
import nbformat
from papermill.iorw import papermill_io
from nbflow.workflows import secrets

nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell("x" * 1000) for _ in range(4000)]
text = nbformat.writes(nb)
target = secrets.output_path(sys.argv[1])
papermill_io.write(text, target)
print("saved", flush=True)
while True:
    papermill_io.write(text, target)
"""


def test_a_worker_killed_while_saving_leaves_its_last_whole_notebook(tmp_path: Path):
    import signal
    import subprocess
    import sys

    artifact = tmp_path / "attempt-1.ipynb"
    saving = subprocess.Popen(
        [sys.executable, "-c", _SAVING, str(artifact)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert saving.stdout is not None and saving.stdout.readline() == "saved\n"
    finally:
        saving.send_signal(signal.SIGKILL)  # at any moment of a later save
        saving.wait(timeout=60)
    nb = annotate.read_notebook(artifact)  # not cut off: the save before is there whole
    assert len(nb.cells) == 4000
