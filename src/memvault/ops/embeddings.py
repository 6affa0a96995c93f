"""Convert JSON text embeddings written after migration 003 into float32 BLOBs.

The TypeScript service (or any program) that still writes the file after 003 stores new
embeddings as JSON text. The store reads them as they are; this converts them by the same
rules as 003: a JSON array of finite numbers becomes a float32 BLOB (`[]` a zero-length
BLOB), anything else is moved verbatim into memory_embedding_quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from memvault.db import Database
from memvault.errors import ConfigError

QUARANTINE = "memory_embedding_quarantine"
BATCH_ROWS = 256
FLOAT32_LE = "<f4"


@dataclass(frozen=True)
class Conversion:
    """What a conversion did: rows converted and rows quarantined (their ids)."""

    converted: int
    quarantined: list[int]


def _reject(name: str) -> Any:
    raise ValueError(f"non-finite value {name}")


def to_blob(text: str) -> bytes:
    """The float32 BLOB for a JSON array of numbers; ValueError (with the reason) otherwise."""
    import numpy as np  # here, not at import: `migrate` commands start without NumPy

    parsed = json.loads(text, parse_constant=_reject)
    if not isinstance(parsed, list) or any(type(v) not in (int, float) for v in parsed):
        raise ValueError("not a JSON array of numbers")
    with np.errstate(over="ignore"):
        vector = np.asarray(parsed, dtype=np.float64).astype(FLOAT32_LE)
    if not np.isfinite(vector).all():
        raise ValueError("a value is beyond float32 range")
    return vector.tobytes()


def count_text_embeddings(db: Database) -> int:
    """How many memories hold a JSON text embedding."""
    return int(db.scalar("SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'"))


def convert_text_embeddings(db: Database) -> Conversion:
    """Convert every JSON text embedding, inside the caller's transaction."""
    if not db.table_exists(QUARANTINE):
        raise ConfigError(
            "migration 003 is not applied, so embeddings are meant to be JSON text here: "
            "`memvault migrate up` converts them"
        )
    converted, quarantined = 0, []
    while rows := db.query(
        "SELECT id, embedding FROM memories WHERE typeof(embedding) = 'text' ORDER BY id LIMIT ?",
        (BATCH_ROWS,),
    ):
        for memory_id, text in rows:
            try:
                db.execute(
                    "UPDATE memories SET embedding = ? WHERE id = ?", (to_blob(text), memory_id)
                )
                converted += 1
            except ValueError as exc:
                db.execute(
                    f"INSERT OR REPLACE INTO {QUARANTINE} (memory_id, original_text, reason, "
                    "quarantined_at) VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (memory_id, text, str(exc)),
                )
                db.execute("UPDATE memories SET embedding = NULL WHERE id = ?", (memory_id,))
                quarantined.append(int(memory_id))
    return Conversion(converted, quarantined)


def conversion_advice(db: Database) -> str | None:
    """The one advice every command gives when JSON embeddings appear after 003, or None."""
    if not db.table_exists(QUARANTINE) or not db.table_exists("memories"):
        return None
    count = count_text_embeddings(db)
    if not count:
        return None
    return (
        f"{count} memories hold JSON text embeddings written after migration 003 (by another "
        "program, such as the TypeScript service): `memvault db convert-embeddings` converts "
        "them (the store reads them as they are meanwhile)"
    )
