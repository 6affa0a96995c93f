"""Benchmark (prints figures; not a test): recall round trips and time to the first tools/list.

    python -m memvault.mcp.bench [--memories 10000] [--calls 200] [--starts 5]

1. In-process: the SDK's ClientSession talks to the server over in-memory streams (the whole
   MCP path: JSON-RPC, argument validation, the store, result building); p50/p95 of
   recall_memories per strategy over N memories of one user (offline 256-d vectors), and,
   as the baseline measured in the same run, the store call alone (search or similar).
2. Start-up: wall time from spawning `memvault mcp` (stdio) to the answer of the first
   tools/list, median of --starts runs, and `memvault migrate status` start-up as baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from memvault.embed.offline import OfflineEmbedder
from memvault.store import MemoryStore

WORDS = [
    "tea",
    "coffee",
    "budget",
    "meeting",
    "car",
    "tires",
    "python",
    "release",
    "garden",
    "hiking",
    "music",
    "piano",
    "train",
    "travel",
    "paris",
    "invoice",
    "doctor",
    "dentist",
    "birthday",
    "gift",
    "football",
    "recipe",
    "pasta",
    "bread",
    "running",
    "marathon",
    "book",
    "novel",
    "movie",
    "series",
    "cat",
    "dog",
    "vet",
    "school",
    "lesson",
]
STRATEGIES = ("composite", "similarity", "recency", "importance", "frequency")


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def seed(path: Path, count: int) -> str:
    """A database with one user holding `count` memories with offline vectors."""
    rng = np.random.default_rng(7)
    embedder = OfflineEmbedder()
    with MemoryStore.open(path) as store:
        user, _ = store.users.create("bench@example.com")
        texts = [" ".join(rng.choice(WORDS, size=8)) for _ in range(count)]
        vectors = embedder.embed(texts, user.id)
        items = [
            {"title": t.split()[0], "content": t, "memory_type": "semantic",
             "importance": float(rng.random()), "embedding": v.tolist()}
            for t, v in zip(texts, vectors, strict=True)
        ]  # fmt: skip
        store.memories.create_many(user.id, items)
        from memvault.embed.backfill import model_of

        store.vectors.set_model(user.id, model_of(embedder))
        return user.id


async def round_trips(path: Path, user_id: str, calls: int) -> dict[str, list[float]]:
    from mcp import ClientSession
    from mcp.shared.memory import create_client_server_memory_streams

    from memvault.mcp.server import build_server

    store = MemoryStore.open(path, migrate=False)
    server = build_server(store, OfflineEmbedder(), lambda ctx: user_id)
    times: dict[str, list[float]] = {}
    async with (
        create_client_server_memory_streams() as (client_streams, server_streams),
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: server.run(*server_streams, server.create_initialization_options()))
        async with ClientSession(*client_streams) as session:
            await session.initialize()
            for strategy in STRATEGIES:
                args = {"query": "tea budget meeting", "strategy": strategy, "limit": 10}
                await session.call_tool("recall_memories", args)  # warm the vector cache
                samples = []
                for _ in range(calls):
                    started = time.perf_counter()
                    result = await session.call_tool("recall_memories", args)
                    samples.append(time.perf_counter() - started)
                    assert not result.is_error, result.content
                times[strategy] = samples
        tg.cancel_scope.cancel()
    times |= baseline(store, user_id, calls)
    store.close()
    return times


def baseline(store: MemoryStore, user_id: str, calls: int) -> dict[str, list[float]]:
    """The store calls alone, no MCP: the floor a tool round trip stands on."""
    vector = OfflineEmbedder().embed(["tea budget meeting"], user_id)[0]
    runs: dict[str, Callable[[], Any]] = {
        "store.search (baseline)": lambda: store.memories.search(user_id, "tea budget meeting", 50),
        "store.similar (baseline)": lambda: store.memories.similar(user_id, vector, 50),
    }
    out: dict[str, list[float]] = {}
    for name, run in runs.items():
        run()
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            run()
            samples.append(time.perf_counter() - started)
        out[name] = samples
    return out


def start_to_tools_list(path: Path, starts: int) -> tuple[list[float], list[float]]:
    """Seconds from spawning `memvault mcp` to the first tools/list answer; and the
    start-up of `memvault migrate status` for comparison."""
    import json

    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
    ]  # fmt: skip
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    base = [sys.executable, "-m", "memvault", "-d", str(path)]
    mcp_times, status_times = [], []
    for _ in range(starts):
        started = time.perf_counter()
        proc = subprocess.Popen([*base, "mcp", "-u", "bench@example.com"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(payload)
        proc.stdin.flush()
        for line in proc.stdout:
            if '"id":2' in line.replace(" ", "") and '"tools"' in line:
                break
        mcp_times.append(time.perf_counter() - started)
        proc.stdin.close()
        proc.wait(timeout=30)
        started = time.perf_counter()
        subprocess.run([*base, "migrate", "status"], capture_output=True, check=True)
        status_times.append(time.perf_counter() - started)
    return mcp_times, status_times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        user_id = seed(path, opts.memories)
        print(f"seeded {opts.memories} memories in {time.perf_counter() - started:.1f} s")
        times = anyio.run(round_trips, path, user_id, opts.calls)
        print(f"\nrecall_memories round trip, in-process, {opts.memories} memories, "
              f"{opts.calls} calls each (ms):")  # fmt: skip
        print(f"  {'':28} {'p50':>8} {'p95':>8}")
        for name, samples in times.items():
            ms = [s * 1000 for s in samples]
            print(f"  {name:28} {percentile(ms, 50):8.2f} {percentile(ms, 95):8.2f}")
        mcp_times, status_times = start_to_tools_list(path, opts.starts)
        mcp_med, status_med = statistics.median(mcp_times), statistics.median(status_times)
        print(f"\nmemvault mcp start -> first tools/list answer: median {mcp_med:.2f} s "
              f"(min {min(mcp_times):.2f}, max {max(mcp_times):.2f}, {opts.starts} runs; "
              f"goal <= 1.5 s)")  # fmt: skip
        print(f"memvault migrate status (baseline):            median {status_med:.2f} s "
              f"(ratio {mcp_med / status_med:.1f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
