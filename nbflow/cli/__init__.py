"""The `nbflow` command: parses arguments, calls `api`, prints; no logic of its own.

One module per command group; `app` holds the group they hang on (`main`) and what they
share.
"""

from __future__ import annotations

from ..startup import skip_unused_imports

skip_unused_imports()  # before anything imports nbformat (see startup.py)

from . import backfill, databricks, review, run, runs, schedule, workflows  # noqa: E402, F401
from .app import main  # noqa: E402

__all__ = ["main"]
