"""`memvault mcp`: serve the store to AI assistants (stdio for one user, or streamable HTTP)."""

from __future__ import annotations

from typing import Any

import click

from memvault.cli.app import AppContext, cli, lock_timeout_option
from memvault.errors import ConfigError

ENV_USER = "MEMVAULT_USER"
SDK_MISSING = "memvault mcp needs the MCP SDK and wordllama: pip install 'memvault[mcp]'"


def embeddings_option(func: Any) -> Any:
    """--embeddings offline|openai|none (env MEMVAULT_EMBEDDINGS)."""
    return click.option(
        "--embeddings",
        "provider",
        type=click.Choice(["offline", "openai", "none"]),
        envvar="MEMVAULT_EMBEDDINGS",
        default="offline",
        show_default=True,
        help="Embedding provider: offline (wordllama, no network), openai (OPENAI_API_KEY, "
        "OPENAI_BASE_URL, MEMVAULT_OPENAI_MODEL) or none (text search only).",
    )(func)


@cli.command("mcp")
@click.option(
    "--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="HTTP: port (0 picks a free one).")  # fmt: skip
@click.option(
    "-u",
    "--user",
    "user",
    envvar=ENV_USER,
    default=None,
    help=f"stdio: the user (id or email) the server acts for (env {ENV_USER}).",
)
@click.option("--migrate", is_flag=True, help="Apply pending migrations first (else refuse).")
@embeddings_option
@lock_timeout_option
@click.pass_obj
def mcp_command(
    app: AppContext,
    transport: str,
    host: str,
    port: int,
    user: str | None,
    migrate: bool,
    provider: str,
    lock_timeout: float,
) -> None:
    """Serve the memory store over the Model Context Protocol (see docs/mcp.md)."""
    if transport == "stdio" and not user:
        raise click.UsageError(f"stdio serves one user: give --user ID|EMAIL or set {ENV_USER}")
    if transport == "http" and user:
        raise click.UsageError(
            "--user is for stdio; over HTTP each request's API key selects the user"
        )
    try:
        from memvault.mcp import transport as transports
    except ImportError as exc:
        raise ConfigError(f"{SDK_MISSING} ({exc.name} is missing)") from None
    from memvault.embed import EmbedSettings, make_embedder
    from memvault.mcp.runtime import open_runtime, resolve_user, usage_recorder

    with open_runtime(app.settings, migrate=migrate, lock_timeout=lock_timeout) as store:
        embedder = make_embedder(EmbedSettings.from_env(provider), usage_recorder(store))
        if transport == "stdio":
            assert user is not None
            transports.serve_stdio(store, embedder, resolve_user(store, user))
        else:
            transports.serve_http(store, embedder, host, port)
