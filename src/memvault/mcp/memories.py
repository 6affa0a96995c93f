"""Memory tools: store, recall, get, update, delete, statistics and the embedding back-fill."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import AliasChoices, Field, field_validator

from memvault.embed.backfill import ModelMismatchError, backfill, text_of, usable_model
from memvault.embed.providers import EmbeddingError
from memvault.errors import NotFoundError
from memvault.mcp.recall import STRATEGIES, recall, require_vectors
from memvault.mcp.tools import REGISTRY, Args, Result, Session, dump
from memvault.store.models import Memory

MemoryTypeName = Literal["episodic", "semantic", "procedural", "working", "sensory"]
MEMORY_TYPES = list(get_args(MemoryTypeName))
Importance = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _aliases(*names: str) -> Any:
    return Field(validation_alias=AliasChoices(*names))


def row_id(value: Any, what: str) -> int:
    """A row id from a tool argument (the service's ids are strings: "42")."""
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{what} must be digits")
    return int(text)


class MemoryId(Args):
    id: str = _aliases("id", "memory_id", "memoryId")

    @field_validator("id", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> str:
        return str(row_id(value, "memory id"))


ID_SCHEMA = {"properties": {"id": {"type": "string", "description": "Memory item ID"}},
             "required": ["id"]}  # fmt: skip
TAGS = {"type": "array", "items": {"type": "string"}}
ENTITY_IDS = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Ids of the user's entities this memory is about (memvault)",
}


def _embed(session: Session, memory: Memory) -> str:
    """Give a new or changed memory its vector; a line saying how that went."""
    if session.embedder is None:
        return "without embedding (embedding provider: none)"
    try:
        model = usable_model(session.store, session.user_id, session.embedder)
        vector = session.embedder.embed([text_of(memory.title, memory.content)], session.user_id)
        session.store.vectors.write(session.user_id, {memory.id: vector[0]}, model)
    except (EmbeddingError, ModelMismatchError) as exc:
        return f"without embedding: {exc}"
    return f"with embedding ({model.provider}/{model.model})"


class StoreArgs(Args):
    content: str
    type: MemoryTypeName = Field(
        "semantic", validation_alias=AliasChoices("type", "memory_type", "memoryType")
    )
    importance: Importance = 0.5
    metadata: dict[str, Any] | None = None
    title: str | None = None
    tags: list[str] | str | None = None
    entity_ids: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("entityIds", "entity_ids")
    )


@REGISTRY.tool(
    "store_memory",
    "Store a new memory",
    StoreArgs,
    {
        "properties": {
            "content": {"type": "string", "description": "The content to store in memory"},
            "type": {
                "type": "string",
                "enum": MEMORY_TYPES,
                "description": "Type of memory",
                "default": "semantic",
            },
            "importance": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Importance score (0-1)",
                "default": 0.5,
            },
            "metadata": {"type": "object", "description": "Additional metadata"},
            "title": {"type": "string", "description": "A short title (default: Memory)"},
            "tags": {**TAGS, "description": "Tags for the memory"},
            "entityIds": ENTITY_IDS,
        },
        "required": ["content"],
    },
    read_only=False,
)
def store_memory(session: Session, args: StoreArgs) -> Result:
    meta = dict(args.metadata or {})
    title = args.title or meta.pop("title", None) or "Memory"
    tags = args.tags if args.tags is not None else meta.pop("tags", [])
    meta.pop("title", None), meta.pop("tags", None)
    memory = session.store.memories.create(
        session.user_id,
        title=str(title),
        content=args.content,
        memory_type=args.type,
        importance=args.importance,
        tags=[tags] if isinstance(tags, str) else list(tags),
        entity_ids=[row_id(i, "entity id") for i in args.entity_ids],
        metadata=meta or None,
    )
    status = _embed(session, memory)
    memory = session.store.memories.get(session.user_id, memory.id) or memory
    text = (
        f"Memory stored {status}.\n\nID: {memory.id}\nContent: {memory.content}\n"
        f"Type: {args.type}\nImportance: {args.importance}"
    )
    return Result(text, {"memory": dump(memory), "embedding": status})


class RecallArgs(Args):
    query: str
    limit: int = Field(10, ge=1, le=100)
    strategy: Literal["recency", "frequency", "importance", "similarity", "composite"] = "composite"
    threshold: float = Field(0.3, ge=0.0, le=1.0)


@REGISTRY.tool(
    "recall_memories",
    "Retrieve memories based on a query (strategy composite: BM25 + vectors + importance + "
    "recency)",
    RecallArgs,
    {
        "properties": {
            "query": {"type": "string", "description": "Query string to search memories"},
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "description": "Maximum number of memories to retrieve",
                "default": 10,
            },
            "strategy": {
                "type": "string",
                "enum": list(STRATEGIES),
                "description": "Recall strategy to use",
                "default": "composite",
            },
            "threshold": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Minimum relevance threshold",
                "default": 0.3,
            },
        },
        "required": ["query"],
    },
    read_only=True,
)
def recall_memories(session: Session, args: RecallArgs) -> Result:
    if args.strategy == "similarity":
        require_vectors(session)
    hits = recall(session, args.query, args.limit, args.strategy, args.threshold)
    if not hits:
        text = f'No memories found for "{args.query}"'
    else:
        lines = [f'Found {len(hits)} memories for "{args.query}" ({args.strategy}):', ""]
        for n, hit in enumerate(hits, start=1):
            m = hit.memory
            lines.append(
                f"{n}. Memory ID: {m.id} (score {hit.score:.3f})\n   Content: {_short(m.content)}"
                f"\n   Type: {m.memory_type}\n   Importance: {m.importance}"
                f"\n   Tags: {', '.join(m.tags) if m.tags else 'none'}\n   Created: {m.created_at}"
            )
        text = "\n".join(lines)
    data = {"strategy": args.strategy, "memories": [dump(h) for h in hits]}
    return Result(text, data)


