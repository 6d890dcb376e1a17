"""Databricks job files: a bundle's YAML or Jobs API JSON, variables resolved, lines kept.

A bundle file (`databricks.yml` or a file it includes) holds jobs under `resources.jobs.<key>`;
`${var.NAME}` takes the value given with `--var NAME=VALUE`, else the default target's value,
else the variable's `default` (complex values too, as `${var.x.key[0]}`); `${bundle.target}`
is the default target's name (`default` when the file names none) and `${bundle.name}` the
bundle's. References to what only a workspace knows (`${workspace.*}`, `${bundle.git.*}`,
`${resources.*}`) stay as written and are reported where they are used. Anchors, aliases and
merge keys are YAML's (`yamlload`). A Jobs API file is a job's `settings`, a `jobs get`
answer (`{"job_id", "settings"}`), or a `jobs list` answer (`{"jobs": [...]}`); JSON is read by
the same loader, so its lines are known too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import Problem, UsageError, WorkflowFileError
from ..workflows import yamlload

Path_ = tuple[Any, ...]

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\[\]-]+)\}")
WHOLE_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_.\[\]-]+)\}$")
KEY_CHARS = re.compile(r"[^A-Za-z0-9_-]+")

# Top-level bundle keys that change a job on Databricks, and what nbflow does without them.
BUNDLE_KEYS_IGNORED = {
    "workspace": "the workspace a bundle deploys to has no local meaning",
    "run_as": "run_as has no local meaning: tasks run as the user running nbflow",
    "permissions": "permissions have no local meaning",
    "presets": "deployment presets such as name_prefix are not applied",
    "targets": "targets are not merged: variables take the default target's values",
    "include": "included files are not read: import each file that holds a job",
    "artifacts": "artifacts are not built: install packages in the project's environment",
    "sync": "sync settings have no local meaning",
    "experimental": "experimental settings have no local meaning",
    "scripts": "bundle scripts are not run",
    "python": "Python-defined resources are not read",
}
BUNDLE_KEYS_USED = ("bundle", "variables", "resources")


@dataclass
class Job:
    """One job of the file: its key, its settings (variables resolved) and where they are."""

    key: str
    settings: dict[str, Any]
    where: Path_  # the path of the settings mapping in the document
    job_id: Any = None  # a Jobs API job's id


@dataclass
class JobFile:
    """A loaded file: its jobs, what else it holds, and the lines of everything in it."""

    path: Path
    shown: str
    kind: str  # "bundle" or "api"
    doc: yamlload.Document
    jobs: list[Job]
    ignored: list[Problem] = field(default_factory=list)  # bundle keys and resources not imported
    unresolved: dict[Path_, list[str]] = field(default_factory=dict)  # ${...} left as written

    def line(self, path: Path_) -> int | None:
        return self.doc.line_of(path)

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.shown, self.line(path), message)

    def job(self, key: str) -> Job:
        for job in self.jobs:
            if key in (job.key, str(job.job_id), job.settings.get("name")):
                return job
        names = ", ".join(j.key for j in self.jobs) or "none"
        raise UsageError(f"{self.shown}: no job {key!r} (its jobs: {names})")


def job_key(name: str) -> str:
    """A workflow name from a Databricks job name (`Daily sales (prod)` → `Daily_sales_prod`)."""
    return KEY_CHARS.sub("_", name).strip("_") or "job"


class _Resolver:
    """Substitutes `${...}` in a bundle's values, remembering what it could not resolve."""

    def __init__(self, variables: dict[str, Any], given: dict[str, str], context: dict[str, str]):
        self.variables = variables
        self.given = given
        self.context = context
        self.unresolved: dict[Path_, list[str]] = {}

    def variable(self, name: str, path: Path_, depth: int) -> tuple[bool, Any]:
        if name in self.given:
            return True, self.given[name]
        spec = self.variables.get(name)
        if isinstance(spec, dict) and "default" in spec:
            return True, self.value(spec["default"], path, depth + 1)
        return False, None  # unknown, or a `lookup` variable only a workspace can answer

    def lookup(self, ref: str, path: Path_, depth: int) -> tuple[bool, Any]:
        if depth > 10:
            return False, None
        if ref in self.context:
            return True, self.context[ref]
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", ref)
        if len(parts) < 2 or parts[0] != "var":
            return False, None
        found, value = self.variable(parts[1], path, depth)
        if not found:
            return False, None
        for part in parts[2:]:
            try:
                value = value[int(part[1:-1])] if part.startswith("[") else value[part]
            except (KeyError, IndexError, TypeError, ValueError):
                return False, None
        return True, value

    def value(self, value: Any, path: Path_, depth: int = 0) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v, path + (k,), depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, path + (i,), depth) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = WHOLE_REFERENCE.match(value)
        if whole:
            found, result = self.lookup(whole.group(1), path, depth)
            if found:
                return result
            self.unresolved.setdefault(path, []).append(value)
            return value

        def text(match: re.Match[str]) -> str:
            found, result = self.lookup(match.group(1), path, depth)
            if not found:
                self.unresolved.setdefault(path, []).append(match.group(0))
                return match.group(0)
            if isinstance(result, (dict, list)):
                return json.dumps(result)
            if isinstance(result, bool):
                return "true" if result else "false"
            return str(result)

        return REFERENCE.sub(text, value)


