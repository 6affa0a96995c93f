"""Streamable HTTP: each API key sees only its user's memories; no key or a wrong key is 401."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from memvault.store import MemoryStore


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    db = tmp_path_factory.mktemp("http") / "memvault.db"
    with MemoryStore.open(db) as store:
        _, key_a = store.users.create("ada@example.com")
        _, key_b = store.users.create("bob@example.com")
    proc = subprocess.Popen(
        [sys.executable, "-m", "memvault", "-d", str(db), "mcp", "--transport", "http",
         "--port", "0", "--embeddings", "none"],
        stderr=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/mcp", line)
    assert match, line
    try:
        yield f"http://127.0.0.1:{match.group(1)}/mcp", key_a, key_b
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _calls(url: str, key: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return [await session.call_tool(name, args) for name, args in calls]


def test_each_key_sees_only_its_own_memories(server: tuple[str, str, str]) -> None:
    url, key_a, key_b = server
    (a_made,) = anyio.run(_calls, url, key_a, [("store_memory", {"content": "ada likes tea"})])
    (b_made,) = anyio.run(_calls, url, key_b, [("store_memory", {"content": "bob likes tea"})])
    a_id = a_made.structured_content["memory"]["id"]
    a_recall, b_get, b_delete, a_get = anyio.run(_calls_both, url, key_a, key_b, a_id)
    contents = [h["memory"]["content"] for h in a_recall.structured_content["memories"]]
    assert contents == ["ada likes tea"]
    assert b_get.is_error and b_delete.is_error  # Bob cannot read or delete Ada's memory
    assert not a_get.is_error  # and it is still there
    assert (
        b_made.structured_content["memory"]["userId"]
        != a_made.structured_content["memory"]["userId"]
    )


async def _calls_both(url: str, key_a: str, key_b: str, a_id: str) -> list[Any]:
    (a_recall,) = await _calls(url, key_a, [("recall_memories", {"query": "likes tea"})])
    b_get, b_delete = await _calls(
        url, key_b, [("get_memory", {"id": a_id}), ("delete_memory", {"id": a_id})]
    )
    (a_get,) = await _calls(url, key_a, [("get_memory", {"id": a_id})])
    return [a_recall, b_get, b_delete, a_get]


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic abc"])
def test_missing_or_wrong_key_is_401(server: tuple[str, str, str], header: str | None) -> None:
    url, _, _ = server
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/event-stream")
    if header:
        request.add_header("Authorization", header)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401


def test_stdio_refuses_unknown_user_and_pending_migrations(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with MemoryStore.open(db):
        pass
    run = [sys.executable, "-m", "memvault", "-d", str(db), "mcp", "--user", "nobody@x.org"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "unknown user 'nobody@x.org'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    fresh = tmp_path / "fresh.db"
    subprocess.run([sys.executable, "-m", "memvault", "-d", str(fresh), "migrate", "to", "1"],
                   capture_output=True, check=True, timeout=60)  # fmt: skip
    done = subprocess.run([*run[:4], str(fresh), *run[5:]], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 1 and "pending migration" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _rpc(url: str, key: str, body: dict[str, Any], session: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}  # fmt: skip
    if session:
        headers["Mcp-Session-Id"] = session
    response = httpx2.post(url, json=body, headers=headers, timeout=30)
    return response


def test_another_keys_session_id_does_not_carry_its_tenant(server: tuple[str, str, str]) -> None:
    """The tenant follows each request's key: Bob replaying Ada's session id acts as Bob."""
    url, key_a, key_b = server
    (made,) = anyio.run(_calls, url, key_a, [("store_memory", {"content": "ada's diary"})])
    memory_id = made.structured_content["memory"]["id"]
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}  # fmt: skip
    opened = _rpc(url, key_a, init)
    session = opened.headers.get("mcp-session-id")
    assert opened.status_code == 200 and session
    _rpc(url, key_a, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "get_memory", "arguments": {"id": memory_id}}}  # fmt: skip
    as_bob = _rpc(url, key_b, call, session)
    assert "ada's diary" not in as_bob.text
    as_ada = _rpc(url, key_a, call, session)
    assert "ada's diary" in as_ada.text  # the same call with Ada's key does read it
