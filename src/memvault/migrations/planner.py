"""Plan migrations: pure functions of (available migrations, ledger) -> steps. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from memvault.errors import ConfigError, MigrationError, RollbackRefused
from memvault.migrations.migration import Direction, Migration
from memvault.migrations.recorder import LedgerRow


@dataclass(frozen=True)
class Step:
    """Run one migration in one direction."""

    migration: Migration
    direction: Direction


@dataclass(frozen=True)
class Drift:
    """An applied migration whose file changed since it was applied, or disappeared."""

    version: int
    name: str
    kind: Literal["modified", "missing", "newer"]
    recorded_checksum: str | None
    current_checksum: str | None

    def describe(self) -> str:
        label = f"{self.version:03d}_{self.name}"
        if self.kind == "newer":
            return f"migrated by a newer memvault (version {self.version} is unknown here)"
        if self.kind == "missing":
            return f"{label} is applied but its file is missing"
        return (
            f"{label} was edited after it was applied (checksum "
            f"{(self.recorded_checksum or '-')[:12]} recorded, "
            f"{(self.current_checksum or '-')[:12]} now)"
        )


def current_version(applied: set[int]) -> int:
    """The highest applied version, 0 when nothing is applied."""
    return max(applied, default=0)


def find_drift(migrations: Sequence[Migration], ledger: Mapping[int, LedgerRow]) -> list[Drift]:
    """Applied ledger rows whose file is missing or whose checksum differs."""
    by_version = {m.version: m for m in migrations}
    newest = max(by_version, default=0)
    drift: list[Drift] = []
    for version, row in sorted(ledger.items()):
        if row.status != "applied":
            continue
        migration = by_version.get(version)
        if migration is None:
            kind: Literal["missing", "newer"] = "newer" if version > newest else "missing"
            drift.append(Drift(version, row.name, kind, row.checksum, None))
        elif row.checksum != migration.checksum:
            drift.append(Drift(version, row.name, "modified", row.checksum, migration.checksum))
    return drift


def newer_than_known(drift: Sequence[Drift]) -> Drift | None:
    """The first applied version beyond every known migration (a newer memvault's), if any."""
    return next((d for d in drift if d.kind == "newer"), None)


def check_target(migrations: Sequence[Migration], target: int) -> None:
    """Raise ConfigError unless `target` is 0 or a known version."""
    known = [m.version for m in migrations]
    if target == 0 or target in known:
        return
    if target < 0:
        raise ConfigError(f"version {target} is negative: versions start at 1 (0 means none)")
    span = f"known versions: {', '.join(map(str, known))}" if known else "no migrations exist"
    raise ConfigError(f"unknown migration version {target} ({span})")


def plan_up(
    migrations: Sequence[Migration], applied: set[int], target: int | None = None
) -> list[Step]:
    """Every pending migration up to `target` (all when None), lowest version first."""
    if target is not None:
        check_target(migrations, target)
    return [
        Step(m, "up")
        for m in migrations
        if m.version not in applied and (target is None or m.version <= target)
    ]


def plan_down(migrations: Sequence[Migration], applied: set[int], count: int) -> list[Step]:
    """Roll back the newest `count` applied migrations, newest first."""
    if count < 1:
        raise ConfigError(f"down takes a positive number of migrations, got {count}")
    newest = sorted(applied, reverse=True)
    if count > len(newest):
        raise ConfigError(f"cannot roll back {count} migration(s): only {len(newest)} applied")
    return [Step(_file_for(migrations, v), "down") for v in newest[:count]]


def plan_to(migrations: Sequence[Migration], applied: set[int], target: int) -> list[Step]:
    """Reach exactly `target`: roll back what is above it, then apply what is pending below."""
    check_target(migrations, target)
    downs = [
        Step(_file_for(migrations, v), "down") for v in sorted(applied, reverse=True) if v > target
    ]
    ups = [Step(m, "up") for m in migrations if m.version <= target and m.version not in applied]
    return downs + ups


def _file_for(migrations: Sequence[Migration], version: int) -> Migration:
    for m in migrations:
        if m.version == version:
            return m
    raise MigrationError(
        f"cannot roll back version {version}: it is applied but its migration file is missing",
        version,
    )


DATA_LOSS_FLAG = "--drop-data"


def guard_rollback(
    steps: Sequence[Step],
    *,
    adopted: set[int],
    baseline: int | None,
    rows_at_risk: int,
    allow_data_loss: bool,
) -> None:
    """Refuse a plan that rolls back an adopted migration, or the baseline (the lowest
    migration, which creates the tables) while tables hold rows, unless explicitly allowed."""
    if allow_data_loss:
        return
    for step in steps:
        if step.direction != "down":
            continue
        m = step.migration
        if m.version in adopted:
            raise RollbackRefused(
                f"refusing to roll back {m.label}: it was adopted (found in the database, not "
                f"run by memvault), so its down would drop what another program made; "
                f"`migrate to {m.version}` goes back as far as is safe, or pass "
                f"{DATA_LOSS_FLAG} to roll it back after a backup"
            )
        if m.version == baseline and rows_at_risk:
            raise RollbackRefused(
                f"refusing to roll back {m.label}: its down drops the tables that hold "
                f"{rows_at_risk} row(s); pass {DATA_LOSS_FLAG} to do it (a backup is taken first)"
            )
