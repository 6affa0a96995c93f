"""libSQL server locations: `libsql://HOST` (TLS, as Turso gives it), `https://…`, `http://…`.

`libsql://` means TLS (`https://`), as in Turso's own clients; `libsql://HOST?tls=0` is
plain HTTP (a local sqld). An auth token comes, first to last, from the URL's `authToken`
parameter, the caller (`--auth-token`), `MEMVAULT_AUTH_TOKEN`, or Turso's
`TURSO_AUTH_TOKEN`; it is never part of what memvault shows (`display`).

`replica=PATH` asks for an embedded replica: a local file kept in sync with the server
(every `sync=SECONDS`, default 5), reads served from it, writes sent to the server
(memvault.db.replica).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from memvault.errors import ConfigError

REMOTE_SCHEMES = ("libsql", "http", "https")
ENV_AUTH_TOKEN = "MEMVAULT_AUTH_TOKEN"
ENV_TURSO_TOKEN = "TURSO_AUTH_TOKEN"
ENV_TURSO_URL = "TURSO_DATABASE_URL"
DEFAULT_SYNC_S = 5.0


@dataclass(frozen=True)
class RemoteLocation:
    """Where a libSQL server is: the HTTP(S) endpoint, what to show, and the token."""

    endpoint: str  # http(s)://host[:port][/path], what the client connects to
    display: str  # the location as given, without its token
    auth_token: str | None = field(default=None, repr=False)
    replica: Path | None = None  # an embedded replica's local file
    sync_seconds: float = DEFAULT_SYNC_S

    def with_token(self, token: str | None) -> RemoteLocation:
        """This location with `token` unless the URL already carried one."""
        if self.auth_token or not token:
            return self
        return RemoteLocation(self.endpoint, self.display, token, self.replica, self.sync_seconds)


def parse_remote(location: str) -> RemoteLocation:
    """A RemoteLocation for a libsql://, https:// or http:// URL; ConfigError naming the
    culprit for anything else about it (no host, an unknown parameter)."""
    parts = urlsplit(location.strip())
    scheme = parts.scheme.lower()
    if scheme not in REMOTE_SCHEMES:
        raise ConfigError(f"database URL {location!r}: not a libSQL URL")
    if not parts.hostname:
        raise ConfigError(f"database URL {location!r}: no host after {scheme}://")
    token: str | None = None
    replica: Path | None = None
    sync = DEFAULT_SYNC_S
    tls = scheme != "http"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ("authToken", "auth_token"):
            token = value or None
        elif key == "replica" and value:
            replica = Path(value)
        elif key == "sync" and _seconds(value) is not None:
            sync = _seconds(value) or DEFAULT_SYNC_S
        elif key == "tls" and scheme == "libsql" and value in ("0", "1"):
            tls = value == "1"
        else:
            raise ConfigError(
                f"database URL {_hide(location)!r}: parameter {key!r} is not supported "
                "(supported: authToken, replica=PATH, sync=SECONDS, and tls=0|1 for libsql://)"
            )
    netloc = parts.netloc.rpartition("@")[2]
    endpoint = urlunsplit(("https" if tls else "http", netloc, parts.path.rstrip("/"), "", ""))
    shown = urlunsplit((scheme, netloc, parts.path, "", ""))
    if replica is not None:
        shown += f" (replica {replica})"
    return RemoteLocation(endpoint, shown, token, replica, sync)


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def resolve_token(remote: RemoteLocation, given: str | None = None) -> RemoteLocation:
    """Fill in the auth token: the URL's, else `given`, else MEMVAULT_AUTH_TOKEN, else
    TURSO_AUTH_TOKEN (an empty value counts as unset)."""
    for token in (given, os.environ.get(ENV_AUTH_TOKEN), os.environ.get(ENV_TURSO_TOKEN)):
        remote = remote.with_token(token)
    return remote


def _hide(location: str) -> str:
    """`location` with any token value replaced by `***`, for error messages."""
    parts = urlsplit(location)
    pairs = [
        f"{k}=***" if k in ("authToken", "auth_token") else f"{k}={v}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(pairs), ""))
