"""What `memvault mcp` and `memvault memory embed` share: open the store, find the user,
record paid embedding calls. No MCP SDK import here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from memvault.config import Settings
from memvault.embed.providers import UsageRecorder
from memvault.errors import ConfigError
from memvault.store import MemoryStore


@contextlib.contextmanager
def open_runtime(
    settings: Settings, *, migrate: bool, lock_timeout: float
) -> Iterator[MemoryStore]:
    """The store on --database; without `migrate`, pending migrations refuse (one line)."""
    store = MemoryStore.open(
        settings.database,
        migrate=migrate,
        migrations_dir=settings.migrations_dir,
        applied_by=settings.applied_by,
        lock_timeout=lock_timeout,
    )
    try:
        yield store
    finally:
        store.close()


def resolve_user(store: MemoryStore, user: str) -> str:
    """The id of the user named by id or email; ConfigError (one line) when there is none."""
    found = store.users.get(user) or store.users.get_by_email(user)
    if found is None:
        raise ConfigError(
            f"unknown user {user!r} (give a user id or email; see 'memvault user list')"
        )
    if not found.is_active:
        raise ConfigError(f"user {user!r} is not active")
    return found.id


def usage_recorder(store: MemoryStore) -> UsageRecorder:
    """Record a paid embedding request as the service did (openai, embedding, ms, date)."""

    def record(user_id: str, model: str, tokens: int, cost: float, meta: dict[str, Any]) -> None:
        store.usage.record(
            user_id,
            api_provider="openai",
            model=model,
            tokens_used=tokens,
            cost_usd=cost,
            operation_type="embedding",
            metadata=meta,
        )

    return record
