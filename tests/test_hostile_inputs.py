"""Hostile and careless input, through the CLI and the API: one line naming the culprit, a
non-zero exit (or a MemvaultError that is also a fitting builtin), no traceback, and the
database unchanged (a full dump compared, or the bytes for a damaged file)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from memvault import MemoryStore
from memvault.cli import cli
from memvault.errors import (
    ConfigError,
    DatabaseError,
    MemvaultError,
    NotFoundError,
    ValidationError,
)
from memvault.ops.backup import backup_database

BIG = str(2**63)
HUGE = "99999999999999999999"
BAD_UTF8 = "caf\udce9"  # b"caf\xe9" as Python decodes a non-UTF-8 argument


@dataclass
class Scene:
    """A migrated database with one user (Ada) and one memory, and places to put things."""

    path: Path
    user_id: str
    folder: Path


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    path = tmp_path / "memvault.db"
    with MemoryStore.open(path) as store:
        user, _ = store.users.create("ada@example.com")
        store.memories.create(user.id, title="Tea", content="green tea", memory_type="preference")
    return Scene(path, user.id, tmp_path)


def full_dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def run_cli(database: str, argv: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-d", database, *argv], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_one_line(stderr: str, culprit: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("memvault: error:")]
    assert len(errors) == 1, stderr
    assert culprit.lower() in errors[0].lower(), errors[0]
    assert "Traceback" not in stderr


# (argv with {u} for the user id, expected exit code, culprit named in the message)
CLI_CASES: list[tuple[list[str], int, str]] = [
    (["migrate", "up", "--lock-timeout", "nan"], 2, "--lock-timeout"),
    (["migrate", "up", "--lock-timeout", "inf"], 2, "--lock-timeout"),
    (["migrate", "up", "--lock-timeout", "1e309"], 2, "--lock-timeout"),
    (["migrate", "down", "--lock-timeout", "nan"], 2, "--lock-timeout"),
    (["migrate", "to", "1", "--lock-timeout", "-inf"], 2, "--lock-timeout"),
    (["db", "maintain", "--lock-timeout", "inf"], 2, "--lock-timeout"),
    (["user", "list", "--limit", BIG], 2, "--limit"),
    (["user", "list", "--offset", BIG], 2, "--offset"),
    (["user", "list", "--limit", "0"], 2, "--limit"),
    (["user", "list", "--offset", "-5"], 2, "--offset"),
    (["memory", "list", "-u", "{u}", "--limit", BIG], 2, "--limit"),
    (["memory", "list", "-u", "{u}", "--offset", HUGE], 2, "--offset"),
    (["memory", "show", "-u", "{u}", BIG], 2, "MEMORY_ID"),
    (["memory", "show", "-u", "{u}", "0"], 2, "MEMORY_ID"),
    (["memory", "show", "-u", "{u}", "999"], 1, "999"),
    (["memory", "search", "-u", "{u}", "tea", "--limit", BIG], 2, "--limit"),
    (["memory", "similar", "-u", "{u}", "[0.1]", "--limit", HUGE], 2, "--limit"),
    (["memory", "similar", "-u", "{u}", "[1e39]"], 1, "vector"),
    (["memory", "similar", "-u", "{u}", "[NaN]"], 1, "vector"),
    (["memory", "similar", "-u", "{u}", "not json"], 2, "VECTOR"),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            BAD_UTF8,
            "--content",
            "c",
            "--type",
            "preference",
        ],
        2,
        "--title",
    ),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            BAD_UTF8,
            "--type",
            "preference",
        ],
        2,
        "--content",
    ),
    (["memory", "search", "-u", "{u}", BAD_UTF8], 2, "not valid UTF-8"),
    (["user", "add", BAD_UTF8 + "@example.com"], 2, "not valid UTF-8"),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            "c",
            "--type",
            "preference",
            "--metadata",
            '{"x": NaN}',
        ],
        1,
        "metadata",
    ),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            "c",
            "--type",
            "preference",
            "--metadata",
            '{"x": Infinity}',
        ],
        1,
        "metadata",
    ),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            "c",
            "--type",
            "preference",
            "--embedding",
            "[1e39]",
        ],
        1,
        "embedding",
    ),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            "c",
            "--type",
            "preference",
            "--embedding",
            "[NaN]",
        ],
        1,
        "embedding",
    ),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            "c",
            "--type",
            "preference",
            "--importance",
            "5",
        ],
        2,
        "--importance",
    ),
    (
        ["memory", "add", "-u", "{u}", "--title", "t", "--content", "c", "--type", "nonsense"],
        2,
        "--type",
    ),
    (
        ["memory", "add", "-u", "nobody", "--title", "t", "--content", "c", "--type", "preference"],
        1,
        "nobody",
    ),
    (
        [
            "memory",
            "add",
            "-u",
            "{u}",
            "--title",
            "t",
            "--content",
            "c",
            "--type",
            "preference",
            "--entity-id",
            BIG,
        ],
        2,
        "--entity-id",
    ),
    (["user", "add", "ADA@example.com"], 1, "ADA@example.com"),
    (["user", "add", "Ada@Example.COM"], 1, "already in use"),
    (["user", "add", "bob@example.com", "--api-key", "12345"], 1, "api_key"),
    (["user", "add", "not-an-email"], 1, "email"),
    (["user", "add", "tab\t@example.com"], 1, "email"),
    (["migrate", "to", HUGE], 2, HUGE),
    (["migrate", "to", "-1"], 2, "-1"),
    (["migrate", "up", "--to", BIG], 2, BIG),
]


@pytest.mark.parametrize(("argv", "code", "culprit"), CLI_CASES)
def test_cli_input(scene: Scene, argv: list[str], code: int, culprit: str) -> None:
    before = full_dump(scene.path)
    args = [a.replace("{u}", scene.user_id) for a in argv]
    exit_code, _, stderr = run_cli(str(scene.path), args)
    assert exit_code == code, stderr
    assert_one_line(stderr, culprit)
    assert full_dump(scene.path) == before


LOCATIONS: list[tuple[str, list[str], int, str]] = [
    (":memory:", ["memory", "list", "-u", "x"], 2, "in-memory"),
    ("sqlite://", ["migrate", "up"], 2, "in-memory"),
    ("sqlite:///:memory:", ["migrate", "up"], 2, "in-memory"),
    ("file::memory:", ["migrate", "status"], 2, "in-memory"),
    ("sqlite:///:memory:", ["user", "add", "a@example.com"], 2, "in-memory"),
    ("sqlite:///{dir}/x.db?foo=1", ["migrate", "up"], 2, "foo=1"),
    ("sqlite:///{dir}/x.db?mode=rwx", ["migrate", "up"], 2, "mode=rwx"),
    ("file:{dir}/x.db", ["migrate", "up"], 2, "file:"),
    ("{dir}/missing.db", ["memory", "list", "-u", "x"], 1, "does not exist"),
    ("{dir}/missing.db", ["user", "list"], 1, "does not exist"),
    ("{dir}/missing.db", ["db", "check"], 1, "does not exist"),
    ("{dir}", ["memory", "list", "-u", "x"], 1, "is a directory"),
    ("{dir}/notes.txt", ["user", "list"], 1, "not a SQLite database"),
    ("{dir}/notes.txt", ["migrate", "up"], 1, "not a SQLite database"),
    ("", ["migrate", "status"], 2, "--database"),
    (BAD_UTF8 + ".db", ["migrate", "status"], 2, "not valid UTF-8"),
]


@pytest.mark.parametrize(("database", "argv", "code", "culprit"), LOCATIONS)
def test_cli_locations(
    scene: Scene, database: str, argv: list[str], code: int, culprit: str
) -> None:
    (scene.folder / "notes.txt").write_text("just some text, long enough to have a header" * 5)
    before = sorted(p.name for p in scene.folder.iterdir())
    exit_code, _, stderr = run_cli(database.replace("{dir}", str(scene.folder)), argv)
    assert exit_code == code, stderr
    assert_one_line(stderr, culprit)
    assert sorted(p.name for p in scene.folder.iterdir()) == before  # nothing created


def _write(folder: Path, name: str, text: str) -> Path:
    target = folder / "migs"
    if not target.exists():
        target.mkdir()
        for path in sorted(
            (Path(__file__).parent.parent / "src/memvault/migrations/versions").glob("[0-9]*_*.py")
        ):
            shutil.copy(path, target / path.name)
    (target / name).write_text(text)
    return target


MIGRATION_FILES: list[tuple[str, str, str]] = [
    (f"{2**63}_huge.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n", "huge"),
    ("900_exit.py", "raise SystemExit(3)\n", "900_exit.py"),
    ("900_interrupt.py", "raise KeyboardInterrupt\n", "900_interrupt.py"),
    (
        "900_exit_in_up.py",
        "def up(ctx):\n    raise SystemExit(3)\n\n\ndef down(ctx):\n    pass\n",
        "SystemExit(3)",
    ),
    (
        "900_ki_in_up.py",
        "def up(ctx):\n    raise KeyboardInterrupt\n\n\ndef down(ctx):\n    pass\n",
        "interrupted",
    ),
    (
        "900_broken.sql",
        "-- migrate:up\nCREATE TABLE (;\n-- migrate:down\nSELECT 1;\n",
        "900_broken.sql",
    ),
]


@pytest.mark.parametrize(("name", "text", "culprit"), MIGRATION_FILES)
def test_cli_migration_files(scene: Scene, name: str, text: str, culprit: str) -> None:
    folder = _write(scene.folder, name, text)
    before = full_dump(scene.path)
    exit_code, _, stderr = run_cli(str(scene.path), ["--migrations", str(folder), "migrate", "up"])
    assert exit_code == 1, stderr
    assert_one_line(stderr, culprit)
    assert [x for x in full_dump(scene.path) if "schema_migrations" not in x] == [
        x for x in before if "schema_migrations" not in x
    ]


def _corrupt(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'memories'").fetchone()
    conn.close()
    with path.open("r+b") as fh:
        fh.seek((root[0] - 1) * page_size)
        fh.write(b"\xff" * 64)


def _rollback_journal(path: Path) -> None:
    """A legacy-style file in rollback-journal mode: a WAL switch would change its header."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("DROP TABLE IF EXISTS schema_migrations_lock")
    conn.close()


