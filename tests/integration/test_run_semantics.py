"""Runs on real kernels: states, run_if, fail-fast, results and exit codes as semantics.md says."""

from __future__ import annotations

import nbformat
import pytest

from nbflow import api
from nbflow.workflows.project import Project

pytestmark = pytest.mark.kernel


def run(project, name, **kw):
    return api.run(Project(project.root), name, **kw)


def states(doc):
    return {t["key"]: t["state"] for t in doc["tasks"]}


def test_all_six_run_if_after_one_success_and_one_failure(project):
    project.workflow(
        "runif",
        """
        tasks:
          - {key: good, notebook: notebooks/ok.ipynb}
          - {key: bad, notebook: notebooks/fail.ipynb}
          - {key: all_success, notebook: notebooks/ok.ipynb, depends_on: [good, bad]}
          - {key: at_least_one_success, notebook: notebooks/ok.ipynb, depends_on: [good, bad],
             run_if: at_least_one_success}
          - {key: none_failed, notebook: notebooks/ok.ipynb, depends_on: [good, bad], run_if: none_failed}
          - {key: all_done, notebook: notebooks/ok.ipynb, depends_on: [good, bad], run_if: all_done}
          - {key: at_least_one_failed, notebook: notebooks/ok.ipynb, depends_on: [good, bad],
             run_if: at_least_one_failed}
          - {key: all_failed, notebook: notebooks/ok.ipynb, depends_on: [good, bad], run_if: all_failed}
        """,
    )
    doc = run(project, "runif")
    assert states(doc) == {
        "good": "success",
        "bad": "failed",
        "all_success": "upstream_failed",
        "at_least_one_success": "success",
        "none_failed": "upstream_failed",
        "all_done": "success",
        "at_least_one_failed": "success",
        "all_failed": "excluded",
    }
    # Leaves that did not run because of a failure make the run fail.
    assert doc["state"] == "failed"


def test_fail_fast_stops_only_what_depends_on_the_failure(project):
    project.workflow(
        "branches",
        """
        tasks:
          - {key: broken, notebook: notebooks/fail.ipynb}
          - {key: after_broken, notebook: notebooks/ok.ipynb, depends_on: [broken]}
          - {key: later, notebook: notebooks/ok.ipynb, depends_on: [after_broken]}
          - {key: other, notebook: notebooks/ok.ipynb}
          - {key: after_other, notebook: notebooks/ok.ipynb, depends_on: [other]}
        """,
    )
    doc = run(project, "branches")
    assert states(doc) == {
        "broken": "failed",
        "after_broken": "upstream_failed",
        "later": "upstream_failed",
        "other": "success",
        "after_other": "success",
    }
    assert doc["state"] == "failed"
    assert [t["attempts"] for t in doc["tasks"] if t["key"] == "after_broken"] == [[]]


def test_handled_failure_gives_success_with_failures_and_exit_code_zero(project):
    project.workflow(
        "handled",
        """
        tasks:
          - {key: broken, notebook: notebooks/fail.ipynb}
          - {key: handler, notebook: notebooks/ok.ipynb, depends_on: [broken], run_if: at_least_one_failed}
        """,
    )
    proc = project.cli("run", "handled")
    assert proc.returncode == 0, proc.stderr
    code, doc = project.cli_json("show", "1")
    assert code == 0
    assert doc["state"] == "success_with_failures"
    assert states(doc) == {"broken": "failed", "handler": "success"}


def test_failure_handler_not_needed_is_excluded_and_run_succeeds(project):
    project.workflow(
        "unneeded",
        """
        tasks:
          - {key: fine, notebook: notebooks/ok.ipynb}
          - {key: handler, notebook: notebooks/ok.ipynb, depends_on: [fine], run_if: at_least_one_failed}
          - {key: off, notebook: notebooks/fail.ipynb, disabled: true}
          - {key: after_off, notebook: notebooks/ok.ipynb, depends_on: [off]}
        """,
    )
    doc = run(project, "unneeded")
    assert states(doc) == {
        "fine": "success",
        "handler": "excluded",
        "off": "disabled",
        "after_off": "success",
    }
    assert doc["state"] == "success"


