"""Workflow YAML text: a new file, or a task appended to one, that reads back the same values.

A new file is generated as text; an existing one gains its task through ruamel's round trip,
so its comments and order stay. Values are data: they are written so that nbflow reads them
back with the same JSON types (a string that would read as a number or a boolean is quoted),
and the written text is read back and compared before it is used.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ..core.errors import UsageError
from . import yamlload

HEADER = (
    "# Written by the nbflow JupyterLab extension. Edit it freely; `nbflow validate` checks it.\n"
)


def _plain_safe(text: str) -> bool:
    """Whether nbflow reads `text` written unquoted back as the same text."""
    value = yamlload.resolve_plain(text)
    return isinstance(value, str) and value == text


def _node(value: Any, *, flow: bool) -> Any:
    """A value as ruamel should write it: quoted where nbflow would read it as another type."""
    if isinstance(value, str):
        return value if _plain_safe(value) else DoubleQuotedScalarString(value)
    if isinstance(value, dict):
        mapping = CommentedMap()
        for k, v in value.items():
            mapping[_node(k, flow=True)] = _node(v, flow=True)
        if flow:
            mapping.fa.set_flow_style()
        else:
            mapping.fa.set_block_style()
        return mapping
    if isinstance(value, list):
        seq = CommentedSeq(_node(v, flow=True) for v in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    return value


def notebook_task(
    key: str, notebook: str, parameters: dict[str, Any], depends_on: list[str]
) -> dict[str, Any]:
    """A notebook task as plain data, in the order it is written."""
    task: dict[str, Any] = {"key": key, "notebook": notebook}
    if depends_on:
        task["depends_on"] = list(depends_on)
    if parameters:
        task["parameters"] = dict(parameters)
    return task


def _task_node(task: dict[str, Any], *, flow: bool) -> CommentedMap:
    node = CommentedMap()
    for name, value in task.items():
        if name == "parameters" and not flow:
            node[name] = _node(value, flow=False)
        else:
            node[name] = _node(value, flow=True)
    if flow:
        node.fa.set_flow_style()
    return node


def _yaml(mapping: int = 2, offset: int = 2) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def _same(a: Any, b: Any) -> bool:
    """Equal with the same JSON types all the way down (`1 == 1.0 == True` is not enough)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _reads_back(text: str, expected: dict[str, Any]) -> None:
    try:
        data = yamlload.load(text).data
    except yamlload.YamlError as exc:  # a bug here, not the user's: say so plainly
        raise UsageError(f"nbflow wrote YAML it cannot read back ({exc.message})") from None
    if not _same(data, expected):
        raise UsageError(
            "these values cannot be written to a workflow file so that they read back unchanged"
        )


def new_workflow_text(
    content: dict[str, Any],
    header: str = HEADER,
    comments: dict[tuple[Any, ...], str] | None = None,
) -> str:
    """A workflow file: `header`, then `content` (name, description, schedule, tasks...).

    `comments` go above a top-level key (`("schedule",)`) or a task (`("tasks", 2)`).
    """
    root = CommentedMap()
    for name, value in content.items():
        if name == "tasks":
            root[name] = CommentedSeq(_task_node(t, flow=False) for t in value)
        elif name == "parameters":
            root[name] = _node(value, flow=False)
        elif name == "schedule":
            schedule = _node(value, flow=False)
            if isinstance(value.get("cron"), str):  # quoted, as people write it
                schedule["cron"] = DoubleQuotedScalarString(value["cron"])
            root[name] = schedule
        else:
            root[name] = _node(value, flow=False)
    for path, comment in (comments or {}).items():
        if not comment:
            continue
        if len(path) == 1 and path[0] in root:
            root.yaml_set_comment_before_after_key(path[0], before=comment, indent=0)
        elif len(path) == 2 and path[0] == "tasks" and 0 <= path[1] < len(root.get("tasks", ())):
            root["tasks"].yaml_set_comment_before_after_key(path[1], before=comment, indent=2)
    out = io.StringIO()
    _yaml().dump(root, out)
    text = header + out.getvalue()
    _reads_back(text, content)
    return text


def _indents(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset of a sequence under a key) as the file is written."""
    lines = [
        line
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "---", "..."))
    ]
    mapping: int | None = None
    offset: int | None = None
    key_alone = re.compile(r"^(\s*)[^\s#-][^#]*:\s*(#.*)?$")
    for prev, line in zip(lines, lines[1:], strict=False):
        m = key_alone.match(prev)
        if not m:
            continue
        before, after = len(m.group(1)), len(line) - len(line.lstrip())
        if line.lstrip().startswith("- "):
            offset = after - before if offset is None and after >= before else offset
        elif after > before and mapping is None:
            mapping = after - before
    return mapping or 2, offset if offset is not None else 2


def add_task_text(text: str, task: dict[str, Any]) -> str:
    """`text` (a workflow file) with `task` appended to its `tasks`; the rest stays as it was."""
    try:
        before = yamlload.load(text).data
    except yamlload.YamlError as exc:
        raise UsageError(exc.message) from None
    if not isinstance(before, dict) or not isinstance(before.get("tasks"), list):
        raise UsageError("the workflow file has no `tasks` list to add to")
    mapping, offset = _indents(text)
    yaml = _yaml(mapping, offset)
    if re.match(r"\A(\s*#[^\n]*\n|\s*\n)*---", text):
        yaml.explicit_start = True
    try:
        data = yaml.load(text)
    except Exception as exc:  # ruamel's own errors have no common base worth naming
        raise UsageError(f"cannot edit the workflow file: {exc}") from None
    tasks = data["tasks"]
    last = tasks[-1] if len(tasks) else None
    flow = (isinstance(tasks, CommentedSeq) and tasks.fa.flow_style()) or (
        isinstance(last, CommentedMap) and last.fa.flow_style()
    )
    tasks.append(_task_node(task, flow=bool(flow)))
    out = io.StringIO()
    yaml.dump(data, out)
    new = out.getvalue()
    expected = {**before, "tasks": [*before["tasks"], task]}
    try:
        _reads_back(new, expected)
    except UsageError:
        raise UsageError(
            "the task cannot be added without changing how the rest of the file reads "
            "(it uses YAML that nbflow's editor does not keep); add it by hand"
        ) from None
    return new