def _drift(path: Path) -> None:
    _rollback_journal(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
    conn.commit()
    conn.close()


def _newer(path: Path) -> None:
    _rollback_journal(path)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at, checksum, status) "
        "VALUES (99, 'from_the_future', '2030-01-01', 'x', 'applied')"
    )
    conn.commit()
    conn.close()


def _foreign(path: Path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, migration TEXT)")
    conn.execute("INSERT INTO schema_migrations (migration) VALUES ('20200101_init')")
    conn.commit()
    conn.close()


DAMAGED: list[tuple[Callable[[Path], None], list[str], str]] = [
    (_corrupt, ["migrate", "down"], "damaged"),
    (_corrupt, ["migrate", "up"], "damaged"),
    (_corrupt, ["migrate", "to", "1"], "damaged"),
    (_corrupt, ["migrate", "repair"], "damaged"),
    (_corrupt, ["user", "add", "bob@example.com"], "damaged"),
    (
        _corrupt,
        ["memory", "add", "-u", "{u}", "--title", "t", "--content", "c", "--type", "preference"],
        "damaged",
    ),
    (_corrupt, ["migrate", "status"], "damaged"),
    (_corrupt, ["migrate", "verify"], "damaged"),
    (_corrupt, ["schema", "review"], "damaged"),
    (_corrupt, ["db", "stats"], "damaged"),
    (_corrupt, ["db", "maintain"], "damaged"),
    (_corrupt, ["memory", "list", "-u", "{u}"], "damaged"),
    (_drift, ["migrate", "up"], "was edited after it was applied"),
    (_drift, ["migrate", "down"], "was edited after it was applied"),
    (_drift, ["user", "add", "bob@example.com"], "was edited after it was applied"),
    (_newer, ["migrate", "up"], "migrated by a newer memvault (version 99 is unknown here)"),
    (_newer, ["migrate", "down"], "migrated by a newer memvault (version 99 is unknown here)"),
    (_newer, ["migrate", "repair"], "newer memvault"),
    (_newer, ["user", "add", "bob@example.com"], "migrated by a newer memvault"),
    (
        _newer,
        ["memory", "add", "-u", "{u}", "--title", "t", "--content", "c", "--type", "preference"],
        "newer memvault",
    ),
    (_foreign, ["migrate", "up"], "another application"),
    (_foreign, ["migrate", "status"], "another application"),
    (_foreign, ["user", "add", "bob@example.com"], "another application"),
]


