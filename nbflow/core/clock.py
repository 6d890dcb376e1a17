"""Time, passed in: the real clock for runs, a manual one for tests that must not sleep."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone


class Clock:
    """Wall-clock time in seconds since the epoch, and waiting."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def pause(self, seconds: float) -> None:
        """Wait without a loop (a command polling another process)."""
        time.sleep(seconds)


def iso(ts: float | None) -> str | None:
    """ISO 8601 with the machine's UTC offset, e.g. 2026-11-25T10:00:00.123+01:00."""
    if ts is None:
        return None
    return (
        datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().isoformat(timespec="milliseconds")
    )
