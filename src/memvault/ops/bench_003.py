"""Migration 003 as shipped against the plain json.loads conversion, on identical copies.

Each run is a fresh copy of one version-2 file, converted in a child process of its own
(so its peak RSS is its own: VmHWM, which a new process starts afresh, unlike ru_maxrss
that Linux carries across exec), the variants alternated round by round:

- `003`: `Migrator.to(3)` through memvault's runner, then close (the final checkpoint);
- `003, secure_delete kept`: the same with the runner's relaxation for 003 switched off,
  as 003 ran before it;
- `json.loads floor`: the pre-issue-11 conversion: json.loads each text, pack float32, the
  same id-ordered batches of 256 and the same UPDATE, in one transaction on a connection
  opened by memvault (same page cache, WAL, synchronous), FTS triggers narrowed as 003
  does, then close. It runs with the connection's own secure_delete, as 003 did before
  the runner relaxed it for 003 (memvault.migrations.relaxed);
- `json.loads floor, 003's IO`: the same, with the secure_delete 003 now runs with, so the
  ratio against it is the parser's share alone.

`anatomy` times the phases of one raw conversion (fetch, parse, UPDATE, COMMIT, checkpoint)
with secure_delete on and FAST: where the time of the IO goes.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from memvault.ops.measure import percentile

FLOOR_BATCH = 256  # 003's BATCH_ROWS
VARIANTS = ("003", "003, secure_delete kept", "json.loads floor", "json.loads floor, 003's IO")
KIB = 1024


# -- the parent: copies, children, figures -------------------------------------------------
def compare(v2: Path, work: Path, rounds: int) -> dict[str, Any]:
    """Every variant `rounds` times on fresh copies of `v2`, alternating who goes first."""
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for n in range(rounds):
        order = VARIANTS[n % len(VARIANTS) :] + VARIANTS[: n % len(VARIANTS)]
        for variant in order:
            samples[variant].append(run_child(variant, fresh_copy(v2, work / "run.db")))
    rows = samples["003"][0]["rows"]
    summary = {v: summarise(s, rows) for v, s in samples.items()}
    best = {v: summary[v]["best_s"] for v in VARIANTS}
    median = {v: summary[v]["median_s"] for v in VARIANTS}
    return {
        "rows": rows,
        "rounds": rounds,
        "variants": summary,
        "floor_over_003": _over(best, median, "json.loads floor", "003"),
        "kept_over_003": _over(best, median, "003, secure_delete kept", "003"),
        "floor_over_kept": _over(best, median, "json.loads floor", "003, secure_delete kept"),
        "same_io_floor_over_003": _over(best, median, "json.loads floor, 003's IO", "003"),
    }


def _over(
    best: dict[str, float], median: dict[str, float], slow: str, fast: str
) -> dict[str, float]:
    """How many times `slow` took `fast`'s time, best of N and median."""
    return {
        "best": round(best[slow] / best[fast], 2),
        "median": round(median[slow] / median[fast], 2),
    }


def summarise(samples: list[dict[str, Any]], rows: int) -> dict[str, Any]:
    seconds = [s["seconds"] for s in samples]
    best, median = min(seconds), percentile(seconds, 50)
    out: dict[str, Any] = {
        "best_s": round(best, 3),
        "median_s": round(median, 3),
        "rows_per_s_best": round(rows / best),
        "rows_per_s_median": round(rows / median),
        "peak_rss_mib": round(max(s["peak_rss_kib"] for s in samples) / KIB, 1),
        "rss_before_mib": round(max(s["rss_before_kib"] for s in samples) / KIB, 1),
    }
    if "phases" in samples[0]:
        out["phases_ms_median"] = {
            k: round(percentile([s["phases"][k] for s in samples], 50) * 1000)
            for k in samples[0]["phases"]
        }
    return out


