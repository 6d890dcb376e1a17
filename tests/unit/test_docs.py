"""docs/workflow-file.md stays the whole format, and README and docs link only inside the repo.

The reference is checked against the code that defines the format: every field of every
model in `nbflow/schema.py` is named in the section that documents it, as are the task
kinds, `run_if` rules, operators, states and reference names; and every YAML example in
it passes `nbflow validate`'s checks. Adding a key without documenting it, or showing an
example nbflow rejects, fails here.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from pydantic import BaseModel

from nbflow import api
from nbflow.core import durations, refcheck, references, states
from nbflow.workflows import schema, yamlload
from nbflow.workflows.loader import check_file
from nbflow.workflows.project import Project

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "workflow-file.md"

# The section (heading text) of the reference that documents each model of schema.py.
SECTIONS: dict[type[BaseModel], str] = {
    schema.Workflow: "Top-level keys",
    schema.Task: "Tasks",
    schema.TaskSettings: "defaults",
    schema.Schedule: "schedule",
    schema.FileArrival: "file_arrival",
    schema.Continuous: "continuous",
    schema.Notifications: "Notifications",
    schema.EmailDestination: "Notifications",
    schema.WebhookDestination: "Notifications",
    schema.ForEach: "for_each",
    schema.Condition: "condition",
    schema.Sql: "sql",
    schema.OutcomeEdge: "Dependencies and run_if",
    schema.Report: "report",
    schema.Trigger: "Triggers",
    schema.AfterWorkflow: "trigger: after",
    schema.SqlTrigger: "trigger: sql",
    schema.Health: "health: duration rules",
}

HEADING = re.compile(r"^(#{1,6}) (.+)$", re.M)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def _doc() -> str:
    assert DOC.is_file(), "docs/workflow-file.md, the format's reference, is missing"
    return DOC.read_text(encoding="utf-8")


def _section(text: str, title: str) -> str:
    """The text under the heading `title`, up to the next heading of the same or a higher level."""
    headings = list(HEADING.finditer(text))
    for i, match in enumerate(headings):
        if match.group(2).strip() == title:
            level = len(match.group(1))
            end = next(
                (h.start() for h in headings[i + 1 :] if len(h.group(1)) <= level), len(text)
            )
            return text[match.end() : end]
    raise AssertionError(f"docs/workflow-file.md has no section {title!r}")


def _code(text: str) -> list[str]:
    """Code spans and YAML examples: where keys and values are written as the user types them."""
    return CODE_SPAN.findall(text) + YAML_BLOCK.findall(text)


def _names(text: str) -> set[str]:
    return {word for span in _code(text) for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}


def test_every_schema_model_has_a_section() -> None:
    models = {
        value
        for value in vars(schema).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == schema.__name__
        and value.model_fields  # the shared base class has none
    }
    missing = sorted(m.__name__ for m in models - set(SECTIONS))
    assert not missing, f"say where docs/workflow-file.md documents {missing} (SECTIONS)"


@pytest.mark.parametrize(
    ("model", "title"), list(SECTIONS.items()), ids=[m.__name__ for m in SECTIONS]
)
def test_every_field_is_documented_in_its_section(model: type[BaseModel], title: str) -> None:
    named = _names(_section(_doc(), title))
    undocumented = [field for field in model.model_fields if field not in named]
    assert not undocumented, (
        f"docs/workflow-file.md, section {title!r}, does not name {undocumented} "
        f"({model.__name__} in nbflow/schema.py)"
    )


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("Task kinds", schema.TASK_KINDS),
        ("run_if", schema.RUN_IF),
        ("condition", schema.OPERATORS),
        ("Task states", [s.value for s in states.TaskState]),
        ("The run's result", [s.value for s in states.RunState]),
        ("References", references.TIME_ARGS),
        ("References", [f"run.{f}" for f in refcheck.RUN_FIELDS]),
        ("References", [f"run.trigger.{f}" for f in refcheck.TRIGGER_FIELDS]),
        ("References", [f"task.{f}" for f in refcheck.TASK_FIELDS]),
        ("References", list(references.ALIASES)),
        ("References", list(refcheck.TASK_PLACES)),
    ],
)
def test_every_choice_the_code_knows_is_documented(title: str, words: Any) -> None:
    spans = _code(_section(_doc(), title))
    missing = [w for w in words if not any(w in span for span in spans)]
    assert not missing, f"docs/workflow-file.md, section {title!r}, does not mention {missing}"


def test_every_duration_unit_is_documented() -> None:
    spans = CODE_SPAN.findall(_section(_doc(), "Durations"))
    for unit in durations._UNITS:
        examples = [s for s in spans if re.fullmatch(rf"\d+(?:\.\d+)?{unit}", s)]
        assert examples, f"the Durations section shows no example in {unit!r}"
        for example in examples:
            assert durations.parse_duration(example) >= 0


# -- the examples ----------------------------------------------------------------------------

A_TASK = "tasks:\n  - key: snippet_task\n    command: [echo]\n"


def _examples(page: Path = DOC) -> list[tuple[int, str]]:
    """(line in the page, text) of every YAML example, as a whole workflow file."""
    text = page.read_text(encoding="utf-8")
    out = []
    for match in YAML_BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        block = match.group(1)
        data = yamlload.load(block).data
        assert isinstance(data, dict), f"{page.name}:{line}: an example must be a mapping"
        if "tasks" not in data:
            # Top-level keys shown alone (a trigger, say): check them in a workflow of one task.
            unknown = set(data) - set(schema.Workflow.model_fields)
            assert not unknown, f"{page.name}:{line}: {unknown} are not top-level keys"
            block += A_TASK
        out.append((line, block))
    return out


def _stub_files(root: Path, data: dict[str, Any], names: set[str]) -> None:
    """Create the notebooks, scripts and called (or awaited) workflows an example names."""
    trigger = data.get("trigger")
    for item in (trigger.get("after") if isinstance(trigger, dict) else None) or []:
        upstream = item.get("workflow") if isinstance(item, dict) else None
        if isinstance(upstream, str) and upstream not in names:
            (root / "workflows" / f"{upstream}.yaml").write_text(A_TASK)
            names.add(upstream)
    for task in data.get("tasks") or []:
        for kind in ("notebook", "script"):
            target = task.get(kind)
            if isinstance(target, str) and "{{" not in target:
                path = root / target
                path.parent.mkdir(parents=True, exist_ok=True)
                if kind == "notebook":
                    nbformat.write(nbformat.v4.new_notebook(), str(path))
                else:
                    path.write_text("")
        child = task.get("workflow")
        if isinstance(child, str) and "{{" not in child and child not in names:
            declared = "".join(f"  {name}: null\n" for name in task.get("parameters") or {})
            (root / "workflows" / f"{child}.yaml").write_text(
                ("parameters:\n" + declared if declared else "") + A_TASK
            )
            names.add(child)


def test_the_reference_has_examples() -> None:
    assert len(_examples()) >= 10


@pytest.mark.parametrize("page", [DOC, REPO / "README.md"], ids=lambda p: p.name)
def test_every_example_is_a_valid_workflow(tmp_path: Path, page: Path) -> None:
    (tmp_path / "workflows").mkdir()
    examples = _examples(page)
    names: set[str] = set()
    for i, (_, block) in enumerate(examples):
        data = yamlload.load(block).data
        names.add(data.get("name") or f"example_{i}")
    files = []
    for i, (line, block) in enumerate(examples):
        path = tmp_path / "workflows" / f"example_{i}.yaml"
        path.write_text(block)
        _stub_files(tmp_path, yamlload.load(block).data, names)
        _, problems = check_file(path, tmp_path)
        assert not problems, "; ".join(
            f"{page.name}:{line + (p.line or 1) - 1}: {p.message}" for p in problems
        )
        files.append(str(path))
    # Across files: `workflow:` tasks name workflows that exist, without cycles.
    _, problems = api.validate(Project(tmp_path), files)
    assert not problems, [str(p) for p in problems]


def test_an_invalid_example_would_be_caught(tmp_path: Path) -> None:
    """The check above rejects what nbflow rejects (so a passing run means something)."""
    (tmp_path / "workflows").mkdir()
    path = tmp_path / "workflows" / "bad.yaml"
    path.write_text(
        textwrap.dedent(
            """
            tasks:
              - key: a
                command: [echo, "{{params.missing}}"]
                retries: -1
            """
        )
    )
    _, problems = check_file(path, tmp_path)
    assert problems


# -- links -----------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(2)) for m in HEADING.finditer(path.read_text(encoding="utf-8"))}


@pytest.mark.parametrize(
    "page",
    [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_pages_point_only_at_files_in_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "shared/spec" not in text, f"{page.name} points at the spec outside the repository"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http://, https://, mailto:
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        assert REPO in linked.parents or linked == REPO, f"{page.name}: {target} is outside"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name} links to {target}: no such heading"
