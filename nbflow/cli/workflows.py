"""Commands about workflow files: `validate`, `params`."""

from __future__ import annotations

import sys

import click

from .app import (
    _print_json,
    _project,
    api,
    main,
)


@main.command()
@click.argument("files", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Check workflow files (default: all of workflows/)."""
    paths, problems = api.validate(_project(ctx), list(files) or None)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        sys.exit(2)
    for path in paths:
        click.echo(f"{path}: ok")


@main.command()
@click.argument("notebook")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def params(ctx: click.Context, notebook: str, as_json: bool) -> None:
    """List a notebook's parameters (name, type, default, help)."""
    found = api.notebook_params(_project(ctx), notebook)
    if as_json:
        _print_json([p.as_dict() for p in found])
        return
    if not found:
        click.echo(
            f"{notebook}: declares no parameters (no cell tagged `parameters`, or no assignment in it)"
        )
        return
    for p in found:
        click.echo(
            f"{p.name}: {p.type or '?'} = {p.default_text}" + (f"  # {p.help}" if p.help else "")
        )