def _read(path: Path, shown: str) -> yamlload.Document:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{shown}: cannot read the file ({exc})") from None
    try:
        return yamlload.load(text)
    except yamlload.YamlError as exc:
        if path.suffix == ".json":
            try:  # JSON that YAML cannot read (tabs for indentation): no lines then
                return yamlload.Document(json.loads(text))
            except json.JSONDecodeError as json_exc:
                problem = Problem(shown, json_exc.lineno, f"invalid JSON: {json_exc.msg}")
                raise WorkflowFileError([problem]) from None
        raise WorkflowFileError([Problem(shown, exc.line, exc.message)]) from None


def _default_target(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    targets = data.get("targets")
    if not isinstance(targets, dict) or not targets:
        return "default", {}
    for name, target in targets.items():
        if isinstance(target, dict) and target.get("default") is True:
            return str(name), target
    if len(targets) == 1:
        name, target = next(iter(targets.items()))
        return str(name), target if isinstance(target, dict) else {}
    return "default", {}


def _bundle(path: Path, shown: str, doc: yamlload.Document, given: dict[str, str]) -> JobFile:
    data: dict[str, Any] = doc.data
    bundle: dict[str, Any] = data["bundle"] if isinstance(data.get("bundle"), dict) else {}
    target_name, target = _default_target(data)
    variables = dict(data.get("variables") or {}) if isinstance(data.get("variables"), dict) else {}
    # A target's own variable values win over the defaults (Databricks: `targets.T.variables`).
    for name, value in (
        (target.get("variables") or {}).items() if isinstance(target.get("variables"), dict) else ()
    ):
        variables[name] = (
            value if isinstance(value, dict) and "default" in value else {"default": value}
        )
    context = {"bundle.target": target_name}
    if isinstance(bundle.get("name"), str):
        context["bundle.name"] = bundle["name"]
    resolver = _Resolver(variables, given, context)
    result = JobFile(path, shown, "bundle", doc, [])
    unknown_given = sorted(set(given) - set(variables))
    if unknown_given:
        known = ", ".join(variables) or "none"
        raise UsageError(
            f"--var {unknown_given[0]}: {shown} declares no such variable (its variables: {known})"
        )
    for key in data:
        if key in BUNDLE_KEYS_USED:
            continue
        reason = BUNDLE_KEYS_IGNORED.get(key, "not a bundle setting")
        result.ignored.append(result.problem((key,), f"ignored: {key} ({reason})"))
    resources = data.get("resources")
    if isinstance(resources, dict):
        for kind, entries in resources.items():
            if kind == "jobs":
                continue
            for name in entries if isinstance(entries, dict) else [kind]:
                where = (
                    ("resources", kind, name) if isinstance(entries, dict) else ("resources", kind)
                )
                result.ignored.append(
                    result.problem(
                        where, f"ignored: resources.{kind}.{name} (only jobs are imported)"
                    )
                )
        jobs = resources.get("jobs")
        if isinstance(jobs, dict):
            for key, settings in jobs.items():
                where = ("resources", "jobs", key)
                if not isinstance(settings, dict):
                    raise WorkflowFileError(
                        [result.problem(where, f"resources.jobs.{key} must be a mapping")]
                    )
                resolved = resolver.value(settings, where)
                result.jobs.append(Job(str(key), resolved, where))
    result.unresolved = resolver.unresolved
    return result


def _api(path: Path, shown: str, doc: yamlload.Document) -> JobFile:
    data = doc.data
    result = JobFile(path, shown, "api", doc, [])
    entries: list[tuple[Any, Path_]]
    if isinstance(data.get("jobs"), list):
        entries = [(item, ("jobs", i)) for i, item in enumerate(data["jobs"])]
    else:
        entries = [(data, ())]
    for item, where in entries:
        if not isinstance(item, dict):
            raise WorkflowFileError([result.problem(where, "a job must be a JSON object")])
        for wrapper in ("settings", "new_settings"):
            if isinstance(item.get(wrapper), dict):
                settings, at = item[wrapper], where + (wrapper,)
                break
        else:
            settings, at = item, where
        name = settings.get("name") if isinstance(settings.get("name"), str) else None
        job_id = item.get("job_id")
        key = job_key(name) if name else f"job_{job_id}" if job_id is not None else path.stem
        result.jobs.append(Job(key, settings, at, job_id))
    return result


def load(path: Path, shown: str, variables: dict[str, str] | None = None) -> JobFile:
    """Read a bundle or Jobs API file; raise a UsageError or WorkflowFileError saying why not."""
    doc = _read(path, shown)
    data = doc.data
    if not isinstance(data, dict):
        raise WorkflowFileError(
            [Problem(shown, doc.line_of(()), "expected a Databricks bundle or Jobs API job")]
        )
    if isinstance(data.get("resources"), dict) or "bundle" in data:
        loaded = _bundle(path, shown, doc, dict(variables or {}))
    elif (
        "tasks" in data
        or "settings" in data
        or "new_settings" in data
        or isinstance(data.get("jobs"), list)
    ):
        if variables:
            raise UsageError("--var applies to bundle files; a Jobs API file has no variables")
        loaded = _api(path, shown, doc)
    else:
        raise WorkflowFileError(
            [
                Problem(
                    shown,
                    doc.line_of(()),
                    "neither a bundle (no `resources.jobs`) nor a Jobs API job (no `tasks` or "
                    "`settings`)",
                )
            ]
        )
    if not loaded.jobs:
        raise WorkflowFileError([Problem(shown, doc.line_of(()), "the file defines no job")])
    keys = [j.key for j in loaded.jobs]
    for job in loaded.jobs:
        if keys.count(job.key) > 1:
            job.key = f"{job.key}_{job.job_id}" if job.job_id is not None else job.key
    return loaded
