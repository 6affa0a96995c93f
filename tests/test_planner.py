"""The planner is pure: available migrations + ledger -> steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault.errors import ConfigError, MigrationError
from memvault.migrations import LedgerRow, Migration
from memvault.migrations.planner import find_drift, plan_down, plan_to, plan_up


def mig(version: int, checksum: str = "c") -> Migration:
    return Migration(
        version=version,
        name=f"m{version}",
        path=Path(f"{version:03d}_m{version}.py"),
        checksum=checksum,
        description="",
        up_func=lambda ctx: None,
        down_func=lambda ctx: None,
    )


MIGS = [mig(1), mig(2), mig(3)]


def steps(plan: list) -> list[tuple[int, str]]:
    return [(s.migration.version, s.direction) for s in plan]


def test_up_applies_pending_in_order_up_to_target() -> None:
    assert steps(plan_up(MIGS, set())) == [(1, "up"), (2, "up"), (3, "up")]
    assert steps(plan_up(MIGS, {1})) == [(2, "up"), (3, "up")]
    assert steps(plan_up(MIGS, set(), target=2)) == [(1, "up"), (2, "up")]
    assert plan_up(MIGS, {1, 2, 3}) == []


def test_up_fills_gaps_below_current() -> None:
    assert steps(plan_up(MIGS, {1, 3})) == [(2, "up")]


def test_down_rolls_back_newest_first() -> None:
    assert steps(plan_down(MIGS, {1, 2, 3}, 2)) == [(3, "down"), (2, "down")]


def test_down_more_than_applied_is_refused() -> None:
    with pytest.raises(ConfigError, match="only 1 applied"):
        plan_down(MIGS, {1}, 2)


def test_down_requires_positive_count() -> None:
    with pytest.raises(ConfigError):
        plan_down(MIGS, {1}, 0)


def test_down_of_missing_file_names_version() -> None:
    with pytest.raises(MigrationError, match="version 7"):
        plan_down(MIGS, {1, 7}, 1)


def test_to_goes_both_ways() -> None:
    assert steps(plan_to(MIGS, {1, 2, 3}, 1)) == [(3, "down"), (2, "down")]
    assert steps(plan_to(MIGS, {1}, 3)) == [(2, "up"), (3, "up")]
    assert steps(plan_to(MIGS, {1, 2, 3}, 0)) == [(3, "down"), (2, "down"), (1, "down")]
    assert plan_to(MIGS, {1, 2}, 2) == []


@pytest.mark.parametrize("target", [999, 4, -1])
def test_unknown_target_is_named(target: int) -> None:
    with pytest.raises(ConfigError, match=str(target)):
        plan_to(MIGS, {1}, target)


def row(version: int, checksum: str, status: str = "applied") -> LedgerRow:
    return LedgerRow(version, f"m{version}", None, "t", "me", 1, checksum, status)  # type: ignore[arg-type]


def test_drift_finds_edited_and_missing_files_only_for_applied_rows() -> None:
    ledger = {1: row(1, "c"), 2: row(2, "old"), 3: row(3, "old", "rolled_back"), 9: row(9, "x")}
    drift = find_drift(MIGS, ledger)
    assert [(d.version, d.kind) for d in drift] == [(2, "modified"), (9, "newer")]
    assert "002_m2 was edited" in drift[0].describe()
    assert drift[1].describe() == "migrated by a newer memvault (version 9 is unknown here)"
    gap = find_drift([m for m in MIGS if m.version != 2], {2: row(2, "c"), 3: row(3, "c")})
    assert [(d.version, d.kind) for d in gap][:1] == [(2, "missing")]
