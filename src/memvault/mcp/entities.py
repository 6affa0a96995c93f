"""Entity tools: list, get, search, create, update and delete the user's entities."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator

from memvault.errors import NotFoundError
from memvault.mcp.memories import row_id
from memvault.mcp.tools import REGISTRY, Args, Result, Session, dump
from memvault.store.models import Entity

# The service's entityType enum, then memvault's other types. Its `company` is stored as
# `organization` and `other` as `concept`: the legacy column allows only memvault's six.
SERVICE_TYPES = ["person", "company", "organization", "project", "other"]
TYPES = [*SERVICE_TYPES, "concept", "location", "event"]
STORED_AS = {"company": "organization", "other": "concept"}
EntityTypeName = Literal[
    "person", "company", "organization", "project", "other", "concept", "location", "event"
]
Level = Annotated[int, Field(ge=1, le=4)]
CONTACT_FIELDS = ["email", "phone", "company", "title"]


class EntityId(Args):
    id: str = Field(validation_alias=AliasChoices("id", "entity_id", "entityId"))

    @field_validator("id", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> str:
        return str(row_id(value, "entity id"))


def _describe(e: Entity) -> str:
    lines = [f"{e.name} ({e.entity_type})", f"   ID: {e.id}"]
    for label, value in (("Description", e.description), ("Email", e.email),
                         ("Company", e.company), ("Title", e.title)):  # fmt: skip
        if value:
            lines.append(f"   {label}: {value}")
    lines.append(f"   Importance: {e.importance}")
    lines.append(f"   Tags: {', '.join(e.tags) if e.tags else 'none'}")
    return "\n".join(lines)


def _listing(entities: list[Entity], heading: str, empty: str) -> str:
    if not entities:
        return empty
    body = "\n\n".join(f"{n}. {_describe(e)}" for n, e in enumerate(entities, start=1))
    return f"{heading}\n\n{body}"


class ListArgs(Args):
    limit: int = Field(100, ge=1, le=1000)


@REGISTRY.tool(
    "list_entities",
    "List all entities for the user",
    ListArgs,
    {"properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
                              "description": "Maximum number of entities to retrieve"}}},
    read_only=True,
)  # fmt: skip
def list_entities(session: Session, args: ListArgs) -> Result:
    found = session.store.entities.list(session.user_id, limit=args.limit)
    text = _listing(found, f"Found {len(found)} entities:", "No entities found")
    return Result(text, {"entities": [dump(e) for e in found]})


@REGISTRY.tool(
    "get_entity",
    "Retrieve a specific entity by ID",
    EntityId,
    {"properties": {"id": {"type": "string", "description": "Entity ID"}}, "required": ["id"]},
    read_only=True,
)
def get_entity(session: Session, args: EntityId) -> Result:
    entity = session.store.entities.get(session.user_id, int(args.id))
    if entity is None:
        raise NotFoundError(f"entity {args.id} not found")
    return Result(_describe(entity), {"entity": dump(entity)})


class SearchArgs(Args):
    query: str
    limit: int = Field(10, ge=1, le=100)


@REGISTRY.tool(
    "search_entities",
    "Search entities by name, description, or other attributes",
    SearchArgs,
    {
        "properties": {
            "query": {"type": "string", "description": "Search query"},
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "default": 10,
                "description": "Maximum number of entities to retrieve",
            },
        },
        "required": ["query"],
    },
    read_only=True,
)
def search_entities(session: Session, args: SearchArgs) -> Result:
    hits = session.store.entities.search(session.user_id, args.query, args.limit)
    text = _listing(
        [h.entity for h in hits],
        f'Found {len(hits)} entities for "{args.query}":',
        f'No entities found for "{args.query}"',
    )
    return Result(text, {"entities": [dump(h) for h in hits]})


class EntityFieldsArgs(Args):
    name: str | None = None
    description: str | None = None
    importance: Level | None = None
    tags: list[str] | None = None
    contact_info: str | None = Field(
        None, validation_alias=AliasChoices("contactInfo", "contact_info")
    )
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    title: str | None = None

    def changes(self, metadata: Any = None) -> dict[str, Any]:
        """The given fields as store fields; contactInfo goes into `metadata` (kept)."""
        values = {
            k: getattr(self, k)
            for k in ("name", "description", "importance", "tags", *CONTACT_FIELDS)
            if getattr(self, k) is not None
        }
        if self.contact_info is not None:
            kept = metadata if isinstance(metadata, dict) else {}
            values["metadata"] = {**kept, "contactInfo": self.contact_info}
        return values


class CreateArgs(EntityFieldsArgs):
    name: str
    entity_type: EntityTypeName = Field(
        "person", validation_alias=AliasChoices("entityType", "entity_type", "type")
    )


FIELD_SCHEMA: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "description": "Entity name"},
    "description": {"type": "string", "description": "Entity description"},
    "importance": {"type": "number", "minimum": 1, "maximum": 4,
                   "description": "Importance level (1=low, 2=medium, 3=high, 4=critical)"},
    "tags": {"type": "array", "items": {"type": "string"},
             "description": "Tags for categorization"},
    "contactInfo": {"type": "string", "description": "Contact information"},
    "email": {"type": "string", "description": "Email address"},
    "phone": {"type": "string", "description": "Phone number"},
    "company": {"type": "string", "description": "Company name (for persons)"},
    "title": {"type": "string", "description": "Job title (for persons)"},
}  # fmt: skip


@REGISTRY.tool(
    "create_entity",
    "Create a new entity (person, company, organization)",
    CreateArgs,
    {
        "properties": {
            **FIELD_SCHEMA,
            "entityType": {
                "type": "string",
                "enum": TYPES,
                "default": "person",
                "description": "Type of entity (company is stored as organization, "
                "other as concept)",
            },
            "importance": {**FIELD_SCHEMA["importance"], "default": 2},
        },
        "required": ["name", "entityType"],
    },
    read_only=False,
)
def create_entity(session: Session, args: CreateArgs) -> Result:
    kind = STORED_AS.get(args.entity_type, args.entity_type)
    entity = session.store.entities.create(session.user_id, entity_type=kind, **args.changes())
    return Result(
        f"Entity created.\n\nID: {entity.id}\nName: {entity.name}\nType: {entity.entity_type}",
        {"entity": dump(entity)},
    )


class UpdateArgs(EntityFieldsArgs, EntityId):
    pass


@REGISTRY.tool(
    "update_entity",
    "Update an existing entity",
    UpdateArgs,
    {
        "properties": {
            "id": {"type": "string", "description": "Entity ID to update"},
            **FIELD_SCHEMA,
        },
        "required": ["id"],
    },
    read_only=False,
)
def update_entity(session: Session, args: UpdateArgs) -> Result:
    current = session.store.entities.get(session.user_id, int(args.id))
    if current is None:
        raise NotFoundError(f"entity {args.id} not found")
    entity = session.store.entities.update(
        session.user_id, current.id, **args.changes(current.metadata)
    )
    if entity is None:
        raise NotFoundError(f"entity {args.id} not found")
    return Result(f"Entity {entity.id} updated.", {"entity": dump(entity)})


@REGISTRY.tool(
    "delete_entity",
    "Delete an entity by ID",
    EntityId,
    {
        "properties": {"id": {"type": "string", "description": "Entity ID to delete"}},
        "required": ["id"],
    },
    read_only=False,
    destructive=True,
)
def delete_entity(session: Session, args: EntityId) -> Result:
    if not session.store.entities.delete(session.user_id, int(args.id)):
        raise NotFoundError(f"entity {args.id} not found")
    return Result(f"Entity {args.id} deleted.", {"deleted": True, "id": args.id})
