"""The SQL data trigger (`trigger.sql`): a query looked at every so often, a run when its
first value changes. Keeps, per scheduler, when each query last ran and its engines."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..core import triggers
from ..history import Store
from ..workflows.model import Workflow
from ..workflows.project import Project
from .decision import Decision, Fire

log = logging.getLogger("nbflow.schedule")

SQL_EVERY = 300.0  # seconds between looks of a `trigger.sql` without `every`


class SqlTrigger:
    def __init__(self, project: Project):
        self.project = project
        self.looks: dict[str, float] = {}  # workflow -> when its query last ran here
        self.failing: dict[str, str] = {}  # workflow -> its query's error, said once
        self._engines: dict[str, Any] = {}

    def check(self, workflow: Workflow, now: float, *, store: Store, fire: Fire) -> list[Decision]:
        """A run when the query's first value differs from the last one recorded.

        The ledger key is (the previous fire, the new value's digest): schedulers seeing
        the same change claim the same key. The first look only records the value.
        """
        spec = workflow.settings.trigger  # type: ignore[union-attr]
        assert spec is not None and spec.sql is not None
        every = spec.every if spec.every is not None else SQL_EVERY
        looked = self.looks.get(workflow.name)
        if looked is not None and now - looked < every:
            return []
        self.looks[workflow.name] = now
        try:
            value = self.query(spec.sql.query, spec.sql.connection)
        except Exception as exc:  # the database may come back: look again next time
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if self.failing.get(workflow.name) != message:
                log.error("%s: the trigger's query failed: %s", workflow.name, message)
            self.failing[workflow.name] = message
            return []
        if self.failing.pop(workflow.name, None) is not None:
            log.warning("%s: the trigger's query works again", workflow.name)
        last = store.last_fire_row(workflow.name, "sql")
        digest = triggers.changed(last["fire_key"].rsplit(":", 1)[1] if last else None, value)
        if digest is None:
            return []
        key = f"{last['id'] if last else 0}:{digest}"
        if last is None:
            if store.claim_mark(workflow.name, "sql", key, now, now):
                log.info("%s: watching the trigger's query (value now %r)", workflow.name, value)
            return []
        return fire(
            workflow,
            "sql",
            fire_key=key,
            trigger_time=now,
            now=now,
            trigger_info={"value": value},
            detail=f"the trigger's query value changed to {value!r}",
        )

    def query(self, query: str, connection: str | None) -> Any:
        """The first value of the first row of a trigger's query, as JSON data (or None)."""
        from sqlalchemy import create_engine, make_url, text

        url = make_url(connection or self.project.warehouse_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            if not Path(url.database).is_absolute():  # as a sql task reads it: from the root
                url = url.set(database=str(self.project.root / url.database))
        key = url.render_as_string(hide_password=False)
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = create_engine(url)
        with engine.connect() as conn:
            row = conn.execute(text(query)).first()
        value = row[0] if row is not None and len(row) else None
        return json.loads(json.dumps(value, default=str))  # dates and decimals as text
