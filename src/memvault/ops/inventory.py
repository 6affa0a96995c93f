"""What a database holds, by owner: user tables, FTS5 tables and their shadows, memvault's.

Maintenance, statistics and the schema diagram all need the same answer to "which tables
are the user's data?", so it is given once, here.
"""

from __future__ import annotations

from dataclasses import dataclass

from memvault.db import Database
from memvault.migrations.recorder import is_engine_table

# Tables memvault itself owns (the ledger, its history, the lock, size samples). Schema
# comparisons leave out `schema_migrations%` and `memvault_%`.
FTS5_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")


@dataclass(frozen=True)
class SchemaInventory:
    """Names of the database's tables and indexes, grouped by what they are."""

    user_tables: tuple[str, ...]
    fts5_tables: tuple[str, ...]
    shadow_tables: tuple[str, ...]
    memvault_tables: tuple[str, ...]
    indexes: tuple[str, ...]  # named indexes (not sqlite_autoindex_*)

    @property
    def all_tables(self) -> tuple[str, ...]:
        return self.user_tables + self.fts5_tables + self.shadow_tables + self.memvault_tables


def is_memvault_table(name: str) -> bool:
    """True for tables memvault owns rather than the user's data."""
    return is_engine_table(name)


def take_inventory(db: Database) -> SchemaInventory:
    """Read sqlite_master once and sort every table and index by owner."""
    rows = db.query(
        "SELECT type, name, sql FROM sqlite_master "
        "WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    fts5 = [r["name"] for r in rows if r["type"] == "table" and _is_fts5(r["sql"])]
    shadows = {f + suffix for f in fts5 for suffix in FTS5_SHADOW_SUFFIXES}
    tables = [r["name"] for r in rows if r["type"] == "table" and r["name"] not in fts5]
    return SchemaInventory(
        user_tables=tuple(t for t in tables if t not in shadows and not is_memvault_table(t)),
        fts5_tables=tuple(fts5),
        shadow_tables=tuple(t for t in tables if t in shadows),
        memvault_tables=tuple(t for t in tables if is_memvault_table(t)),
        indexes=tuple(r["name"] for r in rows if r["type"] == "index"),
    )


def _is_fts5(sql: str | None) -> bool:
    text = " ".join((sql or "").lower().split())
    return text.startswith("create virtual table") and " using fts5" in text