@pytest.mark.parametrize(("spoil", "argv", "culprit"), DAMAGED)
def test_refused_databases_stay_byte_identical(
    scene: Scene, spoil: Callable[[Path], None], argv: list[str], culprit: str
) -> None:
    spoil(scene.path)
    before = scene.path.read_bytes()
    files = sorted(p.name for p in scene.folder.iterdir())
    exit_code, _, stderr = run_cli(str(scene.path), [a.replace("{u}", scene.user_id) for a in argv])
    assert exit_code == 1, stderr
    assert_one_line(stderr, culprit)
    if spoil is not _drift:
        assert "repair` to accept" not in stderr
    assert scene.path.read_bytes() == before  # no WAL switch, no lock table, no ledger
    assert sorted(p.name for p in scene.folder.iterdir()) == files


def test_restore_refuses_a_backup_from_a_newer_memvault(scene: Scene) -> None:
    backup = scene.folder / "backup.db"
    backup_database(scene.path, backup)
    _newer(backup)
    before = full_dump(scene.path)
    exit_code, _, stderr = run_cli(str(scene.path), ["db", "restore", str(backup), "--yes"])
    assert exit_code == 1
    assert_one_line(stderr, "migrated by a newer memvault (version 99 is unknown here")
    assert full_dump(scene.path) == before
    allowed = run_cli(str(scene.path), ["db", "restore", str(backup), "--yes", "--allow-newer"])
    assert allowed[0] == 0, allowed[2]


