"""memvault: an AI assistant's memory in a database that evolves without losing a row.

The public API: `MemoryStore.open(path)` and the records it returns, the errors it raises,
and `connect` for the database underneath.
"""

import importlib
from typing import TYPE_CHECKING, Any

from memvault.db import Database, connect
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

if TYPE_CHECKING:
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

# The store pulls in pydantic and NumPy; load it on first use, so `memvault migrate …`
# starts without paying for them.
_LAZY = {
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


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata costs ~40 ms: only when asked
        globals()[name] = _version()
        return globals()[name]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memvault' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("memvault")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0"


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
