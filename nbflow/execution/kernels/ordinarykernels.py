"""Kernels the pool starts the ordinary way, by jupyter_client (another interpreter, R, a
task environment that changes how Python starts): which kernelspecs can be, the combination
one is kept for, starting one, and telling one the attempt's context when it is handed out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from .pooledkernel import Kernel, run_silently, shut

# Its working directory and environment are fixed when it starts: a kernel is kept for one
# kernelspec, folder and environment.
Key = tuple[str, str, tuple[tuple[str, str], ...]]


def language(kernel_name: str) -> str | None:
    """The language of an installed kernelspec started as a local process; None when there
    is none of that name, or it names a provisioner of its own (the cold path starts it)."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except Exception:  # noqa: BLE001 - no such kernel: the cold path reports it in its words
        return None
    if (spec.metadata or {}).get("kernel_provisioner"):
        return None
    return str(spec.language or "unknown")


def key_of(kernel_name: str, cwd: str, env: dict[str, str]) -> tuple[Key, str | None]:
    """The combination a kernel for this attempt is kept for, and the attempt's context
    file (`dbutils`): the one variable that differs between attempts, set at hand-out."""
    from ...databricks.context import CONTEXT_ENV

    context = env.get(CONTEXT_ENV)
    fixed = {k: v for k, v in env.items() if k != CONTEXT_ENV}
    return (kernel_name, cwd, tuple(sorted(fixed.items()))), context


async def start(key: Key, new_id: Callable[[], str]) -> Kernel:
    """A kernel started by jupyter_client for this combination (its id from `new_id`)."""
    from .managers import IPCKernelManager

    kernel_name, cwd, fixed = key
    manager = IPCKernelManager(kernel_name=kernel_name)
    try:
        await manager.start_kernel(cwd=cwd, env=dict(fixed))
    except BaseException:  # canceled while it starts: nothing may be left running
        await asyncio.shield(shut(manager))
        raise
    kernel_id = new_id()
    pid = getattr(manager.provisioner, "pid", None)  # a local provisioner's process
    if pid is None:
        await shut(manager)
        raise RuntimeError(f"kernel {kernel_name!r} has no local process to pool")
    return Kernel(kernel_id, pid, manager.connection_file, kernel_name, -1, manager)


async def tell_context(kernel: Kernel, context: str) -> None:
    """Point an IPython kernel's `dbutils` at this attempt's context file."""
    from ...databricks.dbutils import kernel_setup_code

    # A dead or deaf kernel: the attempt reports it. A cancel goes through.
    with contextlib.suppress(Exception):
        await run_silently(kernel, kernel_setup_code(context))
