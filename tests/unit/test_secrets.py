"""Secret parameters without a kernel: declarations, values from the environment, masking."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from nbflow.workflows import secrets


@pytest.fixture(autouse=True)
def forget(monkeypatch):
    monkeypatch.setattr(secrets, "_known", set())


def test_declarations_are_whole_or_refused():
    assert secrets.declared_env({"secret": True, "env": "TOKEN"}) == "TOKEN"
    assert secrets.declared_env({"a": 1}) is None and secrets.declared_env("x") is None
    for bad, message in [
        ({"secret": True}, "needs `env`"),
        ({"secret": "yes", "env": "T"}, "`secret` must be true"),
        ({"secret": True, "env": "T", "default": 1}, "unknown key 'default'"),
        ({"secret": True, "env": "1BAD"}, "needs `env`"),
    ]:
        with pytest.raises(ValueError, match=message):
            secrets.declared_env(bad)
    plain, declared = secrets.split({"t": {"secret": True, "env": "T"}, "n": 1})
    assert (plain, declared) == ({"t": "***", "n": 1}, {"t": "T"})


def test_values_come_from_the_environment_and_must_be_set():
    assert secrets.values({"t": "T"}, {"T": "v"}) == {"t": "v"}
    with pytest.raises(secrets.SecretMissing, match="variable T is not set"):
        secrets.values({"t": "T"}, {})
    with pytest.raises(secrets.SecretMissing, match="variable T is empty"):
        secrets.values({"t": "T"}, {"T": ""})


@dataclass(frozen=True)
class Event:
    text: str
    items: tuple[dict[str, str], ...]


def test_mask_reaches_into_text_structures_and_dataclasses():
    assert secrets.mask("hunter22") == "hunter22"  # nothing known yet: unchanged
    secrets.remember(["hunter22", ""])  # an empty value is never a secret
    assert secrets.mask({"k": ["Bearer hunter22", 3, None]}) == {"k": ["Bearer ***", 3, None]}
    event = secrets.mask(Event("x hunter22", ({"e": "hunter22!"},)))
    assert event == Event("x ***", ({"e": "***!"},))


def test_the_papermill_handler_and_scrub_keep_json_whole(tmp_path):
    secrets.remember(["1", 'qu"ote'])  # a short one, and one JSON escapes
    nb = {"cells": [{"execution_count": 1, "source": 'x = "qu\\"ote"', "outputs": ['1 qu"ote']}]}
    path = tmp_path / "a.ipynb"
    secrets.MaskingHandler.write(json.dumps(nb), secrets.SCHEME + str(path))
    written = json.loads(path.read_text())  # still JSON: numbers are not text to mask
    assert written["cells"][0] == {
        "execution_count": 1,
        "source": 'x = "***"',
        "outputs": ["*** ***"],
    }
    log = tmp_path / "attempt-1.log"
    log.write_text('got qu"ote and 1\n')
    values = tmp_path / "attempt-1.values.json"
    values.write_text(json.dumps({"n": 1, "s": 'qu"ote'}))
    secrets.scrub(log)
    assert log.read_text() == "got *** and ***\n"
    assert json.loads(values.read_text()) == {"n": 1, "s": "***"}


def test_output_path_goes_through_the_handler_which_masks_once_secrets_are_known(tmp_path):
    plain = secrets.output_path(tmp_path / "a.ipynb")  # saved whole even with no secret
    assert plain == secrets.SCHEME + str(tmp_path / "a.ipynb")
    masked = secrets.output_path(tmp_path / "a.ipynb", ["value"])
    assert masked == secrets.SCHEME + str(tmp_path / "a.ipynb")
    from papermill.iorw import papermill_io

    assert papermill_io.get_handler(masked) is secrets.MaskingHandler
