"""Property: no sequence of tool calls by one tenant reads, changes or deletes another's rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault.embed.offline import OfflineEmbedder
from memvault.mcp.server import run_tool, tool_names
from memvault.mcp.tools import REGISTRY, Session
from memvault.store import MemoryStore

SECRET = "zebrasecret"  # a word only the other tenant's rows contain (my queries use it)
HIDDEN = "qx7hidden"  # in the other tenant's rows only: never sent by my calls


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path: Path = tmp_path_factory.mktemp("tenancy") / "m.db"
    store = MemoryStore.open(path)
    embedder = OfflineEmbedder()
    me, _ = store.users.create("me@example.com")
    other, _ = store.users.create("other@example.com")
    theirs = Session(store, embedder, other.id)
    ids: list[int] = []
    for text in (f"{SECRET} likes green tea {HIDDEN}", f"{SECRET} bank pin {HIDDEN}",
                 f"{SECRET} tea preference {HIDDEN}"):  # fmt: skip
        ids.append(int(run_tool(theirs, "store_memory", {"content": text}).structured_content[
            "memory"]["id"]))  # fmt: skip
        made = run_tool(theirs, "create_entity", {"name": f"{SECRET} {HIDDEN} {len(ids)}",
                                                  "entityType": "person"})  # fmt: skip
        ids.append(int(made.structured_content["entity"]["id"]))
    run_tool(theirs, "record_interaction", {"userPrompt": HIDDEN, "assistantResponse": HIDDEN})
    mine = Session(store, embedder, me.id)
    run_tool(mine, "store_memory", {"content": "my own tea note"})
    yield {"store": store, "mine": mine, "other": other.id, "ids": ids}
    store.close()


def snapshot(store: MemoryStore, user_id: str) -> str:
    rows = {}
    for table in ("memories", "entities", "interactions", "api_usage_tracking", "embedding_models"):
        found = store.db.query(f"SELECT * FROM {table} WHERE user_id = ? ORDER BY 1", [user_id])
        rows[table] = [[repr(v) for v in tuple(r)] for r in found]
    return json.dumps(rows)


def calls(ids: list[int]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    some_id = st.one_of(st.sampled_from(ids), st.integers(1, 30)).map(str)
    query = st.sampled_from([SECRET, "tea", f"{SECRET} tea", "bank pin", "green"])
    text = st.sampled_from(["tea", "bank pin", "green", "my note"])  # my writes hold no SECRET
    args = st.fixed_dictionaries(
        {},
        optional={
            "id": some_id, "memoryId": some_id, "entityId": some_id, "query": query,
            "content": text, "name": text, "title": text, "importance": st.sampled_from([0.1, 2]),
            "strategy": st.sampled_from(["recency", "frequency", "importance", "similarity",
                                         "composite"]),
            "entityIds": st.lists(some_id, max_size=2), "tags": st.lists(text, max_size=2),
            "userPrompt": text, "assistantResponse": text, "userId": st.just("other"),
            "user_id": st.just("other"), "threshold": st.just(0.0), "limit": st.just(100),
        },
    )  # fmt: skip
    required = {
        "id": some_id,
        "query": query,
        "content": text,
        "name": text,
        "entityType": st.just("person"),
        "userPrompt": text,
        "assistantResponse": text,
    }
    # Fill each tool's required arguments, so most calls get past validation.
    return st.tuples(st.sampled_from(tool_names()), args).flatmap(
        lambda pair: st.fixed_dictionaries(
            {k: required[k] for k in REGISTRY.tools[pair[0]].schema.get("required", [])}
        ).map(lambda filled: (pair[0], {**filled, **pair[1]}))
    )  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_one_tenant_never_reaches_another(world: dict[str, Any], data: st.DataObject) -> None:
    store, mine, other = world["store"], world["mine"], world["other"]
    before = snapshot(store, other)
    sequence = data.draw(st.lists(calls(world["ids"]), min_size=1, max_size=8))
    for name, args in sequence:
        if "userId" in args or "user_id" in args:
            args = {**args, "userId": other, "user_id": other}  # arguments never pick a tenant
        result = run_tool(mine, name, args)
        shown = json.dumps(result.structured_content or {}) + result.content[0].text
        assert HIDDEN not in shown and other not in shown, (name, args, shown[:300])
    assert snapshot(store, other) == before
