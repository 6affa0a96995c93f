"""`memvault schema ...`: look at the schema itself (review; more commands join this group)."""

from __future__ import annotations

import click
from rich.text import Text

from memvault.cli.app import EXIT_FAILURE, EXIT_OK, AppContext, cli
from memvault.cli.output import console, emit_json
from memvault.db import parse_url, snapshot
from memvault.errors import DatabaseError
from memvault.migrations import load_migrations
from memvault.review import Review, render_markdown, review

pass_app = click.make_pass_decorator(AppContext)


@cli.group()
def schema() -> None:
    """Review the database schema against the models, the migrations and the queries."""


@schema.command(name="review")
@click.option("--json", "as_json", is_flag=True, help="Print the whole review as JSON.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md"]),
    default="text",
    show_default=True,
    help="text: a summary for the terminal; md: the full review as Markdown.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when the review finds drift, missing or redundant indexes, broken queries, "
    "model mismatches or a failing FTS index.",
)
@pass_app
def review_command(app: AppContext, as_json: bool, fmt: str, strict: bool) -> int:
    """Check alignment, drift, index coverage (EXPLAIN every catalog query) and data health.

    Works on an in-memory copy of the database: the file is never written.
    """
    migrations = load_migrations(app.settings.migrations_dir)
    url = parse_url(app.settings.database)
    if url.path is not None and not url.path.exists():
        raise DatabaseError(f"database {url.path} does not exist")
    db = snapshot(url)
    try:
        db.require_sound("review it")
        result = review(db, migrations, name=app.settings.database_shown)
    finally:
        db.close()
    if as_json:
        emit_json(result.to_dict())
    elif fmt == "md":
        click.echo(render_markdown(result), nl=False)
    else:
        _print_summary(result)
    return EXIT_FAILURE if strict and _has_findings(result) else EXIT_OK


def _has_findings(result: Review) -> bool:
    return bool(
        result.missing_indexes
        or result.redundant_indexes
        or not result.drift.clean
        or any(q.error for q in result.queries)
        or (result.alignment is not None and not result.alignment.aligned)
        or any(not f.ok for f in result.fts)
        or bool(result.verify_failures)
    )


def _print_summary(result: Review) -> None:
    out = console()
    scans = [q.name for q in result.queries if q.full_scan]
    sorts = [q.name for q in result.queries if q.temp_btree]
    out.print(Text(f"Schema review of {result.database}", style="bold"))
    out.print(f"  catalog queries explained: {len(result.queries)}")
    out.print(f"  full scans: {', '.join(scans) or 'none'}")
    out.print(f"  temporary B-tree sorts: {', '.join(sorts) or 'none'}")
    out.print(f"  missing indexes: {len(result.missing_indexes)}")
    for p in result.missing_indexes:
        out.print(f"    {p.sql}", markup=False)
    out.print(
        f"  redundant indexes: {', '.join(r.index for r in result.redundant_indexes) or 'none'}"
    )
    out.print(f"  unused indexes: {', '.join(u.index for u in result.unused_indexes) or 'none'}")
    drift = result.drift
    out.print(
        "  schema drift: "
        + (
            "none"
            if drift.clean
            else f"{len(drift.missing)} missing, {len(drift.extra)} extra, "
            f"{len(drift.changed)} changed"
        ),
        markup=False,
    )
    mismatches = "n/a" if result.alignment is None else str(len(result.alignment.mismatches))
    out.print(f"  model/table mismatches: {mismatches}")
    out.print(f"  foreign key violations: {result.foreign_keys.violations}")
    fts = ", ".join(f.table + (" ok" if f.ok else " FAILED") for f in result.fts)
    out.print(f"  FTS integrity: {fts or 'n/a'}")
    out.print(f"  migration verify: {'; '.join(result.verify_failures) or 'ok'}", markup=False)
    if result.recommendations:
        out.print(Text("Recommendations", style="bold"))
        for i, text in enumerate(result.recommendations, 1):
            out.print(f"  {i}. {text}", markup=False)
    out.print("(--format md or --json for the whole review)")
