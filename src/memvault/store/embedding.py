"""Embeddings on disk: little-endian float32 BLOBs (legacy files hold JSON text)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

DTYPE = np.dtype("<f4")


def encode(vector: Sequence[float] | np.ndarray | None) -> bytes | None:
    """A vector as little-endian float32 bytes; None for no embedding."""
    if vector is None:
        return None
    arr = np.asarray(vector, dtype=DTYPE)
    if arr.ndim != 1:
        raise ValueError(f"an embedding must be one-dimensional, got shape {arr.shape}")
    return arr.tobytes()


def decode(value: Any) -> np.ndarray | None:
    """Read a stored embedding: float32 BLOB, legacy JSON text, or NULL.

    Empty embeddings (`[]` or a zero-length BLOB) read as None. Raises ValueError for text
    that is not a JSON array of numbers.
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) % DTYPE.itemsize:
            raise ValueError(f"embedding BLOB of {len(raw)} bytes is not a float32 array")
        return np.frombuffer(raw, dtype=DTYPE) if raw else None
    if isinstance(value, str):
        parsed = json.loads(value)
        if not isinstance(parsed, list):
            raise ValueError("embedding JSON is not an array")
        return np.asarray(parsed, dtype=DTYPE) if parsed else None
    raise ValueError(f"unexpected embedding value of type {type(value).__name__}")
