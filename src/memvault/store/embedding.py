"""Embeddings on disk: little-endian float32 BLOBs (legacy files hold JSON text)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, overload

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


class Embedding(Sequence[float]):
    """A memory's embedding as read from the store: float32 values, decoded on first use.

    A listing carries every row's embedding as the stored bytes, so a page of records costs
    no Python float per number; indexing, iterating, comparing or dumping decodes it once.
    It compares equal to a list (or another Embedding) of the same numbers, `array()` gives
    the float32 values without Python floats, and it dumps as a JSON array of numbers.
    """

    __slots__ = ("_blob", "_values")

    def __init__(self, blob: bytes) -> None:
        if len(blob) % DTYPE.itemsize:
            raise ValueError(f"embedding of {len(blob)} bytes is not a float32 array")
        self._blob = blob
        self._values: list[float] | None = None

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> Embedding:
        """An embedding holding these numbers, rounded to float32."""
        blob = encode(values)
        assert blob is not None
        return cls(blob)

    def _list(self) -> list[float]:
        values = self._values
        if values is None:
            values = self._values = np.frombuffer(self._blob, dtype=DTYPE).tolist()
        return values

    def tolist(self) -> list[float]:
        """The values as a new list of Python floats."""
        return list(self._list())

    def array(self) -> np.ndarray:
        """The values as a read-only float32 array (no copy)."""
        return np.frombuffer(self._blob, dtype=DTYPE)

    def to_bytes(self) -> bytes:
        """The stored form: little-endian float32."""
        return self._blob

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self.array()
        if dtype is not None and np.dtype(dtype) != DTYPE:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __len__(self) -> int:
        return len(self._blob) // DTYPE.itemsize

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> list[float]: ...
    def __getitem__(self, index: int | slice) -> float | list[float]:
        return self._list()[index]

    def __iter__(self) -> Iterator[float]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Embedding):
            return self._blob == other._blob
        if isinstance(other, list | tuple):
            return self._list() == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._blob)

    def __repr__(self) -> str:
        head = ", ".join(f"{v:.4g}" for v in self[:3])
        return f"Embedding([{head}{', …' if len(self) > 3 else ''}], dim={len(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Embedding, (self._blob,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Validated from an Embedding or a list of numbers; dumped as a list of floats."""
        from pydantic_core import core_schema

        numbers = core_schema.list_schema(core_schema.float_schema())
        from_numbers = core_schema.no_info_after_validator_function(cls.of, numbers)
        return core_schema.json_or_python_schema(
            json_schema=from_numbers,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_numbers]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls.tolist, return_schema=numbers
            ),
        )
