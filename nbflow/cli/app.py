"""The `nbflow` command group, and what its commands share (options, project, output)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..startup import lazy_module, skip_unused_imports

skip_unused_imports()  # before anything imports nbformat (see startup.py)

import click  # noqa: E402

from .. import __version__  # noqa: E402
from ..core.errors import NbflowError, WorkflowFileError  # noqa: E402
from ..workflows.project import Project  # noqa: E402

# Each command imports only what it uses: `--help`, `runs` and `show` never load the runner,
# papermill, nbformat or the YAML loader.
api = lazy_module("nbflow.api")
reporting = lazy_module("nbflow.cli.reporting")

FINISHED_OK = ("success", "success_with_failures")
QUIET_STATES = ("success", "excluded", "disabled", "skipped_by_selection")  # not in a summary


dask_option = click.option(
    "--dask",
    metavar="ADDRESS",
    envvar="NBFLOW_DASK_ADDRESS",
    default=None,
    help="Run the attempts on the workers of this Dask scheduler (tcp://HOST:8786); "
    "env NBFLOW_DASK_ADDRESS. See docs/cluster.md.",
)


F = TypeVar("F", bound=Callable[..., Any])


def param_option(help: str) -> Callable[[F], F]:
    """`-p NAME=VALUE`, repeatable: the values commands give workflow parameters."""
    return click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help=help)


PARAM_HELP = (
    "Override a workflow parameter (JSON when it parses as JSON; True, False and None as "
    "in Python; else text; \\{{ for a literal {{)."
)


def daemon_logging() -> None:
    """A long-lived command (the scheduler, a backfill) logs what it does to stderr;
    deliveries' own lines only when they fail."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("nbflow.notify.deliveries").setLevel(logging.WARNING)


def _project(ctx: click.Context) -> Project:
    return Project.discover(ctx.obj.get("project"))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, default=str))


class _Group(click.Group):
    """Turns nbflow's own errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkflowFileError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(2)
        except NbflowError as exc:
            click.echo(f"nbflow: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="nbflow")
@click.option(
    "--project", metavar="DIR", help="Project root (default: found from the current folder)."
)
@click.pass_context
def main(ctx: click.Context, project: str | None) -> None:
    """Run Jupyter notebooks as workflows."""
    ctx.obj = {"project": project}
