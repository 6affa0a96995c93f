"""The Embedding a read record carries: float32 values, decoded when first used, that
behave as the list of numbers they hold (equality, len, index, dump, NumPy, pickle)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memvault import MemoryStore
from memvault.store.embedding import Embedding
from memvault.store.models import Memory

finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@given(st.lists(finite32, min_size=1, max_size=64))
def test_holds_exactly_the_float32_numbers(values: list[float]) -> None:
    embedding = Embedding.of(values)
    assert len(embedding) == len(values)
    assert embedding == values and embedding == tuple(values)
    assert embedding.tolist() == values and list(embedding) == values
    assert embedding[0] == values[0] and embedding[-1] == values[-1]
    assert embedding[1:3] == values[1:3]
    assert np.asarray(embedding).dtype == np.float32
    assert np.array_equal(np.asarray(embedding, dtype=np.float64), np.asarray(values))
    assert Embedding(embedding.to_bytes()) == embedding
    assert hash(Embedding(embedding.to_bytes())) == hash(embedding)
    assert pickle.loads(pickle.dumps(embedding)) == embedding


def test_rounds_to_float32_and_compares_by_value() -> None:
    embedding = Embedding.of([0.1, 2.0])
    assert embedding == [float(np.float32(0.1)), 2.0]
    assert embedding != [0.1, 2.0]  # 0.1 is not a float32
    assert embedding != [float(np.float32(0.1))]
    assert embedding != "not a vector"
    assert Embedding.of([1.0]) != Embedding.of([2.0])


def test_tolist_is_a_copy_and_the_array_is_read_only() -> None:
    embedding = Embedding.of([1.0, 2.0])
    embedding.tolist().append(3.0)
    assert len(embedding) == 2 and embedding == [1.0, 2.0]
    with pytest.raises(ValueError):
        embedding.array()[0] = 5.0


def test_a_blob_that_is_not_float32_is_refused() -> None:
    with pytest.raises(ValueError, match="7 bytes"):
        Embedding(b"\x00" * 7)


def test_records_dump_validate_and_describe_it_as_a_list(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "e.db") as store:
        user, _key = store.users.create(email="e@example.com")
        store.memories.create(
            user.id, title="t", content="c", memory_type="semantic", embedding=[0.5, -1.0]
        )
        store.memories.create(user.id, title="u", content="d", memory_type="semantic")
        with_vector, without = sorted(store.memories.list(user.id), key=lambda m: m.title)
    assert isinstance(with_vector.embedding, Embedding) and without.embedding is None
    assert with_vector.model_dump()["embedding"] == [0.5, -1.0]
    assert json.loads(with_vector.model_dump_json(by_alias=True))["embedding"] == [0.5, -1.0]
    assert Memory.model_validate(with_vector.model_dump()) == with_vector
    assert Memory.model_validate_json(with_vector.model_dump_json()) == with_vector
    schema = Memory.model_json_schema()["properties"]["embedding"]
    assert {"type": "array", "items": {"type": "number"}} in schema["anyOf"]
