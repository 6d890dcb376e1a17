"""When triggers fire: pure functions of the times passed in; no I/O, no sleeping.

- Cron: `fire_times_between` and `next_fire` in the schedule's time zone, 5-field cron or
  Quartz (converted by `cronexpr`). DST as croniter does it: a time in the skipped hour
  fires once at the first valid minute after it (02:30 -> 03:00 on the spring-forward
  day); a time in the repeated hour fires twice, once at each offset.
- Catch-up (`due`): after downtime, one run for all the fire times missed, with the latest
  missed time as its trigger time; the number missed is reported for the log.
- Continuous: `continuous_delay` gives the back-off after consecutive failures.
- File arrival: `ready_files` decides which new files may trigger now.
- Backfill: `fire_times_between` (a schedule's) or `every_between` (a fixed step) list
  the fire times of a date range.
- Workflow completion: `after_matches` says whether an upstream run's end state fires.
- SQL data: `changed` says whether a query's value differs from the last one seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

from .cronexpr import to_croniter

CATCH_UP_SCAN_LIMIT = 100_000  # fire times looked at when counting a long downtime


def _iter(expr: str, tz: str, start: float) -> croniter:
    converted, seconds = to_croniter(expr)
    begin = datetime.fromtimestamp(start, tz=ZoneInfo(tz))
    return (
        croniter(converted, begin, second_at_beginning=False)
        if seconds
        else croniter(converted, begin)
    )


def next_fire(expr: str, tz: str, after: float) -> float:
    """The first fire time strictly after `after` (seconds since the epoch)."""
    return float(_iter(expr, tz, after).get_next(float))


def fire_times_between(expr: str, tz: str, start: float, end: float, limit: int) -> list[float]:
    """The fire times t with start <= t <= end, ascending; at most `limit` + 1 of them (so a
    caller sees that the range holds more than it takes)."""
    it = _iter(expr, tz, start - 1)  # fire times are whole seconds: one at `start` is kept
    found: list[float] = []
    while len(found) <= limit:
        t = float(it.get_next(float))
        if t > end:
            break
        if t >= start:
            found.append(t)
    return found


def every_between(start: float, end: float, every: float, limit: int) -> list[float]:
    """start, start + every, ... up to end (inclusive); at most `limit` + 1 of them."""
    found: list[float] = []
    t = start
    while t <= end and len(found) <= limit:
        found.append(t)
        t = start + every * len(found)  # no drift from adding up a rounded step
    return found


def changed(previous_digest: str | None, value: object) -> str | None:
    """The digest of a SQL trigger's new value when it differs from the last one seen."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
    return None if digest[:32] == previous_digest else digest[:32]


def after_matches(wanted: str, state: str) -> bool:
    """Whether an upstream run that ended `state` fires an `after` trigger asking `wanted`."""
    if wanted == "any":
        return True
    if wanted == "success":
        return state in ("success", "success_with_failures")
    return state in ("failed", "timed_out")  # "failed", as on_failure counts it


@dataclass(frozen=True)
class Due:
    fire_time: float  # the trigger time of the run to start (the latest due fire time)
    missed: int  # how many fire times fell due since `last` (1 when on time)


def due(expr: str, tz: str, last: float, now: float) -> Due | None:
    """The fire to start at `now` when the last one handled was at `last`, if any."""
    it = _iter(expr, tz, last)
    latest = None
    count = 0
    while count < CATCH_UP_SCAN_LIMIT:
        t = float(it.get_next(float))
        if t > now:
            break
        latest = t
        count += 1
    return Due(latest, count) if latest is not None else None


def continuous_delay(failures: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds to wait before the next continuous run after `failures` failed in a row."""
    if failures <= 0:
        return 0.0
    return min(cap, base * 2.0 ** (failures - 1))


@dataclass(frozen=True)
class FileSeen:
    path: str  # relative to the watched folder
    size: int
    mtime: float
    changed_at: float  # when this size/mtime was first observed


def ready_files(
    candidates: list[FileSeen],
    *,
    now: float,
    wait_after_last_change: float,
    min_interval: float,
    last_run: float | None,
) -> list[str]:
    """New files that may trigger a run now: all of them once none changed for the wait."""
    if not candidates:
        return []
    if now - max(c.changed_at for c in candidates) < wait_after_last_change:
        return []
    if last_run is not None and now - last_run < min_interval:
        return []
    return sorted(c.path for c in candidates)


def iso_in(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, tz=ZoneInfo(tz)).isoformat()


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
