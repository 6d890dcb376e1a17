"""Publish a value from a notebook or a script: `from nbflow import glue`.

Writes scrapbook's on-disk format (a display output with mimetype
`application/scrapbook.scrap.json+json`), so scrapbook reads nbflow's notebooks and nbflow
reads scrapbook's, without pandas or pyarrow. Outside a kernel (a script task), values go
to the JSON file the runner names in NBFLOW_VALUES_FILE.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .scraps import MAX_VALUE_BYTES

MIMETYPE = "application/scrapbook.scrap.json+json"
VALUES_FILE_ENV = "NBFLOW_VALUES_FILE"


def _checked(name: str, value: Any) -> Any:
    if not isinstance(name, str) or not name:
        raise ValueError("glue: the name must be a non-empty string")
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"glue: value {name!r} is not JSON-serialisable ({exc})") from None
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise ValueError(
            f"glue: value {name!r} is {len(text.encode()) // 1024} KiB; values are limited to "
            "48 KiB (keep large data in files and publish their path)"
        )
    return json.loads(text)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def glue(name: str, value: Any, display: bool = False) -> None:
    """Publish `value` (JSON-serialisable, at most 48 KiB) under `name` for later tasks."""
    data = _checked(name, value)
    path = os.environ.get(VALUES_FILE_ENV)
    if path and not _in_kernel():
        try:
            with open(path, encoding="utf-8") as fh:
                values = json.load(fh)
        except FileNotFoundError:
            values = {}
        values[name] = data
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(values, fh)
        os.replace(tmp, path)
        return
    from IPython.display import display as show

    payload = {"name": name, "data": data, "encoder": "json", "version": 1}
    show(
        {MIMETYPE: payload},
        metadata={"scrapbook": {"name": name, "data": True, "display": False}},
        raw=True,
    )
    if display:
        show(
            {"text/plain": repr(value)},
            metadata={"scrapbook": {"name": name, "data": False, "display": True}},
            raw=True,
        )
