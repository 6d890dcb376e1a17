"""Workflow files: read, check and turn into the core model, reporting every problem.

Each problem is a `Problem(file, line, message)`; a file with problems never reaches the
runner. Shapes are checked by `schema.py` (worded by `messages.py`), the tasks' graph and
files by `taskchecks.py`, references, parameters and text by `valuechecks.py`; this module
reads the file, checks the sections against each other and builds the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.errors import Problem, WorkflowFileError
from . import schema, secrets, yamlload
from .messages import from_validation, path_text
from .model import Edge, ForEach, Task, Workflow
from .taskchecks import check_files, check_graph, loose_edges, loose_notebook_task
from .valuechecks import check_notebook_parameters, check_references, check_text


def project_root_for(path: Path, fallback: Path) -> Path:
    """A file in a `workflows/` folder belongs to the project around that folder."""
    path = path.resolve()
    if path.parent.name == "workflows":
        return path.parent.parent
    return fallback.resolve()


def _build_task(raw: schema.Task, defaults: schema.TaskSettings, line: int | None) -> Task:
    def pick(name: str, fallback: Any) -> Any:
        value = getattr(raw, name)
        if value is None:
            value = getattr(defaults, name)
        return fallback if value is None else value

    kind = raw.kinds()[0]
    target: Any = getattr(raw, kind)
    edges = tuple(
        Edge(task=d) if isinstance(d, str) else Edge(task=d.task, outcome=d.outcome)
        for d in raw.depends_on
    )
    env = dict(defaults.env or {})
    env.update(raw.env or {})
    return Task(
        key=raw.key,
        kind=kind,
        target=target,
        line=line,
        description=raw.description,
        depends_on=edges,
        run_if=raw.run_if,
        parameters=dict(raw.parameters),
        for_each=ForEach(raw.for_each.inputs, raw.for_each.concurrency) if raw.for_each else None,
        args=tuple(raw.args or ()),
        kernel=pick("kernel", None),
        timeout=pick("timeout", None),
        retries=pick("retries", 0),
        retry_delay=pick("retry_delay", 0.0),
        retry_backoff=float(pick("retry_backoff", 1.0)),
        retry_on_timeout=pick("retry_on_timeout", False),
        disabled=raw.disabled,
        cwd=pick("cwd", None),
        env=env,
        python=pick("python", None),
        resources={k: float(v) for k, v in pick("resources", {}).items()},
        notifications=pick("notifications", None),
        report_no_input=bool(raw.report and raw.report.no_input),
        duration_warning=raw.health.duration_warning if raw.health else None,
    )


def _check_sections(
    settings: schema.Workflow,
    stem: str,
    doc: yamlload.Document,
    shown: str,
    problems: list[Problem],
) -> None:
    """Sections that each pass the schema but not together: how runs start, health."""
    if settings.continuous not in (None, False) and (settings.schedule or settings.file_arrival):
        problems.append(
            Problem(
                shown,
                doc.line_of(("continuous",)),
                "`continuous` cannot be combined with `schedule` or `file_arrival`",
            )
        )
    if settings.continuous not in (None, False) and settings.trigger:
        problems.append(
            Problem(
                shown,
                doc.line_of(("trigger",)),
                "`continuous` cannot be combined with `trigger`",
            )
        )
    if settings.trigger and settings.trigger.after:
        own = settings.name or stem
        for i, entry in enumerate(settings.trigger.after):
            if entry.workflow == own:
                problems.append(
                    Problem(
                        shown,
                        doc.line_of(("trigger", "after", i)),
                        f"trigger.after[{i}]: a workflow cannot run after its own runs",
                    )
                )
    if settings.health and settings.duration_warning is not None:
        problems.append(
            Problem(
                shown,
                doc.line_of(("duration_warning",)),
                "give `duration_warning` or `health.duration_warning`, not both",
            )
        )


def check_file(path: Path, root: Path | None = None) -> tuple[Workflow | None, list[Problem]]:
    """Load and check one workflow file; return the workflow (None if unusable) and problems."""
    shown = str(path)
    root = project_root_for(path, root or Path.cwd())
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(shown, None, "no such workflow file")]
    except OSError as exc:
        return None, [Problem(shown, None, f"cannot read the file: {exc.strerror or exc}")]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = content.count(b"\n", 0, exc.start) + 1
        return None, [
            Problem(shown, at, f"not UTF-8 text: byte {content[exc.start]:#04x} ({exc.reason})")
        ]
    try:
        doc = yamlload.load(text)
    except yamlload.YamlError as exc:
        return None, [Problem(shown, exc.line, exc.message)]
    problems = [
        Problem(shown, line, f"duplicate key {path_text(p, {})!r}") for p, line in doc.duplicates
    ]
    data = doc.data
    if not isinstance(data, dict):
        problems.append(
            # An empty file has no line of its own: point at its first.
            Problem(
                shown, doc.line_of(()) or 1, "a workflow file must be a mapping with a `tasks` list"
            )
        )
        return None, problems

    raw_tasks = data.get("tasks")
    task_keys: dict[int, str] = {}
    if isinstance(raw_tasks, list):
        for i, item in enumerate(raw_tasks):
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                task_keys[i] = item["key"]

    def report(path_and_messages: list[tuple[tuple[Any, ...], str]]) -> None:
        for p, message in path_and_messages:
            problems.append(Problem(shown, doc.line_of(p), message))

    settings: schema.Workflow | None = None
    try:
        settings = schema.Workflow.model_validate(data)
    except ValidationError as exc:
        report(from_validation(exc, data, (), task_keys))
    if settings is not None:
        _check_sections(settings, path.stem, doc, shown, problems)

    defaults = settings.defaults if settings else schema.TaskSettings()
    tasks: list[Task] = []
    indexed: list[tuple[int, Task]] = []  # each valid task with its place in `tasks:`
    nodes: list[tuple[str, int | None, str | None, list[Edge]]] = []
    files: list[tuple[str, int | None, str, str]] = []
    for i, item in enumerate(raw_tasks if isinstance(raw_tasks, list) else []):
        where = ("tasks", i)
        line = doc.line_of(where)
        if not isinstance(item, dict):
            problems.append(
                Problem(shown, line, f"tasks[{i}]: each task must be a mapping with a `key`")
            )
            continue
        try:
            raw = schema.Task.model_validate(item)
        except ValidationError as exc:
            report(from_validation(exc, item, where, task_keys))
            if isinstance(item.get("key"), str):
                nodes.append((item["key"], line, None, loose_edges(item)))
                loose = loose_notebook_task(item, line)
                if loose is not None:
                    indexed.append((i, loose))  # its parameters are checked all the same
            continue
        finally:
            for kind in ("notebook", "script"):
                if isinstance(item.get(kind), str):
                    files.append((str(item.get("key")), line, kind, item[kind]))
        kinds = raw.kinds()
        name = path_text(where, task_keys)
        nodes.append((raw.key, line, kinds[0] if len(kinds) == 1 else None, loose_edges(item)))
        if not kinds:
            problems.append(
                Problem(
                    shown, line, f"{name} has no kind: give one of {', '.join(schema.TASK_KINDS)}"
                )
            )
            continue
        if len(kinds) > 1:
            problems.append(
                Problem(
                    shown,
                    line,
                    f"{name} has more than one kind ({', '.join(kinds)}); give exactly one",
                )
            )
            continue
        if raw.args is not None and kinds[0] not in ("script", "command"):
            problems.append(
                Problem(
                    shown,
                    doc.line_of(where + ("args",)),
                    f"{name}: `args` is only for script and command tasks",
                )
            )
        tasks.append(_build_task(raw, defaults, line))
        indexed.append((i, tasks[-1]))

    check_graph(nodes, shown, problems)
    check_files(files, root, shown, problems)
    raw_params = data.get("parameters")
    # A secret is checked as the text it reads as everywhere (`***`), not as its declaration.
    workflow_params = secrets.split(raw_params)[0] if isinstance(raw_params, dict) else {}
    if isinstance(raw_tasks, list):
        check_references(workflow_params, raw_tasks, doc, shown, problems)
    check_notebook_parameters(workflow_params, indexed, root, doc, shown, problems)
    check_text(data, doc, shown, problems)
    problems.sort(key=lambda p: p.line or 0)
    if problems or settings is None:
        return None, problems
    parameters, secret = secrets.split(settings.parameters)
    workflow = Workflow(
        name=settings.name or path.stem,
        path=path.resolve(),
        root=root,
        tasks=tuple(tasks),
        description=settings.description,
        parameters=parameters,
        settings=settings,
        secrets=secret,
    )
    return workflow, []


def load_workflow(path: Path, root: Path | None = None) -> Workflow:
    """Load one workflow file or raise WorkflowFileError listing all its problems."""
    workflow, problems = check_file(path, root)
    if problems or workflow is None:
        raise WorkflowFileError(problems)
    return workflow
