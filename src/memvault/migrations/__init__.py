"""The migration engine: load files, plan, and apply them with a ledger, a lock and checks."""

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
