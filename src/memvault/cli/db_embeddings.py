"""`memvault db convert-embeddings`: JSON text embeddings written after 003 -> float32."""

from __future__ import annotations

import click

from memvault.cli.app import AppContext, lock_timeout_option
from memvault.cli.db import db
from memvault.cli.output import emit_json
from memvault.db import connect, parse_url
from memvault.migrations.lock import MigrationLock
from memvault.ops.embeddings import convert_text_embeddings

pass_app = click.make_pass_decorator(AppContext)


@db.command("convert-embeddings")
@lock_timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def convert_embeddings(app: AppContext, lock_timeout: float, as_json: bool) -> None:
    """Convert JSON text embeddings written after migration 003 (e.g. by the TypeScript
    service) to float32 BLOBs, as 003 did; unconvertible text goes to the quarantine.

    One transaction under the migration lock; seconds for thousands of rows.
    """
    database = connect(parse_url(app.settings.database), create=False, wal=False)
    lock = MigrationLock(database, timeout=lock_timeout, command="memvault db convert-embeddings")
    with database, lock, database.atomic():
        result = convert_text_embeddings(database)
    if as_json:
        emit_json({"converted": result.converted, "quarantined": result.quarantined})
        return
    click.echo(
        f"Converted {result.converted} JSON embedding(s) to float32 BLOBs"
        + (
            f"; quarantined {len(result.quarantined)}: ids {result.quarantined}"
            if result.quarantined
            else "."
        )
    )
