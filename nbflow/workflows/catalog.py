"""The project's workflows by name, and the checks that span several workflow files."""

from __future__ import annotations

from pathlib import Path

from ..core import graph
from ..core.errors import Problem, WorkflowNotFound
from ..core.hints import did_you_mean
from . import loader, yamlload
from .model import Workflow
from .project import Project


def by_name(
    project: Project, checked: dict[Path, Workflow | None] | None = None
) -> dict[str, tuple[Path, Workflow | None]]:
    """name -> (file, workflow or None when the file has problems), for `workflows/`.

    `checked`: files the caller has already checked (resolved path -> workflow or None),
    not read again.
    """
    checked = checked or {}
    files: list[tuple[Path, Workflow | None]] = []
    for path in project.workflow_files():
        resolved = path.resolve()
        if resolved in checked:
            workflow = checked[resolved]
        else:
            workflow, _ = loader.check_file(path, project.root)
        files.append((path, workflow))
    # As `find` resolves a name: a file's stem first, then a `name:`.
    found: dict[str, tuple[Path, Workflow | None]] = {p.stem: (p, w) for p, w in files}
    for path, workflow in files:
        if workflow is not None:
            found.setdefault(workflow.name, (path, workflow))
    return found


def find(project: Project, name: str) -> Path:
    """The file in `workflows/` of the workflow called `name`, the one place names resolve.

    A file whose stem (or file name) is `name` first, else one whose `name:` is `name`;
    files are read only for the second. Never a file of the current folder.
    """
    files = project.workflow_files()
    for path in files:
        if name in (path.stem, path.name):
            return path
    for path in files:
        workflow, _ = loader.check_file(path, project.root)
        if workflow is not None and workflow.name == name:
            return path
    raise not_found(project, name)


def not_found(project: Project, name: str) -> WorkflowNotFound:
    """The error for a workflow name no file in `workflows/` has, with the closest name."""
    known = sorted(by_name(project))
    folder = project.relative(project.workflows_dir)
    hint = did_you_mean(name, known) or f" (found: {', '.join(known) or 'none'})"
    return WorkflowNotFound(f"no workflow {name!r} in {folder}/{hint}")


def load_by_name(project: Project, name: str) -> Workflow:
    """The workflow a `workflow:` task names (a `name:` or a file stem in `workflows/`)."""
    return loader.load_workflow(find(project, name), project.root)


def _calls(path: Path, workflow: Workflow | None) -> list[tuple[str, int | None, str]]:
    """(task key, line, workflow named) of a file's `workflow:` tasks, known before running.

    A file with problems of its own is read as written, so its calls are checked in the
    same pass as its other problems.
    """
    if workflow is not None:
        return [
            (t.key, t.line, str(t.target))
            for t in workflow.tasks
            if t.kind == "workflow" and "{{" not in str(t.target)
        ]
    try:
        doc = yamlload.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yamlload.YamlError):
        return []  # reported by the loader
    tasks = doc.data.get("tasks") if isinstance(doc.data, dict) else None
    out = []
    for i, item in enumerate(tasks if isinstance(tasks, list) else []):
        if not isinstance(item, dict):
            continue
        target = item.get("workflow")
        if isinstance(target, str) and "{{" not in target:
            out.append((str(item.get("key")), doc.line_of(("tasks", i)), target))
    return out


def check_children(
    project: Project,
    files: list[Path],
    known: dict[str, tuple[Path, Workflow | None]] | None = None,
) -> list[Problem]:
    """`workflow:` tasks must name a workflow of the project, without cycles between them."""
    known = by_name(project) if known is None else known
    names = sorted(known)
    wanted = {f.resolve() for f in files}
    calls: dict[str, list[str]] = {}
    call_lines: dict[tuple[str, str], int | None] = {}  # (caller, callee): the task's line
    problems: list[Problem] = []
    for name, (path, workflow) in known.items():
        if name != (workflow.name if workflow else path.stem):
            continue  # the same file under its other name
        calls[name] = []
        for key, line, target in _calls(path, workflow):
            if target not in known:
                if path.resolve() in wanted:
                    problems.append(_no_such(path, line, f"task {key!r}", target, names))
                continue
            child_path, child = known[target]
            callee = child.name if child else child_path.stem
            calls[name].append(callee)
            call_lines.setdefault((name, callee), line)
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


def check_after(
    project: Project,
    files: list[Path],
    known: dict[str, tuple[Path, Workflow | None]] | None = None,
) -> list[Problem]:
    """`trigger.after` must name workflows of the project (a typo would never fire)."""
    known = by_name(project) if known is None else known
    names = sorted(known)
    problems: list[Problem] = []
    for path in files:
        try:
            doc = yamlload.load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yamlload.YamlError):
            continue  # reported by the loader
        trigger = doc.data.get("trigger") if isinstance(doc.data, dict) else None
        after = trigger.get("after") if isinstance(trigger, dict) else None
        for i, item in enumerate(after if isinstance(after, list) else []):
            target = item.get("workflow") if isinstance(item, dict) else None
            if isinstance(target, str) and target not in known:
                line = doc.line_of(("trigger", "after", i, "workflow"))
                problems.append(_no_such(path, line, "trigger.after", target, names))
    return problems


def _no_such(path: Path, line: int | None, where: str, target: str, names: list[str]) -> Problem:
    """`where` names a workflow `target` that is not one of `names`."""
    message = f"{where}: no workflow {target!r} in workflows/" + did_you_mean(target, names)
    return Problem(_shown(path), line, message)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
