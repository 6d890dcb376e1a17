"""The Databricks bridges: `import databricks`, `export databricks`."""

from __future__ import annotations

import click

from .app import (
    _project,
    api,
    main,
)


@main.group("import")
def import_group() -> None:
    """Turn job definitions of other tools into workflow files."""


def _pairs(items: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"{option} {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


@import_group.command("databricks")
@click.argument("file")
@click.option("--job", metavar="KEY", help="Only this job (and the jobs it runs); default: all.")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="A bundle variable's value (${var.NAME}), as `databricks bundle --var` takes it.",
)
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="ID=URL",
    help="The URL of a workspace notification destination the job names by id.",
)
@click.option(
    "-o", "--output", metavar="FILE", help="The workflow file (default: workflows/KEY.yaml)."
)
@click.option("--strict", is_flag=True, help="Refuse the job if anything would be left out.")
@click.option("--force", is_flag=True, help="Replace workflow files that exist.")
@click.pass_context
def import_databricks(
    ctx: click.Context,
    file: str,
    job: str | None,
    variables: tuple[str, ...],
    webhooks: tuple[str, ...],
    output: str | None,
    strict: bool,
    force: bool,
) -> None:
    """Write workflow files for the jobs of a Databricks bundle (YAML) or Jobs API (JSON) FILE."""
    result = api.import_databricks(
        _project(ctx),
        file,
        job=job,
        variables=_pairs(variables, "--var"),
        webhooks=_pairs(webhooks, "--webhook"),
        output=output,
        strict=strict,
        force=force,
    )
    for line in result["reports"]:
        click.echo(line, err=True)
    for entry in result["written"]:
        click.echo(f"wrote {entry['file']} (workflow {entry['workflow']}, job {entry['job']})")
    for line in result["problems"]:
        click.echo(line, err=True)
    if result["problems"]:
        click.echo("nbflow validate finds the problems above: fix them before running", err=True)


@main.group("export")
def export_group() -> None:
    """Write workflows as job definitions of other tools."""


@export_group.command("databricks")
@click.argument("workflow")
@click.option(
    "-o", "--output", metavar="FILE", help="Write the bundle resource here (default: print it)."
)
@click.option("--strict", is_flag=True, help="Refuse the workflow if anything cannot be exported.")
@click.pass_context
def export_databricks(ctx: click.Context, workflow: str, output: str | None, strict: bool) -> None:
    """Write WORKFLOW as a Databricks bundle job resource (YAML)."""
    result = api.export_databricks(_project(ctx), workflow, output=output, strict=strict)
    for line in result["reports"]:
        click.echo(line, err=True)
    if result["file"]:
        click.echo(f"wrote {result['file']}")
    else:
        click.echo(result["text"], nl=False)
