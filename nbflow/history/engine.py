"""History database: the engine of one run history, opened, checked and kept usable.

SQLite (`.nbflow/history.db` by default) runs in WAL mode, so readers see a run while it is
being written, with a busy timeout; any SQLAlchemy URL (PostgreSQL, say) can be given
instead. Opening creates missing tables and refuses a history made by another version. A
broken connection is replaced and the call made once more (`recovering`); a database that
cannot be used raises `HistoryError`, one sentence naming it.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Table, create_engine, event, func, insert, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
)

from ..core.errors import HistoryError
from .tables import ADDED_COLUMNS, SCHEMA_VERSION, meta, metadata

# The key of the PostgreSQL advisory lock held while a history's tables are created (any
# fixed number: advisory locks belong to one database, and only nbflow takes this one).
_CREATE_LOCK = 0x6E62666C6F77  # "nbflow"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait too
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _wal_index(database: str) -> tuple[int, int] | None:
    """Which `-shm` file (the WAL index every connection to a SQLite file shares) is there."""
    try:
        info = os.stat(database + "-shm")
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _disk_full(path: str) -> bool:
    try:
        found = os.statvfs(os.path.dirname(path))
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 64 * 1024  # less than a WAL index needs


# Every open Store of a SQLite file in this process. SQLite shares one WAL index among a
# process's connections to a file, so a connection left broken in one Store breaks new ones
# in the others: recovering means closing the idle connections of all of them.
_open_stores: dict[str, weakref.WeakSet[Database]] = {}
_open_lock = threading.Lock()


def _stores_of(database: str) -> list[Database]:
    with _open_lock:
        return list(_open_stores.get(database, ()))


def _unusable(exc: DBAPIError) -> bool:
    """The database itself failed (full, locked, broken, unreachable), not a statement."""
    return isinstance(exc, (OperationalError, InterfaceError, InternalError)) or (
        type(exc) is DatabaseError
    )


def _broken_connection(exc: DBAPIError) -> bool:
    """A connection that a new one may replace: lost, closed, or left with a stale WAL index.

    The last happens when something else in this process opens and closes the database
    file (SQLite's POSIX locks go with the close) and another process then deletes the WAL
    files under the open connection: SQLite answers "disk I/O error" from then on.
    """
    if exc.connection_invalidated:
        return True
    message = str(exc.orig).lower()
    return any(
        sign in message
        for sign in ("disk i/o error", "closed database", "database disk image is malformed")
    )


Method = TypeVar("Method", bound=Callable[..., Any])


def recovering(method: Method) -> Method:
    """A history call that survives one broken connection and fails in one clear sentence.

    Every transaction either committed or rolled back when SQLAlchemy raises, so calling
    again on fresh connections is safe.
    """

    @functools.wraps(method)
    def call(self: Database, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except DBAPIError as exc:
            if not _unusable(exc):
                raise
            if not _broken_connection(exc):
                raise self._failure(exc) from exc
        self._reconnect()
        try:
            return method(self, *args, **kwargs)
        except DBAPIError as exc:
            if not _unusable(exc):
                raise
            raise self._failure(exc) from exc

    return call  # type: ignore[return-value]


class Database:
    """The connection to one run history; the history's parts (`Store`) build on it."""

    def __init__(self, url: str):
        self.url = url
        sqlite = url.startswith("sqlite")
        # pre_ping: a server-side database may have dropped an idle connection.
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=not sqlite)
        database = self.engine.url.database if sqlite else None
        self.database = os.path.abspath(database) if database and database != ":memory:" else None
        self.where = self.database or self.engine.url.render_as_string(hide_password=True)
        if sqlite:
            event.listen(self.engine, "connect", self._connected)
        if self.database:
            event.listen(self.engine, "checkout", self._checked_out)
            with _open_lock:
                _open_stores.setdefault(self.database, weakref.WeakSet()).add(self)
        self._create()

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        if self.database:
            # Reading once opens the WAL index, so the one this connection uses is known.
            dbapi_connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
            record.info["wal_index"] = _wal_index(self.database)

    def _checked_out(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Replace a connection whose WAL files were deleted under it before it is used.

        Its writes would go to a deleted file (lost to every other process) and a later
        checkpoint could overwrite newer pages; a new connection sees the files there are.
        """
        assert self.database is not None
        if record.info.get("wal_index") != _wal_index(self.database):
            for other in _stores_of(self.database):
                if other is not self:
                    other.engine.dispose()  # their idle connections share the stale index
            raise DisconnectionError("the WAL files of the run history were replaced")

    def _reconnect(self) -> None:
        """Close the idle connections of every Store of this database in this process."""
        for store in _stores_of(self.database) if self.database else [self]:
            store.engine.dispose()

    def _failure(self, exc: DBAPIError) -> HistoryError:
        lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
        reason = lines[0] if lines else type(exc).__name__
        if self.database and "full" not in reason and _disk_full(self.database):
            reason += " (the disk it is on is full)"  # SQLite only says "disk I/O error"
        hint = "; free some space there and try again" if "full" in reason else ""
        return HistoryError(f"cannot use the run history at {self.where}: {reason}{hint}")

    @recovering
    def _create(self) -> None:
        # Several processes (a scheduler, a run, `nbflow show`) may open a new history at
        # once. On PostgreSQL they take turns (`_create_once`). On SQLite whoever loses a
        # race to create a table or the schema row carries on; SQLite also answers
        # "database is locked" at once, without waiting, to a connection whose read went
        # stale while another one wrote (its busy timeout cannot help): tried again as well.
        for attempt in range(40):
            try:
                self._create_once()
                return
            except OperationalError as exc:
                message = str(exc.orig)
                if attempt == 39 or not ("already exists" in message or "locked" in message):
                    raise
                time.sleep(0.01 * min(attempt + 1, 10))  # another process is creating it

    def _create_once(self) -> None:
        if self.engine.dialect.name != "postgresql":
            self._create_on(self.engine)
            return
        # PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against itself: two sessions
        # creating one table both pass the check and the loser fails on the catalog
        # ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
        # A transaction-level advisory lock makes creators of this database take turns;
        # DDL is transactional there, so the next one sees every table already made.
        with self.engine.begin() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(_CREATE_LOCK)))
            self._create_on(conn)

    def _create_on(self, bind: Engine | Connection) -> None:
        metadata.create_all(bind)
        self._check_columns(bind)
        if isinstance(bind, Connection):
            self._schema_row(bind)
            return
        try:
            with bind.begin() as conn:
                self._schema_row(conn)
        except IntegrityError:
            pass  # another process wrote it first

    @staticmethod
    def _schema_row(conn: Connection) -> None:
        found = conn.execute(select(meta.c.value).where(meta.c.name == "schema")).scalar()
        if found is None:
            conn.execute(insert(meta).values(name="schema", value=str(SCHEMA_VERSION)))

    def _check_columns(self, bind: Engine | Connection) -> None:
        """A database made by another nbflow version is refused rather than misread.

        Columns added since (`ADDED_COLUMNS`, each nullable) are added to an older history.
        """
        found = inspect(bind)
        for table in metadata.sorted_tables:
            have = {c["name"] for c in found.get_columns(table.name)}
            for name in ADDED_COLUMNS.get(table.name, ()):
                if name not in have:
                    self._add_column(bind, table, name)
                    have.add(name)
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise HistoryError(
                    f"the run history at {self.where} was made by another version of nbflow (table {table.name} lacks "
                    f"{', '.join(missing)}); move it aside to start a new one"
                )

    def _add_column(self, bind: Engine | Connection, table: Table, name: str) -> None:
        column = table.c[name]
        kind = column.type.compile(dialect=self.engine.dialect)
        statement = f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"
        if isinstance(bind, Connection):  # creators take turns: nobody adds it meanwhile
            bind.exec_driver_sql(statement)
            return
        try:
            with bind.begin() as conn:
                conn.exec_driver_sql(statement)
        except (OperationalError, DBAPIError) as exc:  # another process added it first
            if name not in {c["name"] for c in inspect(bind).get_columns(table.name)}:
                raise exc

    def close(self) -> None:
        if self.database:
            with _open_lock:
                _open_stores.get(self.database, weakref.WeakSet()).discard(self)
        self.engine.dispose()
