"""An embedded replica: a local file kept in sync with a libSQL server, for serving reads.

`-d "libsql://HOST?replica=./memvault-replica.db"` (or `MemoryStore.open(…)` with that URL)
opens the local file through `libsql-experimental` (the `libsql` 0.1.11 client cannot sync
with sqld 0.24: `GET /info` answers 404; `libsql-experimental` 0.0.55 speaks the protocol
sqld serves). Reads are answered from the file; writes and transactions are sent to the
server (write delegation), and the file is synced at open and every `sync` seconds
(default 5), so a reader sees others' writes within that interval and its own at once.
The connection has the same surface as the remote one (memvault.db.libsql), so everything
above it is unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from memvault.db.libsql import LibSQLConnection, driver_error
from memvault.errors import DatabaseError


def connect_replica(
    endpoint: str, auth_token: str | None, path: Path, sync_seconds: float
) -> LibSQLConnection:
    """Open (creating it when missing) the replica file at `path` and sync it once."""
    try:
        import libsql_experimental
    except ImportError as exc:
        raise DatabaseError(
            f"an embedded replica needs the libsql-experimental client "
            f"(pip install 'memvault[replica]'): {exc}"
        ) from exc
    if not path.parent.is_dir():
        raise DatabaseError(f"cannot create replica {path}: folder {path.parent} does not exist")
    os.environ.setdefault("RUST_LOG", "error")  # the client logs every sync at INFO otherwise
    try:
        raw: Any = libsql_experimental.connect(
            str(path),
            sync_url=endpoint,
            auth_token=auth_token or "",
            isolation_level=None,
            sync_interval=sync_seconds,
        )
        raw.sync()
    except ValueError as exc:
        raise driver_error(exc) from exc
    return LibSQLConnection(raw)
