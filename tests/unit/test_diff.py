"""Comparing runs without a kernel: executed notebooks built here, cell by cell."""

from __future__ import annotations

import base64

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nbflow.review.diff import cells, changes

PNG_A = base64.b64encode(b"\x89PNG first").decode()
PNG_B = base64.b64encode(b"\x89PNG second").decode()


def executed(*cells_, injected: str = "x = 1") -> object:
    """A notebook as papermill leaves it: a markdown cell, the injected cell, then `cells_`."""
    inject = new_code_cell(injected)
    inject.metadata["tags"] = ["injected-parameters"]
    return new_notebook(cells=[new_markdown_cell("# title"), inject, *cells_])


def cell(source: str, *outputs, count: int = 1, **meta) -> object:
    c = new_code_cell(source, outputs=list(outputs), execution_count=count)
    c.metadata.update(meta)
    return c


def stream(text: str, name: str = "stdout") -> object:
    return new_output("stream", name=name, text=text)


def result(count: int = 1, **data) -> object:
    return new_output("execute_result", data=data, execution_count=count)


def error(evalue: str, path: str) -> object:
    return new_output(
        "error", ename="ValueError", evalue=evalue, traceback=[f"File {path}, line 1", evalue]
    )


def test_two_runs_that_differ_only_in_noise_have_no_cell_differences():
    a = executed(
        cell(
            "print('a'); print('b')",
            stream("a\n"),
            stream("b\n"),
            count=3,
            papermill={"duration": 1.5, "start_time": "2026-01-01T00:00:00"},
        ),
        cell("df", result(4, **{"text/plain": "t", "text/html": "<table/>"}), count=4),
        cell("raise ValueError('x')", error("x", "/tmp/ipykernel_111/1.py")),
        cell(
            "glue()",
            new_output("display_data", data={"application/scrapbook.scrap.json+json": {"data": 1}}),
        ),
        injected="x = 1",
    )
    b = executed(
        # one stream split in one output instead of two, other counts, timings and tracebacks
        cell("print('a'); print('b')", stream("a\nb\n"), count=9),
        cell("df", result(10, **{"text/plain": "t", "text/html": "<table/>"}), count=10),
        cell("raise ValueError('x')", error("x", "/tmp/ipykernel_999/7.py")),
        cell(
            "glue()",
            new_output("display_data", data={"application/scrapbook.scrap.json+json": {"data": 2}}),
        ),
        injected="x = 2",  # parameters are compared as parameters, not as a cell
    )
    assert cells(a, b) == []


def test_changed_text_tables_errors_and_images_are_named_by_cell_and_type():
    a = executed(
        cell("print(n)", stream("3\n")),
        cell("df", result(**{"text/plain": "n 3", "text/html": "<td>3</td>"})),
        cell(
            "plot()",
            new_output("display_data", data={"image/png": PNG_A, "text/plain": "<Figure>"}),
        ),
        cell("check()", error("3 is too small", "/tmp/k/1.py")),
        cell("same()", stream("same\n")),
    )
    b = executed(
        cell("print(n)", stream("4\n")),
        cell("df", result(**{"text/plain": "n 4", "text/html": "<td>4</td>"})),
        cell(
            "plot()",
            new_output("display_data", data={"image/png": PNG_B, "text/plain": "<Figure>"}),
        ),
        cell("check()", error("4 is too small", "/tmp/k/2.py")),
        cell("same()", stream("same\n")),
    )
    found = cells(a, b)
    assert [(c["a"], c["b"], c["change"], c["source_changed"]) for c in found] == [
        (2, 2, "changed", False),
        (3, 3, "changed", False),
        (4, 4, "changed", False),
        (5, 5, "changed", False),
    ]
    assert found[0]["outputs"] == [{"type": "stdout", "change": "changed", "a": "3\n", "b": "4\n"}]
    assert found[1]["outputs"] == [
        {"type": "text/plain", "change": "changed", "a": "n 3", "b": "n 4"},
        {"type": "text/html", "change": "changed", "a": "<td>3</td>", "b": "<td>4</td>"},
    ]
    assert found[2]["outputs"] == [{"type": "image/png", "change": "changed"}]  # no bytes
    assert found[3]["outputs"] == [
        {
            "type": "error",
            "change": "changed",
            "a": "ValueError: 3 is too small",
            "b": "ValueError: 4 is too small",
        }
    ]


def test_a_cell_added_in_between_does_not_shift_the_later_ones():
    a = executed(cell("one()", stream("1\n")), cell("two()", stream("2\n")))
    b = executed(
        cell("one()", stream("1\n")),
        cell("new()", stream("new\n")),
        cell("two()", stream("2\n")),
    )
    assert cells(a, b) == [
        {
            "a": None,
            "b": 3,
            "change": "added",
            "source_changed": False,
            "outputs": [{"type": "stdout", "change": "added", "b": "new\n"}],
        }
    ]
    removed = cells(b, a)
    assert [(c["a"], c["b"], c["change"]) for c in removed] == [(3, None, "removed")]


def test_an_output_only_one_side_has_is_added_or_removed():
    a = executed(cell("run()", stream("ok\n")))
    b = executed(cell("run()", stream("ok\n"), stream("careful\n", "stderr")))
    assert cells(a, b)[0]["outputs"] == [{"type": "stderr", "change": "added", "b": "careful\n"}]


def test_changes_keep_types_apart_and_say_which_side_lacks_a_name():
    assert changes({"n": 1, "same": [1, 2]}, {"n": 1.0, "same": [1, 2]}) == [
        {"name": "n", "a": 1, "b": 1.0}
    ]
    assert changes({"flag": 1}, {"flag": True}) == [{"name": "flag", "a": 1, "b": True}]
    assert changes({"old": 1}, {"new": None}) == [
        {"name": "old", "a": 1},
        {"name": "new", "b": None},
    ]
    assert changes({"x": float("nan")}, {"x": float("nan")}) == []
