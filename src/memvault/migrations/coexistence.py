"""What built-in migrations mean for the TypeScript service, when it still uses the file.

A file the service wrote keeps working with it after adoption; some migrations change what
it can read. `up` says so in one line before such a migration runs on such a file.
"""

from __future__ import annotations

from memvault.db import Database
from memvault.migrations import adoption
from memvault.migrations.migration import Migration
from memvault.migrations.recorder import Recorder

# migration name -> the warning, with {version} for the last version that keeps the service whole
_WARNINGS = {
    "embeddings_to_float32_blobs": (
        "warning: {label} stores embeddings as float32 BLOBs, which the TypeScript service "
        "reads as null: its similarity search finds nothing and its embedding back-fill never "
        "re-embeds them; `memvault migrate up --to {keep}` stops before it and keeps the "
        "service whole (rollback to {keep} restores the JSON, see docs/coexistence.md)"
    ),
    "tenant_search_index": (
        "warning: {label} replaces the service's full-text tables (memories_fts, "
        "entities_fts) by memvault's tenant-scoped index: the service's own full-text "
        "queries on them stop working; `memvault migrate up --to {keep}` stops before it "
        "(see docs/coexistence.md)"
    ),
}


def service_wrote(db: Database) -> bool:
    """True when the file came from the TypeScript service: adopted, or about to be (a file
    memvault made itself also has schema_version, but was never adopted)."""
    if adoption.needs_adoption(db):
        return True
    return any(entry.action == "adopt" for entry in Recorder(db).history())


def warning_for(migration: Migration, versions: list[int]) -> str | None:
    """The one-line warning before `migration` runs on a service file, if it has one."""
    text = _WARNINGS.get(migration.name)
    if text is None:
        return None
    keep = max((v for v in versions if v < migration.version), default=0)
    return text.format(label=migration.label, keep=keep)