# (call on (store, user id), the error type, a builtin it also is, words in the message)
API_CASES: list[tuple[Callable[[MemoryStore, str], Any], type, type, str]] = [
    (lambda s, u: s.users.create("ADA@example.com"), ValidationError, ValueError, "in use"),
    (lambda s, u: s.users.create("a\x00b@example.com"), ValidationError, ValueError, "control"),
    (lambda s, u: s.users.create("a\x07b@example.com"), ValidationError, ValueError, "control"),
    (
        lambda s, u: s.users.create("b@example.com", api_key="12345"),
        ValidationError,
        ValueError,
        "at least 24",
    ),
    (
        lambda s, u: s.users.create("b@example.com", api_key=" " * 30),
        ValidationError,
        ValueError,
        "api_key",
    ),
    (
        lambda s, u: s.users.create("b@example.com", metadata={"x": float("nan")}),
        ValidationError,
        ValueError,
        "NaN",
    ),
    (
        lambda s, u: s.memories.create(
            u, title="t", content="c", memory_type="preference", embedding=[1e39]
        ),
        ValidationError,
        ValueError,
        "float32",
    ),
    (
        lambda s, u: s.memories.create(
            u, title="t", content="c", memory_type="preference", metadata={"x": float("inf")}
        ),
        ValidationError,
        ValueError,
        "Infinity",
    ),
    (
        lambda s, u: s.memories.create(
            u, title="t", content="c", memory_type="preference", metadata={"x": object()}
        ),
        ValidationError,
        ValueError,
        "JSON",
    ),
    (
        lambda s, u: s.memories.create(u, title="t\udcff", content="c", memory_type="preference"),
        ValidationError,
        ValueError,
        "title",
    ),
    (
        lambda s, u: s.entities.create(
            u, name="E", entity_type="person", metadata={"x": float("nan")}
        ),
        ValidationError,
        ValueError,
        "NaN",
    ),
    (lambda s, u: s.memories.list(u, limit=-1), ValidationError, ValueError, "limit"),
    (lambda s, u: s.memories.list(u, offset=-1), ValidationError, ValueError, "offset"),
    (lambda s, u: s.memories.list(u, limit=2**63), ValidationError, ValueError, "limit"),
    (lambda s, u: s.memories.list(u, limit=True), ValidationError, ValueError, "limit"),
    (lambda s, u: s.memories.search(u, "tea", limit=-1), ValidationError, ValueError, "limit"),
    (lambda s, u: s.memories.similar(u, [0.1], limit=-1), ValidationError, ValueError, "limit"),
    (lambda s, u: s.memories.similar(u, [1e39]), ValidationError, ValueError, "vector"),
    (lambda s, u: s.memories.get(u, 2**63), ValidationError, ValueError, "id"),
    (lambda s, u: s.entities.list(u, limit=-1), ValidationError, ValueError, "limit"),
    (lambda s, u: s.entities.search(u, "x", limit=-1), ValidationError, ValueError, "limit"),
    (lambda s, u: s.users.list(limit=-1), ValidationError, ValueError, "limit"),
    (lambda s, u: s.users.list(offset=2**64), ValidationError, ValueError, "offset"),
    (
        lambda s, u: s.memories.create("nobody", title="t", content="c", memory_type="preference"),
        NotFoundError,
        LookupError,
        "nobody",
    ),
]


