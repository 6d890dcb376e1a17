"""Glued values on disk: what nbflow's `glue` writes and what nbflow and scrapbook read back."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from nbflow.core import scraps
from nbflow.glue import VALUES_FILE_ENV, glue


def notebook_of(outputs: list[tuple[dict, dict]]) -> nbformat.NotebookNode:
    """A notebook whose one code cell holds these display outputs (data, metadata)."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data=data, metadata=meta) for data, meta in outputs
    ]
    nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture
def displayed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict, dict]]:
    """What `glue` displays, as a kernel would record it in the cell's outputs."""
    import IPython.display

    shown: list[tuple[dict, dict]] = []
    monkeypatch.delenv(VALUES_FILE_ENV, raising=False)
    monkeypatch.setattr(
        IPython.display, "display", lambda data, metadata, raw: shown.append((data, metadata))
    )
    return shown


def test_none_and_text_that_looks_like_json_read_back_alike_in_nbflow_and_scrapbook(
    displayed, tmp_path: Path
):
    import scrapbook as sb

    glued = {"nothing": None, "digits": "123", "word": "null", "n": 5, "xs": [1, None]}
    for name, value in glued.items():
        glue(name, value)
    nb = notebook_of(displayed)
    path = tmp_path / "glued.ipynb"
    nbformat.write(nb, str(path))
    assert scraps.read_scraps(nbformat.read(str(path), as_version=4)) == glued
    read = {name: scrap.data for name, scrap in sb.read_notebook(str(path)).scraps.items()}
    assert read == glued


def frame_payload(frame) -> tuple[dict, dict]:
    """The output scrapbook's own `glue` writes for a DataFrame (its pandas encoder)."""
    from scrapbook.encoders import registry
    from scrapbook.scraps import Scrap, scrap_to_payload

    payload = scrap_to_payload(registry.encode(Scrap("frame", frame, "pandas")))
    meta = {"scrapbook": {"name": "frame", "data": True, "display": False}}
    return {"application/scrapbook.scrap.pandas+json": payload}, meta


def test_a_scrapbook_dataframe_is_read_as_rows():
    import pandas as pd

    frame = pd.DataFrame(
        {"total": [1.5, None], "day": pd.to_datetime(["2026-11-01", "2026-11-02"])},
        index=pd.Index(["eu", "us"], name="region"),
    )
    values = scraps.read_scraps(notebook_of([frame_payload(frame)]))
    assert values == {
        "frame": [
            {"region": "eu", "total": 1.5, "day": "2026-11-01T00:00:00.000"},
            {"region": "us", "total": None, "day": "2026-11-02T00:00:00.000"},
        ]
    }
    plain = scraps.read_scraps(notebook_of([frame_payload(frame.reset_index(drop=True))]))
    assert [sorted(row) for row in plain["frame"]] == [["day", "total"], ["day", "total"]]


def test_a_dataframe_without_pandas_is_refused_saying_what_to_install(monkeypatch):
    import pandas as pd

    nb = notebook_of([frame_payload(pd.DataFrame({"a": [1]}))])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ValueError) as caught:
        scraps.read_scraps(nb)
    assert str(caught.value) == (
        "value 'frame' is a pandas DataFrame; reading it needs pandas and pyarrow where "
        "nbflow runs (pip install pandas pyarrow)"
    )


def test_papermill_records_are_read():
    record = {"application/papermill.record+json": {"legacy": [1, 2], "label": "x"}}
    assert scraps.read_scraps(notebook_of([(record, {})])) == {"legacy": [1, 2], "label": "x"}


def test_a_value_over_48_kib_says_to_glue_a_file_path_instead(displayed):
    big = "x" * (50 * 1024)
    with pytest.raises(ValueError) as caught:
        scraps.check_size("huge", big)
    assert str(caught.value) == (
        "value 'huge' is 50 KiB; values are limited to 48 KiB: write the data to a file and "
        "glue the file's path instead"
    )
    with pytest.raises(ValueError) as caught:
        glue("huge", big)
    assert str(caught.value) == "glue: " + scraps.too_big("huge", big)
    assert displayed == []
