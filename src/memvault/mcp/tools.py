"""The tool registry: each tool is a name, an input schema, annotations and a handler.

A handler receives the tenant (decided once by the transport, never by an argument), the
server's resources and its validated arguments, makes one store call, and returns a
`Result`: readable text plus the camelCase JSON of the models (structured content).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from memvault.embed.providers import Embedder
from memvault.store import MemoryStore


class Args(BaseModel):
    """Tool arguments: unknown keys are ignored, as the service ignored them."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


@dataclass
class Session:
    """What a tool call acts on: the store, the embedder, and whose rows (one user)."""

    store: MemoryStore
    embedder: Embedder | None
    user_id: str


@dataclass(frozen=True)
class Result:
    """A tool's answer: text for people, structured JSON for programs."""

    text: str
    data: dict[str, Any]


Handler = Callable[[Session, Any], Result]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[Args]
    handler: Handler
    schema: dict[str, Any]
    read_only: bool
    destructive: bool = False


@dataclass
class Registry:
    tools: dict[str, Tool] = field(default_factory=dict)

    def tool(
        self,
        name: str,
        description: str,
        args: type[Args],
        schema: dict[str, Any],
        *,
        read_only: bool,
        destructive: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a handler under `name` with the service's JSON schema for its input."""

        def register(handler: Handler) -> Handler:
            full = {"type": "object", **schema}
            self.tools[name] = Tool(name, description, args, handler, full, read_only, destructive)
            return handler

        return register


REGISTRY = Registry()


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as the camelCase JSON the service's tools spoke (no embedding: it is large)."""
    data = model.model_dump(mode="json", by_alias=True)
    _drop_embeddings(data)
    return data


def _drop_embeddings(value: Any) -> None:
    if isinstance(value, dict):
        if "embedding" in value:
            vector = value.pop("embedding")
            value["hasEmbedding"] = vector is not None
        for item in value.values():
            _drop_embeddings(item)
    elif isinstance(value, list):
        for item in value:
            _drop_embeddings(item)
