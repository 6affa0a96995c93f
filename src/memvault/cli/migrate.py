"""`memvault migrate ...`: status, up, down, to, verify, create, repair, unlock, history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from memvault.cli.app import (
    EXIT_FAILURE,
    AppContext,
    cli,
    lock_timeout_option,
    refuse_in_memory,
)
from memvault.cli.db_backup import backup_before_change, backup_option, backup_requested
from memvault.cli.output import MigrationReporter, console, emit_json, info
from memvault.db import Database, connect, parse_url, snapshot
from memvault.errors import ConfigError
from memvault.migrations import Migrator, Recorder, Status, StepResult, load_migrations

pass_app = click.make_pass_decorator(AppContext)


@cli.group()
def migrate() -> None:
    """Apply, roll back, verify and inspect schema migrations."""


@contextmanager
def open_migrator(
    app: AppContext,
    *,
    dry_run: bool = False,
    reporter: MigrationReporter | None = None,
    lock_timeout: float = 60.0,
    read_only: bool = False,
    before_change: Callable[[], object] | None = None,
) -> Iterator[Migrator]:
    """Load migrations (before touching the database), then open it and yield a Migrator.

    Dry runs and reads of a database that does not exist work on an in-memory snapshot,
    so nothing is created or changed.
    """
    refuse_in_memory(app.settings.database)
    migrations = load_migrations(app.settings.migrations_dir)
    url = parse_url(app.settings.database)
    db: Database
    missing = url.path is not None and not url.path.exists()
    if read_only and missing:
        info(f"database {url.display} does not exist (nothing was created): showing an empty one")
    if dry_run or (read_only and missing):
        db = snapshot(url)
    else:
        db = connect(url, create=not read_only, wal=not read_only, read_only=read_only)
    try:
        if read_only and not missing:
            # A status or verify of a damaged file would mislead; the bounded probe keeps
            # them fast on a big file (`db check` runs the whole quick_check).
            db.require_readable()
        yield Migrator(
            db,
            migrations,
            applied_by=app.settings.applied_by,
            listener=reporter,
            lock_timeout=lock_timeout,
            dry_run=dry_run,
            before_change=before_change,
        )
    finally:
        db.close()


def change_options(func: Any) -> Any:
    """Options shared by every command that changes the schema."""
    func = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(func)
    func = backup_option(func)
    func = lock_timeout_option(func)
    func = click.option(
        "--allow-drift", is_flag=True, help="Run even if applied migrations were edited."
    )(func)
    return click.option(
        "--dry-run", is_flag=True, help="Print the SQL that would run; change nothing."
    )(func)


def _run_change(
    app: AppContext,
    action: str,
    arg: int | None,
    *,
    dry_run: bool,
    as_json: bool,
    lock_timeout: float,
    allow_drift: bool,
    drop_data: bool = False,
) -> None:
    reporter = MigrationReporter(dry_run=dry_run, quiet=as_json)
    backups: list[Path] = []

    def take_backup() -> None:
        # Runs under the migration lock, once the plan is known and not empty.
        path = backup_before_change(app)
        if path is not None:
            backups.append(path)

    hook = None
    if (backup_requested() or drop_data) and not dry_run:
        url = parse_url(app.settings.database)
        if url.remote is not None or (url.path is not None and url.path.exists()):
            hook = take_backup
        else:
            info(f"No backup taken: {app.settings.database_shown} does not exist yet.")
    with open_migrator(
        app, dry_run=dry_run, reporter=reporter, lock_timeout=lock_timeout, before_change=hook
    ) as m:
        if action == "up":
            results = m.up(arg, allow_drift=allow_drift)
        elif action == "down":
            results = m.down(arg or 1, allow_drift=allow_drift, drop_data=drop_data)
        else:
            assert arg is not None
            results = m.to(arg, allow_drift=allow_drift, drop_data=drop_data)
        version = m.status().current_version
        advice = None if dry_run else _conversion_advice(m.db)
    if advice:
        info(f"advice: {advice}")
        reporter.notes.append(advice)
    backup = backups[0] if backups else None
    if hook is not None and backup is None:
        info("No backup taken: there was nothing to change.")
    _report_change(app, results, reporter, version, dry_run=dry_run, as_json=as_json, backup=backup)


def _report_change(
    app: AppContext,
    results: list[StepResult],
    reporter: MigrationReporter,
    version: int,
    *,
    dry_run: bool,
    as_json: bool,
    backup: Path | None = None,
) -> None:
    if as_json:
        emit_json(
            {
                "database": app.settings.database_shown,
                "dry_run": dry_run,
                "backup": None if backup is None else str(backup),
                "current_version": version,
                "notes": reporter.notes,
                "steps": [
                    {
                        "version": r.migration.version,
                        "name": r.migration.name,
                        "direction": r.direction,
                        "duration_ms": r.duration_ms,
                        "skipped": r.skipped,
                        "statements": reporter.statements.get(
                            (r.migration.version, r.direction), []
                        ),
                    }
                    for r in results
                ],
            }
        )
        return
    done = [r for r in results if not r.skipped]
    if not results:
        info(f"Nothing to do: {app.settings.database_shown} is at version {version}.")
    elif dry_run:
        click.echo(f"-- dry run: {len(done)} step(s) shown, nothing was changed")
    else:
        info(f"Done: {len(done)} step(s); {app.settings.database_shown} is at version {version}.")


@migrate.command()
@click.option("--to", "target", type=int, default=None, help="Stop after this version.")
@change_options
@pass_app
def up(app: AppContext, /, target: int | None, **options: Any) -> None:
    """Apply every pending migration (or those up to --to N)."""
    _run_change(app, "up", target, **options)


def drop_data_option(func: Any) -> Any:
    """--drop-data: allow rolling back an adopted migration or the baseline holding rows."""
    return click.option(
        "--drop-data",
        is_flag=True,
        help="Allow rolling back an adopted migration, or 001 while tables hold rows "
        "(a backup is taken first).",
    )(func)


@migrate.command(context_settings={"ignore_unknown_options": True})
@click.argument("count", required=False, default="1")
@drop_data_option
@change_options
@pass_app
def down(app: AppContext, /, count: str, **options: Any) -> None:
    """Roll back the newest COUNT applied migrations (default 1)."""
    n = _whole_number(count, "down COUNT must be a positive whole number", minimum=1)
    _run_change(app, "down", n, **options)


@migrate.command(name="to", context_settings={"ignore_unknown_options": True})
@click.argument("version")
@drop_data_option
@change_options
@pass_app
def to_version(app: AppContext, /, version: str, **options: Any) -> None:
    """Migrate up or down to exactly VERSION (0 rolls everything back)."""
    target = _whole_number(version, "VERSION must be a whole number, 0 or more", minimum=0)
    _run_change(app, "to", target, **options)


def _whole_number(text: str, rule: str, *, minimum: int) -> int:
    """Parse a positional number ourselves, so `-1` is an argument, not an unknown option."""
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{rule}, got {text!r}")
    return value


@migrate.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show the current version, applied and pending migrations, and drift."""
    with open_migrator(app, read_only=True) as m:
        st = m.status()
    if as_json:
        emit_json(_status_json(app, st))
    else:
        _print_status(app, st)
    if st.drift:
        raise SystemExit(EXIT_FAILURE)


