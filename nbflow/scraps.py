"""Values glued into a notebook, read from its outputs (scrapbook's on-disk format)."""

from __future__ import annotations

import json
from typing import Any

SCRAP_PREFIX = "application/scrapbook.scrap."
MAX_VALUE_BYTES = 48 * 1024


def read_scraps(nb: Any) -> dict[str, Any]:
    """name -> value for every data scrap; display-only outputs are ignored."""
    values: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            meta = (output.get("metadata") or {}).get("scrapbook") or {}
            if meta and not meta.get("data", True):
                continue  # the display half of glue(display=True)
            for mimetype, payload in (output.get("data") or {}).items():
                if not mimetype.startswith(SCRAP_PREFIX) or not isinstance(payload, dict):
                    continue
                if "name" not in payload or "data" not in payload:
                    continue
                data = payload["data"]
                if payload.get("encoder") == "text" and not isinstance(data, str):
                    data = str(data)
                values[payload["name"]] = data
    return values


def check_size(name: str, value: Any) -> None:
    size = len(json.dumps(value, default=str).encode())
    if size > MAX_VALUE_BYTES:
        raise ValueError(
            f"value {name!r} is {size // 1024} KiB; values are limited to 48 KiB "
            "(keep large data in files and publish their path)"
        )
