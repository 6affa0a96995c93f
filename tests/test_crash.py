"""Crash tests: SIGKILL a long migration at random moments; nothing is ever torn.

A heavy migration (tests/fixtures/crash_migration/003_*: adds a column, backfills 400k
rows, builds an index, rewrites every row) runs in a subprocess that is killed with
SIGKILL at random moments. After every kill the database must pass integrity_check and be
exactly "before" (nothing of the migration, not recorded) or exactly "after" (all of it,
recorded). The next run of the same command starts from that crashed state (a hot WAL, a
dead runner's lock) and completes it, unless it is killed in turn; every chain ends with a
run that completes, reaching exactly the reference end state, and verify passes. The same
for `down`.

Kill moments (seeded; the seed is printed, override with MEMVAULT_CRASH_SEED):
  - "anytime": a random delay after the process starts (startup, lock, the migration);
  - "during": a random delay after the step starts, up to a little past its measured end;
  - "after-commit": just after the step reported success, while the process still runs
    (the lock release and the report are left to do).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import memvault.cli
from conftest import copy_fixture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]  # 26 kills each way take minutes

FIXTURE = Path()  # the migrations folder, assembled once per module (see _crash_migrations)
SRC = Path(memvault.cli.__file__).resolve().parents[2]
SEED = int(os.environ.get("MEMVAULT_CRASH_SEED", "20261125"))
KILLS = int(os.environ.get("MEMVAULT_CRASH_KILLS", "26"))  # the issue asks for at least 25
VERSION = 3
LABEL = "003_token_index_backfill"
ENGINE_TABLES = ("schema_migrations", "schema_migrations_history", "schema_migrations_lock")

Fingerprint = dict[str, Any]


@pytest.fixture(scope="module", autouse=True)
def _crash_migrations(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Built-in 001 and 002 plus the heavy 003 of tests/fixtures/crash_migration."""
    global FIXTURE
    FIXTURE = copy_fixture("crash_migration", tmp_path_factory.mktemp("crash-migrations"))


# -- running memvault in a subprocess ---------------------------------------------------


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "MEMVAULT_APPLIED_BY": "crash-test"}


def _argv(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "memvault", "-d", str(db), "--migrations", str(FIXTURE), *args]


def memvault(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(db, *args), capture_output=True, text=True, env=_env(), timeout=300)


@dataclass
class Runner:
    """A `memvault` subprocess whose stderr is watched for the step's start and end."""

    proc: subprocess.Popen[str]
    started_at: float
    step_started: threading.Event = field(default_factory=threading.Event)
    step_done: threading.Event = field(default_factory=threading.Event)
    lines: list[str] = field(default_factory=list)
    step_started_at: float = 0.0
    step_done_at: float = 0.0

    @classmethod
    def start(cls, db: Path, *args: str) -> Runner:
        proc = subprocess.Popen(
            _argv(db, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=_env(),
        )  # fmt: skip
        runner = cls(proc, time.monotonic())
        threading.Thread(target=runner._watch, daemon=True).start()
        return runner

    def _watch(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if re.match(rf"(Applying|Rolling back) {LABEL}\b", line):
                self.step_started_at = time.monotonic()
                self.step_started.set()
            elif re.match(rf"\s*(applied|rolled back) {LABEL} in \d+ ms", line):
                self.step_done_at = time.monotonic()
                self.step_done.set()

    def kill(self) -> bool:
        """SIGKILL the process; True if it was still running (a real kill)."""
        if self.proc.poll() is not None:
            return False
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait() == -signal.SIGKILL

    def finish(self) -> int:
        return self.proc.wait(timeout=300)


# -- looking at a database ---------------------------------------------------------------


def integrity_ok(path: Path) -> str:
    conn = sqlite3.connect(path)  # opening recovers a hot journal or WAL left by the kill
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def fingerprint(path: Path) -> Fingerprint:
    """Schema objects, every table's rows (count + sha256), and the ledger's word on 003."""
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'schema_migrations%' ORDER BY name"
        ).fetchall()
        tables = [
            name for kind, name, _, sql in objects if kind == "table" and "VIRTUAL" not in sql
        ]
        ledger = conn.execute(
            "SELECT version, name, status, checksum FROM schema_migrations WHERE version = ?",
            (VERSION,),
        ).fetchone()
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM schema_migrations_history WHERE version = ? ORDER BY id",
                (VERSION,),
            )
        ]
        return {
            "schema": objects,
            "rows": {t: _table_digest(conn, t) for t in tables},
            "ledger": ledger,
            "history": actions,
        }
    finally:
        conn.close()


