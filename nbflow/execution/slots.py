"""Slots: how many attempts of one run execute at once (`parallel`), and the slot a child
workflow's task takes (none: its own tasks take them)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..workflows.model import Task


class _NoSlot:
    """Stands in for the slots semaphore where an attempt takes none."""

    def locked(self) -> bool:
        return False

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        return None


_NO_SLOT = _NoSlot()


def slot_for(task: Task, slots: asyncio.Semaphore) -> asyncio.Semaphore | _NoSlot:
    """The slot an attempt of `task` waits for: one of `slots`, or none for a child workflow."""
    return slots if task.kind != "workflow" else _NO_SLOT
