"""Records: camelCase JSON both ways, raw legacy values dumped without warnings, and clear
one-line validation errors."""

from __future__ import annotations

import warnings

import pytest

from memvault import Memory, MemoryFields, MemoryType, ValidationError
from memvault.store.models import validate_fields, validate_patch

TS_MEMORY = {
    "id": "7",  # the TypeScript interfaces declare `id?: string`
    "userId": "u1",
    "title": "Tea",
    "content": "green",
    "memoryType": "preference",
    "importance": 0.9,
    "tags": ["drinks"],
    "entityIds": [1, 2],
    "embedding": [0.5, 0.25],
    "metadata": {"source": "chat"},
    "isArchived": False,
    "createdAt": "2025-10-06T12:00:00.000Z",
    "updatedAt": "2025-10-06T12:00:00.000Z",
}


def test_typescript_json_round_trips() -> None:
    memory = Memory.model_validate(TS_MEMORY)
    assert memory.user_id == "u1" and memory.memory_type is MemoryType.PREFERENCE
    assert memory.model_dump(mode="json", by_alias=True) == TS_MEMORY
    assert memory.model_dump()["memory_type"] == "preference"


def test_broken_legacy_values_dump_as_they_are_without_warnings() -> None:
    broken = Memory.model_construct(
        **{**Memory.model_validate(TS_MEMORY).__dict__},
    )
    broken.memory_type = "Dream"  # type: ignore[assignment]
    broken.tags = "{not json"  # type: ignore[assignment]
    broken.problems = ["tags: invalid JSON kept as raw text", "memory_type: unknown value"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dumped = broken.model_dump(mode="json", by_alias=True)
    assert dumped["memoryType"] == "Dream" and dumped["tags"] == "{not json"
    assert dumped["problems"] == broken.problems


def test_validation_errors_are_one_line_and_name_the_field() -> None:
    good = {"title": "t", "content": "c", "memory_type": "MEMORY"}
    camel = {"title": "t", "content": "c", "memoryType": "LEARNED"}
    assert validate_fields(MemoryFields, "memory", camel).memory_type is MemoryType.LEARNED
    for bad, expected in (
        ({**good, "importance": "high"}, "importance: Input should be a valid number"),
        ({**good, "tags": "x"}, "tags: Input should be a valid list"),
        ({**good, "embedding": [1, "a"]}, "embedding.1:"),
        ({"content": "c", "memory_type": "MEMORY"}, "title is required"),
    ):
        with pytest.raises(ValidationError) as exc:
            validate_fields(MemoryFields, "memory", bad)
        message = str(exc.value)
        assert expected in message and "\n" not in message, message


def test_patches_validate_only_what_changes() -> None:
    assert validate_patch(MemoryFields, "memory", {"importance": 1}) == {"importance": 1.0}
    assert validate_patch(MemoryFields, "memory", {"isArchived": True}) == {"is_archived": True}
    with pytest.raises(ValidationError, match="unknown field 'colour'"):
        validate_patch(MemoryFields, "memory", {"colour": "red"})
    with pytest.raises(ValidationError, match="title cannot be null"):
        validate_patch(MemoryFields, "memory", {"title": None})
    with pytest.raises(ValidationError, match="memory_type"):
        validate_patch(MemoryFields, "memory", {"memory_type": "dream"})
