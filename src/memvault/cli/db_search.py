"""`memvault db reindex`: rebuild the tenant search index from the rows."""

from __future__ import annotations

import click

from memvault.cli.app import AppContext
from memvault.cli.db import db
from memvault.cli.output import emit_json, info

pass_app = click.make_pass_decorator(AppContext)


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def reindex(app: AppContext, as_json: bool) -> None:
    """Rebuild the full-text search index from every memory and entity, in one transaction.

    For an index that `db check` reports stale (edited by hand, or written while a
    trigger was missing). Rows are never changed; a migrated database is required.
    """
    from memvault.store import MemoryStore

    with MemoryStore.open(app.settings.database, migrate=False) as store:
        indexed = store.search_index.rebuild()
    if as_json:
        emit_json({"database": app.settings.database, "rows_queued": indexed})
    else:
        info(f"search index rebuilt: {indexed:,} memories and entities re-read")
