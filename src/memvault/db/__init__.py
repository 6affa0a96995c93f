"""The database layer: connect(url) -> Database, with atomic() and introspection."""

from memvault.db.database import Database, connect, snapshot
from memvault.db.dialects import SQLITE, Dialect, SQLiteDialect
from memvault.db.url import DatabaseURL, parse_url

__all__ = [
    "SQLITE",
    "Database",
    "DatabaseURL",
    "Dialect",
    "SQLiteDialect",
    "connect",
    "parse_url",
    "snapshot",
]
