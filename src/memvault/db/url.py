"""Parse database locations: a file path, `sqlite:///path`, or `:memory:`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memvault.errors import ConfigError

_PLANNED = {
    "postgres": "PostgreSQL",
    "postgresql": "PostgreSQL",
    "libsql": "libSQL",
    "turso": "libSQL/Turso",
    "http": "libSQL",
    "https": "libSQL",
}


@dataclass(frozen=True)
class DatabaseURL:
    """Where a database lives. `path` is None for an in-memory database."""

    backend: str
    path: Path | None
    raw: str

    @property
    def display(self) -> str:
        return str(self.path) if self.path is not None else ":memory:"


def parse_url(location: str) -> DatabaseURL:
    """Turn a `--database` value into a DatabaseURL; raise ConfigError naming what is wrong."""
    text = location.strip()
    if not text:
        raise ConfigError("--database is empty: give a file path or sqlite:///path")
    if text in (":memory:", "sqlite://", "sqlite:///:memory:", "sqlite://:memory:"):
        return DatabaseURL("sqlite", None, location)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        if scheme == "sqlite":
            # sqlite:///relative.db -> relative.db ; sqlite:////abs/path.db -> /abs/path.db
            if not rest.startswith("/"):
                raise ConfigError(f"bad database URL {location!r}: use sqlite:///path/to/file.db")
            path = rest[1:]
            if not path:
                raise ConfigError(f"bad database URL {location!r}: no file path after sqlite:///")
            return DatabaseURL("sqlite", Path(path), location)
        if scheme in _PLANNED:
            raise ConfigError(
                f"database URL {location!r}: the {_PLANNED[scheme]} backend is not available yet "
                "(supported: SQLite file paths and sqlite:///path)"
            )
        raise ConfigError(f"database URL {location!r}: unknown scheme {scheme!r}")
    return DatabaseURL("sqlite", Path(text), location)
