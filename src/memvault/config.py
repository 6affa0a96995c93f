"""Settings: where the database is, which migrations to use, who applies them."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE = "memvault.db"
ENV_DATABASE = "MEMVAULT_DATABASE"
ENV_MIGRATIONS = "MEMVAULT_MIGRATIONS"
ENV_APPLIED_BY = "MEMVAULT_APPLIED_BY"

BUILTIN_MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def default_applied_by() -> str:
    """`user@host`, unless MEMVAULT_APPLIED_BY says otherwise."""
    explicit = os.environ.get(ENV_APPLIED_BY)
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{hostname()}"


def hostname() -> str:
    """This machine's name: on POSIX what socket.gethostname() returns (both read uname),
    without loading socket for every command."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to find its database and migrations."""

    database: str = DEFAULT_DATABASE
    migrations_dir: Path = field(default=BUILTIN_MIGRATIONS)
    applied_by: str = field(default_factory=default_applied_by)

    @property
    def database_shown(self) -> str:
        """The database for messages and JSON: a server's URL without its auth token."""
        from memvault.db.url import parse_url
        from memvault.errors import ConfigError

        try:
            return parse_url(self.database).display
        except ConfigError:
            return self.database

    @property
    def uses_builtin_migrations(self) -> bool:
        return self.migrations_dir.resolve() == BUILTIN_MIGRATIONS.resolve()
