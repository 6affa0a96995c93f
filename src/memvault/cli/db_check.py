"""`memvault db check`: integrity, foreign keys, ledger and orphan rows (read-only)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from memvault.cli.app import EXIT_FAILURE, AppContext
from memvault.cli.db import db
from memvault.cli.output import console, emit_json
from memvault.migrations import load_migrations
from memvault.ops.check import CheckReport, check_database

pass_app = click.make_pass_decorator(AppContext)

LEGACY_NOTE = (
    "pre-existing legacy data: the earlier service did not enforce foreign keys; memvault "
    "kept these rows as they were and never deletes them"
)


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Check integrity, foreign keys, the ledger against the schema, and orphan rows.

    Read-only: nothing is changed or deleted. Exits 1 when anything is wrong.
    """
    migrations = load_migrations(app.settings.migrations_dir)
    report = check_database(app.settings.database, migrations)
    if as_json:
        emit_json(report_json(report))
    else:
        _print(report)
    if not report.ok:
        if not as_json:
            click.echo(
                f"memvault: error: database check failed: {'; '.join(report.problems())}",
                err=True,
            )
        raise SystemExit(EXIT_FAILURE)


def report_json(report: CheckReport) -> dict[str, Any]:
    """The check report as plain data."""
    ledger = report.ledger
    return {
        "database": report.database,
        "ok": report.ok,
        "problems": report.problems(),
        "integrity": {"ok": report.integrity_ok, "messages": report.integrity},
        "foreign_keys": {
            "ok": not report.foreign_keys,
            "violations": [p.__dict__ for p in report.foreign_keys],
        },
        "ledger": {
            "ok": ledger.ok,
            "state": ledger.state,
            "results": [r.__dict__ for r in ledger.results],
            "failed": [{"version": r.version, "name": r.name} for r in ledger.failed],
            "pending": ledger.pending,
        },
        "fts": {"ok": not report.fts, "damaged": [p.__dict__ for p in report.fts]},
        "triggers": {"ok": not report.trigger_drift, "drift": report.trigger_drift},
        "advice": report.advice,
        "orphans": {
            "ok": not report.orphans,
            "kept_from": report.legacy_origin,
            "note": LEGACY_NOTE if report.orphans and report.legacy_origin else None,
            "tables": [
                {
                    "table": o.table,
                    "null_user_id": o.null_user_id,
                    "missing_user": o.missing_user,
                    "example_rowids": o.example_rowids,
                }
                for o in report.orphans
            ],
        },
    }


def _print(report: CheckReport) -> None:
    out = console()
    out.print(f"Database: {report.database}")
    table = Table()
    for col in ("Check", "Result", "Detail"):
        table.add_column(col)
    table.add_row("integrity", _mark(report.integrity_ok), "; ".join(report.integrity[:5]))
    table.add_row(
        "foreign keys",
        _mark(not report.foreign_keys),
        "\n".join(
            f"{p.table} -> {p.parent}: {p.rows} row(s), e.g. rowid "
            + ", ".join(map(str, p.example_rowids))
            for p in report.foreign_keys
        ),
    )
    table.add_row("ledger", _mark(report.ledger.ok), _ledger_detail(report))
    table.add_row(
        "orphan rows",
        _mark(not report.orphans) if not report.orphans else Text("found (kept)", style="red"),
        "\n".join(
            f"{o.table}: {o.null_user_id} with NULL user_id, {o.missing_user} naming no user; "
            f"e.g. rowid {', '.join(map(str, o.example_rowids))}"
            for o in report.orphans
        ),
    )
    table.add_row(
        "full-text",
        _mark(not report.fts),
        "\n".join(f"{p.table}: {p.message}; {p.repair}" for p in report.fts),
    )
    table.add_row("triggers", _mark(not report.trigger_drift), "\n".join(report.trigger_drift))
    out.print(table)
    if report.orphans:
        origin = f" from {report.legacy_origin}" if report.legacy_origin else ""
        note = LEGACY_NOTE if report.legacy_origin else "memvault never deletes them"
        out.print(f"Orphan rows{origin}: {note}. See docs/foreign-keys.md.")


def _ledger_detail(report: CheckReport) -> str:
    ledger = report.ledger
    lines = [ledger.state + (f", {len(ledger.pending)} pending" if ledger.pending else "")]
    for r in ledger.results:
        if not r.ok:
            lines.append(f"{r.version:03d}_{r.name}: {r.problem}")
    for row in ledger.failed:
        lines.append(f"{row.version:03d}_{row.name}: failed at {row.applied_at}")
    if ledger.ok and ledger.results:
        lines[0] += f", {len(ledger.results)} applied migration(s) verified"
    return "\n".join(lines)


def _mark(ok: bool) -> Text:
    return Text("ok", style="green") if ok else Text("FAIL", style="red")
