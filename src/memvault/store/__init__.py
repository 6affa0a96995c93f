"""The memory store: users, entities, memories, interactions and API usage on SQLite.

    store = MemoryStore.open("memvault.db")          # creates and migrates when needed
    user, api_key = store.users.create("ada@example.com", name="Ada")
    store.memories.create(user.id, title="Tea", content="Prefers green tea",
                          memory_type="preference")
    hits = store.memories.search(user.id, "green tea")

Every repository call on a tenant's rows takes the user id first; another tenant's id
finds nothing and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from memvault.config import BUILTIN_MIGRATIONS, default_applied_by
from memvault.db import Database, DatabaseURL, connect
from memvault.errors import ConfigError, MigrationError
from memvault.migrations import Migrator, StepResult, load_migrations
from memvault.store import queries as _queries  # noqa: F401  (registers the catalog)
from memvault.store.columns import Clock
from memvault.store.entities import EntityRepository
from memvault.store.interactions import InteractionRepository
from memvault.store.memories import MemoryRepository
from memvault.store.runner import QueryRunner
from memvault.store.search_index import SearchIndex
from memvault.store.usage import UsageRepository
from memvault.store.users import UserRepository
from memvault.store.vectors import VectorRepository

DEFAULT_VECTOR_CACHE_MB = 256


class MemoryStore:
    """One database's repositories: `users`, `entities`, `memories`, `interactions`, `usage`."""

    def __init__(
        self,
        db: Database,
        applied: Sequence[StepResult] = (),
        *,
        vector_cache_mb: int = DEFAULT_VECTOR_CACHE_MB,
        read_only: bool = False,
    ) -> None:
        self.db = db
        self.applied = list(applied)
        run = QueryRunner(db)
        clock = Clock()
        # A read-only store cannot index queued changes before a search (see SearchIndex).
        self.search_index = SearchIndex(run, drain_before_search=not read_only)
        self.users = UserRepository(run, clock)
        self.entities = EntityRepository(run, clock, self.search_index)
        # On a libSQL server each request may run on another server connection, so
        # total_changes()/data_version cannot tell whether cached vectors are current
        # (measured: they alternate and repeat): similar() reads the vectors every time.
        cache_mb = 0 if db.capabilities.remote else vector_cache_mb
        self.memories = MemoryRepository(run, clock, cache_mb * 1024 * 1024, self.search_index)
        self.interactions = InteractionRepository(run, clock)
        self.usage = UsageRepository(run)
        self.vectors = VectorRepository(run, clock)

    @classmethod
    def open(
        cls,
        location: str | Path | DatabaseURL,
        migrate: bool = True,
        *,
        migrations_dir: Path | None = None,
        applied_by: str | None = None,
        lock_timeout: float = 60.0,
        vector_cache_mb: int = DEFAULT_VECTOR_CACHE_MB,
        read_only: bool = False,
    ) -> MemoryStore:
        """Open (or, with migrate=True, create) a database and bring its schema up to date.

        With migrate=False nothing is created or changed: a database with pending
        migrations is refused with a MigrationError naming them (for servers whose deploy
        step migrates). A legacy database is adopted first, as `memvault migrate up` does.
        `vector_cache_mb` bounds the memory that similar() may keep for users' vectors
        between queries (0: read them from the database every time).

        Opening takes the migration lock only when there is something to migrate. With
        `read_only=True` (implies migrate=False) the store never writes: it works on a
        read-only file or folder, never waits for an application's write transaction in
        WAL mode, and leaves no new side files; a missing file is a DatabaseError.
        """
        if location is None or (isinstance(location, str) and not location.strip()):
            raise ConfigError(f"MemoryStore.open: no database location given ({location!r})")
        target = location if isinstance(location, DatabaseURL) else str(location)
        migrate = migrate and not read_only
        db = connect(target, create=migrate, read_only=read_only)
        try:
            if not read_only:
                db.require_sound("write to it")
            migrator = Migrator(
                db,
                load_migrations(migrations_dir or BUILTIN_MIGRATIONS),
                applied_by=applied_by or default_applied_by(),
                lock_timeout=lock_timeout,
            )
            applied = migrator.up() if migrate else _refuse_pending(migrator)
        except BaseException:
            db.close()
            raise
        return cls(db, applied, vector_cache_mb=vector_cache_mb, read_only=read_only)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_pending(migrator: Migrator) -> list[StepResult]:
    pending = migrator.status().pending
    if pending:
        names = ", ".join(m.label for m in pending)
        raise MigrationError(
            f"database {migrator.db.url.display} has {len(pending)} pending migration(s): "
            f"{names}; run 'memvault migrate up' (or open with migrate=True)"
        )
    return []


__all__ = ["MemoryStore"]
