"""`memvault mcp` on a libSQL server, driven by the MCP SDK's own client over stdio: the
service's deployment (Turso) with memvault's server, directly and through an embedded replica."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the [mcp] extra is not installed")

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

from memvault.db import connect  # noqa: E402
from memvault.store import MemoryStore  # noqa: E402


async def _session(location: str) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memvault", "-d", location, "mcp", "--user", "ada@example.com",
              "--embeddings", "none"],
    )  # fmt: skip
    out: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        out["tools"] = {t.name for t in (await session.list_tools()).tools}
        out["stored"] = await session.call_tool(
            "store_memory", {"content": "likes green tea in the morning", "tags": ["drinks"]}
        )
        out["recall"] = await session.call_tool(
            "recall_memories", {"query": "green tea", "strategy": "recency"}
        )
        out["stats"] = await session.call_tool("get_memory_stats", {})
    return out


@pytest.mark.parametrize("through", ["server", "replica"])
def test_mcp_tools_on_a_libsql_server(libsql_url: str, tmp_path: Path, through: str) -> None:
    if through == "replica":
        pytest.importorskip("libsql_experimental", reason="needs libsql-experimental")
    with MemoryStore.open(libsql_url) as store:  # migrate on the server, as a deploy step does
        store.users.create("ada@example.com", name="Ada")
    location = libsql_url
    if through == "replica":
        location = f"{libsql_url}?replica={tmp_path / 'replica.db'}&sync=0.5"
    out = anyio.run(_session, location)
    assert {"store_memory", "recall_memories", "get_memory_stats"} <= out["tools"]
    assert not out["stored"].is_error, out["stored"].content
    memory_id = out["stored"].structured_content["memory"]["id"]
    assert not out["recall"].is_error, out["recall"].content
    found = [h["memory"]["id"] for h in out["recall"].structured_content["memories"]]
    assert found == [memory_id]
    with connect(libsql_url, create=False) as db:  # the write is on the server itself
        assert db.scalar("SELECT content FROM memories") == "likes green tea in the morning"
