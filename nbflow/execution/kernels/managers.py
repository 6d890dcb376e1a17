"""Kernel managers nbflow starts kernels with."""

from __future__ import annotations

import os
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, default

from ...databricks.dbutils import kernel_arguments


class IPCKernelManager(AsyncKernelManager):
    """Talks to the kernel over Unix sockets with a name of its own.

    TCP ports picked by many kernels starting at once can collide ("Address already in
    use", papermill#511), and ipykernel 7 warns about unencrypted TCP at every start.
    jupyter_client's default socket name for ipc is `kernel-ipc` in the working directory,
    which two kernels started in one folder would share: each gets a unique name in the
    temporary folder instead (short, as Unix socket paths must be). An ipykernel also loads
    the `dbutils` extension at start (`nbflow.databricks.dbutils.kernel_arguments`).
    """

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport == "ipc":
            return os.path.join(tempfile.gettempdir(), f"nbflow-{uuid.uuid4().hex[:16]}-ipc")
        return super()._ip_default()

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command; an ipykernel also loads `dbutils` (nbflow.databricks.dbutils)."""
        assert self.kernel_spec is not None
        extra = [*(extra_arguments or []), *kernel_arguments(self.kernel_spec.argv)]
        return super().format_kernel_cmd(extra)
