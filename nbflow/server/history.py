"""The server's run history: one open store its read handlers share, opened once.

Opening a history makes its tables if need be and checks its schema (tens of milliseconds);
the panel asks for the workflows, the scheduler's status and runs each time something
changes. So the server opens it once, and each read only finishes the runs whose runner
died, as opening would. A store that fails (its files replaced, a connection the database
dropped) is closed, and the read is tried once more on a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from .. import api
from ..core.errors import HistoryError, NbflowError
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..history import Store

T = TypeVar("T")


class SharedHistory:
    def __init__(self, project: Project):
        self.project = project
        self._store: Store | None = None
        self._lock = threading.Lock()

    def read(self, work: Callable[[Store], T]) -> T:
        """`work(store)` on the shared store (in the caller's thread: a handler's worker)."""
        for attempt in (1, 2):
            store, fresh = self._open()
            try:
                if not fresh:
                    api.recover(self.project, store)  # a runner that died, as opening would
                return work(store)
            except NbflowError as exc:
                if not isinstance(exc, HistoryError):
                    raise  # the request's own mistake (no such run): the store is fine
                self._drop(store)
                if fresh or attempt == 2:
                    raise
            except Exception:
                self._drop(store)
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _open(self) -> tuple[Store, bool]:
        """The shared store, and whether it was opened just now (then a failure is real)."""
        with self._lock:
            if self._store is not None:
                return self._store, False
            self._store = api.open_store(self.project)
            return self._store, True

    def _drop(self, store: Store) -> None:
        with self._lock:
            if self._store is store:
                self._store = None
        store.close()

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
