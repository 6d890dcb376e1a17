"""Scheduler heartbeats: rows `scheduler:HOST:PID` of nbflow_meta, live or stale."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select, update

from .engine import Database, recovering
from .tables import meta


class Heartbeats(Database):
    """Which schedulers said they are alive, and when."""

    @recovering
    def beat_scheduler(self, key: str, info: dict[str, Any]) -> None:
        """Record that the scheduler `key` is alive (`info` holds its `seen` time)."""
        name = f"scheduler:{key}"
        value = json.dumps(info)
        with self.engine.begin() as conn:
            changed = conn.execute(update(meta).where(meta.c.name == name).values(value=value))
            if changed.rowcount == 0:
                conn.execute(insert(meta).values(name=name, value=value))

    @recovering
    def drop_scheduler(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(meta).where(meta.c.name == f"scheduler:{key}"))

    @recovering
    def schedulers(self) -> list[dict[str, Any]]:
        """Every scheduler heartbeat recorded, live or stale."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(meta.c.value).where(meta.c.name.like("scheduler:%")))
            return [json.loads(value) for (value,) in rows]
