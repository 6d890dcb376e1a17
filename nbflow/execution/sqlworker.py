"""One SQL attempt in its own process: statements in one transaction, rows as JSON.

Like the notebook worker, the runner starts `python -m nbflow.execution.sqlworker` (so a timeout or a
cancel can kill it), writes the job as JSON on stdin and reads the result as the last line
of stdout. Parameters are bound (`:name`), never formatted into the SQL text.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import sys
import uuid
from typing import Any

MAX_ROWS = 1000


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script, comments-only pieces dropped."""
    import sqlparse

    out = []
    for statement in sqlparse.split(script):
        stripped = sqlparse.format(statement, strip_comments=True).strip().rstrip(";").strip()
        if stripped:
            out.append(statement.strip().rstrip(";"))
    return out


def jsonable(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def execute(job: dict[str, Any]) -> dict[str, Any]:
    """Run the statements; never raises."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    log: list[str] = []
    try:
        engine = create_engine(job["url"])
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        return {
            "state": "failed",
            "error": {"ename": type(exc).__name__, "evalue": str(exc)},
            "log": log,
        }
    output: dict[str, Any] = {"columns": [], "rows": [], "row_count": 0, "first_row": None}
    try:
        with engine.begin() as conn:
            for number, statement in enumerate(job["statements"], 1):
                clause = text(statement)
                names = set(clause.compile().params)
                bound = {k: v for k, v in job["parameters"].items() if k in names}
                missing = names - set(bound)
                if missing:
                    raise ValueError(
                        f"statement {number} uses :{sorted(missing)[0]}, which is not among "
                        "the task's parameters"
                    )
                result = conn.execute(clause, bound)
                if result.returns_rows:
                    columns = list(result.keys())
                    rows = [
                        dict(zip(columns, map(jsonable, r), strict=True))
                        for r in result.fetchmany(MAX_ROWS)
                    ]
                    extra = len(result.fetchall())
                    output = {
                        "columns": columns,
                        "rows": rows,
                        "row_count": len(rows) + extra,
                        "first_row": rows[0] if rows else None,
                    }
                    log.append(f"statement {number}: {output['row_count']} rows")
                else:
                    count = result.rowcount if result.rowcount is not None else -1
                    output = {
                        "columns": [],
                        "rows": [],
                        "row_count": max(count, 0),
                        "first_row": None,
                    }
                    log.append(
                        f"statement {number}: "
                        + (f"{count} rows affected" if count >= 0 else "done")
                    )
    except DBAPIError as exc:
        message = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return {
            "state": "failed",
            "log": log,
            "error": {"ename": type(exc.orig).__name__, "evalue": message},
        }
    except (SQLAlchemyError, ValueError) as exc:
        return {
            "state": "failed",
            "log": log,
            "error": {"ename": type(exc).__name__, "evalue": str(exc).splitlines()[0]},
        }
    finally:
        engine.dispose()
    return {"state": "success", "output": output, "log": log}


def main() -> int:
    job = json.load(sys.stdin)
    sys.stdout.write("\n" + json.dumps(execute(job), default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
