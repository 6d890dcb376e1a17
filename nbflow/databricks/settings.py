"""Databricks settings jobs and tasks share, as nbflow writes them: values, notifications, health.

Each function reads one setting of a job or a task, returns it in nbflow's form and reports
to the job's `JobReport` what it could not carry over, at its line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.durations import format_duration
from ..workflows.schema import PARAM_PATTERN
from . import fields as F
from .jobreport import JobReport, Path_

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def text(value: Any) -> str:
    """A value as Databricks passes parameters: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def seconds(report: JobReport, value: Any, rel: Path_, millis: bool = False) -> str | None:
    """A duration as a workflow file writes it (`90s`), or None for none (Databricks' 0)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        unit = "milliseconds" if millis else "seconds"
        report.problem(rel, f"{report.where(rel)} {value!r} is not a number of {unit}: left out")
        return None
    if value == 0:
        return None
    return format_duration(value / 1000 if millis else value)


def string_map(report: JobReport, value: Any, rel: Path_) -> dict[str, str]:
    """Parameters by name, as text; names nbflow cannot pass are reported and left out."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        report.problem(rel, f"{report.where(rel)} must be a mapping of names to values: left out")
        return {}
    out = {}
    for name, v in value.items():
        if isinstance(name, str) and re.match(PARAM_PATTERN, name):
            out[name] = text(v)
        else:
            report.problem(
                rel + (name,),
                f"parameter {name!r} is not a name nbflow can pass (letters, digits, '_'): "
                "left out",
            )
    return out


def string_list(report: JobReport, value: Any, rel: Path_) -> list[str]:
    """Command-line parameters, as text."""
    if value is None:
        return []
    if not isinstance(value, list):
        report.problem(rel, f"{report.where(rel)} must be a list: left out")
        return []
    return [text(v) for v in value]


def health(
    report: JobReport, value: Any, rel: Path_, *, job_level: bool
) -> tuple[str | None, str | None]:
    """The duration warning a RUN_DURATION_SECONDS rule sets, and a comment saying whence."""
    if value is None:
        return None, None
    rules = value.get("rules") if isinstance(value, dict) else None
    if not isinstance(rules, list):
        report.problem(rel, "health must hold a list of rules: left out")
        return None, None
    warning = comment = None
    for i, rule in enumerate(rules):
        at = rel + ("rules", i)
        if not isinstance(rule, dict) or rule.get("metric") != "RUN_DURATION_SECONDS":
            metric = rule.get("metric") if isinstance(rule, dict) else rule
            report.ignore(at, f"health metric {metric} has no local meaning")
        elif not job_level:
            report.ignore(at, "nbflow warns about a run's duration, not a task's")
        elif rule.get("op") != "GREATER_THAN":
            report.problem(at, f"health rule op {rule.get('op')!r} is not GREATER_THAN: left out")
        else:
            warning = seconds(report, rule.get("value"), at + ("value",))
            comment = f"from health.rules[{i}] (line {report.line(at)}): RUN_DURATION_SECONDS"
    return warning, comment


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def notifications(
    report: JobReport, holder: dict[str, Any], rel: Path_, webhooks: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """Email and webhook notifications as nbflow's, and a comment saying where they were.

    Databricks names webhook destinations by workspace id; `webhooks` maps ids to URLs.
    """
    out: dict[str, list[dict[str, str]]] = {}
    emails = holder.get("email_notifications")
    if isinstance(emails, dict):
        for event, addresses in emails.items():
            at = rel + ("email_notifications", event)
            if event not in F.EVENTS:
                report.ignore(
                    at, F.EVENTS_IGNORED.get(event, "not a Databricks notification event")
                )
                continue
            for j, address in enumerate(_each(addresses)):
                if isinstance(address, str) and EMAIL.match(address):
                    out.setdefault(F.EVENTS[event], []).append({"email": address})
                else:
                    report.problem(at + (j,), f"{address!r} is not an email address: left out")
    hooks = holder.get("webhook_notifications")
    if isinstance(hooks, dict):
        for event, destinations in hooks.items():
            at = rel + ("webhook_notifications", event)
            if event not in F.EVENTS:
                report.ignore(
                    at, F.EVENTS_IGNORED.get(event, "not a Databricks notification event")
                )
                continue
            for j, dest in enumerate(_each(destinations)):
                ident = dest.get("id") if isinstance(dest, dict) else dest
                if isinstance(ident, str) and ident in webhooks:
                    out.setdefault(F.EVENTS[event], []).append({"webhook": webhooks[ident]})
                else:
                    report.ignore(
                        at + (j,),
                        f"webhook destination {ident} lives in the workspace: give its URL "
                        f"with --webhook {ident}=URL",
                    )
    where = "from " + " and ".join(
        f"{k} (line {report.line(rel + (k,))})"
        for k in ("email_notifications", "webhook_notifications")
        if k in holder
    )
    return out, where