def test_condition_branches_and_excludes_the_branch_not_taken(project):
    project.workflow(
        "branch",
        """
        parameters: {threshold: 5}
        tasks:
          - key: big_enough
            condition: {left: "{{params.threshold}}", op: ">=", right: "3"}
          - {key: yes_branch, notebook: notebooks/ok.ipynb, depends_on: [{task: big_enough, outcome: true}]}
          - {key: no_branch, notebook: notebooks/ok.ipynb, depends_on: [{task: big_enough, outcome: false}]}
          - {key: after_no, notebook: notebooks/ok.ipynb, depends_on: [no_branch]}
          - {key: join, notebook: notebooks/ok.ipynb, depends_on: [yes_branch, no_branch], run_if: none_failed}
        """,
    )
    doc = run(project, "branch")
    assert states(doc) == {
        "big_enough": "success",
        "yes_branch": "success",
        "no_branch": "excluded",
        "after_no": "excluded",
        "join": "success",
    }
    cond = next(t for t in doc["tasks"] if t["key"] == "big_enough")
    assert cond["outcome"] is True
    assert doc["state"] == "success"
    doc = run(project, "branch", overrides={"threshold": 1})
    assert states(doc)["yes_branch"] == "excluded"
    assert states(doc)["no_branch"] == "success"
    assert next(t for t in doc["tasks"] if t["key"] == "big_enough")["outcome"] is False


def test_failed_attempt_keeps_an_annotated_notebook_and_the_error(project):
    project.workflow("fails", "tasks:\n  - {key: boom, notebook: notebooks/fail.ipynb}\n")
    code, doc = project.cli_json("run", "fails")
    assert code == 1
    (attempt,) = doc["tasks"][0]["attempts"]
    assert attempt["state"] == "failed"
    assert attempt["error"]["ename"] == "ValueError"
    assert attempt["error"]["evalue"] == "boom"
    assert attempt["artifact"] == ".nbflow/runs/fails/1/boom/attempt-1.ipynb"
    executed = nbformat.read(project.root / attempt["artifact"], as_version=4)
    failing = executed.cells[attempt["error"]["cell_index"]]
    assert "raise ValueError(message)" in failing.source
    assert any(o.get("ename") == "ValueError" for o in failing.outputs)
    # papermill's banner at the top says where it failed.
    assert "An Exception was encountered" in executed.cells[0].source
    # The source notebook is untouched.
    source = nbformat.read(project.root / "notebooks" / "fail.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


def test_retries_keep_every_attempt(project):
    project.workflow(
        "retry",
        "tasks:\n  - {key: flaky, notebook: notebooks/flaky.ipynb, retries: 2, retry_delay: 0}\n",
    )
    doc = run(project, "retry")
    (task,) = doc["tasks"]
    assert task["state"] == "success"
    assert [(a["number"], a["state"]) for a in task["attempts"]] == [(1, "failed"), (2, "success")]
    for a in task["attempts"]:
        assert (project.root / a["artifact"]).is_file()
    assert task["attempts"][0]["error"]["evalue"] == "first attempt fails"


def test_missing_kernel_fails_the_task_with_a_clear_message(project):
    project.workflow(
        "nokernel", "tasks:\n  - {key: k, notebook: notebooks/ok.ipynb, kernel: no-such-kernel}\n"
    )
    doc = run(project, "nokernel")
    assert doc["state"] == "failed"
    assert "no Jupyter kernel named 'no-such-kernel'" in doc["tasks"][0]["message"]


def test_parallel_limit_is_respected(project):
    text = "tasks:\n" + "".join(
        f"  - {{key: t{i}, notebook: notebooks/ok.ipynb}}\n" for i in range(3)
    )
    project.workflow("fan", text)

    def intervals(doc):
        return sorted(
            (t["attempts"][0]["start_time"], t["attempts"][0]["end_time"]) for t in doc["tasks"]
        )

    serial = intervals(run(project, "fan", parallel=1))
    assert all(serial[i][1] <= serial[i + 1][0] for i in range(len(serial) - 1))
    parallel = intervals(run(project, "fan", parallel=3))
    assert parallel[1][0] < parallel[0][1]  # the second started before the first ended
