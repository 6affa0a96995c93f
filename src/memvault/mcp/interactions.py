"""Interaction history (memvault's addition): record a prompt and response, list by date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AliasChoices, Field

from memvault.mcp.tools import REGISTRY, Args, Result, Session, dump


class RecordArgs(Args):
    user_prompt: str = Field(validation_alias=AliasChoices("userPrompt", "user_prompt", "prompt"))
    assistant_response: str = Field(
        validation_alias=AliasChoices("assistantResponse", "assistant_response", "response")
    )
    context: str | None = None
    feedback: str | None = None
    sentiment: str | None = None
    metadata: dict[str, Any] | None = None


@REGISTRY.tool(
    "record_interaction",
    "Record one exchange: the user's prompt and the assistant's response (memvault)",
    RecordArgs,
    {
        "properties": {
            "userPrompt": {"type": "string", "description": "What the user said"},
            "assistantResponse": {"type": "string", "description": "What the assistant answered"},
            "context": {"type": "string", "description": "Context of the exchange"},
            "feedback": {"type": "string", "description": "The user's feedback"},
            "sentiment": {"type": "string", "description": "Sentiment of the exchange"},
            "metadata": {"type": "object", "description": "Additional metadata"},
        },
        "required": ["userPrompt", "assistantResponse"],
    },
    read_only=False,
)
def record_interaction(session: Session, args: RecordArgs) -> Result:
    made = session.store.interactions.add(session.user_id, **args.model_dump())
    return Result(f"Interaction {made.id} recorded.", {"interaction": dump(made)})


class ListArgs(Args):
    start: str | None = Field(None, validation_alias=AliasChoices("start", "startDate", "from"))
    end: str | None = Field(None, validation_alias=AliasChoices("end", "endDate", "to"))
    limit: int = Field(20, ge=1, le=500)


@REGISTRY.tool(
    "list_interactions",
    "List recorded interactions from start to end date (YYYY-MM-DD, default the last 7 days), "
    "newest first (memvault)",
    ListArgs,
    {
        "properties": {
            "start": {
                "type": "string",
                "description": "First day, YYYY-MM-DD (default: 6 days ago)",
            },
            "end": {"type": "string", "description": "Last day, YYYY-MM-DD (default: today)"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20},
        }
    },
    read_only=True,
)
def list_interactions(session: Session, args: ListArgs) -> Result:
    today = datetime.now(UTC).date()
    end = args.end or today.isoformat()
    start = args.start or (today - timedelta(days=6)).isoformat()
    found = session.store.interactions.list(session.user_id, start, end, args.limit)
    lines = [f"{len(found)} interactions from {start} to {end}:"]
    for i in found:
        lines.append(
            f"- {i.created_at} #{i.id}: {i.user_prompt[:80]} -> {i.assistant_response[:80]}"
        )
    return Result("\n".join(lines), {"interactions": [dump(i) for i in found]})
