"""Race writer processes on one database: every create succeeds or raises a MemvaultError.

    python scripts/writer_stress.py                     # 8 writers x 400 creates
    python scripts/writer_stress.py --writers 4 --creates 400 --json

Each writer is its own process with its own connection and user, creating memories one
transaction at a time (BEGIN IMMEDIATE). It reports acknowledged ids, MemvaultErrors by
type, and anything else (a raw sqlite3 error would land there). Afterwards every
acknowledged row is looked up. The baseline is one writer alone, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from memvault import MemoryStore
from memvault.errors import MemvaultError
from memvault.ops.measure import percentile


def writer(path: str, user_id: str, creates: int, start: Any, out: Any) -> None:
    """One process: `creates` memories, one transaction each; results to `out`."""
    acknowledged: list[int] = []
    memvault_errors: dict[str, int] = {}
    other: list[str] = []
    latencies: list[float] = []
    with MemoryStore.open(path, migrate=False) as store:
        start.wait()
        for n in range(creates):
            began = time.perf_counter()
            try:
                memory = store.memories.create(
                    user_id, title=f"m{n}", content=f"memory {n}", memory_type="preference"
                )
                acknowledged.append(memory.id)
            except MemvaultError as exc:
                memvault_errors[type(exc).__name__] = memvault_errors.get(type(exc).__name__, 0) + 1
            except Exception as exc:  # what must never happen: counted, not raised
                other.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
            latencies.append((time.perf_counter() - began) * 1000)
    out.put((user_id, acknowledged, memvault_errors, other, latencies))


def race(path: Path, writers: int, creates: int) -> dict[str, Any]:
    """Run `writers` processes at once; the figures and the check of every acknowledged row."""
    with MemoryStore.open(path) as store:
        users = [
            store.users.create(f"w{i}-{time.time_ns()}@example.com")[0].id for i in range(writers)
        ]
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(str(path), u, creates, start, out)) for u in users]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # let every process open the store before the race starts
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=600) for _ in procs]
    seconds = time.perf_counter() - began
    for proc in procs:
        proc.join()
    return _summary(path, results, writers, creates, seconds)


def _summary(
    path: Path, results: list[Any], writers: int, creates: int, seconds: float
) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    missing = 0
    for user_id, acknowledged, _, _, _ in results:
        present = {
            r[0] for r in conn.execute("SELECT id FROM memories WHERE user_id = ?", (user_id,))
        }
        missing += len(set(acknowledged) - present)
    conn.close()
    errors: dict[str, int] = {}
    for _, _, by_type, _, _ in results:
        for name, count in by_type.items():
            errors[name] = errors.get(name, 0) + count
    latencies = [ms for r in results for ms in r[4]]
    acknowledged = sum(len(r[1]) for r in results)
    return {
        "writers": writers,
        "creates_each": creates,
        "acknowledged": acknowledged,
        "memvault_errors": errors,
        "other_errors": [e for r in results for e in r[3]],
        "missing_acknowledged_rows": missing,
        "seconds": round(seconds, 3),
        "creates_per_second": round(acknowledged / seconds, 1) if seconds else None,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--no-baseline", action="store_true", help="Skip the one-writer run.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="memvault-stress-") as folder:
        if not args.no_baseline:
            report["baseline"] = race(Path(folder) / "one.db", 1, args.creates)
        report["race"] = race(Path(folder) / "race.db", args.writers, args.creates)
    if "baseline" in report and report["baseline"]["creates_per_second"]:
        report["throughput_ratio"] = round(
            report["race"]["creates_per_second"] / report["baseline"]["creates_per_second"], 2
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, figures in report.items():
            print(f"{name}: {figures}")
    race_figures = report["race"]
    ok = not race_figures["other_errors"] and not race_figures["missing_acknowledged_rows"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
