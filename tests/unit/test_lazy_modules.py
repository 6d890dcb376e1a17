"""Lazily imported modules (the facade's, `startup.lazy_module`) are safe to first use from
several threads at once: the Jupyter server's handlers run in threads, and its panel sends
its first requests together."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from nbflow.startup import lazy_module

# The module's body says it has started, then waits until the test lets it finish: a thread
# that touches the module meanwhile must wait for the finished module, not see it half made.
SLOW_MODULE = """
import builtins
builtins._lazy_test_entered.set()
assert builtins._lazy_test_gate.wait(60)
VALUE = 42
"""


@pytest.fixture
def slow_module(tmp_path: Path, monkeypatch):
    import builtins

    (tmp_path / "nbflow_lazy_probe.py").write_text(SLOW_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    entered, gate = threading.Event(), threading.Event()
    monkeypatch.setattr(builtins, "_lazy_test_entered", entered, raising=False)
    monkeypatch.setattr(builtins, "_lazy_test_gate", gate, raising=False)
    yield entered, gate
    gate.set()
    sys.modules.pop("nbflow_lazy_probe", None)


def test_a_second_thread_waits_for_the_module_the_first_is_importing(slow_module):
    entered, gate = slow_module
    module = lazy_module("nbflow_lazy_probe")
    results: dict[str, object] = {}

    def use(name: str) -> None:
        try:
            results[name] = module.VALUE
        except Exception as exc:  # what the race gave: "module has no attribute 'VALUE'"
            results[name] = exc

    first = threading.Thread(target=use, args=("first",))
    first.start()
    assert entered.wait(60)  # the first thread is inside the module's body
    second = threading.Thread(target=use, args=("second",))
    second.start()
    second.join(2)  # a racing lazy module answers at once, with an error
    assert "second" not in results, results  # ...here it waits for the first
    gate.set()
    first.join(60)
    second.join(60)
    assert results == {"first": 42, "second": 42}


def test_the_lazy_module_reads_the_module_and_refuses_writes(slow_module):
    _, gate = slow_module
    gate.set()
    module = lazy_module("nbflow_lazy_probe")
    sys_module = __import__("nbflow_lazy_probe")
    sys_module.VALUE = 7  # a test patches the module itself...
    assert module.VALUE == 7  # ...and the lazy stand-in reads it
    assert "VALUE" in dir(module)
    with pytest.raises(AttributeError, match="nbflow_lazy_probe itself"):
        module.VALUE = 8  # undoing a patch made here would delete the module's own value
    assert sys_module.VALUE == 7


def test_an_unknown_module_is_refused_at_once():
    with pytest.raises(ImportError, match="no_such_module_here"):
        lazy_module("nbflow.no_such_module_here")
