"""Store memory embeddings as little-endian float32 BLOBs instead of JSON text.

A 1536-dimension embedding is ~19 KB of JSON text and 6 KB as float32. Rows are converted
in id-ordered batches (memory use does not grow with the table), with progress reported.

- JSON array of numbers -> float32 BLOB (each value rounded to float32; nothing else changes)
- `[]` -> zero-length BLOB X'' (so `down` can tell it from NULL and write `[]` back)
- NULL stays NULL
- text that is not a finite JSON array of numbers (invalid JSON, `[null]`, an object, a value
  beyond float32 range ...) cannot be converted without losing it: it is moved verbatim into
  `memory_embedding_quarantine(memory_id, original_text, reason, quarantined_at)` and the
  row's embedding becomes NULL. `down` puts it back.

The FTS5 update triggers fired on every UPDATE, so rewriting every embedding used to
delete and re-insert every row's full-text entry. They are narrowed first to
`AFTER UPDATE OF <id and the indexed columns>` (the indexed content is exactly what it was);
`down` restores their original SQL text exactly.

Self-contained on purpose: the float32 format is spelt out here rather than imported from
the store, so this applied migration keeps doing what its checksum says it does. JSON is
parsed by orjson (several times faster than json.loads on long number arrays; both give
the same doubles); text orjson refuses is parsed again by json.loads, which names the
reason. NumPy is imported when the conversion runs, not when the migration is loaded, so
`memvault migrate status` does not pay for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from memvault.errors import MigrationError

description = "Embeddings as float32 BLOBs, not JSON text; FTS update triggers narrowed"

FLOAT32_LE = "<f4"  # little-endian float32: 4 bytes a value
BATCH_ROWS = 256  # ~5 MB of 1536-dim JSON text per batch
QUARANTINE = "memory_embedding_quarantine"

# trigger -> (table, columns the trigger may read: the rowid and the indexed columns)
NARROWED_TRIGGERS = {
    "memories_fts_update": ("memories", ("id", "title", "content", "tags")),
    "entities_fts_update": ("entities", ("id", "name", "description", "notes", "tags")),
}

QUARANTINE_DDL = f"""CREATE TABLE {QUARANTINE} (
  memory_id INTEGER PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  original_text TEXT NOT NULL,
  reason TEXT NOT NULL,
  quarantined_at TEXT NOT NULL
)"""


# -- the value conversion ------------------------------------------------------------------
class Unconvertible(ValueError):
    """Embedding text that cannot become a float32 vector without losing information."""


_NUMBER_TYPES = {float, int}


def _reject_constant(name: str) -> Any:
    raise Unconvertible(f"non-finite value {name}")


def _parse(text: str) -> Any:
    """The parsed JSON: orjson first; what it refuses goes to json.loads for the reason."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise Unconvertible(f"invalid JSON: {exc}") from None


def text_to_blob(text: str) -> bytes:
    """The float32 BLOB for a JSON array of numbers; Unconvertible (with the reason) otherwise."""
    import numpy as np

    parsed = _parse(text)
    if not isinstance(parsed, list):
        raise Unconvertible(f"not a JSON array but {type(parsed).__name__}")
    if not set(map(type, parsed)) <= _NUMBER_TYPES:  # one C-level pass, no Python loop
        for index, value in enumerate(parsed):
            if type(value) is not float and type(value) is not int:
                raise Unconvertible(f"element {index} is not a number: {json.dumps(value)[:40]}")
    try:
        with np.errstate(over="ignore"):  # overflow shows as infinity, refused below
            vector = np.asarray(parsed, dtype=np.float64).astype(FLOAT32_LE)
    except OverflowError:
        raise Unconvertible("a value is beyond float32 range") from None
    if not np.isfinite(vector).all():
        raise Unconvertible("a value is beyond float32 range")
    return vector.tobytes()


def blob_to_text(blob: bytes, memory_id: int) -> str:
    """JSON text for a float32 BLOB: the shortest text that reads back as the same float32s."""
    import numpy as np

    if len(blob) % 4:
        raise MigrationError(
            f"memories.id {memory_id}: embedding BLOB of {len(blob)} bytes is not float32 data"
        )
    vector = np.frombuffer(blob, dtype=FLOAT32_LE)
    if not np.isfinite(vector).all():
        raise MigrationError(
            f"memories.id {memory_id}: embedding holds NaN or infinity, which JSON cannot hold"
        )
    text = "[" + ",".join(vector.astype(str)) + "]"
    if not _reads_back_as(text, vector):
        # Exact by construction: the double nearest a float32 is that float32.
        text = json.dumps(vector.astype(np.float64).tolist(), separators=(",", ":"))
    return text


def _reads_back_as(text: str, vector: Any) -> bool:
    import numpy as np

    back = np.asarray(orjson.loads(text), dtype=np.float64).astype(FLOAT32_LE)
    return back.shape == vector.shape and bool((back.view("<u4") == vector.view("<u4")).all())


# -- the FTS update triggers ---------------------------------------------------------------
def _narrowing(columns: tuple[str, ...]) -> str:
    return " OF " + ", ".join(columns)


