"""The two transports: stdio for one user, streamable HTTP where each request's API key
selects the user (401 before any tool runs when it is missing or wrong)."""

from __future__ import annotations

import hmac
import json
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from memvault.embed.providers import Embedder
from memvault.errors import MemvaultError
from memvault.mcp.server import build_server
from memvault.store import MemoryStore
from memvault.store.users import hash_api_key

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
USER_STATE = "memvault_user_id"


def serve_stdio(store: MemoryStore, embedder: Embedder | None, user_id: str) -> None:
    """Serve one user over stdin/stdout until the client closes them."""
    from mcp.server.stdio import stdio_server

    server = build_server(store, embedder, lambda ctx: user_id)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


class BearerAuth:
    """ASGI middleware: `Authorization: Bearer <api key>` must be an active user's key.

    The key is hashed (SHA-256, as stored) before the lookup, so the lookup's timing says
    nothing about the key; the stored hash is then compared in constant time.
    """

    def __init__(self, app: ASGIApp, store: MemoryStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user_id = self.user_for(_bearer(scope))
        if user_id is None:
            await _unauthorized(send)
            return
        scope.setdefault("state", {})[USER_STATE] = user_id
        await self.app(scope, receive, send)

    def user_for(self, key: str | None) -> str | None:
        if not key:
            return None
        user = self.store.users.get_by_api_key(key)
        if user is None or user.api_key_hash is None:
            return None
        if not hmac.compare_digest(user.api_key_hash.encode(), hash_api_key(key).encode()):
            return None
        return user.id


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def _unauthorized(send: Any) -> None:
    body = json.dumps({"error": "missing or invalid API key (Authorization: Bearer <key>)"})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="memvault"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def http_tenant(ctx: Any) -> str:
    """The user the HTTP request carrying this call authenticated as."""
    request = getattr(ctx, "request", None)
    user_id = getattr(getattr(request, "state", None), USER_STATE, None)
    if not isinstance(user_id, str):
        raise MemvaultError("no authenticated user on this request")
    return user_id


def http_app(store: MemoryStore, embedder: Embedder | None, host: str) -> ASGIApp:
    """The streamable HTTP app (endpoint /mcp) behind the API-key check."""
    server = build_server(store, embedder, http_tenant)
    app = server.streamable_http_app(streamable_http_path="/mcp", host=host)
    return BearerAuth(app, store)


def serve_http(store: MemoryStore, embedder: Embedder | None, host: str, port: int) -> None:
    """Serve streamable HTTP on host:port (0: any free port) until interrupted."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise MemvaultError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    print(f"memvault mcp: serving http://{host}:{bound}/mcp", file=sys.stderr, flush=True)
    config = uvicorn.Config(http_app(store, embedder, host), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