def _table_digest(conn: sqlite3.Connection, table: str) -> tuple[int, str]:
    ncols = len(conn.execute(f'PRAGMA table_info("{table}")').fetchall())
    order = ", ".join(str(i) for i in range(1, ncols + 1))
    digest = hashlib.sha256()
    count = 0
    for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
        digest.update(repr(row).encode())
        count += 1
    return count, digest.hexdigest()


def copy_db(src: Path, dst: Path) -> Path:
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    if Path(str(src) + "-wal").exists():
        shutil.copyfile(str(src) + "-wal", str(dst) + "-wal")
    return dst


# -- the reference runs -----------------------------------------------------------------


@dataclass
class Reference:
    before: Path  # at 002, with memories to rewrite
    after: Path  # 003 applied
    rolled_back: Path  # 003 applied, then rolled back
    fp_before: Fingerprint
    fp_after: Fingerprint
    fp_rolled_back: Fingerprint
    up_startup_s: float  # process start -> step start
    up_s: float  # the migration itself (step start -> step done), as measured here
    down_startup_s: float
    down_s: float


def _timed(db: Path, *args: str) -> tuple[float, float]:
    runner = Runner.start(db, *args)
    code = runner.finish()
    time.sleep(0.05)  # let the watcher read the last lines
    assert code == 0, "".join(runner.lines)
    assert runner.step_started.is_set() and runner.step_done.is_set(), "".join(runner.lines)
    return (
        runner.step_started_at - runner.started_at,
        runner.step_done_at - runner.step_started_at,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("crash-reference")
    before = folder / "before.db"
    assert memvault(before, "migrate", "up", "--to", "2").returncode == 0
    conn = sqlite3.connect(before)
    conn.execute(
        "INSERT INTO users (id, email, created_at, updated_at) "
        "VALUES ('u1', 'u1@example.com', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')"
    )
    conn.executemany(
        "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
        "VALUES ('u1', ?, ?, 'fact', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')",
        [(f"memory {i}", f"content of memory {i}, naïve café 東京") for i in range(2000)],
    )
    conn.commit()
    conn.close()
    after = copy_db(before, folder / "after.db")
    up_startup, up_s = _timed(after, "migrate", "up")
    rolled_back = copy_db(after, folder / "rolled_back.db")
    down_startup, down_s = _timed(rolled_back, "migrate", "down")
    return Reference(
        before, after, rolled_back,
        fingerprint(before), fingerprint(after), fingerprint(rolled_back),
        up_startup, up_s, down_startup, down_s,
    )  # fmt: skip


def test_reference_states_differ_as_expected(reference: Reference) -> None:
    """The three reference states are told apart by the fingerprint, and down undoes up."""
    fb, fa, fr = reference.fp_before, reference.fp_after, reference.fp_rolled_back
    assert fb["ledger"] is None and fb["history"] == []
    assert fa["ledger"][2] == "applied" and fa["history"] == ["apply"]
    assert fr["ledger"][2] == "rolled_back" and fr["history"] == ["apply", "rollback"]
    assert fa["rows"]["memory_tokens"][0] == 400_000
    assert fb["schema"] == fr["schema"]  # the rollback restores the schema exactly
    for table in ("users", "memories", "entities", "interactions", "api_usage_tracking"):
        assert fb["rows"][table] == fr["rows"][table]


# -- the crash loop -------------------------------------------------------------------


@dataclass
class Tally:
    kills: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_mode: Counter[tuple[str, str]] = field(default_factory=Counter)
    not_killed: int = 0
    completions: int = 0
    stale_locks_broken: int = 0


def _kill_moments(rng: random.Random, n: int) -> Iterator[tuple[str, float]]:
    """(mode, delay) pairs: mostly during the step, some anytime, the last few after commit."""
    for i in range(n):
        if i >= n - 3:
            yield "after-commit", rng.uniform(0.0, 0.005)
        elif rng.random() < 0.2:
            yield "anytime", rng.random()
        else:
            yield "during", rng.random()


def _run_and_kill(db: Path, args: tuple[str, ...], mode: str, fraction: float,
                  startup_s: float, step_s: float) -> tuple[Runner, bool]:  # fmt: skip
    """Start `memvault ARGS`, SIGKILL it at the chosen moment; (runner, really killed)."""
    runner = Runner.start(db, *args)
    if mode == "anytime":
        time.sleep(fraction * (startup_s + step_s))
    elif mode == "during":
        assert runner.step_started.wait(60), "".join(runner.lines)
        time.sleep(fraction * step_s * 1.05)
    else:
        assert runner.step_done.wait(60), "".join(runner.lines)
        time.sleep(fraction)
    killed = runner.kill()
    runner.finish()
    time.sleep(0.02)  # let the watcher read the last lines
    return runner, killed


def _crash_loop(
    reference: Reference, workdir: Path, *, direction: str, capsys: pytest.CaptureFixture[str]
) -> Tally:
    """Kill runs of the command again and again; each run starts where the last kill left.

    After every kill the database must be exactly the start or the end state. From a start
    state the next run of the command (recovering the hot WAL, breaking the dead runner's
    lock) must complete it unless it is killed in turn; a run that finishes must reach
    exactly the end state; from an end state the completing command has nothing to do.
    """
    if direction == "up":
        start, fp_start, fp_end = reference.before, reference.fp_before, reference.fp_after
        command, complete = ("migrate", "up"), ("migrate", "up")
        startup_s, step_s = reference.up_startup_s, reference.up_s
    else:
        start, fp_start, fp_end = reference.after, reference.fp_after, reference.fp_rolled_back
        command, complete = ("migrate", "down"), ("migrate", "to", "2")
        startup_s, step_s = reference.down_startup_s, reference.down_s
    rng = random.Random(f"{SEED}-{direction}")
    tally = Tally()
    db = copy_db(start, workdir / f"crash-{direction}.db")
    pending = list(_kill_moments(rng, KILLS))
    attempts = 0
    while pending:
        mode, fraction = pending.pop(0)
        attempts += 1
        assert attempts <= 3 * KILLS, "the process kept finishing before the kill"
        runner, killed = _run_and_kill(db, command, mode, fraction, startup_s, step_s)
        tally.stale_locks_broken += any("broke a stale migration lock" in x for x in runner.lines)
        if not killed:  # it finished first: a completed run, not a kill
            assert runner.proc.returncode == 0, "".join(runner.lines)
            assert fingerprint(db) == fp_end, "a run that finished did not reach the end state"
            tally.not_killed += 1
            copy_db(start, db)
            pending.insert(0, (mode, fraction / 2))  # try an earlier moment
            continue
        tally.kills += 1
        assert integrity_ok(db) == "ok", f"kill {tally.kills} ({mode}): integrity_check failed"
        fp = fingerprint(db)
        outcome = "before" if fp == fp_start else "after" if fp == fp_end else "torn"
        tally.outcomes[outcome] += 1
        tally.by_mode[(mode, outcome)] += 1
        assert outcome != "torn", f"kill {tally.kills} ({mode}, {fraction:.3f}): torn state"
        if mode == "after-commit":
            assert outcome == "after", "killed after the step reported success, yet not applied"
        if outcome == "after":
            _complete(db, complete, fp_end, tally)
            copy_db(start, db)
        # From "before", the next run of the command starts from this crashed state.
    _complete(db, complete, fp_end, tally)
    verified = memvault(db, "migrate", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with capsys.disabled():
        print(
            f"\n[crash {direction}] seed={SEED} step={step_s:.2f}s startup={startup_s:.2f}s "
            f"kills={tally.kills} before={tally.outcomes['before']} "
            f"after={tally.outcomes['after']} torn={tally.outcomes['torn']} "
            f"finished-before-kill={tally.not_killed} completions={tally.completions} "
            f"stale-locks-broken={tally.stale_locks_broken}"
            f" by-mode={dict(sorted(tally.by_mode.items()))}"
        )
    return tally


def _complete(db: Path, command: tuple[str, ...], fp_end: Fingerprint, tally: Tally) -> None:
    done = memvault(db, *command)
    assert done.returncode == 0, done.stderr
    assert "locked by" not in done.stderr
    tally.stale_locks_broken += "broke a stale migration lock" in done.stderr
    # Equal to the reference end state, which passes verify (checked at the end).
    assert fingerprint(db) == fp_end, "completing did not reach exactly the end state"
    tally.completions += 1


def _assert_tally(tally: Tally) -> None:
    assert tally.kills == KILLS
    assert tally.outcomes["torn"] == 0
    assert tally.outcomes["before"] >= 1 and tally.outcomes["after"] >= 1
    assert tally.stale_locks_broken >= 1  # killed runners' locks were broken automatically


def test_killing_up_never_leaves_a_torn_database(
    reference: Reference, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert reference.up_s >= 1.0, f"the heavy migration took only {reference.up_s:.2f}s here"
    _assert_tally(_crash_loop(reference, tmp_path, direction="up", capsys=capsys))


def test_killing_down_never_leaves_a_torn_database(
    reference: Reference, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert reference.down_s >= 1.0, f"the heavy rollback took only {reference.down_s:.2f}s here"
    _assert_tally(_crash_loop(reference, tmp_path, direction="down", capsys=capsys))
