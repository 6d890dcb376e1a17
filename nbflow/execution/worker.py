"""One notebook attempt in its own process: papermill executes it, a JSON line reports it.

The runner starts `python -m nbflow.execution.worker` with the task's working directory and
environment (both process-wide, so one process per attempt keeps parallel tasks apart),
writes the job as JSON on stdin and reads the result as the last line of stdout.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any


def _error(ename: str, evalue: str, cell_index: int | None = None, tb: str = "") -> dict[str, Any]:
    return {"ename": ename, "evalue": evalue, "cell_index": cell_index, "traceback": tb}


def execute(job: dict[str, Any], km: Any = None) -> dict[str, Any]:
    """Run one notebook attempt; never raises.

    With `km` (a pooled kernel, see `kernelpool.Kernel`) papermill drives that kernel, from
    the caller's thread, instead of starting one.
    """
    from ..startup import import_papermill

    papermill = import_papermill()  # before the modules below import it whole
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from ..databricks.source_notebook import papermill_input
    from ..workflows import secrets
    from .kernels.managers import IPCKernelManager

    logging.getLogger("papermill").setLevel(logging.WARNING)
    kernel: dict[str, Any] = {"km": km} if km is not None else {}
    try:
        papermill.execute_notebook(
            papermill_input(job["input"]),  # a Databricks notebook is converted as it is read
            secrets.output_path(job["output"], job.get("mask", ())),
            parameters=job["parameters"],
            kernel_name=job.get("kernel"),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            kernel_manager_class=IPCKernelManager,
            **kernel,
        )
        return {"state": "success"}
    except PapermillExecutionError as exc:
        return {
            "state": "failed",
            "error": _error(exc.ename, exc.evalue, exc.cell_index, "\n".join(exc.traceback)),
        }
    except CellTimeoutError as exc:
        return {"state": "timed_out", "error": _error("CellTimeoutError", str(exc))}
    except DeadKernelError as exc:
        return {"state": "failed", "error": _error("DeadKernelError", f"the kernel died: {exc}")}
    except NoSuchKernel as exc:
        return {
            "state": "failed",
            "error": _error("NoSuchKernel", f"no Jupyter kernel named {exc.name!r} is installed"),
        }
    except Exception as exc:  # the attempt failed for a reason papermill did not classify
        return {
            "state": "failed",
            "error": _error(type(exc).__name__, str(exc), None, traceback.format_exc()),
        }
    finally:
        if km is not None:
            km.stop_clients()  # in this thread, whose event loop its channels belong to


def main() -> int:
    from ..startup import skip_unused_imports

    skip_unused_imports()
    job = json.load(sys.stdin)
    result = execute(job)
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
