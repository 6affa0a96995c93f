"""`memvault memory embed`: give memories vectors (missing ones, or all with a new model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console

from memvault.cli.app import AppContext, lock_timeout_option
from memvault.cli.mcp import embeddings_option
from memvault.cli.memory import memory
from memvault.store import MemoryStore

if TYPE_CHECKING:
    from rich.progress import TaskID


@memory.command("embed")
@click.option(
    "--missing",
    "mode",
    flag_value="missing",
    default=True,
    help="Embed only memories without a vector (default).",
)
@click.option(
    "--all",
    "mode",
    flag_value="all",
    help="Re-embed every memory with the configured model (resumes after a kill).",
)
@click.option("-u", "--user", "user", default=None, help="Only this user (id or email).")
@click.option("--migrate", is_flag=True, help="Apply pending migrations first (else refuse).")
@embeddings_option
@lock_timeout_option
@click.pass_obj
def embed(
    app: AppContext, mode: str, user: str | None, migrate: bool, provider: str, lock_timeout: float
) -> None:
    """Embed a user's (or every user's) memories, with a progress bar."""
    # rich.progress here, not at import: `memory list` and the others load this module too.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from memvault.embed import EmbedSettings, make_embedder
    from memvault.embed.backfill import backfill
    from memvault.errors import ConfigError
    from memvault.mcp.runtime import open_runtime, resolve_user, usage_recorder

    with open_runtime(app.settings, migrate=migrate, lock_timeout=lock_timeout) as store:
        embedder = make_embedder(EmbedSettings.from_env(provider), usage_recorder(store))
        if embedder is None:
            raise ConfigError("memory embed needs an embedding provider (not --embeddings none)")
        users = [resolve_user(store, user)] if user else _all_users(store)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            for user_id in users:
                task = bar.add_task(f"user {user_id}", total=None)

                def show(done: int, total: int, task: TaskID = task) -> None:
                    bar.update(task, completed=done, total=total)

                result = backfill(store, embedder, user_id, everything=mode == "all", progress=show)
                bar.update(task, description=f"user {user_id}: {result.updated} embedded")
    click.echo(f"Embedded with {embedder.provider}/{embedder.model} for {len(users)} user(s).")


def _all_users(store: MemoryStore) -> list[str]:
    ids: list[str] = []
    while page := store.users.list(limit=500, offset=len(ids)):
        ids += [u.id for u in page]
    return ids
