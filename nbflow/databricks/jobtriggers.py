"""Databricks job triggers as nbflow ones: continuous, a cron schedule, file arrival, periodic.

A quartz cron schedule is kept as written (nbflow reads quartz's 6 and 7 fields), a periodic
trigger becomes a cron schedule in UTC, and a file-arrival URL in cloud storage becomes a
folder under `data/`. Table, model and SQL-condition triggers watch the workspace and are
left out, saying so at their line.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from ..core.cronexpr import check_cron
from .jobreport import JobReport, Path_
from .projectpaths import CLOUD_URI
from .settings import seconds


def periodic_cron(interval: int, unit: str) -> tuple[str, bool]:
    """(5-field cron, exact) for Databricks' `trigger.periodic`."""
    steps = {
        "MINUTES": (60, "{s} * * * *"),
        "HOURS": (24, "0 {s} * * *"),
        "DAYS": (None, "0 0 {s} * *"),
    }
    if unit == "WEEKS":
        return "0 0 * * 1", interval == 1
    limit, form = steps[unit]
    step = "*" if interval == 1 else f"*/{interval}"
    exact = interval == 1 or (limit is not None and limit % interval == 0)
    return form.format(s=step), exact


class JobTriggers:
    """When one job runs, written into its workflow's content with a comment saying whence."""

    def __init__(self, report: JobReport, comments: dict[Path_, str]):
        self.report = report
        self.comments = comments  # the importer's: a comment per part of the workflow

    def triggers(self, s: dict[str, Any], content: dict[str, Any]) -> None:
        """The job settings `s`'s continuous, schedule and trigger (Databricks takes one)."""
        schedule = s.get("schedule")
        trigger = s.get("trigger")
        continuous = s.get("continuous")
        if continuous is not None:
            if schedule is not None or trigger is not None:
                other = "schedule" if schedule is not None else "trigger"
                self.report.problem(
                    ("continuous",),
                    f"continuous and {other} (line {self.report.line((other,))}) are both set "
                    "and Databricks "
                    f"accepts only one: nbflow keeps continuous and leaves {other} out",
                )
                self.report.ignored_paths.append((other,))
                schedule = trigger = None
            content["continuous"] = True
            paused = isinstance(continuous, dict) and continuous.get("pause_status") == "PAUSED"
            if paused:
                content["paused"] = True
            if isinstance(continuous, dict) and "task_retry_mode" in continuous:
                self.report.ignore(
                    ("continuous", "task_retry_mode"), "task retries follow each task's retries"
                )
            self.comments[("continuous",)] = (
                f"from continuous (line {self.report.line(('continuous',))})"
            )
        if schedule is not None:
            self.schedule(schedule, content)
        if trigger is not None:
            self.trigger(trigger, content)

    def schedule(self, schedule: Any, content: dict[str, Any]) -> None:
        rel: Path_ = ("schedule",)
        if not isinstance(schedule, dict) or not isinstance(
            schedule.get("quartz_cron_expression"), str
        ):
            self.report.problem(rel, "schedule needs a quartz_cron_expression: left out")
            return
        cron = schedule["quartz_cron_expression"].strip()
        try:
            check_cron(cron)
        except ValueError as exc:
            self.report.problem(
                rel + ("quartz_cron_expression",), f"{exc}: the schedule is left out"
            )
            return
        out: dict[str, Any] = {"cron": cron}
        tz = schedule.get("timezone_id")
        if tz is not None:
            if self.timezone(tz, rel + ("timezone_id",)):
                out["timezone"] = tz
            else:
                return
        if schedule.get("pause_status") == "PAUSED":
            out["paused"] = True
        self.report.check_fields(
            schedule, rel, ("quartz_cron_expression", "timezone_id", "pause_status"), {}, "schedule"
        )
        content["schedule"] = out
        self.comments[("schedule",)] = (
            f"from schedule (line {self.report.line(rel)}): quartz_cron_expression, timezone_id"
        )

    def timezone(self, tz: Any, rel: Path_) -> bool:
        try:
            zoneinfo.ZoneInfo(str(tz))
            return True
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.report.problem(
                rel, f"time zone {tz!r} is not an IANA time zone: the schedule is left out"
            )
            return False

    def trigger(self, trigger: Any, content: dict[str, Any]) -> None:
        rel: Path_ = ("trigger",)
        if not isinstance(trigger, dict):
            self.report.problem(rel, "trigger must be a mapping: left out")
            return
        paused = trigger.get("pause_status") == "PAUSED"
        arrival = trigger.get("file_arrival")
        periodic = trigger.get("periodic")
        for kind in ("table", "table_update", "model", "sql_condition"):
            if kind in trigger:
                self.report.ignore(
                    rel + (kind,), f"{kind} triggers watch workspace tables: no local meaning"
                )
        if isinstance(arrival, dict) and isinstance(arrival.get("url"), str):
            url = arrival["url"]
            # A storage URL or a volume path becomes a folder under data/; a relative path
            # (what `nbflow export databricks` writes) is already a folder of the project.
            remote = bool(CLOUD_URI.match(url)) or url.startswith("/")
            local = (
                "data/" + re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*:/+", "", url).strip("/")
                if remote
                else url.rstrip("/")
            )
            out: dict[str, Any] = {"path": local}
            for key, name in (
                ("min_time_between_triggers_seconds", "min_interval"),
                ("wait_after_last_change_seconds", "wait_after_last_change"),
            ):
                value = seconds(self.report, arrival.get(key), rel + ("file_arrival", key))
                if value:
                    out[name] = value
            content["file_arrival"] = out
            if paused:
                content["paused"] = True
            if remote:
                self.report.note(
                    rel + ("file_arrival", "url"),
                    f"file arrivals at {url} are watched locally in {local}/: change "
                    "file_arrival.path to the folder you use",
                )
            self.comments[("file_arrival",)] = (
                f"from trigger.file_arrival (line {self.report.line(rel + ('file_arrival',))}): "
                f"{url}"
            )
        elif isinstance(periodic, dict):
            interval, unit = periodic.get("interval"), periodic.get("unit")
            if (
                not isinstance(interval, int)
                or isinstance(interval, bool)
                or interval < 1
                or unit not in ("MINUTES", "HOURS", "DAYS", "WEEKS")
            ):
                self.report.problem(
                    rel + ("periodic",),
                    "periodic needs a whole interval of at least 1 and a unit (MINUTES, HOURS, "
                    "DAYS, WEEKS): left out",
                )
                return
            if "schedule" in content:
                self.report.problem(
                    rel, "a job has a schedule or a trigger, not both: the trigger is left out"
                )
                return
            cron, exact = periodic_cron(interval, unit)
            content["schedule"] = {
                "cron": cron,
                "timezone": "UTC",
                **({"paused": True} if paused else {}),
            }
            how = (
                ""
                if exact
                else " (approximately: the interval does not divide the next larger unit)"
            )
            self.report.note(
                rel + ("periodic",),
                f"periodic interval {interval} {unit} became the cron schedule {cron!r} in "
                f"UTC{how}; Databricks counts the interval from the last run, nbflow fires on "
                "the clock",
            )
            self.comments[("schedule",)] = (
                f"from trigger.periodic (line {self.report.line(rel + ('periodic',))}): every "
                f"{interval} {unit}"
            )
        elif not any(k in trigger for k in ("table", "table_update", "model", "sql_condition")):
            self.report.ignore(
                rel, "it names no kind of trigger (file_arrival, periodic): nothing to trigger"
            )
