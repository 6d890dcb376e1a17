"""The project's workflows by name, and the checks that span several workflow files."""

from __future__ import annotations

from pathlib import Path

from . import graph, loader
from .errors import Problem, UsageError
from .model import Workflow
from .project import Project


def by_name(project: Project) -> dict[str, tuple[Path, Workflow | None]]:
    """name -> (file, workflow or None when the file has problems), for `workflows/`."""
    found: dict[str, tuple[Path, Workflow | None]] = {}
    for path in project.workflow_files():
        workflow, _ = loader.check_file(path, project.root)
        found[workflow.name if workflow else path.stem] = (path, workflow)
        found.setdefault(path.stem, (path, workflow))
    return found


def load_by_name(project: Project, name: str) -> Workflow:
    """The workflow a `workflow:` task names (a `name:` or a file stem in `workflows/`)."""
    entry = by_name(project).get(name)
    if entry is None:
        raise UsageError(f"no workflow {name!r} in {project.relative(project.workflows_dir)}/")
    return loader.load_workflow(entry[0], project.root)


def check_children(project: Project, files: list[Path]) -> list[Problem]:
    """`workflow:` tasks must name a workflow of the project, without cycles between them."""
    known = by_name(project)
    calls: dict[str, list[str]] = {}
    call_lines: dict[tuple[str, str], int | None] = {}  # (caller, callee): the task's line
    problems: list[Problem] = []
    for name, (path, workflow) in known.items():
        if workflow is None or name != workflow.name:
            continue
        calls[name] = []
        for task in workflow.tasks:
            if task.kind != "workflow" or "{{" in str(task.target):
                continue
            target = str(task.target)
            if target not in known:
                if path.resolve() in {f.resolve() for f in files}:
                    problems.append(
                        Problem(
                            _shown(path),
                            task.line,
                            f"task {task.key!r}: no workflow {target!r} in workflows/",
                        )
                    )
                continue
            child = known[target][1]
            callee = child.name if child else target
            calls[name].append(callee)
            call_lines.setdefault((name, callee), task.line)
    cycle = graph.find_cycle({k: v for k, v in calls.items()})
    if cycle:
        order = list(reversed(cycle))  # callers first
        start = known[order[0]][0]
        problems.append(
            Problem(
                _shown(start),
                call_lines.get((order[0], order[1])),  # the task that makes the first call
                "workflows call each other in a cycle: " + " -> ".join(order),
            )
        )
    return problems


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
