"""memvault: an AI assistant's memory in a database that evolves without losing a row.

The public API: `MemoryStore.open(path)` and the records it returns, the errors it raises,
and `connect` for the database underneath.
"""

from typing import TYPE_CHECKING

from memvault.errors import (
    ConfigError,
    DatabaseError,
    DriftError,
    LockError,
    MemvaultError,
    MigrationError,
    NotFoundError,
    ValidationError,
    VerificationError,
)
from memvault.lazy import attach

if TYPE_CHECKING:
    from memvault.db import Database, connect
    from memvault.store import MemoryStore
    from memvault.store.models import (
        ApiProvider,
        ApiUsage,
        Entity,
        EntityFields,
        EntityHit,
        EntityType,
        Importance,
        Interaction,
        InteractionFields,
        Memory,
        MemoryFields,
        MemoryHit,
        MemoryType,
        PersonType,
        UsageFields,
        UsageTotal,
        User,
        UserFields,
    )

# The store pulls in pydantic and NumPy, the database layer sqlite3; load them on first use,
# so `memvault migrate …` starts without the store and `memvault --help` without either.
_LAZY = {
    "Database": "memvault.db",
    "connect": "memvault.db",
    "MemoryStore": "memvault.store",
    **{
        name: "memvault.store.models"
        for name in (
            "ApiProvider", "ApiUsage", "Entity", "EntityFields", "EntityHit", "EntityType",
            "Importance", "Interaction", "InteractionFields", "Memory", "MemoryFields",
            "MemoryHit", "MemoryType", "PersonType", "UsageFields", "UsageTotal", "User",
            "UserFields",
        )
    },
}  # fmt: skip
if not TYPE_CHECKING:
    __getattr__ = attach(__name__, _LAZY)


# The one place the version is written: the build reads it from here (pyproject.toml's
# [tool.hatch.version]), so `memvault --version` needs no importlib.metadata (~40 ms).
__version__ = "0.1.0"


__all__ = [
    "ApiProvider",
    "ApiUsage",
    "ConfigError",
    "Database",
    "DatabaseError",
    "DriftError",
    "Entity",
    "EntityFields",
    "EntityHit",
    "EntityType",
    "Importance",
    "Interaction",
    "InteractionFields",
    "LockError",
    "Memory",
    "MemoryFields",
    "MemoryHit",
    "MemoryStore",
    "MemoryType",
    "MemvaultError",
    "MigrationError",
    "NotFoundError",
    "PersonType",
    "UsageFields",
    "UsageTotal",
    "User",
    "UserFields",
    "ValidationError",
    "VerificationError",
    "__version__",
    "connect",
]
