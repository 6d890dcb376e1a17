"""Publish a value from a notebook or a script: `from nbflow import glue`.

Writes scrapbook's on-disk format as scrapbook's own `glue` does (text under the `text`
encoder, anything else JSON under `json`), so scrapbook reads nbflow's notebooks and nbflow
reads scrapbook's, without pandas or pyarrow. Outside a kernel (a script task), values go
to the JSON file the runner names in NBFLOW_VALUES_FILE.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .core.scraps import SCRAP_PREFIX, too_big

VALUES_FILE_ENV = "NBFLOW_VALUES_FILE"


def _checked(name: str, value: Any) -> Any:
    if not isinstance(name, str) or not name:
        raise ValueError("glue: the name must be a non-empty string")
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"glue: value {name!r} is not JSON-serialisable ({exc})") from None
    problem = too_big(name, value)
    if problem:
        raise ValueError(f"glue: {problem}")
    return json.loads(text)


def _payload(name: str, data: Any) -> tuple[str, dict[str, Any]]:
    """(mimetype, payload) of a scrap of `data`, in a form scrapbook reads back."""
    if isinstance(data, str):
        encoder = "text"
    else:
        encoder = "json"
        if data is None:
            # scrapbook's schema refuses a null `data` (and with it the whole notebook);
            # its json decoder reads the text "null" back as None, as nbflow's reader does.
            data = "null"
    payload = {"name": name, "data": data, "encoder": encoder, "version": 1}
    return f"{SCRAP_PREFIX}{encoder}+json", payload


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

    mimetype, payload = _payload(name, data)
    show(
        {mimetype: payload},
        metadata={"scrapbook": {"name": name, "data": True, "display": False}},
        raw=True,
    )
    if display:
        show(
            {"text/plain": repr(value)},
            metadata={"scrapbook": {"name": name, "data": False, "display": True}},
            raw=True,
        )
