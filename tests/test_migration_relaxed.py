"""The runner relaxes secure_delete to FAST for migration 003 alone, and puts it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Event, Migrator, load_migrations
from memvault.migrations.relaxed import FAST_SECURE_DELETE, secure_delete_for
from memvault.testing import build_legacy_database

FAST = 2


def secure_delete_per_step(
    path: Path, setting: str, target: int
) -> tuple[dict[int, set[int]], int]:
    """The connection's secure_delete seen at every statement of each step, and after."""
    db = connect(str(path))
    db.execute(f"PRAGMA secure_delete = {setting}")
    seen: dict[int, set[int]] = {}

    def listen(event: Event) -> None:
        if event.kind in ("statement", "progress") and event.migration is not None:
            value = int(db.conn.execute("PRAGMA secure_delete").fetchone()[0])
            seen.setdefault(event.migration.version, set()).add(value)

    try:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="t", listener=listen).to(
            target
        )
        return seen, int(db.scalar("PRAGMA secure_delete"))
    finally:
        db.close()


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    return build_legacy_database(tmp_path / "legacy.db", memories_per_user=5, service_edits=False)


def test_003_runs_with_fast_secure_delete_and_the_setting_comes_back(legacy: Path) -> None:
    seen, after = secure_delete_per_step(legacy, "ON", 4)
    assert seen[3] == {FAST}
    assert all(values == {1} for version, values in seen.items() if version != 3), seen
    assert after == 1


def test_down_of_003_is_relaxed_too(legacy: Path) -> None:
    secure_delete_per_step(legacy, "ON", 3)
    seen, after = secure_delete_per_step(legacy, "ON", 2)
    assert seen == {3: {FAST}} and after == 1


@pytest.mark.parametrize("setting, value", [("OFF", 0), ("FAST", FAST)])
def test_a_connection_not_fully_secure_is_left_as_it_is(
    legacy: Path, setting: str, value: int
) -> None:
    seen, after = secure_delete_per_step(legacy, setting, 3)
    assert seen[3] == {value} and after == value


def test_only_the_shipped_003_is_listed(tmp_path: Path) -> None:
    shipped = {m.version: m.checksum for m in load_migrations(BUILTIN_MIGRATIONS)}
    assert set(FAST_SECURE_DELETE) == {shipped[3]}
    db = connect(str(tmp_path / "x.db"))
    try:
        db.execute("PRAGMA secure_delete = ON")
        with secure_delete_for(db, "0" * 64):  # any other content, e.g. an edited 003
            assert db.scalar("PRAGMA secure_delete") == 1
        with secure_delete_for(db, shipped[3]):
            assert db.scalar("PRAGMA secure_delete") == FAST
        assert db.scalar("PRAGMA secure_delete") == 1
    finally:
        db.close()
