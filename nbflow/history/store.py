"""The run history's facade: one `Store` made of the history's parts, each in its module.

Open it with a SQLAlchemy URL (`sqlite:///.nbflow/history.db` by default, PostgreSQL too);
every method of the parts is a method of the Store, so a caller needs this one class.
"""

from __future__ import annotations

from .backfills import Backfills
from .heartbeats import Heartbeats
from .ledger import TriggerLedger
from .orphans import Orphans
from .queries import Queries
from .repairs import Repairs
from .runs import RunWrites


class Store(RunWrites, Repairs, Orphans, Queries, TriggerLedger, Backfills, Heartbeats):
    """The run history of one project.

    Parts (each a `Database` subclass): `RunWrites` (runs, tasks, attempts: the runner's
    side), `Repairs`, `Orphans` (crash recovery), `Queries` (reading), `TriggerLedger`
    (fires, run slots, pauses: the schedulers' side), `Backfills`, `Heartbeats`.
    """