def _status_json(app: AppContext, st: Status) -> dict[str, Any]:
    adoption = st.adoption
    return {
        "database": app.settings.database_shown,
        "migrations_dir": str(app.settings.migrations_dir),
        "current_version": st.current_version,
        "applied": [
            {
                "version": i.row.version,
                "name": i.row.name,
                "status": i.row.status,
                "description": i.row.description,
                "applied_at": i.row.applied_at or None,
                "applied_by": i.row.applied_by,
                "duration_ms": i.row.duration_ms,
                "checksum": i.row.checksum,
                "checksum_ok": i.drift is None,
            }
            for i in st.applied
        ],
        "pending": [
            {"version": p.version, "name": p.name, "description": p.description} for p in st.pending
        ],
        "failed": [{"version": r.version, "name": r.name, "at": r.applied_at} for r in st.failed],
        "drift": [
            {"version": d.version, "name": d.name, "kind": d.kind, "message": d.describe()}
            for d in st.drift
        ],
        "legacy": None
        if adoption is None
        else {
            "legacy_versions": adoption.legacy_versions,
            "adoptable": [m.version for m in adoption.adopted],
            "recorded": False,
            "service_ledger_rows": [list(r) for r in adoption.service_ledger_rows],
        },
    }


def _print_status(app: AppContext, st: Status) -> None:
    out = console()
    out.print(f"Database: {app.settings.database_shown}")
    out.print(f"Migrations: {app.settings.migrations_dir}")
    if st.adoption is not None:
        a = st.adoption
        out.print(
            f"Legacy database ({a.legacy_label}), not adopted yet: shown as it will be "
            "adopted by the next `migrate up`."
        )
        if a.service_ledger_note:
            out.print(f"Note: {a.service_ledger_note.replace('kept', 'will be kept')}.")
    out.print(
        f"Current version: {st.current_version}  "
        f"({len(st.applied)} applied, {len(st.pending)} pending)"
    )
    out.print(_status_table(st))
    for d in st.drift:
        out.print(Text.assemble(("Drift:", "red"), f" {d.describe()}"))


