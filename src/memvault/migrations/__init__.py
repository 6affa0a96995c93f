"""The migration engine: load files, plan, and apply them with a ledger, a lock and checks."""

from typing import TYPE_CHECKING

from memvault.lazy import attach

if TYPE_CHECKING:
    from memvault.migrations.adoption import Adoption
    from memvault.migrations.executor import (
        Event,
        Migrator,
        Status,
        StepResult,
        VerifyReport,
        VerifyResult,
    )
    from memvault.migrations.generator import create_migration
    from memvault.migrations.loader import load_migrations
    from memvault.migrations.lock import MigrationLock, current_holder, force_unlock
    from memvault.migrations.migration import Migration, MigrationContext
    from memvault.migrations.planner import Drift, Step
    from memvault.migrations.recorder import LedgerRow, Recorder
else:  # each loads on first use: a status check never loads the lock or the generator
    _EXECUTOR = ("Event", "Migrator", "Status", "StepResult", "VerifyReport", "VerifyResult")
    __getattr__ = attach(
        __name__,
        {
            "Adoption": "memvault.migrations.adoption",
            **dict.fromkeys(_EXECUTOR, "memvault.migrations.executor"),
            "create_migration": "memvault.migrations.generator",
            "load_migrations": "memvault.migrations.loader",
            **dict.fromkeys(
                ("MigrationLock", "current_holder", "force_unlock"), "memvault.migrations.lock"
            ),
            **dict.fromkeys(("Migration", "MigrationContext"), "memvault.migrations.migration"),
            **dict.fromkeys(("Drift", "Step"), "memvault.migrations.planner"),
            **dict.fromkeys(("LedgerRow", "Recorder"), "memvault.migrations.recorder"),
        },
    )

__all__ = [
    "Adoption",
    "Drift",
    "Event",
    "LedgerRow",
    "Migration",
    "MigrationContext",
    "MigrationLock",
    "Migrator",
    "Recorder",
    "Status",
    "Step",
    "StepResult",
    "VerifyReport",
    "VerifyResult",
    "create_migration",
    "current_holder",
    "force_unlock",
    "load_migrations",
]