def fresh_copy(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def child_env() -> dict[str, str]:
    """The environment of a child: bytecode cached, as an installed memvault has it (the
    migrations are compiled once, not in every timed run)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_child(variant: str, path: Path) -> dict[str, Any]:
    """Run one variant in its own process; its report plus its peak RSS (KiB)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "memvault.ops.bench_003", variant, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {variant!r} failed: {err.decode()[-400:]}")
    report: dict[str, Any] = json.loads(out)
    return report


def memory_of(variant: str, path: Path) -> tuple[int, int]:
    """Peak bytes Python allocated during one (untimed) run, by tracemalloc in a child, and
    that child's peak RSS in KiB."""
    proc = subprocess.run(
        [sys.executable, "-m", "memvault.ops.bench_003", variant, str(path), "--tracemalloc"],
        capture_output=True,
        check=True,
        env=child_env(),
    )
    report = json.loads(proc.stdout)
    return int(report["python_peak_bytes"]), int(report["peak_rss_kib"])


# -- the children ----------------------------------------------------------------------------
def child(variant: str, path: Path, trace: bool) -> dict[str, Any]:
    import numpy  # noqa: F401  imported before the clock starts, by every variant alike

    import memvault.migrations  # noqa: F401

    rows = text_embeddings(path)
    rss_before = peak_rss_kib()
    if trace:
        import tracemalloc

        tracemalloc.start()
    started = time.perf_counter()
    phases = VARIANT_FUNCS[variant](path)
    seconds = time.perf_counter() - started
    report: dict[str, Any] = {"seconds": seconds, "rows": rows}
    if phases:
        report["phases"] = phases
    if trace:
        report["python_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    report["rss_before_kib"] = rss_before
    report["peak_rss_kib"] = peak_rss_kib()
    return report


def text_embeddings(path: Path) -> int:
    """Rows 003 converts, counted before the clock starts."""
    from memvault.db import driver

    conn = driver.open_sqlite(path)
    try:
        sql = "SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM), in KiB; ru_maxrss where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run_003(path: Path, *, relaxed: bool = True) -> dict[str, Any]:
    from memvault.config import BUILTIN_MIGRATIONS
    from memvault.db import connect
    from memvault.migrations import Migrator, load_migrations
    from memvault.migrations import relaxed as relaxation

    marks: dict[str, float] = {}

    def listen(event: Any) -> None:
        if event.kind in ("step_start", "step_done"):
            marks[event.kind] = time.perf_counter()
            if event.duration_ms is not None:
                marks["body"] = event.duration_ms / 1000

    if not relaxed:
        relaxation.FAST_SECURE_DELETE.clear()
    started = time.perf_counter()
    db = connect(str(path))
    Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="bench", listener=listen).to(3)
    done = time.perf_counter()
    db.close()
    step = marks["step_done"] - marks["step_start"]
    return {
        "before_step": marks["step_start"] - started,
        "step_body": marks["body"],
        "commit_and_checkpoint": step - marks["body"],
        "after_step": done - marks["step_done"],
        "close": time.perf_counter() - done,
    }


def run_floor(path: Path, *, secure_delete: str | None = None) -> dict[str, Any]:
    """json.loads each text, pack float32, 003's batches and UPDATE, one transaction."""
    import numpy as np

    from memvault.db import connect

    db = connect(str(path))
    if secure_delete is not None and db.scalar("PRAGMA secure_delete") == 1:
        db.execute(f"PRAGMA secure_delete = {secure_delete}")  # as the runner does for 003
    with db.atomic():
        narrow_triggers(db)
        last_id = -1
        while True:
            batch = db.query(
                "SELECT id, embedding FROM memories WHERE id > ? AND typeof(embedding) = 'text' "
                "ORDER BY id LIMIT ?",
                (last_id, FLOOR_BATCH),
            )
            if not batch:
                break
            converted = [
                (np.asarray(json.loads(text), dtype=np.float32).tobytes(), memory_id)
                for memory_id, text in batch
            ]
            db.executemany("UPDATE memories SET embedding = ? WHERE id = ?", converted)
            last_id = batch[-1][0]
    db.close()
    return {}


def narrow_triggers(db: Any) -> None:
    """003's first step: the FTS update triggers stop firing on embedding UPDATEs."""
    from memvault.config import BUILTIN_MIGRATIONS
    from memvault.migrations import load_migrations

    migration = next(m for m in load_migrations(BUILTIN_MIGRATIONS) if m.version == 3)
    module = migration.up_func.__globals__
    for name in module["NARROWED_TRIGGERS"]:
        sql = db.scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
        )
        db.execute(f"DROP TRIGGER {name}")
        db.execute(module["narrowed_trigger_sql"](name, sql))


def anatomy(path: Path, secure_delete: str) -> dict[str, Any]:
    """One raw conversion (orjson, all rows in one statement), each phase timed; the
    checkpoint run by hand (wal_autocheckpoint off) so that COMMIT is the WAL write alone."""
    import numpy as np
    import orjson

    from memvault.db import driver

    conn = driver.open_sqlite(path, isolation_level=None)
    conn.execute(f"PRAGMA secure_delete = {secure_delete}")
    conn.execute("PRAGMA cache_size = -65536")  # memvault's page cache
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    marks = [time.perf_counter()]
    conn.execute("BEGIN IMMEDIATE")
    rows = conn.execute("SELECT id, embedding FROM memories WHERE typeof(embedding) = 'text'")
    fetched = rows.fetchall()
    marks.append(time.perf_counter())
    blobs = [
        (np.asarray(orjson.loads(t), np.float64).astype("<f4").tobytes(), i) for i, t in fetched
    ]
    marks.append(time.perf_counter())
    conn.executemany("UPDATE memories SET embedding = ? WHERE id = ?", blobs)
    marks.append(time.perf_counter())
    conn.execute("COMMIT")
    marks.append(time.perf_counter())
    wal_pages = Path(f"{path}-wal").stat().st_size // int(
        conn.execute("PRAGMA page_size").fetchone()[0]
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marks.append(time.perf_counter())
    conn.close()
    names = ("fetch", "parse", "update", "commit", "checkpoint")
    phases: dict[str, Any] = {n: marks[i + 1] - marks[i] for i, n in enumerate(names)}
    return {**phases, "wal_pages": wal_pages}


VARIANT_FUNCS: dict[str, Any] = {
    "003": run_003,
    "003, secure_delete kept": lambda p: run_003(p, relaxed=False),
    "json.loads floor": run_floor,
    "json.loads floor, 003's IO": lambda p: run_floor(p, secure_delete="FAST"),
    "anatomy ON": lambda p: anatomy(p, "ON"),
    "anatomy FAST": lambda p: anatomy(p, "FAST"),
}


def main(argv: list[str]) -> None:
    variant, path = argv[0], Path(argv[1])
    print(json.dumps(child(variant, path, trace="--tracemalloc" in argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
