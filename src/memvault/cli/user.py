"""`memvault user ...`: create and list accounts."""

from __future__ import annotations

import click
from rich.table import Table

from memvault.cli.app import AppContext, cli, count_type
from memvault.cli.memory import json_option, open_store, pass_app
from memvault.cli.output import console, emit_json


@cli.group()
def user() -> None:
    """Create and list the accounts that own memories."""


@user.command("add")
@click.argument("email")
@click.option("--name", help="The person's name.")
@click.option("--organization", help="Their organization.")
@click.option("--api-key", help="Use this API key instead of generating one.")
@json_option
@pass_app
def add(
    app: AppContext,
    email: str,
    name: str | None,
    organization: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Create an account; its API key is printed this once (only a hash is kept)."""
    with open_store(app) as store:
        created, key = store.users.create(
            email, name=name, organization=organization, api_key=api_key
        )
    if as_json:
        emit_json({**created.model_dump(mode="json", by_alias=True), "apiKey": key})
        return
    click.echo(f"Created user {created.id} ({created.email}).")
    click.echo(f"API key (shown once, store it now): {key}")


@user.command("list")
@click.option("--limit", type=count_type(1), default=50, show_default=True)
@click.option("--offset", type=count_type(0), default=0, show_default=True)
@json_option
@pass_app
def list_users(app: AppContext, limit: int, offset: int, as_json: bool) -> None:
    """List accounts, newest first."""
    with open_store(app, read_only=True) as store:
        users = store.users.list(limit=limit, offset=offset)
    if as_json:
        emit_json([u.model_dump(mode="json", by_alias=True) for u in users])
        return
    if not users:
        click.echo("No users.")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "email", "name", "active", "created"):
        table.add_column(column)
    for u in users:
        table.add_row(u.id, u.email, u.name or "", "yes" if u.is_active else "no", u.created_at)
    console().print(table)
