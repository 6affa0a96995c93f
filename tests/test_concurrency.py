"""Six `memvault migrate up` processes started together on one legacy database.

Each process imports memvault first, then waits for a start file, so all six reach the
database within a few milliseconds of each other. All must exit 0, nobody may see an
"already exists" error, and the ledger and history must record every version exactly once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import memvault.cli
from memvault.config import BUILTIN_MIGRATIONS
from memvault.migrations import load_migrations
from memvault.testing import LegacyShape, build_legacy_database

SRC = Path(memvault.cli.__file__).resolve().parents[2]
RUNNERS = 6

WAIT_THEN_MIGRATE = textwrap.dedent(
    """
    import os, sys, time
    from memvault.cli import cli
    start_file = sys.argv[1]
    while not os.path.exists(start_file):
        time.sleep(0.001)
    cli(args=["-d", sys.argv[2], "migrate", "up", "--lock-timeout", "120"], prog_name="memvault")
    """
)


def _start_together(db: Path, start_file: Path) -> list[subprocess.Popen[str]]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WAIT_THEN_MIGRATE, str(start_file), str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(RUNNERS)
    ]
    time.sleep(1.5)  # let every process finish importing and reach the barrier
    start_file.touch()
    return procs


@pytest.mark.parametrize(
    "shape", [LegacyShape.V1_3_5, pytest.param(LegacyShape.V2, marks=pytest.mark.slow)]
)
def test_six_runners_on_one_legacy_database(tmp_path: Path, shape: LegacyShape) -> None:
    db = build_legacy_database(tmp_path / "legacy.db", shape, users=5)
    procs = _start_together(db, tmp_path / "go")
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "already exists" not in err.lower(), err
        assert "memvault: error" not in err, err
    conn = sqlite3.connect(db)
    try:
        ledger = conn.execute(
            "SELECT version, status, count(*) FROM schema_migrations GROUP BY version ORDER BY 1"
        ).fetchall()
        history = conn.execute(
            "SELECT version, action, count(*) FROM schema_migrations_history "
            "GROUP BY version, action ORDER BY 1, 2"
        ).fetchall()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        lock_rows = conn.execute("SELECT count(*) FROM schema_migrations_lock").fetchone()[0]
    finally:
        conn.close()
    assert integrity == "ok"
    assert lock_rows == 0
    assert all(status == "applied" and n == 1 for _v, status, n in ledger), ledger
    adopted = {v for v, action, _n in history if action == "adopt"}
    applied = {v for v, action, _n in history if action == "apply"}
    assert all(n == 1 for _v, _a, n in history), history  # every action happened once
    assert 1 in adopted and 2 in applied and not adopted & applied
    assert {v for v, _s, _n in ledger} == adopted | applied
    assert adopted | applied == {m.version for m in load_migrations(BUILTIN_MIGRATIONS)}
    assert not {a for _v, a, _n in history} - {"adopt", "apply"}
    # Exactly one runner did the work; the others found nothing left to do.
    worked = [err for _out, err in outputs if "applied 002" in err]
    idle = [err for _out, err in outputs if "Nothing to do" in err]
    assert len(worked) == 1 and len(idle) == RUNNERS - 1, [e for _o, e in outputs]
