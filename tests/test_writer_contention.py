"""Writer processes racing on one file: every create succeeds or raises a MemvaultError,
never a raw sqlite3 error, and every acknowledged row is there (scripts/writer_stress.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from memvault.db import connect
from memvault.errors import BusyError, MemvaultError

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "writer_stress.py"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_four_writers_four_hundred_creates_each() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--writers", "4", "--creates", "400", "--json",
         "--no-baseline"],
        capture_output=True, text=True, timeout=590,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    race = json.loads(done.stdout)["race"]
    assert race["other_errors"] == []
    assert race["missing_acknowledged_rows"] == 0
    assert set(race["memvault_errors"]) <= {"BusyError"}  # contention only, named ours
    assert race["acknowledged"] + sum(race["memvault_errors"].values()) == 1600
    assert race["acknowledged"] > 0


def test_a_write_lock_held_past_the_busy_timeout_is_a_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = connect(str(path))
    holder.execute("CREATE TABLE t(x)")
    waiter = connect(str(path), busy_timeout_ms=200)
    busy = r"busy\.db is busy: could not start a write"
    with holder.atomic(), pytest.raises(BusyError, match=busy) as err, waiter.atomic():
        pass
    assert isinstance(err.value, MemvaultError) and isinstance(err.value, TimeoutError)
    assert "busy timeout 200 ms" in str(err.value)
    holder.close()
    waiter.close()


def test_a_write_lock_released_within_the_busy_timeout_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = connect(str(path))
    holder.execute("CREATE TABLE t(x)")
    waiter = connect(str(path), busy_timeout_ms=10_000)
    released = threading.Event()
    holder.execute("BEGIN IMMEDIATE")
    threading.Thread(target=lambda: (released.wait(), holder.execute("COMMIT"))).start()
    threading.Timer(0.2, released.set).start()
    with waiter.atomic():
        waiter.execute("INSERT INTO t VALUES (1)")
    assert waiter.scalar("SELECT count(*) FROM t") == 1
    holder.close()
    waiter.close()
