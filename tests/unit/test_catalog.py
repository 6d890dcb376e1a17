"""catalog: workflows found by name, with the closest name when there is none by that name."""

from __future__ import annotations

import pytest

from nbflow import api
from nbflow.core.errors import WorkflowNotFound
from nbflow.workflows import catalog
from nbflow.workflows.project import Project


@pytest.fixture
def project(mini) -> Project:
    mini.write("name: demo\ntasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n", "demo_file")
    mini.write("tasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n", "nightly")
    return Project(mini.root)


@pytest.mark.parametrize(
    "name, message",
    [
        ("demoo", "no workflow 'demoo' in workflows/ (did you mean 'demo'?)"),
        ("nigthly", "no workflow 'nigthly' in workflows/ (did you mean 'nightly'?)"),
        ("zzz", "no workflow 'zzz' in workflows/ (found: demo, demo_file, nightly)"),
    ],
)
def test_an_unknown_name_suggests_the_closest_one(project, name, message):
    with pytest.raises(WorkflowNotFound) as info:
        api.workflow_path(project, name)
    assert str(info.value) == message
    with pytest.raises(WorkflowNotFound) as info:
        catalog.load_by_name(project, name)
    assert str(info.value) == message


def test_a_child_workflow_name_typo_is_reported_with_the_closest_name(mini, project):
    path = mini.write("tasks:\n  - {key: call, workflow: nightlyy}\n", "parent")
    problems = catalog.check_children(project, [path])
    assert [(p.line, p.message) for p in problems] == [
        (2, "task 'call': no workflow 'nightlyy' in workflows/ (did you mean 'nightly'?)")
    ]


def test_calls_of_a_file_with_problems_of_its_own_are_checked_in_the_same_pass(mini, project):
    path = mini.write("tasks:\n  - {key: call, workflow: nowhere, retrys: 1}\n", "parent")
    _, problems = api.validate(project, [str(path)])
    assert [p.message for p in problems] == [
        "unknown key 'retrys' in tasks[call] (did you mean 'retries'?)",
        "task 'call': no workflow 'nowhere' in workflows/",
    ]


def test_an_after_trigger_naming_no_workflow_is_reported_at_its_line(mini, project):
    path = mini.write(
        "trigger:\n  after:\n    - {workflow: nightly}\n    - workflow: nigthly\n"
        "      state: any\ntasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n",
        "downstream",
    )
    problems = catalog.check_after(project, [path])
    assert [(p.line, p.message) for p in problems] == [
        (4, "trigger.after: no workflow 'nigthly' in workflows/ (did you mean 'nightly'?)")
    ]
    _, found = api.validate(project, [str(path)])
    assert any("no workflow 'nigthly'" in p.message for p in found)


def test_a_stem_wins_over_another_files_name_everywhere_a_name_is_resolved(tmp_path, monkeypatch):
    from tests.conftest import ProjectDir

    monkeypatch.chdir(tmp_path)
    project = ProjectDir(tmp_path)
    project.workflow("a", "name: b\ntasks: [{key: from_a, command: [echo]}]")
    project.workflow("b", "tasks: [{key: from_b, command: [echo]}]")
    project.workflow("c", "name: renamed\ntasks: [{key: from_c, command: [echo]}]")
    root = Project(project.root)
    assert catalog.find(root, "b").name == "b.yaml"
    assert catalog.find(root, "renamed").name == "c.yaml"
    assert catalog.find(root, "c.yaml").name == "c.yaml"
    assert api.workflow_named(root, "b") == catalog.find(root, "b")
    assert catalog.by_name(root)["b"][0].name == "b.yaml"
    assert catalog.by_name(root)["renamed"][0].name == "c.yaml"
    assert [t.key for t in catalog.load_by_name(root, "b").tasks] == ["from_b"]
    with pytest.raises(WorkflowNotFound, match="did you mean 'renamed'"):
        catalog.find(root, "renamd")
