"""The memory store's records (pydantic v2): snake_case attributes, camelCase JSON.

Each table has a record model (what a read returns) and a fields model (what a write
accepts). Writes are validated through the fields models; reads build records with
`model_construct`, so trusted rows are not validated again. A legacy row whose JSON or
enumeration value is broken still loads: the raw value is kept and a note is added to
the record's `problems` list (left out of the JSON when empty).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from enum import IntEnum, StrEnum
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_serializer,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from memvault.errors import ValidationError
from memvault.store.embedding import Embedding


class EntityType(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    PROJECT = "project"
    CONCEPT = "concept"
    LOCATION = "location"
    EVENT = "event"


class PersonType(StrEnum):
    ME = "me"
    FAMILY = "family"
    FRIEND = "friend"
    COLLEAGUE = "colleague"
    CLIENT = "client"
    OTHER = "other"


class MemoryType(StrEnum):
    SYSTEM = "SYSTEM"
    LEARNED = "LEARNED"
    MEMORY = "MEMORY"
    BIOGRAPHICAL = "biographical"
    PROFESSIONAL = "professional"
    PERSONAL = "personal"
    TECHNICAL = "technical"
    PROJECT = "project"
    INTERACTION = "interaction"
    PREFERENCE = "preference"
    # The assistant-facing types of the service's MCP tool store_memory (default semantic).
    EPISODIC = "episodic"
    SEMANTIC = "semantic"
    PROCEDURAL = "procedural"
    WORKING = "working"
    SENSORY = "sensory"


class Importance(IntEnum):
    """An entity's importance: 1 low, 2 medium, 3 high, 4 critical (stored as the integer).

    A memory's importance is not a level but a float from 0 to 1 (see MEMORY_IMPORTANCE).
    """

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class ApiProvider(StrEnum):
    OPENAI = "openai"
    OPENROUTER = "openrouter"


def _as_stored(value: Any) -> Any:
    """Serialize a value as it is: a legacy row may hold a raw value of another type."""
    return value.value if isinstance(value, StrEnum) else value


# Fields that a legacy row may fill with something other than their declared type
# (an unknown enumeration value, a raw string of broken JSON). Serializing them as they
# are keeps model_dump free of type warnings and shows the raw value.
Raw = PlainSerializer(_as_stored)
EntityTypeField = Annotated[EntityType, Raw]
PersonTypeField = Annotated[PersonType | None, Raw]
MemoryTypeField = Annotated[MemoryType, Raw]
TagsField = Annotated[list[str], Raw]
EntityIdsField = Annotated[list[int], Raw]
JsonField = Annotated[Any, Raw]
ImportanceField = Annotated[int, Field(ge=1, le=4), Raw]
# A memory's importance as the service validates it: 0.0 to 1.0, default 0.5.
MEMORY_IMPORTANCE = 0.5
MemoryImportanceField = Annotated[float, Field(ge=0.0, le=1.0), Raw]


# Integer row ids, written as strings in JSON: the TypeScript service's interfaces declare
# `id?: string`, so JSON stays interchangeable with it (Python keeps the int).
RowId = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
        extra="forbid",
        # Each model's validator and serializer are built when first used, not at import:
        # a command that reads users never pays for the memory or usage models.
        defer_build=True,
    )


class Record(_Model):
    """A row read from the store; `problems` lists what was wrong with a legacy row."""

    problems: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _drop_empty_problems(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not data.get("problems"):
            data.pop("problems", None)
        return data


class User(Record):
    """An account; every other row belongs to one. The API key hash is never dumped."""

    id: str
    email: str
    name: str | None = None
    organization: str | None = None
    api_key_hash: str | None = Field(default=None, exclude=True)
    oauth_provider: str | None = None
    oauth_id: str | None = None
    is_active: bool = True
    metadata: JsonField = None
    created_at: str
    updated_at: str


class Entity(Record):
    """A person, organization, project, concept, location or event a user knows about."""

    id: RowId
    user_id: str | None
    name: str
    entity_type: EntityTypeField
    person_type: PersonTypeField = None
    description: str | None = None
    company: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    website: str | None = None
    social_media: str | None = None
    notes: str | None = None
    importance: ImportanceField = 2
    tags: TagsField = Field(default_factory=list)
    relationships: JsonField = None
    last_interaction: str | None = None
    interaction_count: int = 0
    metadata: JsonField = None
    created_at: str
    updated_at: str


class Memory(Record):
    """One remembered thing: text, a type, importance, tags, entity links, an embedding."""

    id: RowId
    user_id: str | None
    title: str
    content: str
    memory_type: MemoryTypeField
    importance: MemoryImportanceField = MEMORY_IMPORTANCE
    tags: TagsField = Field(default_factory=list)
    entity_ids: EntityIdsField = Field(default_factory=list)
    embedding: Embedding | None = None
    metadata: JsonField = None
    is_archived: bool = False
    created_at: str
    updated_at: str


class Interaction(Record):
    """One prompt and the assistant's response."""

    id: RowId
    user_id: str | None
    user_prompt: str
    assistant_response: str
    context: str | None = None
    feedback: str | None = None
    sentiment: str | None = None
    metadata: JsonField = None
    created_at: str
    updated_at: str


