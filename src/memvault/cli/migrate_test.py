"""`memvault migrate test`: the stairway test, on a scratch database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from memvault.cli.app import EXIT_FAILURE, AppContext
from memvault.cli.migrate import migrate, pass_app
from memvault.cli.output import console, emit_json, info
from memvault.db import parse_url
from memvault.errors import ConfigError
from memvault.migrations import load_migrations

if TYPE_CHECKING:
    from memvault.migrations.stairway import StairwayReport


@migrate.command(name="test")
@click.option(
    "--with-data",
    is_flag=True,
    help="Start from a copy of the database (-d) instead of an empty one; "
    "its applied migrations are left alone and the pending ones are tested on its rows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def test_command(app: AppContext, with_data: bool, as_json: bool) -> None:
    """Stairway test: each migration up, verify, down, compare the schema, up again.

    Runs on a temporary scratch database and never writes to your database file. Fails,
    naming the migration and the difference, when a down does not undo its up.
    """
    migrations = load_migrations(app.settings.migrations_dir)
    source = _source(app) if with_data else None
    from memvault.migrations.stairway import run_stairway

    report = run_stairway(
        migrations,
        source=source,
        applied_by=app.settings.applied_by,
        on_step=None if as_json else lambda m, phase: info(f"{m.label}: {phase} ..."),
    )
    if as_json:
        emit_json(report_json(report))
    else:
        _print(report)
    failure = report.failure
    if failure is not None:
        if not as_json:
            click.echo(f"memvault: error: stairway failed: {failure.describe()}", err=True)
        raise SystemExit(EXIT_FAILURE)


def _source(app: AppContext) -> Path:
    url = parse_url(app.settings.database)
    if url.path is None:
        raise ConfigError("--with-data needs a database file (-d), not :memory:")
    if not url.path.exists():
        raise ConfigError(f"--with-data: database {url.path} does not exist")
    return url.path


def report_json(report: StairwayReport) -> dict[str, Any]:
    """The stairway report as plain data."""
    return {
        "ok": report.ok,
        "source": report.source,
        "steps": [
            {
                "version": s.migration.version,
                "name": s.migration.name,
                "ok": s.ok,
                "phase": s.phase,
                "problem": s.problem,
                "differences": [
                    {"kind": d.kind, "name": d.name, "change": d.change, "detail": d.detail}
                    for d in s.differences
                ],
            }
            for s in report.steps
        ],
        "already_applied": [m.label for m in report.already_applied],
        "not_reached": [m.label for m in report.not_reached],
    }


def _print(report: StairwayReport) -> None:
    out = console()
    out.print(f"Stairway test on {report.source} (your database is not touched)")
    table = Table()
    for col in ("Migration", "Result", "Detail"):
        table.add_column(col)
    for m in report.already_applied:
        table.add_row(m.label, "skipped", "already applied in the copy")
    for step in report.steps:
        if step.ok:
            table.add_row(step.migration.label, Text("ok", style="green"), "up, verify, down, up")
        else:
            detail = "\n".join(d.describe() for d in step.differences) or (step.problem or "")
            table.add_row(step.migration.label, Text(f"FAIL ({step.phase})", style="red"), detail)
    for m in report.not_reached:
        table.add_row(m.label, "not reached", "an earlier migration failed")
    out.print(table)
    if not report.steps:
        out.print("No pending migrations to test.")
