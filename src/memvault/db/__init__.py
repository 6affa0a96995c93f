"""The database layer: connect(url) -> Database, with atomic() and introspection."""

from memvault.db import driver
from memvault.db.database import Database, connect, snapshot
from memvault.db.dialects import LIBSQL, SQLITE, Capabilities, Dialect, SQLiteDialect
from memvault.db.url import DatabaseURL, parse_url

__all__ = [
    "LIBSQL",
    "SQLITE",
    "Capabilities",
    "Database",
    "DatabaseURL",
    "Dialect",
    "SQLiteDialect",
    "connect",
    "driver",
    "parse_url",
    "snapshot",
]
