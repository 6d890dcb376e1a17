"""The history contract's backends: SQLite in a temporary folder, and a real PostgreSQL server."""

from __future__ import annotations

import pytest

from nbflow.history import Store
from tests.conftest import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A new, empty run history on each backend (PostgreSQL: a new database of the server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(history_url: str):
    opened = Store(history_url)
    yield opened
    opened.close()


@pytest.fixture
def second_store(history_url: str):
    """Another Store of the same history, as another process (a scheduler, a CLI) has."""
    opened = Store(history_url)
    yield opened
    opened.close()
