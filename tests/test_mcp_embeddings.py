"""Embedding providers: offline paraphrase recall, the OpenAI-compatible client against a fake
API on 127.0.0.1 (usage rows as the service wrote them), one model per user, and a back-fill
that resumes after a kill."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from memvault.cli import cli
from memvault.embed.backfill import ModelMismatchError, backfill, usable_model
from memvault.embed.offline import OfflineEmbedder
from memvault.embed.openai import OpenAIEmbedder
from memvault.embed.providers import EmbeddingError, EmbedSettings
from memvault.mcp.runtime import usage_recorder
from memvault.mcp.server import run_tool
from memvault.mcp.tools import Session
from memvault.store import MemoryStore

DIM = 8


class FakeAPI:
    """Stands in for the embeddings API only: deterministic vectors, usage, failures, delay."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.delay = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                     "body": body})  # fmt: skip
                if api.fail_next:
                    api.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                time.sleep(api.delay)
                data = [{"index": i, "embedding": _vector(t)} for i, t in enumerate(body["input"])]
                tokens = sum(len(t.split()) for t in body["input"])
                answer = {"data": data, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(BrokenPipeError):  # a client killed mid-request
                    super().handle()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _vector(text: str) -> list[float]:
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    return rng.standard_normal(DIM).round(4).tolist()


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    fake = FakeAPI()
    yield fake
    fake.server.shutdown()


def _settings(api: FakeAPI, **extra: Any) -> EmbedSettings:
    return EmbedSettings(provider="openai", openai_base_url=api.url, openai_api_key="sk-test",
                         openai_model="fake-embed", openai_dimension=DIM, **extra)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with MemoryStore.open(tmp_path / "m.db") as opened:
        yield opened


def test_offline_similarity_finds_the_paraphrase_first(store: MemoryStore) -> None:
    user, _ = store.users.create("ada@example.com")
    session = Session(store, OfflineEmbedder(), user.id)
    for text in ("The car needs new tires", "Meeting with Bob on Tuesday about the budget",
                 "likes green tea", "Python 3.12 release notes", "favorite football team is "
                 "Arsenal", "enjoys hiking in the alps"):  # fmt: skip
        assert not run_tool(session, "store_memory", {"content": text}).is_error
    result = run_tool(session, "recall_memories", {"query": "tea preference",
                                                   "strategy": "similarity"})  # fmt: skip
    found = [h["memory"]["content"] for h in result.structured_content["memories"]]
    assert found[0] == "likes green tea", found


def test_openai_batches_retries_and_records_usage_as_the_service(
    store: MemoryStore, api: FakeAPI
) -> None:
    user, _ = store.users.create("ada@example.com")
    embedder = OpenAIEmbedder(_settings(api, batch_size=2), usage_recorder(store))
    api.fail_next = 1  # the first request gets 503 and is retried
    before = int(datetime.now(UTC).timestamp() * 1000)
    vectors = embedder.embed(["one two", "three", "four five six"], user.id)
    assert vectors.shape == (3, DIM)
    assert np.allclose(vectors[2], _vector("four five six"), atol=1e-6)
    assert [len(r["body"]["input"]) for r in api.requests] == [2, 2, 1]
    assert api.requests[0]["path"] == "/v1/embeddings"
    assert api.requests[0]["auth"] == "Bearer sk-test"
    rows = store.db.query("SELECT * FROM api_usage_tracking ORDER BY timestamp")
    assert len(rows) == 2  # one per successful request
    assert {r["api_provider"] for r in rows} == {"openai"}
    assert {r["operation_type"] for r in rows} == {"embedding"}
    assert sorted(r["tokens_used"] for r in rows) == [3, 3]
    assert all(r["cost_usd"] == pytest.approx(3 / 1e6 * 0.02) for r in rows)
    assert all(before <= r["timestamp"] <= before + 60_000 for r in rows)  # milliseconds
    assert {r["date"] for r in rows} == {datetime.now(UTC).date().isoformat()}
    assert json.loads(rows[0]["metadata"])["batchSize"] == 2
    costs = run_tool(Session(store, None, user.id), "get_daily_costs", {})
    assert costs.structured_content["openai"]["requests"] == 2
    shown = CliRunner().invoke(cli, ["-d", str(store.db.url.path), "db", "stats", "--no-record",
                                     "--json"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    (cost,) = json.loads(shown.output)["api_costs"]
    assert (cost["model"], cost["requests"], cost["tokens_used"]) == ("fake-embed", 2, 6)


def test_openai_gives_up_with_one_line(api: FakeAPI) -> None:
    api.fail_next = 10
    embedder = OpenAIEmbedder(_settings(api, retries=1))
    with pytest.raises(EmbeddingError, match="HTTP 503"):
        embedder.embed(["x"], "u")


def test_vectors_of_two_models_never_mix(store: MemoryStore, api: FakeAPI) -> None:
    user, _ = store.users.create("ada@example.com")
    offline = Session(store, OfflineEmbedder(), user.id)
    run_tool(offline, "store_memory", {"content": "likes green tea"})
    other = OpenAIEmbedder(_settings(api), usage_recorder(store))
    with pytest.raises(ModelMismatchError, match="memory embed --all"):
        usable_model(store, user.id, other)
    recall = run_tool(Session(store, other, user.id), "recall_memories", {"query": "tea"})
    assert recall.is_error and "wordllama" in recall.content[0].text
    done = backfill(store, other, user.id, everything=True)
    assert done.updated == 1 and done.model.model == "fake-embed"
    assert store.vectors.model(user.id) == done.model
    assert len(store.memories.list(user.id)[0].embedding or []) == DIM


def test_embed_resumes_after_a_kill(tmp_path: Path, api: FakeAPI) -> None:
    db = tmp_path / "m.db"
    with MemoryStore.open(db) as store:
        user, _ = store.users.create("ada@example.com")
        store.memories.create_many(user.id, [
            {"title": f"m{i}", "content": f"memory number {i}", "memory_type": "semantic"}
            for i in range(640)
        ])  # fmt: skip
    api.delay = 0.3
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": api.url,
        "MEMVAULT_OPENAI_MODEL": "fake-embed",
        "MEMVAULT_OPENAI_DIMENSION": str(DIM),
    }
    command = [sys.executable, "-m", "memvault", "-d", str(db), "memory", "embed", "--missing",
               "--embeddings", "openai"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while len(api.requests) < 4:  # kill it in the middle of the run
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with MemoryStore.open(db) as store:
        done_before = store.vectors.counts(user.id).embedded
    assert 0 < done_before < 640
    sent_before = len(api.requests)
    api.delay = 0.0
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    with MemoryStore.open(db) as store:
        counts = store.vectors.counts(user.id)
        assert counts.embedded == 640
    resent = sum(len(r["body"]["input"]) for r in api.requests[sent_before:])
    assert resent == 640 - done_before  # only what was missing was sent again