class ApiUsage(Record):
    """One call to a model provider, with its tokens and cost."""

    id: str
    user_id: str
    api_provider: Annotated[ApiProvider, Raw]
    model: str
    tokens_used: int = 0
    cost_usd: float
    operation_type: str
    timestamp: int
    date: str
    metadata: JsonField = None


class UsageTotal(_Model):
    """Usage summed over one period (a day YYYY-MM-DD or a month YYYY-MM) per provider+model."""

    period: str
    api_provider: str
    model: str
    requests: int
    tokens_used: int
    cost_usd: float


class MemoryHit(_Model):
    """A memory found by a search, with its score (higher is better)."""

    memory: Memory
    score: float


class EntityHit(_Model):
    """An entity found by a search, with its score (higher is better)."""

    entity: Entity
    score: float


R = TypeVar("R", bound=BaseModel)
_new_object = object.__new__
_set_slot = object.__setattr__


def construct_record(model: type[R], values: dict[str, Any], fields: set[str] | None = None) -> R:
    """A record from trusted, complete values (every field given): what `model_construct`
    makes, without its per-field default and alias handling (a listing's hot path).

    `fields` is the model's `fields_set(model)`, shared by its records instead of a new set
    each: every field is set, so pydantic's only change to it (adding an assigned field's
    name) leaves it as it is."""
    record = _new_object(model)
    _set_slot(record, "__dict__", values)
    _set_slot(record, "__pydantic_fields_set__", set(values) if fields is None else fields)
    _set_slot(record, "__pydantic_extra__", None)
    _set_slot(record, "__pydantic_private__", None)
    return record


def fields_set(model: type[BaseModel]) -> set[str]:
    """Every field name of the model: the fields set of a record built with all of them."""
    return set(model.model_fields)


# -- what writes accept ---------------------------------------------------------------------
class _Fields(_Model):
    """Validated input for a write; assignment is validated too, so patches are checked."""

    model_config = ConfigDict(validate_assignment=True)

    @field_validator("metadata", "relationships", check_fields=False)
    @classmethod
    def _json_only(cls, value: Any) -> Any:
        return _check_json(value)

    @field_validator("email", check_fields=False)
    @classmethod
    def _email_text(cls, value: str | None) -> str | None:
        return None if value is None else _check_email(value)


def _as_vector(value: Any) -> np.ndarray | None:
    """An embedding (a list of numbers or a 1-D NumPy array) as a little-endian float32
    array, checked in whole-array operations: no Python work per number. Refuses what
    float32 cannot hold: NaN, infinity, and finite values beyond its range (±3.4e38)."""
    if value is None:
        return None
    if not isinstance(value, np.ndarray | list | tuple):
        raise ValueError(f"an embedding must be a list of numbers, not {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged nesting
        arr = np.asarray(value, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"an embedding must be one-dimensional (shape {arr.shape})")
    if arr.size == 0:
        raise ValueError("an embedding must hold at least one number")
    if arr.dtype.kind not in "fiu":
        raise ValueError(_first_non_number(value))
    with np.errstate(over="ignore", invalid="ignore"):
        vector = arr.astype("<f4")
    if not np.isfinite(vector).all():
        if not np.isfinite(arr).all():
            raise ValueError("an embedding must hold finite numbers only (no NaN or infinity)")
        raise ValueError("an embedding value is beyond float32 range (±3.4e38)")
    return vector


def _first_non_number(value: Any) -> str:
    """Which element is not a number (only on the error path, so a loop is fine)."""
    items = value.tolist() if isinstance(value, np.ndarray) else value
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | float):
            return f"element {index} is not a number (got {item!r:.40})"
    return "an embedding must hold numbers only"


