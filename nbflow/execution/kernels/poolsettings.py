"""The kernel pool's settings: how many idle kernels it keeps ready, what the fork server
preloads and how long an unused kernel lives, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

POOL_SIZE_ENV = "NBFLOW_WARM_KERNELS"  # idle kernels kept ready per kernelspec; 0 turns off
PRELOAD_ENV = "NBFLOW_PRELOAD"  # modules the fork server imports once, comma-separated
IDLE_ENV = "NBFLOW_KERNEL_IDLE"  # seconds an unused kernel is kept before it is culled


@dataclass(frozen=True)
class PoolSettings:
    size: int = 2  # fits a 2-core laptop running `--parallel 2`
    # scrapbook is what notebooks publish values with; importing it (nbformat's schema
    # checks build a grammar) costs a cold kernel seconds, paid here once per pool.
    preload: tuple[str, ...] = ("scrapbook",)
    idle_seconds: float = 600.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PoolSettings:
        env = os.environ if environ is None else environ
        size, idle = cls.size, cls.idle_seconds
        if env.get(POOL_SIZE_ENV, "").strip():
            size = max(0, int(env[POOL_SIZE_ENV]))
        if env.get(IDLE_ENV, "").strip():
            idle = max(0.0, float(env[IDLE_ENV]))
        preload = cls.preload
        if PRELOAD_ENV in env:  # set but empty: nothing preloaded
            preload = tuple(m.strip() for m in env[PRELOAD_ENV].split(",") if m.strip())
        return cls(size=size, preload=preload, idle_seconds=idle)
