"""Workflow files: read, check and turn into the core model, reporting every problem.

Each problem is a `Problem(file, line, message)`; a file with problems never reaches the
runner. Shapes are checked by `schema.py`, the graph by `graph.py`; this module ties them
to file positions and to the project's files.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..core import conditions, graph, paramvalues, refcheck, references
from ..core.errors import Problem, WorkflowFileError
from ..databricks.source_notebook import is_source_file
from . import params, schema, secrets, yamlload
from .model import Edge, ForEach, Task, Workflow

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "schedule": schema.Schedule,
    "file_arrival": schema.FileArrival,
    "continuous": schema.Continuous,
    "notifications": schema.Notifications,
    "defaults": schema.TaskSettings,
    "for_each": schema.ForEach,
    "condition": schema.Condition,
    "sql": schema.Sql,
    "trigger": schema.Trigger,
    "after": schema.AfterWorkflow,
    "health": schema.Health,
}

# What a value of a union-typed key should look like, for one clear message.
_EXPECTED = {
    "depends_on": "a task key, or {task: KEY, outcome: true|false} for a condition task",
    "on_start": "{email: ADDRESS} or {webhook: URL}",
    "on_success": "{email: ADDRESS} or {webhook: URL}",
    "on_failure": "{email: ADDRESS} or {webhook: URL}",
    "on_duration_warning": "{email: ADDRESS} or {webhook: URL}",
    "continuous": "true, false or {}",
    "command": "a list of arguments or one command line",
    "inputs": "a list, or a {{reference}} to a list",
    "args": "a list of strings or numbers",
    "retry_backoff": "a number of at least 1",
    "resources": "a mapping of resource names to amounts, as {kernel: 1, gpu: 1}",
}

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_for(path: tuple[Any, ...]) -> list[str]:
    if not path:
        return list(schema.Workflow.model_fields)
    if path[0] == "tasks" and len(path) == 2:
        return list(schema.Task.model_fields)
    for part in reversed(path):
        if isinstance(part, str) and part in _SECTION_MODELS:
            return list(_SECTION_MODELS[part].model_fields)
        if isinstance(part, str) and part in _EXPECTED and part.startswith("on_"):
            return ["email", "webhook"]
    return []


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _where(path: tuple[Any, ...], task_keys: dict[int, str]) -> str:
    """A readable name for a place in the file, such as `tasks[clean].retries`."""
    parts: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int) and parts:  # a list index (a key `1:` starts a path as text)
            if i == 1 and path[0] == "tasks" and part in task_keys:
                parts[-1] += f"[{task_keys[part]}]"
            else:
                parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts) or "the file"


def _data_path(data: Any, loc: tuple[Any, ...], error_type: str) -> tuple[tuple[Any, ...], bool]:
    """Follow `loc` through the data, skipping pydantic's union-branch labels.

    Returns the path and whether some labels were skipped (a union was tried).
    """
    path: list[Any] = []
    skipped = False
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif last and error_type in ("extra_forbidden", "missing"):
            path.append(part)
        else:
            skipped = True
    return tuple(path), skipped


def _value_at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _messages(
    exc: ValidationError, data: Any, prefix: tuple[Any, ...], task_keys: dict[int, str]
) -> list[tuple[tuple[Any, ...], str]]:
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    unions: set[tuple[Any, ...]] = set()
    for details in exc.errors():
        err: dict[str, Any] = dict(details)
        path, skipped = _data_path(data, tuple(err["loc"]), err["type"])
        grouped.setdefault(path, []).append(err)
        if skipped:
            unions.add(path)
    # A union member that does not even have the value's shape ("expected a string" for a
    # mapping) says nothing when another member reports a problem inside the value.
    for path in list(grouped):
        if path in unions and all(e["type"] in _TYPE_WORDS for e in grouped[path]):
            if any(other[: len(path)] == path and other != path for other in grouped):
                del grouped[path]
    out: list[tuple[tuple[Any, ...], str]] = []
    for path, errors in grouped.items():
        full = prefix + path
        where = _where(full, task_keys)
        err: dict[str, Any] = errors[0]  # type: ignore[no-redef]
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            parent = _where(full[:-1], task_keys)
            hint = _did_you_mean(key, _fields_for(full[:-1]))
            out.append((full, f"unknown key {key!r} in {parent}{hint}"))
            continue
        if kind == "invalid_key":  # `1: x`, `~: x`: YAML keys that are not text
            bad_key = err.get("input")
            # pydantic's loc names a key None as 'None': then `path` stops at the mapping.
            holder = full[:-1] if path and path[-1] == bad_key else full
            shown = _where(holder, task_keys)
            out.append(((*holder, bad_key), f"{shown}: the key {bad_key!r} is not text (quote it)"))
            continue
        if kind == "missing":
            out.append(
                (full, f"{_where(full[:-1], task_keys)} is missing the required key {path[-1]!r}")
            )
            continue
        value = _value_at(data, path)
        if kind.startswith("union_tag") or (path in unions and len(errors) > 1):
            name = next((p for p in reversed(full) if isinstance(p, str)), "")
            expected = _EXPECTED.get(name)
            if expected:
                out.append((full, f"{where}: expected {expected}, got {_describe(value)}"))
                continue
            # A union of a section and a simpler form: report the section's own problem.
            errors = [e for e in errors if e["type"] not in _TYPE_WORDS] or errors
            err = errors[0]
            kind = err["type"]
        if kind in _TYPE_WORDS:
            message = f"{where}: expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
        elif kind == "literal_error":
            allowed = [
                str(v)
                for v in (err.get("ctx") or {}).get("expected", "").replace("'", "").split(" or ")
            ]
            choices = [c.strip() for part in allowed for c in part.split(",")]
            hint = _did_you_mean(str(value), choices) if isinstance(value, str) else ""
            if full[-2:] == ("condition", "op") and isinstance(value, str):
                meant = conditions.suggest_operator(value)
                hint = f" (did you mean {meant!r}?)" if meant else hint
            message = f"{where}: {_describe(value)} is not one of {', '.join(choices)}{hint}"
        elif kind == "string_pattern_mismatch":
            value = err.get("input", value)  # a mapping's key, when the key is what is wrong
            if full[-1] == "key" or full[-2:-1] == ("parameters",) or full[-1] == "name":
                message = f"{where}: {_describe(value)} may only contain letters, digits, " + (
                    "'_' and '-'"
                    if full[-1] == "key"
                    else "'_'"
                    if "parameters" in full
                    else "'_', '.' and '-'"
                )
            elif full[-1] == "email":
                message = f"{where}: {_describe(value)} is not an email address"
            elif full[-1] == "webhook":
                message = f"{where}: {_describe(value)} is not an http:// or https:// URL"
            else:
                message = f"{where}: {_describe(value)} does not have the expected form"
        elif kind == "greater_than":
            limit = (err.get("ctx") or {}).get("gt")
            message = f"{where}: must be more than {limit}, got {_describe(value)}"
        elif kind == "greater_than_equal":
            limit = (err.get("ctx") or {}).get("ge")
            message = f"{where}: must be at least {limit}, got {_describe(value)}"
        elif kind == "too_short":
            message = f"{where}: must not be empty"
        elif kind == "value_error":
            text = str(err["msg"]).removeprefix("Value error, ")
            message = f"{where}: {text}"
        else:
            message = f"{where}: {err['msg']}"
        out.append((full, message))
    return out


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


def _loose_edges(item: dict[str, Any]) -> list[Edge]:
    """Dependencies of a task that failed its own checks, so graph checks still see them."""
    edges = []
    for dep in item.get("depends_on") or [] if isinstance(item.get("depends_on"), list) else []:
        if isinstance(dep, str):
            edges.append(Edge(dep))
        elif isinstance(dep, dict) and isinstance(dep.get("task"), str):
            edges.append(
                Edge(
                    dep["task"],
                    dep.get("outcome") if isinstance(dep.get("outcome"), bool) else None,
                )
            )
    return edges


def _loose_notebook_task(item: dict[str, Any], line: int | None) -> Task | None:
    """A notebook task that failed its own checks, as far as its parameters go."""
    parameters = item.get("parameters", {})
    if _raw_kind(item) != "notebook" or not isinstance(item.get("notebook"), str):
        return None
    if not isinstance(parameters, dict) or not all(isinstance(k, str) for k in parameters):
        return None
    return Task(
        key=item["key"], kind="notebook", target=item["notebook"], line=line, parameters=parameters
    )


def _check_graph(
    nodes: list[tuple[str, int | None, str | None, list[Edge]]], file: str, problems: list[Problem]
) -> None:
    """`nodes`: (key, line, kind or None when unknown, edges) for every task of the file."""
    by_key: dict[str, tuple[int | None, str | None]] = {}
    for key, line, kind, _ in nodes:
        if key in by_key:
            problems.append(
                Problem(
                    file, line, f"duplicate task key {key!r} (first used at line {by_key[key][0]})"
                )
            )
        else:
            by_key[key] = (line, kind)
    for key, line, _, edges in nodes:
        for edge in edges:
            if edge.task == key:
                problems.append(Problem(file, line, f"task {key!r} depends on itself"))
            elif edge.task not in by_key:
                hint = _did_you_mean(edge.task, list(by_key))
                problems.append(
                    Problem(file, line, f"task {key!r} depends on unknown task {edge.task!r}{hint}")
                )
            elif edge.outcome is not None and by_key[edge.task][1] not in (None, "condition"):
                problems.append(
                    Problem(
                        file,
                        line,
                        f"task {key!r}: `outcome` is only for an edge from a condition task, "
                        f"and {edge.task!r} is a {by_key[edge.task][1]} task",
                    )
                )
    upstream: dict[str, list[str]] = {}
    for key, _, _, edges in nodes:
        upstream.setdefault(key, []).extend(
            e.task for e in edges if e.task in by_key and e.task != key
        )
    cycle = graph.find_cycle(upstream)
    if cycle:
        problems.append(
            Problem(file, by_key[cycle[0]][0], "dependency cycle: " + " -> ".join(cycle))
        )


def _check_files(
    files: list[tuple[str, int | None, str, str]], root: Path, file: str, problems: list[Problem]
) -> None:
    """`files`: (task key, line, kind, path as written) for notebook and script tasks."""
    for key, line, kind, target in files:
        if "{{" in target:
            continue  # resolved when the task starts
        path = root / target
        try:
            found = path.is_file()
        except OSError as exc:  # a name over the system's limits (ENAMETOOLONG), a loop
            problems.append(Problem(file, line, f"task {key!r}: {kind} file: {exc.strerror}"))
            continue
        if not found:
            problems.append(Problem(file, line, f"task {key!r}: {kind} file {target!r} not found"))
        elif kind == "notebook" and path.suffix != ".ipynb" and not is_source_file(path):
            problems.append(
                Problem(file, line, f"task {key!r}: {target!r} is not an .ipynb notebook")
            )


def _raw_kind(item: dict[str, Any]) -> str | None:
    kinds = [k for k in schema.TASK_KINDS if item.get(k) is not None]
    return kinds[0] if len(kinds) == 1 else None


def _check_references(
    workflow_params: dict[str, Any],
    raw_tasks: list[Any],
    doc: yamlload.Document,
    file: str,
    problems: list[Problem],
) -> None:
    """References that can be known wrong before running, at their line.

    Read from the file's data, not from checked tasks, so they are reported in the same
    pass as every other problem: a task with problems of its own still has its references
    checked, and others may refer to it.
    """
    entries = [
        (i, item)
        for i, item in enumerate(raw_tasks)
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    ]
    kinds: dict[str, str | None] = {}
    upstream: dict[str, list[str]] = {}
    for _, item in entries:
        kinds.setdefault(item["key"], _raw_kind(item))
        upstream.setdefault(item["key"], [e.task for e in _loose_edges(item)])
    ancestry = graph.Ancestry(upstream)
    each = {item["key"] for _, item in entries if item.get("for_each") is not None}
    for path, text in refcheck.strings(workflow_params, ("parameters",)):
        for expr in references.find(text):
            message = refcheck.check_workflow_parameter(expr, kinds)
            if message:
                problems.append(Problem(file, doc.line_of(path), f"{_where(path, {})}: {message}"))
    params_known = [k for k in workflow_params if isinstance(k, str)]
    for i, item in entries:
        key = item["key"]
        ancestors = ancestry.of(key)
        for place in refcheck.TASK_PLACES:
            if place not in item:
                continue
            for path, text in refcheck.strings(item[place], ("tasks", i, place)):
                in_inputs = path[2:4] == ("for_each", "inputs")
                for expr in references.find(text):
                    message = refcheck.check(
                        expr,
                        params=params_known,
                        task=key,
                        upstream=ancestors,
                        kinds=kinds,
                        has_input=isinstance(item.get("for_each"), dict) and not in_inputs,
                        for_each=each,
                    )
                    if message:
                        where = _where(path, {i: key})
                        problems.append(Problem(file, doc.line_of(path), f"{where}: {message}"))


def _check_notebook_parameters(
    workflow_params: dict[str, Any],
    tasks: list[tuple[int, Task]],
    root: Path,
    doc: yamlload.Document,
    file: str,
    problems: list[Problem],
) -> None:
    """Parameters each notebook task would receive, against what its notebook declares."""
    for i, task in tasks:
        for name, message in params.task_parameter_problems(root, task):
            # A cell nbflow cannot read is the notebook's problem: reported at `notebook:`.
            at: tuple[Any, ...] = (
                ("tasks", i, "parameters", name) if name else ("tasks", i, "notebook")
            )
            where = _where(at, {i: task.key}) + ": " if name else ""
            problems.append(Problem(file, doc.line_of(at), where + message))
    only_tasks = [task for _, task in tasks]
    place = {id(task): i for i, task in tasks}
    for name, task, message in params.workflow_value_problems(root, only_tasks, workflow_params):
        if name is None:
            at = ("tasks", place[id(task)], "notebook")
            problems.append(Problem(file, doc.line_of(at), message))
        else:
            at = ("parameters", name)
            problems.append(Problem(file, doc.line_of(at), f"{_where(at, {})}: {message}"))


def _check_text(data: Any, doc: yamlload.Document, file: str, problems: list[Problem]) -> None:
    """Text that UTF-8 cannot encode (a lone surrogate from a `\\udXXX` escape) anywhere."""
    for path, text in _all_strings(data, ()):
        message = paramvalues.surrogate_problem(text)
        if message:
            shown = _where(tuple(_printable(p) for p in path), {})
            problems.append(Problem(file, doc.line_of(path), f"{shown}: {message}"))


def _all_strings(value: Any, path: tuple[Any, ...]) -> Any:
    """Every string in `value`, keys included, with the path where it stands."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _all_strings(item, path + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield path + (key,), key
            yield from _all_strings(item, path + (key,))


