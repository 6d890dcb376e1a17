"""Secret parameters: their declaration, their values from the environment, and masking.

A workflow parameter declared `NAME: {secret: true, env: VAR}` takes its value from the
environment variable VAR when a run starts. Everywhere nbflow keeps or shows something
(the run history, executed notebooks, logs, reports, notifications, the REST API) the
value reads `***`; only the task's process and kernel get the real value.

How: the workflow's parameters hold `***` for a secret, so the run's stored parameters are
masked from the start. The runner swaps the real values in when the run starts (`reveal`)
and this process remembers them; every value the runner writes goes through a masking
proxy (`masking`); executed notebooks are saved through a papermill I/O handler that masks
before writing (`output_path`; it also saves each one whole), so no unmasked byte of a
notebook reaches disk even while it runs; logs of scripts, commands and SQL are masked as
soon as their process has ended (`scrub`). The worker gets the values to mask with its job,
on stdin, never through a file.

Masking replaces each secret's text wherever it appears in a string (also inside longer
text, as `Bearer <token>`), and the forms papermill and JSON escape it into. A value the
code transforms (encodes, reverses, slices) cannot be recognised and is not masked.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from ..core.errors import SecretMissing as SecretMissing  # named through this module too

MASK = "***"
SCHEME = "nbflow-masked://"  # the papermill I/O handler's prefix for a path it masks
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_known: set[str] = set()  # the secret values this process has seen, to mask


# -- declarations ------------------------------------------------------------------------


def declared_env(value: Any) -> str | None:
    """The variable a parameter's value declares it secret from, or None for a plain value.

    Any mapping with a `secret` key is a declaration (so a typo is not silently a plain
    mapping); ValueError says what is wrong with one.
    """
    if not isinstance(value, dict) or "secret" not in value:
        return None
    extra = sorted(str(k) for k in value if k not in ("secret", "env"))
    if extra:
        raise ValueError(f"unknown key {extra[0]!r} in a secret parameter (it takes secret, env)")
    if value["secret"] is not True:
        raise ValueError("`secret` must be true (leave it out for a parameter that is not)")
    env = value.get("env")
    if not isinstance(env, str) or not _ENV_NAME.match(env):
        raise ValueError(
            "a secret parameter needs `env`: the name of the environment variable holding it"
        )
    return env


def split(parameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(parameters with `***` for each secret, {secret name: environment variable})."""
    plain, secret = {}, {}
    for name, value in parameters.items():
        try:
            env = declared_env(value)
        except ValueError:
            env = None  # the schema reports it
        if env is None:
            plain[name] = value
        else:
            plain[name] = MASK
            secret[name] = env
    return plain, secret


# -- values --------------------------------------------------------------------------------


def values(declared: dict[str, str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """Each secret parameter's value from its environment variable; SecretMissing if unset."""
    source: Any = os.environ if environ is None else environ
    found = {}
    for name, env in declared.items():
        value = source.get(env)
        if not value:
            state = "is empty" if value == "" else "is not set"
            raise SecretMissing(
                f"parameter {name!r} is secret and its environment variable {env} {state}"
            )
        found[name] = value
    return found


def reveal(workflow: Any, environ: dict[str, str] | None = None) -> dict[str, str]:
    """A workflow's secret values for a run starting now; they are masked from now on."""
    found = values(workflow.secrets, environ)
    remember(found.values())
    return found


def remember(secret_values: Any) -> None:
    """Mask these values in everything this process writes from now on."""
    _known.update(v for v in secret_values if isinstance(v, str) and v)


def known() -> list[str]:
    return sorted(_known)


def _forms(secret: str) -> list[str]:
    """The secret as written, and as papermill's Python or JSON escaping writes it."""
    escaped = json.dumps(secret)[1:-1]
    ascii_escaped = json.dumps(secret, ensure_ascii=True)[1:-1]
    return sorted({secret, escaped, ascii_escaped}, key=len, reverse=True)


def mask_text(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):  # a longer secret may hold a shorter
        for form in _forms(secret):
            if form in text:
                text = text.replace(form, MASK)
    return text


def mask(value: Any) -> Any:
    """`value` with every known secret masked in its strings (mappings, lists, dataclasses)."""
    if not _known:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        masked = {mask(k): mask(v) for k, v in value.items()}
        try:
            return type(value)(masked)  # a NotebookNode stays one
        except TypeError:
            return masked
    if isinstance(value, list | tuple):
        return type(value)(mask(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: mask(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **fields)
    return value


class _Masking:
    """Calls its target's methods with every argument masked (the runner's store, observer
    and notifier: whatever they record, show or send)."""

    def __init__(self, target: Any):
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return attribute(*mask(list(args)), **mask(kwargs))

        return call


def masking(target: Any) -> Any:
    return target if isinstance(target, _Masking) else _Masking(target)


# -- files -------------------------------------------------------------------------------


def scrub(artifact: Path) -> None:
    """Mask an attempt's artifact (and a script's values file) on disk, if secrets are known."""
    if not _known:
        return
    for path in (artifact, artifact.with_suffix(".values.json")):
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        masked = _masked_document(text) if path.suffix in (".ipynb", ".json") else None
        masked = mask_text(text) if masked is None else masked
        if masked != text:
            _replace(path, masked)


def _masked_document(text: str) -> str | None:
    """A JSON file masked value by value (its structure intact), None if not JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    clean = mask(data)
    if clean == data:
        return text
    return json.dumps(clean, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def unfinished_save(path: Path) -> Path:
    """Where a save of `path` is written before it replaces it: left there by a process
    killed while saving."""
    return path.with_name(f".{path.name}.masking")


def _replace(path: Path, text: str) -> None:
    temp = unfinished_save(path)
    temp.write_text(text, encoding="utf-8", errors="surrogateescape")
    os.replace(temp, path)


# -- papermill -------------------------------------------------------------------------------


class MaskingHandler:
    """papermill I/O for `nbflow-masked://PATH`: the notebook is masked, then written to PATH.

    Written whole: to a temporary file renamed over PATH. papermill's own writer truncates
    PATH and then writes it, so a worker killed while saving (a cancel, a timeout, a runner
    that died and was cleaned up) left an empty or cut-off notebook; now it leaves its last
    save. Used with no secret known too, for that.
    """

    @classmethod
    def read(cls, path: str) -> str:
        return Path(path[len(SCHEME) :]).read_text(encoding="utf-8")

    @classmethod
    def listdir(cls, path: str) -> list[str]:
        return os.listdir(path[len(SCHEME) :])

    @classmethod
    def write(cls, buf: str, path: str) -> None:
        target = Path(path[len(SCHEME) :])
        if not _known:
            _replace(target, buf)
            return
        masked = _masked_document(buf)
        _replace(target, mask_text(buf) if masked is None else masked)

    @classmethod
    def pretty_path(cls, path: str) -> str:
        return path[len(SCHEME) :]


def output_path(path: str | Path, secret_values: Any = ()) -> str:
    """Where papermill should write a notebook: through `MaskingHandler`, which masks the
    secrets known (`secret_values` are remembered first) and saves it whole."""
    remember(secret_values)
    from ..startup import import_papermill

    import_papermill()
    from papermill.iorw import papermill_io

    papermill_io.register(SCHEME, MaskingHandler)
    return SCHEME + str(path)