def _short(text: str, size: int = 150) -> str:
    return text if len(text) <= size else text[:size] + "..."


def _require(session: Session, memory_id: int) -> Memory:
    memory = session.store.memories.get(session.user_id, memory_id)
    if memory is None:
        raise NotFoundError(f"memory {memory_id} not found")
    return memory


@REGISTRY.tool(
    "get_memory", "Retrieve a specific memory by ID", MemoryId, ID_SCHEMA, read_only=True
)
def get_memory(session: Session, args: MemoryId) -> Result:
    m = _require(session, int(args.id))
    text = (
        f"Memory {m.id}: {m.title}\nContent: {m.content}\nType: {m.memory_type}\n"
        f"Importance: {m.importance}\nTags: {', '.join(m.tags) if m.tags else 'none'}\n"
        f"Entities: {', '.join(map(str, m.entity_ids)) or 'none'}\nCreated: {m.created_at}"
    )
    return Result(text, {"memory": dump(m)})


class UpdateArgs(MemoryId):
    title: str | None = None
    content: str | None = None
    importance: Importance | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    type: MemoryTypeName | None = Field(
        None, validation_alias=AliasChoices("type", "memory_type", "memoryType")
    )
    entity_ids: list[str] | None = Field(
        None, validation_alias=AliasChoices("entityIds", "entity_ids")
    )


@REGISTRY.tool(
    "update_memory",
    "Update an existing memory",
    UpdateArgs,
    {
        "properties": {
            "id": {"type": "string", "description": "Memory item ID to update"},
            "title": {"type": "string", "description": "Updated title"},
            "content": {"type": "string", "description": "Updated content"},
            "importance": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Updated importance score",
            },
            "tags": {**TAGS, "description": "Updated tags"},
            "metadata": {"type": "object", "description": "Updated metadata"},
            "type": {
                "type": "string",
                "enum": MEMORY_TYPES,
                "description": "Updated type (memvault)",
            },
            "entityIds": ENTITY_IDS,
        },
        "required": ["id"],
    },
    read_only=False,
)
def update_memory(session: Session, args: UpdateArgs) -> Result:
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "title": args.title,
            "content": args.content,
            "importance": args.importance,
            "tags": args.tags,
            "metadata": args.metadata,
            "memory_type": args.type,
        }.items()
        if v is not None
    }
    if args.entity_ids is not None:
        changes["entity_ids"] = [row_id(i, "entity id") for i in args.entity_ids]
    memory = session.store.memories.update(session.user_id, int(args.id), **changes)
    if memory is None:
        raise NotFoundError(f"memory {args.id} not found")
    status = _embed(session, memory) if {"title", "content"} & changes.keys() else "unchanged"
    memory = session.store.memories.get(session.user_id, memory.id) or memory
    return Result(f"Memory {memory.id} updated (embedding {status}).", {"memory": dump(memory)})


@REGISTRY.tool(
    "delete_memory",
    "Delete a memory by ID",
    MemoryId,
    {
        "properties": {"id": {"type": "string", "description": "Memory item ID to delete"}},
        "required": ["id"],
    },
    read_only=False,
    destructive=True,
)
def delete_memory(session: Session, args: MemoryId) -> Result:
    if not session.store.memories.delete(session.user_id, int(args.id)):
        raise NotFoundError(f"memory {args.id} not found")
    return Result(f"Memory {args.id} deleted.", {"deleted": True, "id": args.id})


@REGISTRY.tool(
    "get_memory_stats", "Get statistics about stored memories", Args, {"properties": {}},
    read_only=True,
)  # fmt: skip
def get_memory_stats(session: Session, args: Args) -> Result:
    counts = session.store.vectors.counts(session.user_id)
    model = session.store.vectors.model(session.user_id)
    coverage = round(100 * counts.embedded / max(counts.total, 1))
    types = "\n".join(f"  - {t}: {n}" for t, n in counts.by_type.items()) or "  - None"
    made_by = f"{model.provider}/{model.model} ({model.dimension}-d)" if model else "not recorded"
    text = (
        f"Memory Statistics:\n\n- Total Memories: {counts.total}\n- Total Entities: "
        f"{counts.entities}\n- Memories by Type:\n{types}\n- Vector Embeddings: "
        f"{counts.embedded}/{counts.total} ({coverage}%), made by {made_by}"
    )
    data = {
        "totalMemories": counts.total,
        "totalEntities": counts.entities,
        "memoriesByType": counts.by_type,
        "memoriesWithEmbeddings": counts.embedded,
        "embeddingCoverage": coverage,
        "embeddingModel": None if model is None else {
            "provider": model.provider, "model": model.model, "dimension": model.dimension,
            "reembedAfterId": model.reembed_after_id,
        },
    }  # fmt: skip
    return Result(text, data)


@REGISTRY.tool(
    "update_missing_embeddings",
    "Manually trigger embedding generation for all memories without embeddings",
    Args,
    {"properties": {}},
    read_only=False,
)
def update_missing_embeddings(session: Session, args: Args) -> Result:
    require_vectors(session, "update_missing_embeddings")
    assert session.embedder is not None
    result = backfill(session.store, session.embedder, session.user_id)
    model = f"{result.model.provider}/{result.model.model}"
    text = f"Embedding update completed: {result.updated} memories embedded with {model}."
    return Result(text, {"updated": result.updated, "failed": 0, "model": model})