@pytest.mark.parametrize(("call", "error", "builtin", "words"), API_CASES)
def test_api_input(
    scene: Scene, call: Callable[[MemoryStore, str], Any], error: type, builtin: type, words: str
) -> None:
    before = full_dump(scene.path)
    with MemoryStore.open(scene.path) as store, pytest.raises(error) as raised:
        call(store, scene.user_id)
    assert isinstance(raised.value, MemvaultError) and isinstance(raised.value, builtin)
    message = str(raised.value)
    assert "\n" not in message and words.lower() in message.lower(), message
    assert full_dump(scene.path) == before


def test_api_update_to_an_email_in_use_ignoring_case(scene: Scene) -> None:
    with MemoryStore.open(scene.path) as store:
        bob, _ = store.users.create("bob@example.com")
        before = full_dump(scene.path)
        with pytest.raises(ValidationError, match="'ADA@EXAMPLE.com' is already in use"):
            store.users.update(bob.id, email="ADA@EXAMPLE.com")
        assert store.users.update(bob.id, email="BOB@example.com") is not None  # their own
    assert full_dump(scene.path) != before


def test_api_open_none_and_after_close(scene: Scene) -> None:
    with pytest.raises(ConfigError, match="no database location"):
        MemoryStore.open(None)  # type: ignore[arg-type]
    assert not Path("None").exists()
    store = MemoryStore.open(scene.path)
    store.close()
    with pytest.raises(DatabaseError, match="is closed"):
        store.memories.list(scene.user_id)


def test_api_damaged_file(scene: Scene) -> None:
    _corrupt(scene.path)
    before = scene.path.read_bytes()
    with pytest.raises(DatabaseError, match="damaged") as raised:
        MemoryStore.open(scene.path)
    assert isinstance(raised.value, OSError)
    assert scene.path.read_bytes() == before


def test_api_allows_in_memory(tmp_path: Path) -> None:
    with MemoryStore.open(":memory:") as store:
        assert store.users.create("ada@example.com")[0].email == "ada@example.com"
