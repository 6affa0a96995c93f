"""The MCP server: the registry's tools on the SDK's low-level Server, errors as one line.

`build_server(store, embedder, tenant)` returns an `mcp.server.lowlevel.Server`; `tenant`
turns each request's context into the user id it acts for (fixed over stdio, the API key's
user over HTTP), so no tool ever takes a user id from its arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import mcp.types as types
from mcp.server.lowlevel import Server
from pydantic import ValidationError as PydanticValidationError

from memvault.db import driver
from memvault.embed.providers import Embedder
from memvault.errors import MemvaultError
from memvault.mcp import entities, interactions, memories, usage  # noqa: F401  (register tools)
from memvault.mcp.tools import REGISTRY, Result, Session, Tool
from memvault.store import MemoryStore
from memvault.store.models import describe

log = logging.getLogger("memvault.mcp")
SERVER_NAME = "memvault"

Tenant = Callable[[Any], str]


def tool_list() -> list[types.Tool]:
    """Every tool as MCP announces it: name, description, input schema, hints."""
    return [
        types.Tool(
            name=t.name,
            description=t.description,
            input_schema=t.schema,
            annotations=types.ToolAnnotations(
                read_only_hint=t.read_only,
                destructive_hint=t.destructive,
                idempotent_hint=t.read_only,
                open_world_hint=False,
            ),
        )
        for t in REGISTRY.tools.values()
    ]


def run_tool(session: Session, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
    """Validate the arguments, run the tool; any failure is an isError result of one line."""
    tool = REGISTRY.tools.get(name)
    if tool is None:
        return _error(f"unknown tool {name!r}")
    try:
        args = tool.args.model_validate(arguments or {})
        result = tool.handler(session, args)
    except PydanticValidationError as exc:
        return _error(f"invalid arguments for {name}: {describe(exc)}")
    except (MemvaultError, ValueError) as exc:
        return _error(f"{name}: {_one_line(str(exc))}")
    except driver.Error as exc:
        return _error(f"{name}: database error: {_one_line(str(exc))}")
    except Exception as exc:  # a bug: the server must keep serving
        log.exception("tool %s failed", name)
        return _error(f"{name}: internal error: {type(exc).__name__}: {_one_line(str(exc))}")
    return _success(result)


def _success(result: Result) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result.text)],
        structured_content=result.data,
        is_error=False,
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_server(store: MemoryStore, embedder: Embedder | None, tenant: Tenant) -> Server[Any]:
    """The SDK server answering tools/list and tools/call for `tenant(ctx)`'s rows."""
    tools = tool_list()

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        session = Session(store, embedder, tenant(ctx))
        return run_tool(session, params.name, params.arguments)

    return Server(
        SERVER_NAME,
        version=version("memvault"),
        instructions="Long-term memory: store_memory to remember, recall_memories to recall.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def tool_names() -> list[str]:
    return list(REGISTRY.tools)


__all__ = ["Tool", "build_server", "run_tool", "tool_list", "tool_names"]
