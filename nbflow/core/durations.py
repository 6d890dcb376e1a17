"""Durations as written in workflow files (`500ms`, `30s`, `5m`, `2h`, `1d`, or seconds)."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: object) -> float:
    """Return the duration in seconds; raise ValueError with a readable message otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m or 2h, got {value!r}")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"a duration must be a finite number of seconds, got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if 0 <= number < float("inf"):
                return number
    raise ValueError(f"expected a duration such as 500ms, 30s, 5m, 2h or 1d, got {value!r}")


def format_duration(seconds: float) -> str:
    """The shortest way `parse_duration` reads back as `seconds` (`90` → `90s`, `3600` → `1h`)."""
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"a duration cannot be negative, got {seconds!r}")
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"
