"""Column values between SQLite and the records: JSON text, booleans, enumerations, time.

Reading never raises for a legacy value: it returns the raw value and appends a note to
`problems`, so one broken row cannot crash a listing.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

import numpy as np
import orjson

from memvault.db import driver
from memvault.store import embedding as embedding_codec
from memvault.store.embedding import Embedding
from memvault.timestamps import format_iso

E = TypeVar("E", bound=Enum)


def row_values(row: driver.Row, skip: str | None = None) -> dict[str, Any]:
    """A row as a column -> value dict (leaving out the column named `skip`)."""
    return {key: value for key, value in zip(row.keys(), row, strict=True) if key != skip}


def dump_json(value: Any) -> str | None:
    """A value as JSON text for a JSON column; None stays NULL."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dump_list(value: list[Any] | None) -> str | None:
    """A validated list of strings or integers as JSON text (orjson: the same text as
    dump_json for these, several times faster); None stays NULL."""
    if value is None:
        return None
    if not value:
        return "[]"
    return orjson.dumps(value).decode()


def load_json(raw: Any, column: str, problems: list[str], *, kind: type | None = None) -> Any:
    """Parse a JSON column; on broken JSON (or the wrong kind) keep `raw` and note it."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        problems.append(f"{column}: stored value is {type(raw).__name__}, not JSON text")
        return raw
    try:
        value = _parse_json(raw)
    except ValueError:
        problems.append(f"{column}: invalid JSON kept as raw text")
        return raw
    if kind is not None and value is not None and not isinstance(value, kind):
        problems.append(f"{column}: JSON is a {type(value).__name__}, expected {kind.__name__}")
        return raw
    return value


def _parse_json(text: str) -> Any:
    """orjson (several times faster), and json.loads for what it refuses but Python's json
    reads (NaN, Infinity, integers beyond 64 bits), so legacy rows read as they always did."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def load_list(raw: Any, column: str, problems: list[str]) -> Any:
    """A JSON array column: [] for NULL, the raw value (noted) when broken."""
    if raw == "[]":  # the common case, without a parser call
        return []
    if type(raw) is str:  # a well-formed array: one orjson call, no detour
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(parsed) is list:
                return parsed
    value = load_json(raw, column, problems, kind=list)
    return [] if value is None else value


def load_enum(raw: Any, enum: type[E], column: str, problems: list[str]) -> E | Any:
    """An enumeration member, or the raw value (noted) when it is not one of them."""
    if raw is None:
        return None
    member = enum._value2member_map_.get(raw)  # a dict look-up instead of enum(raw)
    if member is not None:
        return member
    try:
        return enum(raw)
    except ValueError:
        problems.append(f"{column}: unknown value {raw!r}")
        return raw


def load_memory_importance(raw: Any, problems: list[str]) -> float | Any:
    """A memory's importance as a float in [0, 1]; anything else is kept as it is and noted.

    The column's INTEGER affinity turns 1.0 into 1, so whole numbers come back as ints.
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(f"importance: {raw!r} is not a number from 0 to 1")
        return raw
    if not 0.0 <= raw <= 1.0:
        problems.append(f"importance: {raw!r} is outside 0 to 1")
        return raw
    return float(raw)


def load_bool(raw: Any) -> bool:
    """SQLite booleans: 0/1, and the odd 'true'/'false' text."""
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes")
    return bool(raw)


def load_embedding(raw: Any, problems: list[str]) -> Embedding | None:
    """A stored embedding (float32 BLOB or legacy JSON), decoded when first used; None for
    none (noted when the stored value is unreadable)."""
    if type(raw) is bytes and raw and not len(raw) % 4:  # the usual float32 BLOB: no detour
        return Embedding(raw)
    vector = decode_embedding(raw, problems)
    return None if vector is None else Embedding.of(vector)


def decode_embedding(raw: Any, problems: list[str] | None = None) -> np.ndarray | None:
    """A stored embedding as a float32 array; None for none, or for a broken value."""
    try:
        return embedding_codec.decode(raw)
    except ValueError as exc:
        if problems is not None:
            problems.append(f"embedding: unreadable ({exc})")
        return None


class Clock:
    """UTC timestamps in the legacy format, strictly increasing within this process.

    Listings sort by created_at; two rows written in the same millisecond would tie, so
    the clock hands out the next millisecond instead.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> str:
        """The current time as 2025-10-06T12:00:00.000Z, later than any earlier call."""
        with self._lock:
            current = datetime.now(UTC)
            now = current.replace(microsecond=current.microsecond // 1000 * 1000)
            if now <= self._last:
                now = self._last + timedelta(milliseconds=1)
            self._last = now
        return format_iso(now)
