"""`memvault memory ...`: add, list, show, search and find similar memories of one user."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.table import Table

from memvault.cli.app import AppContext, cli, count_type, refuse_in_memory
from memvault.cli.output import console, emit_json, info
from memvault.errors import NotFoundError
from memvault.store import MemoryStore
from memvault.store.models import Memory, MemoryHit, MemoryType

pass_app = click.make_pass_decorator(AppContext)


@contextmanager
def open_store(app: AppContext, *, read_only: bool = False) -> Iterator[MemoryStore]:
    """Open the store on --database: writers apply pending migrations (and say so); readers
    (`read_only`) never write, never take the lock, and refuse a missing or unmigrated file."""
    refuse_in_memory(app.settings.database)
    store = MemoryStore.open(
        app.settings.database,
        migrate=not read_only,
        migrations_dir=app.settings.migrations_dir,
        applied_by=app.settings.applied_by,
        read_only=read_only,
    )
    try:
        for step in store.applied:
            if not step.skipped:
                info(f"applied migration {step.migration.label}")
        yield store
    finally:
        store.close()


def json_option(func: Any) -> Any:
    """The --json flag every store command has."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (camelCase).")(func)


def user_option(func: Any) -> Any:
    """The --user option naming whose memories a command works on."""
    return click.option("-u", "--user", "user_id", required=True, help="The user's id.")(func)


def parse_json_option(value: str | None, option: str, kind: type) -> Any:
    """A JSON option value of the expected kind, or a usage error naming the option."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg})", param_hint=option) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"expected a JSON {kind.__name__}", param_hint=option)
    return parsed


@cli.group()
def memory() -> None:
    """Add, list, show and search a user's memories."""


@memory.command("add")
@user_option
@click.option("--title", required=True, help="A short title.")
@click.option("--content", required=True, help="The memory's text.")
@click.option(
    "--type",
    "memory_type",
    required=True,
    type=click.Choice([t.value for t in MemoryType]),
    help="The memory's type.",
)
@click.option(
    "--importance",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="How much the memory matters, from 0 to 1.",
)
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option(
    "--entity-id", "entity_ids", type=count_type(1), multiple=True, help="A linked entity id."
)
@click.option("--embedding", help="The embedding as a JSON array of numbers.")
@click.option("--metadata", help="Metadata as a JSON object.")
@json_option
@pass_app
def add(
    app: AppContext,
    user_id: str,
    title: str,
    content: str,
    memory_type: str,
    importance: float,
    tags: tuple[str, ...],
    entity_ids: tuple[int, ...],
    embedding: str | None,
    metadata: str | None,
    as_json: bool,
) -> None:
    """Add a memory for a user."""
    vector = parse_json_option(embedding, "--embedding", list)
    meta = parse_json_option(metadata, "--metadata", dict)
    with open_store(app) as store:
        created = store.memories.create(
            user_id,
            title=title,
            content=content,
            memory_type=memory_type,
            importance=importance,
            tags=list(tags),
            entity_ids=list(entity_ids),
            embedding=vector,
            metadata=meta,
        )
    if as_json:
        emit_json(created.model_dump(mode="json", by_alias=True))
    else:
        click.echo(f"Added memory {created.id} for user {user_id}.")


@memory.command("list")
@user_option
@click.option("--limit", type=count_type(1), default=20, show_default=True)
@click.option("--offset", type=count_type(0), default=0, show_default=True)
@click.option(
    "--order",
    type=click.Choice(["created", "updated", "importance"]),
    default="created",
    show_default=True,
    help="Newest first, most recently updated first, or most important first.",
)
@json_option
@pass_app
def list_memories(
    app: AppContext, user_id: str, limit: int, offset: int, order: str, as_json: bool
) -> None:
    """List a user's memories that are not archived, newest first (or --order)."""
    with open_store(app, read_only=True) as store:
        memories = store.memories.list(user_id, limit=limit, offset=offset, order=order)
    if as_json:
        emit_json([m.model_dump(mode="json", by_alias=True) for m in memories])
    else:
        _print_memories([(m, None) for m in memories], empty="No memories.")


@memory.command("show")
@user_option
@click.argument("memory_id", type=count_type(1))
@json_option
@pass_app
def show(app: AppContext, user_id: str, memory_id: int, as_json: bool) -> None:
    """Show one of a user's memories."""
    with open_store(app, read_only=True) as store:
        found = store.memories.get(user_id, memory_id)
    if found is None:
        raise NotFoundError(f"user {user_id!r} has no memory {memory_id}")
    if as_json:
        emit_json(found.model_dump(mode="json", by_alias=True))
        return
    for key, value in found.model_dump(exclude={"embedding", "problems"}).items():
        click.echo(f"{key}: {_plain(value)}")
    size = "none" if found.embedding is None else f"{len(found.embedding)} dimensions"
    click.echo(f"embedding: {size}")
    for problem in found.problems:
        click.echo(f"problem: {problem}")


@memory.command("search")
@user_option
@click.argument("text")
@click.option("--limit", type=count_type(1), default=10, show_default=True)
@json_option
@pass_app
def search(app: AppContext, user_id: str, text: str, limit: int, as_json: bool) -> None:
    """Full-text search of a user's memories (every word must match), best first."""
    with open_store(app, read_only=True) as store:
        hits = store.memories.search(user_id, text, limit)
        if store.search_index.searched_with_pending:
            info(
                "note: rows changed by another program are not in the search index yet (a "
                "search reads only); any memvault write or `memvault db reindex` indexes them"
            )
    _print_hits(hits, as_json, empty="No matches.")


@memory.command("similar")
@user_option
@click.argument("vector")
@click.option("--limit", type=count_type(1), default=10, show_default=True)
@json_option
@pass_app
def similar(app: AppContext, user_id: str, vector: str, limit: int, as_json: bool) -> None:
    """A user's memories nearest to VECTOR (a JSON array of numbers) by cosine, best first."""
    query = parse_json_option(vector, "VECTOR", list)
    with open_store(app, read_only=True) as store:
        hits = store.memories.similar(user_id, query, limit)
    _print_hits(hits, as_json, empty="No memories with an embedding of that size.")


def _print_hits(hits: Sequence[MemoryHit], as_json: bool, *, empty: str) -> None:
    if as_json:
        emit_json([h.model_dump(mode="json", by_alias=True) for h in hits])
    else:
        _print_memories([(h.memory, h.score) for h in hits], empty=empty)


def _print_memories(rows: Sequence[tuple[Memory, float | None]], *, empty: str) -> None:
    if not rows:
        click.echo(empty)
        return
    scored = rows[0][1] is not None
    table = Table(box=None, pad_edge=False)
    for column in ["id", *(["score"] if scored else []), "type", "imp", "title", "created"]:
        table.add_column(column)
    for memory, score in rows:
        cells = [str(memory.id)]
        if scored:
            cells.append(f"{score:.4g}")
        cells += [
            _plain(memory.memory_type),
            f"{memory.importance:g}"
            if isinstance(memory.importance, float)
            else str(memory.importance),
            memory.title,
            memory.created_at,
        ]
        if memory.problems:
            cells[-2] += f"  [{len(memory.problems)} problem(s)]"
        table.add_row(*cells)
    console().print(table)


def _plain(value: Any) -> str:
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)