def _printable(part: Any) -> Any:
    return part.encode("utf-8", "backslashreplace").decode() if isinstance(part, str) else part


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
        Problem(shown, line, f"duplicate key {_where(p, {})!r}") for p, line in doc.duplicates
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
        report(_messages(exc, data, (), task_keys))
    if (
        settings is not None
        and settings.continuous not in (None, False)
        and (settings.schedule or settings.file_arrival)
    ):
        problems.append(
            Problem(
                shown,
                doc.line_of(("continuous",)),
                "`continuous` cannot be combined with `schedule` or `file_arrival`",
            )
        )
    if settings is not None and settings.continuous not in (None, False) and settings.trigger:
        problems.append(
            Problem(
                shown,
                doc.line_of(("trigger",)),
                "`continuous` cannot be combined with `trigger`",
            )
        )
    if settings is not None and settings.trigger and settings.trigger.after:
        own = settings.name or path.stem
        for i, entry in enumerate(settings.trigger.after):
            if entry.workflow == own:
                problems.append(
                    Problem(
                        shown,
                        doc.line_of(("trigger", "after", i)),
                        f"trigger.after[{i}]: a workflow cannot run after its own runs",
                    )
                )
    if settings is not None and settings.health and settings.duration_warning is not None:
        problems.append(
            Problem(
                shown,
                doc.line_of(("duration_warning",)),
                "give `duration_warning` or `health.duration_warning`, not both",
            )
        )

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
            report(_messages(exc, item, where, task_keys))
            if isinstance(item.get("key"), str):
                nodes.append((item["key"], line, None, _loose_edges(item)))
                loose = _loose_notebook_task(item, line)
                if loose is not None:
                    indexed.append((i, loose))  # its parameters are checked all the same
            continue
        finally:
            for kind in ("notebook", "script"):
                if isinstance(item.get(kind), str):
                    files.append((str(item.get("key")), line, kind, item[kind]))
        kinds = raw.kinds()
        name = _where(where, task_keys)
        nodes.append((raw.key, line, kinds[0] if len(kinds) == 1 else None, _loose_edges(item)))
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

    _check_graph(nodes, shown, problems)
    _check_files(files, root, shown, problems)
    raw_params = data.get("parameters")
    # A secret is checked as the text it reads as everywhere (`***`), not as its declaration.
    workflow_params = secrets.split(raw_params)[0] if isinstance(raw_params, dict) else {}
    if isinstance(raw_tasks, list):
        _check_references(workflow_params, raw_tasks, doc, shown, problems)
    _check_notebook_parameters(workflow_params, indexed, root, doc, shown, problems)
    _check_text(data, doc, shown, problems)
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
