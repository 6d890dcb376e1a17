"""Values glued into a notebook, read from its outputs as scrapbook reads them.

scrapbook's on-disk format is a display output with mimetype
`application/scrapbook.scrap.<encoder>+json` and payload `{name, data, encoder, version}`;
papermill before 2.0 recorded values (`pm.record`) as `application/papermill.record+json`
outputs mapping names to values. Both are read without scrapbook itself.
"""

from __future__ import annotations

import json
from typing import Any

SCRAP_PREFIX = "application/scrapbook.scrap."
PAPERMILL_RECORD = "application/papermill.record+json"
MAX_VALUE_BYTES = 48 * 1024


def read_scraps(nb: Any) -> dict[str, Any]:
    """name -> value for every data scrap; display-only outputs are ignored.

    Raises ValueError naming the value when one cannot be read (a pandas scrap where
    pandas is not installed).
    """
    values: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            meta = (output.get("metadata") or {}).get("scrapbook") or {}
            if meta and not meta.get("data", True):
                continue  # the display half of glue(display=True)
            for mimetype, payload in (output.get("data") or {}).items():
                if mimetype == PAPERMILL_RECORD and isinstance(payload, dict):
                    values.update(payload)
                    continue
                if not mimetype.startswith(SCRAP_PREFIX) or not isinstance(payload, dict):
                    continue
                if "name" not in payload or "data" not in payload:
                    continue
                values[payload["name"]] = _decode(payload)
    return values


def _decode(payload: dict[str, Any]) -> Any:
    """A scrap's value as scrapbook's encoders decode it, a DataFrame as rows."""
    data, encoder = payload["data"], payload.get("encoder")
    if encoder == "text" and not isinstance(data, str):
        return str(data)
    if encoder == "json" and isinstance(data, str):
        # scrapbook's json decoder reads text that parses as JSON (nbflow's glue writes
        # None as "null", since scrapbook's schema refuses a null `data`).
        try:
            return json.loads(data)
        except ValueError:
            return data
    if encoder == "pandas":
        return _table(str(payload["name"]), data)
    return data


def _table(name: str, data: Any) -> list[dict[str, Any]]:
    """A DataFrame glued with scrapbook (base64 Parquet) as rows; a named index as columns."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas reads Parquet through it)
    except ImportError:
        raise ValueError(
            f"value {name!r} is a pandas DataFrame; reading it needs pandas and pyarrow "
            "where nbflow runs (pip install pandas pyarrow)"
        ) from None
    import base64
    import io

    try:
        frame = pd.read_parquet(io.BytesIO(base64.b64decode(data)), engine="pyarrow")
    except Exception as exc:  # binascii, pyarrow and pandas each have their own errors
        raise ValueError(f"value {name!r}: the pandas DataFrame cannot be read ({exc})") from None
    named = any(n is not None for n in frame.index.names)
    frame = frame.reset_index() if named else frame.reset_index(drop=True)
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return rows


def too_big(name: str, value: Any) -> str | None:
    """Why `value` is refused as a value (over 48 KiB as JSON), or None."""
    size = len(json.dumps(value, default=str).encode())
    if size <= MAX_VALUE_BYTES:
        return None
    return (
        f"value {name!r} is {size // 1024} KiB; values are limited to 48 KiB: write the "
        "data to a file and glue the file's path instead"
    )


def check_size(name: str, value: Any) -> None:
    problem = too_big(name, value)
    if problem:
        raise ValueError(problem)
