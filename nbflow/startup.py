"""Start-up of nbflow's own processes (the CLI, attempt workers): import only what is used.

nbformat imports jsonschema for its validator, and jsonschema registers its `iri` format
checker by importing `rfc3987_syntax` when that package is installed (jupyter_events pulls it
in with jupyter_server). That module builds a grammar at import time: 1.5-2 s on a quiet
2-core machine, 5-7 s under load, on every `nbflow` command that touches a notebook and in
every worker. No notebook schema uses a `format` keyword, so nbformat never calls that
checker; nbflow's own processes mark the module as absent, which jsonschema treats as "not
installed". Only nbflow's entry points call this: a kernel, a user's script and the Jupyter
server keep their modules as they are.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

UNUSED_MODULES = ("rfc3987_syntax",)

# papermill.iorw imports a handler for every remote store it knows when it is imported:
# boto3 for S3, pyarrow (with numpy) for HDFS, Azure, GCS and GitHub clients when they are
# installed: 0.15 s of the 0.3 s papermill costs on top of nbformat here. nbflow hands
# papermill local paths only (artifacts on a remote store are copied by nbflow itself).
PAPERMILL_BACKENDS = (
    "papermill.s3",
    "papermill.adl",
    "papermill.abs",
    "gcsfs",
    "pyarrow.fs",
    "github",
)


def skip_unused_imports() -> None:
    """Mark modules nbflow's processes never use as absent (once, before anything imports them)."""
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def import_papermill() -> ModuleType:
    """papermill, imported without its remote-store handlers (nbflow gives it local paths).

    The handlers' modules are hidden only while papermill imports: anything that imports
    them later (a user's code in this process, fsspec) gets them as usual.
    """
    if (module := sys.modules.get("papermill")) is not None:
        return module
    hidden = [name for name in PAPERMILL_BACKENDS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import papermill  # noqa: F401  (taken from sys.modules below, typed)
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    module = sys.modules["papermill"]
    return module


class _LazyModule(ModuleType):
    """A module imported on its first attribute access, from whichever thread comes first.

    importlib's LazyLoader is not thread-safe before Python 3.12.3 (CPython gh-114763): a
    second thread that touched the module while the first was executing it found it half
    made ("module has no attribute ..."). Here the module is imported by `import_module`,
    whose per-module lock makes every other thread wait for the finished module, and each
    attribute is read from that module. Nothing is set through this stand-in (a test patches
    the module itself): it would land on the module, but undoing it would not.
    """

    def _module(self) -> ModuleType:
        return importlib.import_module(self.__name__)  # sys.modules once imported: cheap

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"set {attr} on {self.__name__} itself, not on its lazy stand-in")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"delete {attr} from {self.__name__} itself, not its lazy stand-in")

    def __dir__(self) -> list[str]:
        return dir(self._module())


def lazy_module(name: str) -> ModuleType:
    """`name` as a module that is imported on first use (commands that never use it skip it)."""
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:  # a typo fails here, not at first use
        raise ImportError(f"no module named {name!r}")
    return _LazyModule(name)