def _vector_as_list(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


# Accepted as a list of numbers or a NumPy array; held as float32; dumped as a list.
VectorField = Annotated[
    Any,
    BeforeValidator(_as_vector),
    PlainSerializer(_vector_as_list),
    WithJsonSchema({"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "null"}]}),
]


def _check_json(value: Any) -> Any:
    """JSON fields hold what JSON can: no NaN or Infinity, no Python-only objects."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("must be JSON: NaN and Infinity are not allowed") from None
    except (TypeError, RecursionError) as exc:
        raise ValueError(f"must be JSON ({exc})") from None
    return value


def _check_email(value: str) -> str:
    """No NUL or other control character in an address."""
    bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise ValueError(f"must not contain control characters (found {bad!r})")
    return value


class UserFields(_Fields):
    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None
    organization: str | None = None
    oauth_provider: str | None = None
    oauth_id: str | None = None
    is_active: bool = True
    metadata: dict[str, Any] | None = None


class EntityFields(_Fields):
    name: str = Field(min_length=1)
    entity_type: EntityType
    person_type: PersonType | None = None
    description: str | None = None
    company: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    website: str | None = None
    social_media: str | None = None
    notes: str | None = None
    importance: int = Field(default=2, ge=1, le=4)
    tags: list[str] = Field(default_factory=list)
    relationships: Any = None
    metadata: dict[str, Any] | None = None


class MemoryFields(_Fields):
    title: str = Field(min_length=1)
    content: str
    memory_type: MemoryType
    importance: float = Field(default=MEMORY_IMPORTANCE, ge=0.0, le=1.0, allow_inf_nan=False)
    tags: list[str] = Field(default_factory=list)
    entity_ids: list[int] = Field(default_factory=list)
    embedding: VectorField = None
    metadata: dict[str, Any] | None = None
    is_archived: bool = False


class InteractionFields(_Fields):
    user_prompt: str
    assistant_response: str
    context: str | None = None
    feedback: str | None = None
    sentiment: str | None = None
    metadata: dict[str, Any] | None = None


class UsageFields(_Fields):
    api_provider: ApiProvider
    model: str = Field(min_length=1)
    tokens_used: int = Field(default=0, ge=0)
    cost_usd: float = Field(ge=0)
    operation_type: str = Field(min_length=1)
    metadata: dict[str, Any] | None = None


F = TypeVar("F", bound="_Fields")

# Columns a patch may not set to NULL (NOT NULL in the schema, or meaningless as None).
_NOT_NULL = {
    "email",
    "name",
    "entity_type",
    "title",
    "content",
    "memory_type",
    "importance",
    "tags",
    "entity_ids",
    "is_active",
    "is_archived",
    "user_prompt",
    "assistant_response",
}


def validate_fields(model: type[F], what: str, data: Mapping[str, Any]) -> F:
    """Validate a whole write; raise memvault's ValidationError in one line naming the field."""
    try:
        return model.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid {what}: {describe(exc)}") from None


def field_values(fields: _Fields) -> dict[str, Any]:
    """A validated write's values by attribute name, without model_dump's deep copy."""
    return {name: getattr(fields, name) for name in type(fields).model_fields}


def validate_patch(model: type[_Fields], what: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate only the fields being changed; return them by attribute name."""
    draft = model.model_construct()
    names = _field_names(model)
    patch: dict[str, Any] = {}
    for key, value in changes.items():
        name = names.get(key)
        if name is None:
            raise ValidationError(f"invalid {what} update: unknown field {key!r}")
        if value is None and name in _NOT_NULL:
            raise ValidationError(f"invalid {what} update: {name} cannot be null")
        try:
            setattr(draft, name, value)
        except PydanticValidationError as exc:
            raise ValidationError(f"invalid {what} update: {describe(exc)}") from None
        patch[name] = getattr(draft, name)
    return patch


def _field_names(model: type[BaseModel]) -> dict[str, str]:
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        names[name] = name
        if info.alias:
            names[info.alias] = name
    return names


def describe(exc: PydanticValidationError) -> str:
    """The first problem of a pydantic error as `field: message (got value)`."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "value"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    if err["type"] == "missing":
        return f"{loc} is required"
    got = err.get("input")
    shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
    return f"{loc}: {message} (got {shown})"
