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
    read_only: bool = False  # `?mode=ro`: never write
    immutable: bool = False  # `?immutable=1`: the file cannot change while open

    @property
    def in_memory(self) -> bool:
        """True for `:memory:` and friends: nothing written there outlives the process."""
        return self.path is None

    @property
    def display(self) -> str:
        return str(self.path) if self.path is not None else ":memory:"


def parse_url(location: str) -> DatabaseURL:
    """Turn a `--database` value into a DatabaseURL; raise ConfigError naming what is wrong."""
    text = location.strip()
    if not text:
        raise ConfigError("--database is empty: give a file path or sqlite:///path")
    if "\x00" in text:
        raise ConfigError(f"--database {location!r} contains a NUL character")
    if text in IN_MEMORY or text.startswith("file::memory:"):
        return DatabaseURL("sqlite", None, location)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        if scheme == "sqlite":
            # sqlite:///relative.db -> relative.db ; sqlite:////abs/path.db -> /abs/path.db
            if not rest.startswith("/"):
                raise ConfigError(f"bad database URL {location!r}: use sqlite:///path/to/file.db")
            path, _, query = rest[1:].partition("?")
            if not path:
                raise ConfigError(f"bad database URL {location!r}: no file path after sqlite:///")
            if path == ":memory:":
                return DatabaseURL("sqlite", None, location)
            return DatabaseURL("sqlite", Path(path), location, **_parameters(query, location))
        if scheme in _PLANNED:
            raise ConfigError(
                f"database URL {location!r}: the {_PLANNED[scheme]} backend is not available yet "
                "(supported: SQLite file paths and sqlite:///path)"
            )
        raise ConfigError(f"database URL {location!r}: unknown scheme {scheme!r}")
    if text.startswith("file:"):
        raise ConfigError(
            f"database {location!r}: SQLite file: URIs are not accepted; "
            "use a path or sqlite:///path?mode=ro"
        )
    return DatabaseURL("sqlite", Path(text), location)


IN_MEMORY = (":memory:", "sqlite://", "sqlite:///:memory:", "sqlite://:memory:")
# URL parameters memvault honours; any other is refused rather than kept in a file name.
_HONOURED = {
    "mode": {"ro": ("read_only", True), "rw": None, "rwc": None},
    "immutable": {"1": ("immutable", True), "0": None},
}


def _parameters(query: str, location: str) -> dict[str, bool]:
    """`mode=ro` and `immutable=1` as DatabaseURL fields; anything else is a ConfigError."""
    fields: dict[str, bool] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        choices = _HONOURED.get(key)
        if choices is None or value not in choices:
            raise ConfigError(
                f"database URL {location!r}: parameter {pair!r} is not supported "
                "(supported: mode=ro|rw|rwc, immutable=0|1)"
            )
        chosen = choices[value]
        if chosen is not None:
            fields[chosen[0]] = chosen[1]
    return fields