def _stored_sql(ctx: Any, name: str) -> str | None:
    sql = ctx.scalar("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,))
    return None if sql is None else str(sql)


def _trigger_sql(ctx: Any, name: str) -> str:
    sql = _stored_sql(ctx, name)
    if sql is None:
        raise MigrationError(f"trigger {name} is missing (migration 001 creates it)")
    return sql


def narrowed_trigger_sql(name: str, original: str) -> str:
    """The trigger's SQL with `AFTER UPDATE` made `AFTER UPDATE OF <columns>`, else the rest
    of the text unchanged. Refuses a trigger that reads a column outside that list."""
    table, columns = NARROWED_TRIGGERS[name]
    pattern = re.compile(rf"\bAFTER\s+UPDATE(?=\s+ON\s+[\"`\[]?{table}\b)", re.IGNORECASE)
    if len(pattern.findall(original)) != 1:
        raise MigrationError(
            f"trigger {name} is not `AFTER UPDATE ON {table}` as migration 001 made it: {original}"
        )
    read = {c.lower() for c in re.findall(r"\b(?:old|new)\.[\"`\[]?(\w+)", original, re.I)}
    if not read <= set(columns):
        raise MigrationError(
            f"trigger {name} reads column(s) {', '.join(sorted(read - set(columns)))}; "
            "narrowing it to the indexed columns would skip changes it needs"
        )
    return pattern.sub(lambda m: m.group(0) + _narrowing(columns), original)


def widened_trigger_sql(name: str, narrowed: str) -> str:
    """Exactly the inverse of narrowed_trigger_sql."""
    _table, columns = NARROWED_TRIGGERS[name]
    marker = re.compile(r"\bAFTER\s+UPDATE" + re.escape(_narrowing(columns)), re.IGNORECASE)
    if len(marker.findall(narrowed)) != 1:
        raise MigrationError(f"trigger {name} is not the narrowed trigger 003 made: {narrowed}")
    return marker.sub(lambda m: m.group(0)[: -len(_narrowing(columns))], narrowed)


def _replace_trigger(ctx: Any, name: str, sql: str) -> None:
    ctx.execute(f"DROP TRIGGER {name}")
    ctx.execute(sql)


# -- batches -------------------------------------------------------------------------------
def _batches(ctx: Any, value_type: str) -> Any:
    """Yield lists of (id, embedding) rows whose embedding has `value_type`, in id order."""
    last_id = ctx.scalar("SELECT coalesce(min(id), 0) - 1 FROM memories")
    while True:
        rows = ctx.query(
            "SELECT id, embedding FROM memories WHERE id > ? AND typeof(embedding) = ? "
            "ORDER BY id LIMIT ?",
            (last_id, value_type, BATCH_ROWS),
        )
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]


def _count(ctx: Any, value_type: str) -> int:
    return int(
        ctx.scalar("SELECT count(*) FROM memories WHERE typeof(embedding) = ?", (value_type,))
    )


def _convert_texts(ctx: Any) -> None:
    total, done = _count(ctx, "text"), 0
    ctx.progress(0, total)
    for rows in _batches(ctx, "text"):
        converted, quarantined = [], []
        for memory_id, text in rows:
            try:
                converted.append((text_to_blob(text), memory_id))
            except Unconvertible as exc:
                quarantined.append((memory_id, text, str(exc)))
        if converted:
            ctx.executemany("UPDATE memories SET embedding = ? WHERE id = ?", converted)
        if quarantined:
            ctx.executemany(
                f"INSERT INTO {QUARANTINE} (memory_id, original_text, reason, quarantined_at) "
                "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                quarantined,
            )
            ctx.executemany(
                "UPDATE memories SET embedding = NULL WHERE id = ?",
                [(memory_id,) for memory_id, _text, _reason in quarantined],
            )
        done += len(rows)
        ctx.progress(done, total)


def _convert_blobs(ctx: Any) -> None:
    total, done = _count(ctx, "blob"), 0
    ctx.progress(0, total)
    for rows in _batches(ctx, "blob"):
        ctx.executemany(
            "UPDATE memories SET embedding = ? WHERE id = ?",
            [(blob_to_text(bytes(blob), memory_id), memory_id) for memory_id, blob in rows],
        )
        done += len(rows)
        ctx.progress(done, total)


# -- the migration -------------------------------------------------------------------------
def up(ctx: Any) -> None:
    for name in NARROWED_TRIGGERS:
        _replace_trigger(ctx, name, narrowed_trigger_sql(name, _trigger_sql(ctx, name)))
    ctx.execute(QUARANTINE_DDL)
    _convert_texts(ctx)


def down(ctx: Any) -> None:
    _convert_blobs(ctx)
    # A memory given a new embedding since `up` keeps it; its quarantined text was superseded.
    ctx.execute(
        f"UPDATE memories SET embedding = (SELECT original_text FROM {QUARANTINE} q "
        "WHERE q.memory_id = memories.id) "
        f"WHERE embedding IS NULL AND id IN (SELECT memory_id FROM {QUARANTINE})"
    )
    ctx.execute(f"DROP TABLE {QUARANTINE}")
    for name in NARROWED_TRIGGERS:
        _replace_trigger(ctx, name, widened_trigger_sql(name, _trigger_sql(ctx, name)))
    left = _count(ctx, "blob")
    if left:
        raise MigrationError(f"{left} embedding BLOB(s) are still in memories after down")


def verify(ctx: Any) -> bool | str:
    texts = _count(ctx, "text")
    if texts:
        first = ctx.scalar("SELECT min(id) FROM memories WHERE typeof(embedding) = 'text'")
        return f"{texts} memories still hold a text embedding (first: memories.id {first})"
    ragged = ctx.scalar(
        "SELECT min(id) FROM memories WHERE typeof(embedding) = 'blob' AND length(embedding) % 4"
    )
    if ragged is not None:
        return f"memories.id {ragged}: embedding BLOB length is not a multiple of 4 (float32)"
    if not ctx.table_exists(QUARANTINE):
        return f"table {QUARANTINE} is missing"
    for name, (_table, columns) in NARROWED_TRIGGERS.items():
        sql = _stored_sql(ctx, name)
        if sql is None:
            return f"trigger {name} is missing"
        if _narrowing(columns).lower() not in " ".join(sql.split()).lower():
            return f"trigger {name} fires on every UPDATE again, not UPDATE{_narrowing(columns)}"
    return True
