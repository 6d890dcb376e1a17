"""Run history: runs, tasks, attempts, repairs and the schedulers' ledger in a SQL database.

`Store` is the facade (`store.py`); `tables` the schema; `engine` opening and keeping the
database usable; `runs` the runner's writes; `repairs`; `orphans` closing a dead runner's
run; `queries` the reads; `ledger` the schedulers' fires and run slots; `backfills`;
`heartbeats`. A history that cannot be used raises `nbflow.core.errors.HistoryError`.
"""

from __future__ import annotations

from ..core.errors import HistoryError
from ..core.states import ACTIVE_RUN_STATES
from .store import Store

__all__ = ["ACTIVE_RUN_STATES", "HistoryError", "Store"]
