"""The database layer: connect(url) -> Database, with atomic() and introspection."""

from typing import TYPE_CHECKING

from memvault.lazy import attach

if TYPE_CHECKING:
    from memvault.db import driver
    from memvault.db.database import Database, connect, snapshot
    from memvault.db.dialects import LIBSQL, SQLITE, Capabilities, Dialect, SQLiteDialect
    from memvault.db.url import DatabaseURL, parse_url
else:  # each loads on first use: `memvault --help` never opens a database
    __getattr__ = attach(
        __name__,
        {
            "driver": "memvault.db.driver",
            **dict.fromkeys(("Database", "connect", "snapshot"), "memvault.db.database"),
            **dict.fromkeys(
                ("LIBSQL", "SQLITE", "Capabilities", "Dialect", "SQLiteDialect"),
                "memvault.db.dialects",
            ),
            **dict.fromkeys(("DatabaseURL", "parse_url"), "memvault.db.url"),
        },
    )

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
