"""A real MCP client (the SDK's ClientSession over stdio) drives `memvault mcp` as a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from memvault.store import MemoryStore

EXPECTED_TOOLS = {
    "store_memory", "recall_memories", "get_memory", "update_memory", "delete_memory",
    "get_memory_stats", "update_missing_embeddings", "get_daily_costs", "list_entities",
    "get_entity", "search_entities", "create_entity", "update_entity", "delete_entity",
    "record_interaction", "list_interactions",
}  # fmt: skip


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One server for the module: every call and its result, in order."""
    db = tmp_path_factory.mktemp("mcp") / "memvault.db"
    with MemoryStore.open(db) as store:
        store.users.create("ada@example.com", name="Ada")
    return anyio.run(_session, db)


async def _session(db: Path) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memvault", "-d", str(db), "mcp", "--user", "ada@example.com"],
    )
    out: dict[str, Any] = {"calls": []}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        out["tools"] = (await session.list_tools()).tools

        async def call(name: str, args: dict[str, Any]) -> Any:
            result = await session.call_tool(name, args)
            out["calls"].append((name, args, result))
            return result

        tea = await call("store_memory", {"content": "likes green tea", "tags": ["drinks"],
                                          "importance": 0.9})  # fmt: skip
        for text in ("The car needs new tires", "Python 3.12 release notes",
                     "Meeting with Bob on Tuesday about the budget"):  # fmt: skip
            await call("store_memory", {"content": text, "type": "episodic"})
        tea_id = tea.structured_content["memory"]["id"]
        out["tea_id"] = tea_id
        for strategy in ("recency", "frequency", "importance", "similarity", "composite"):
            out[strategy] = await call(
                "recall_memories", {"query": "tea preference", "strategy": strategy}
            )
        out["get"] = await call("get_memory", {"id": tea_id})
        out["update"] = await call("update_memory", {"id": tea_id, "importance": 0.2,
                                                     "tags": ["tea"]})  # fmt: skip
        out["bad_importance"] = await call("store_memory", {"content": "x", "importance": 7})
        out["unknown_id"] = await call("get_memory", {"id": "999999"})
        out["missing_field"] = await call("store_memory", {"type": "semantic"})
        out["entity"] = await call("create_entity", {"name": "Grace Hopper",
                                                     "entityType": "person"})  # fmt: skip
        out["entity_search"] = await call("search_entities", {"query": "Grace"})
        out["stats"] = await call("get_memory_stats", {})
        out["delete"] = await call("delete_memory", {"id": tea_id})
        out["after_delete"] = await call("get_memory", {"id": tea_id})
        out["costs"] = await call("get_daily_costs", {})
    return out


def test_lists_every_tool_with_hints(transcript: dict[str, Any]) -> None:
    tools = {t.name: t for t in transcript["tools"]}
    assert set(tools) == EXPECTED_TOOLS
    assert tools["recall_memories"].annotations.read_only_hint is True
    assert tools["delete_memory"].annotations.destructive_hint is True
    schema = tools["store_memory"].input_schema
    assert schema["required"] == ["content"]
    assert schema["properties"]["importance"]["default"] == 0.5


def test_store_recall_get_update_delete(transcript: dict[str, Any]) -> None:
    tea_id = transcript["tea_id"]
    for strategy in ("recency", "frequency", "importance", "similarity", "composite"):
        result = transcript[strategy]
        assert not result.is_error, (strategy, result.content)
        found = [h["memory"]["id"] for h in result.structured_content["memories"]]
        assert found, strategy
        assert found[0] == tea_id, (strategy, found)
    assert transcript["get"].structured_content["memory"]["content"] == "likes green tea"
    updated = transcript["update"].structured_content["memory"]
    assert updated["importance"] == 0.2 and updated["tags"] == ["tea"]
    assert not transcript["delete"].is_error
    assert transcript["after_delete"].is_error


def test_bad_arguments_are_one_line_errors_and_the_server_goes_on(
    transcript: dict[str, Any],
) -> None:
    for key, needle in (("bad_importance", "importance"), ("unknown_id", "999999"),
                        ("missing_field", "content is required")):  # fmt: skip
        result = transcript[key]
        assert result.is_error, key
        text = result.content[0].text
        assert "\n" not in text and needle in text, text
    # Calls after the errors were answered: the server kept working.
    assert not transcript["entity"].is_error and not transcript["stats"].is_error


def test_entities_and_stats(transcript: dict[str, Any]) -> None:
    entity_id = transcript["entity"].structured_content["entity"]["id"]
    hits = transcript["entity_search"].structured_content["entities"]
    assert [h["entity"]["id"] for h in hits] == [entity_id]
    stats = transcript["stats"].structured_content
    assert stats["totalMemories"] == 4 and stats["totalEntities"] == 1
    assert stats["memoriesWithEmbeddings"] == 4
    assert stats["embeddingModel"]["model"] == "wordllama-l2-supercat-256"
    assert transcript["costs"].structured_content["total"]["requests"] == 0