def _status_table(st: Status) -> Table:
    """One row per migration, as Text cells (Rich renders them without parsing a string)."""
    table = Table(show_lines=False)
    for col in ("Version", "Name", "Status", "Applied at", "By", "ms", "Checksum"):
        table.add_column(col)
    applied = "applied" if st.adoption is None else "adoptable"
    for i in st.applied:
        r = i.row
        checksum = Text("ok") if i.drift is None else Text(i.drift.kind, style="red")
        ms = "-" if r.duration_ms is None else str(r.duration_ms)
        cells = (f"{r.version:03d}", r.name, applied, r.applied_at or "-", r.applied_by or "-", ms)
        table.add_row(*map(Text, cells), checksum)
    failed = {r.version for r in st.failed}
    for p in st.pending:
        state = "failed (pending)" if p.version in failed else "pending"
        table.add_row(*map(Text, (f"{p.version:03d}", p.name, state, "-", "-", "-", "-")))
    return table


def _conversion_advice(db: Database) -> str | None:
    """What to do about embeddings left as JSON after 003, if any (after a change and for
    verify; status does not ask, so it starts without the embeddings module)."""
    from memvault.ops.embeddings import conversion_advice

    return conversion_advice(db)


@migrate.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_app
def verify(app: AppContext, as_json: bool) -> None:
    """Check that every applied migration is unchanged and its verify passes."""
    with open_migrator(app, read_only=True) as m:
        report = m.verify()
        advice = _conversion_advice(m.db)
    if advice and not as_json:
        click.echo(f"advice: {advice}", err=True)
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "advice": advice,
                "results": [
                    {
                        "version": r.version,
                        "name": r.name,
                        "ok": r.ok,
                        "problem": r.problem,
                        "superseded_by": r.superseded_by,
                    }
                    for r in report.results
                ],
            }
        )
    else:
        for r in report.results:
            mark = "ok  " if r.ok else "FAIL"
            note = f": {r.problem}" if r.problem else ""
            if r.superseded_by is not None:
                note = f" (superseded by {r.superseded_by:03d}: its verify is not re-run)"
            click.echo(f"{mark} {r.version:03d}_{r.name}{note}")
        if not report.results:
            click.echo("No applied migrations to verify.")
    if not report.ok:
        failed = ", ".join(f"{r.version:03d}_{r.name}" for r in report.results if not r.ok)
        if not as_json:
            click.echo(f"memvault: error: verification failed: {failed}", err=True)
        raise SystemExit(EXIT_FAILURE)


@migrate.command()
@click.argument("name")
@click.option("--sql", is_flag=True, help="Write a .sql migration instead of Python.")
@pass_app
def create(app: AppContext, name: str, sql: bool) -> None:
    """Write the next numbered migration NAME into the migrations folder."""
    folder = app.settings.migrations_dir
    if app.settings.uses_builtin_migrations and {"site-packages", "dist-packages"} & set(
        folder.resolve().parts
    ):
        raise ConfigError(
            f"{folder} holds memvault's own migrations inside the installed package: "
            "pass --migrations DIR (or MEMVAULT_MIGRATIONS) for your application's folder"
        )
    from memvault.migrations import create_migration  # the generator: only this command

    path = create_migration(folder, name, sql=sql)
    click.echo(str(path))


@migrate.command()
@lock_timeout_option
@pass_app
def repair(app: AppContext, lock_timeout: float) -> None:
    """Accept edited migration files: re-record their checksums (kept in the history)."""
    with open_migrator(app, lock_timeout=lock_timeout) as m:
        repaired = m.repair()
        missing = [d for d in m.status().drift if d.kind == "missing"]
    for d in repaired:
        click.echo(f"re-recorded checksum of {d.version:03d}_{d.name}")
    if not repaired:
        click.echo("No edited migrations: nothing to repair.")
    for d in missing:
        click.echo(f"memvault: error: {d.describe()}; restore the file", err=True)
    if missing:
        raise SystemExit(EXIT_FAILURE)


@migrate.command()
@click.option("--force", is_flag=True, help="Break the lock even if its owner still runs here.")
@pass_app
def unlock(app: AppContext, force: bool) -> None:
    """Break the migration lock left by a runner that is gone."""
    from memvault.migrations import force_unlock  # the lock module: only commands that write

    with connect(parse_url(app.settings.database), create=False) as db:
        holder = force_unlock(db, force=force)
    if holder is None:
        click.echo("The migration lock was not held.")
    else:
        click.echo(f"Broke the migration lock held by {holder.describe()}.")


@migrate.command()
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@pass_app
def history(app: AppContext, as_json: bool) -> None:
    """Show every apply, rollback, failure, adoption and repair, oldest first."""
    url = parse_url(app.settings.database)
    missing = url.path is not None and not url.path.exists()
    with snapshot(url) if missing else connect(url, create=False, read_only=True) as db:
        rows = Recorder(db).history()
    if as_json:
        emit_json([r.__dict__ for r in rows])
        return
    table = Table()
    for col in ("#", "Version", "Name", "Action", "At", "By", "ms", "Error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            f"{r.version:03d}",
            r.name,
            r.action,
            r.at,
            r.by or "-",
            "-" if r.duration_ms is None else str(r.duration_ms),
            r.error or "",
        )
    console().print(table)
