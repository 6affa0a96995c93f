"""The listing's fast paths build the same records as the slow ones, broken rows included."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault import MemoryStore, ValidationError
from memvault.store import queries
from memvault.store.columns import dump_json, dump_list, load_embedding, load_json, load_list
from memvault.store.memories import memory_from_row
from memvault.store.models import Entity, Memory, MemoryFields, MemoryType, validate_fields

ROW = (7, "u", "T", "C", "LEARNED", 0.75, '["a","b"]', "[1,2]", None, '{"k":[1,{"x":null}]}', 0,
       "2025-10-06T12:00:00.000Z", "2025-10-06T12:00:01.000Z")  # fmt: skip


def slow(row: tuple[Any, ...]) -> Memory:
    """The record as model_construct builds it from already-decoded values."""
    problems: list[str] = []
    return Memory.model_construct(
        id=row[0], user_id=row[1], title=row[2], content=row[3],
        memory_type=MemoryType(row[4]), importance=row[5], tags=json.loads(row[6]),
        entity_ids=json.loads(row[7]), embedding=None, metadata=json.loads(row[9]),
        is_archived=bool(row[10]), created_at=row[11], updated_at=row[12], problems=problems,
    )  # fmt: skip


def test_fast_record_equals_model_construct() -> None:
    fast, reference = memory_from_row(ROW), slow(ROW)
    assert fast == reference
    assert fast.model_fields_set == reference.model_fields_set
    assert fast.model_dump(mode="json", by_alias=True) == reference.model_dump(
        mode="json", by_alias=True
    )
    fast.title = "changed"  # a record is an ordinary model afterwards
    assert fast.title == "changed" and reference.title == "T"


def test_broken_legacy_values_still_load_with_problems() -> None:
    row = (*ROW[:4], "nonsense", 2, "[not json", '{"a":1}', b"abc", "{oops", "true", *ROW[11:])
    memory = memory_from_row(row)
    assert memory.memory_type == "nonsense" and memory.tags == "[not json"
    assert memory.entity_ids == '{"a":1}' and memory.metadata == "{oops"
    assert memory.embedding is None and memory.is_archived is True
    assert memory.importance == 2  # outside the service's 0-1 scale: kept as written, noted
    assert len(memory.problems) == 6, memory.problems
    assert "problems" in memory.model_dump(by_alias=True)


def test_json_python_reads_but_orjson_refuses_reads_as_before() -> None:
    problems: list[str] = []
    value = load_json('{"v": NaN, "w": -Infinity}', "metadata", problems)
    assert np.isnan(value["v"]) and value["w"] == float("-inf")
    assert problems == []


def test_integers_beyond_64_bits_read_as_the_nearest_double() -> None:
    """As JavaScript (the legacy writer, whose numbers are all doubles) reads them."""
    assert load_list("[" + "9" * 30 + "]", "tags", []) == [1e30]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1))
def test_blob_embedding_reads_as_its_float32_values(values: list[float]) -> None:
    blob = np.asarray(values, dtype="<f4").tobytes()
    assert load_embedding(blob, []) == np.frombuffer(blob, dtype="<f4").tolist()


# -- embeddings on write --------------------------------------------------------------------
def draft(embedding: Any) -> MemoryFields:
    fields = {"title": "t", "content": "c", "memory_type": "MEMORY", "embedding": embedding}
    return validate_fields(MemoryFields, "memory", fields)


@pytest.mark.parametrize(
    "value",
    [[0.5, -1, 2], (0.5, -1, 2), np.array([0.5, -1, 2]), np.array([0.5, -1, 2], dtype="<f4"),
     np.array([1, -1, 2], dtype=np.int16), np.array([0.5, -1, 2], dtype=">f8")],
)  # fmt: skip
def test_embeddings_are_accepted_as_lists_or_arrays(value: Any) -> None:
    vector = draft(value).embedding
    assert vector.dtype == np.dtype("<f4")
    assert vector.tolist() == np.asarray(value, dtype=np.float32).tolist()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([1.0, float("nan")], "finite numbers only"),
        (np.array([np.inf, 0.0]), "finite numbers only"),
        ([1e39, 0.0], "beyond float32 range"),
        (np.array([-3.5e38]), "beyond float32 range"),
        ([], "at least one number"),
        (np.zeros((2, 2)), "one-dimensional"),
        ([0.5, "1.0"], "element 1 is not a number"),
        ([0.5, None], "element 1 is not a number"),
        ([True, False], "element 0 is not a number"),
        ([[1.0], [2.0, 3.0]], "element 0 is not a number"),
        ("[1.0]", "must be a list of numbers"),
    ],
)
def test_bad_embeddings_are_refused_naming_why(value: Any, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        draft(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-3.4e38, 3.4e38), min_size=1, max_size=64))
def test_stored_embedding_is_float32_of_the_numbers(
    tmp_path_factory: pytest.TempPathFactory, values: list[float]
) -> None:
    with MemoryStore.open(str(tmp_path_factory.mktemp("v") / "v.db")) as store:
        user, _ = store.users.create("v@example.com")
        as_array, as_list = store.memories.create_many(
            user.id,
            [
                {
                    "title": "a",
                    "content": "c",
                    "memory_type": "MEMORY",
                    "embedding": np.array(values),
                },
                {"title": "l", "content": "c", "memory_type": "MEMORY", "embedding": values},
            ],
        )
        expected = np.asarray(values, dtype=np.float32).tolist()
        for memory_id in (as_array, as_list):
            found = store.memories.get(user.id, memory_id)
            assert found is not None and found.embedding == expected


@given(st.lists(st.text()) | st.lists(st.integers(-(2**63), 2**63 - 1)))
def test_lists_are_written_as_the_same_json_text(value: list[Any]) -> None:
    assert dump_list(value) == dump_json(value)


@pytest.mark.parametrize(
    ("model", "columns"), [(Memory, "MEMORY_COLUMNS"), (Entity, "ENTITY_COLUMNS")]
)
def test_fast_built_records_get_every_field_from_the_selected_columns(
    model: type[Any], columns: str
) -> None:
    """construct_record fills no defaults: the SELECT must name every field but problems."""
    selected = [c.strip() for c in getattr(queries, columns).split(",")]
    assert set(model.model_fields) - {"problems"} == set(selected)
