"""Reads never take the migration lock, never write, never wait on an application's write
transaction (WAL), work on a read-only file and folder, and leave no new side files."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from memvault import MemoryStore
from memvault.errors import DatabaseError

Run = Callable[..., Result]


def dump(path: Path) -> list[str]:
    """A full dump (a normal connection: as the last one closing, it removes -wal/-shm)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def side_files(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir() if p.name != path.name}


@pytest.fixture
def populated(run: Run, db_path: Path) -> tuple[Path, str]:
    """A migrated WAL database with one user and one memory, closed cleanly."""
    added = run("user", "add", "ada@example.com", "--json")
    user_id = str(json.loads(added.stdout)["id"])
    result = run(
        "memory", "add", "-u", user_id, "--title", "Tea", "--content", "green tea",
        "--type", "preference",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return db_path, user_id


def read_commands(user_id: str) -> list[list[str]]:
    return [
        ["memory", "list", "-u", user_id],
        ["memory", "search", "-u", user_id, "green tea"],
        ["memory", "show", "-u", user_id, "1"],
        ["memory", "similar", "-u", user_id, "[0.1, 0.2]"],
        ["user", "list"],
        ["migrate", "status"],
        ["migrate", "verify"],
        ["migrate", "history"],
        ["db", "check"],
    ]


def test_reads_leave_bytes_dump_and_folder_unchanged(populated: tuple[Path, str], run: Run) -> None:
    path, user_id = populated
    before_bytes, before_dump, before_files = path.read_bytes(), dump(path), side_files(path)
    for argv in read_commands(user_id):
        result = run(*argv)
        assert result.exit_code in (0, 1), (argv, result.output)  # similar: no embeddings
        assert "Traceback" not in result.output
        assert path.read_bytes() == before_bytes, argv
        assert side_files(path) == before_files, argv
    assert dump(path) == before_dump


@pytest.fixture
def writer_holding_a_transaction(populated: tuple[Path, str]) -> Iterator[subprocess.Popen[str]]:
    """Another process inside a write transaction until we close its stdin."""
    path, _ = populated
    code = (
        "import sqlite3, sys\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute(\"UPDATE memories SET title = 'changing' \")\n"
        "print('holding', flush=True)\n"
        "sys.stdin.read()\n"
        "c.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    try:
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


@pytest.mark.timeout(30)
def test_reads_do_not_wait_for_an_application_writer(
    populated: tuple[Path, str], run: Run, writer_holding_a_transaction: subprocess.Popen[str]
) -> None:
    """The writer never lets go while the reads run: a read that waited would hang here
    (and fail by the per-test timeout) or time out with an error."""
    _, user_id = populated
    listed = run("memory", "list", "-u", user_id, "--json")
    assert listed.exit_code == 0, listed.output
    assert [m["title"] for m in json.loads(listed.stdout)] == ["Tea"]  # the committed state
    found = run("memory", "search", "-u", user_id, "green tea", "--json")
    assert found.exit_code == 0 and len(json.loads(found.stdout)) == 1
    assert run("user", "list").exit_code == 0
    assert run("migrate", "status").exit_code == 0


@pytest.fixture
def immutable_folder(populated: tuple[Path, str]) -> Iterator[Path]:
    """The database file and its folder made immutable (even root cannot write there)."""
    path, _ = populated
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    flagged = subprocess.run(["chattr", "+i", str(path), str(path.parent)], capture_output=True)
    if flagged.returncode != 0:
        pytest.skip(f"chattr +i failed: {flagged.stderr.strip()!r}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path), str(path.parent)], check=True)


def test_reads_work_on_a_read_only_file_in_a_read_only_folder(
    populated: tuple[Path, str], immutable_folder: Path, run: Run
) -> None:
    _, user_id = populated
    before = immutable_folder.read_bytes()
    for argv in read_commands(user_id):
        result = run(*argv)
        assert result.exit_code in (0, 1), (argv, result.output)
        assert "readonly" not in result.output and "Traceback" not in result.output, argv
    assert "Tea" in run("memory", "list", "-u", user_id).stdout
    assert immutable_folder.read_bytes() == before


def test_mode_ro_url_is_honoured(populated: tuple[Path, str], run: Run) -> None:
    path, user_id = populated
    url = f"sqlite:///{path}?mode=ro"
    assert "Tea" in run("memory", "list", "-u", user_id, database=url).stdout  # type: ignore[arg-type]
    refused = run("memory", "add", "-u", user_id, "--title", "x", "--content", "y",
                  "--type", "preference", database=url)  # type: ignore[arg-type]  # fmt: skip
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert not Path(str(path) + "?mode=ro").exists()


def test_read_only_store_refuses_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.db"
    with pytest.raises(DatabaseError, match="does not exist"):
        MemoryStore.open(missing, read_only=True)
    assert not missing.exists()


def test_reads_take_no_lock(populated: tuple[Path, str], run: Run) -> None:
    """No lock table is created by reads (nor by `migrate up` with nothing to do)."""
    path, user_id = populated
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE IF EXISTS schema_migrations_lock")
    conn.commit()
    conn.close()
    for argv in [*read_commands(user_id), ["migrate", "up"]]:
        run(*argv)
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert "schema_migrations_lock" not in tables


def test_status_of_a_missing_file_says_so_and_creates_nothing(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "absent.db"
    result = run("migrate", "status", database=missing)
    assert result.exit_code == 0
    assert f"database {missing} does not exist (nothing was created)" in result.stderr
    assert not missing.exists()
