"""get_daily_costs: a day's API usage per provider, as the service reported it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import Field

from memvault.errors import ValidationError
from memvault.mcp.tools import REGISTRY, Args, Result, Session

PROVIDERS = ("openai", "openrouter")


class CostArgs(Args):
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")


@REGISTRY.tool(
    "get_daily_costs",
    "Get daily API usage costs for OpenAI embeddings. Returns token usage and costs for the "
    "current day or a specific date.",
    CostArgs,
    {"properties": {"date": {"type": "string",
                             "description": "Date in YYYY-MM-DD format (defaults to today)"}}},
    read_only=True,
)  # fmt: skip
def get_daily_costs(session: Session, args: CostArgs) -> Result:
    day = args.date or datetime.now(UTC).date().isoformat()
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValidationError(f"invalid date {day!r}: use an existing YYYY-MM-DD day") from None
    totals = session.store.usage.daily_totals(session.user_id, day, day)
    summary = {p: {"tokens": 0, "cost": 0.0, "requests": 0} for p in (*PROVIDERS, "total")}
    for row in totals:
        for key in (row.api_provider, "total"):
            bucket = summary.setdefault(key, {"tokens": 0, "cost": 0.0, "requests": 0})
            bucket["tokens"] += row.tokens_used
            bucket["cost"] += row.cost_usd
            bucket["requests"] += row.requests
    lines = [f"Daily API Cost Report - {day}", ""]
    for name, label in (("openai", "OpenAI (Embeddings)"), ("openrouter", "OpenRouter")):
        s = summary[name]
        lines += [f"{label}:", f"  - Requests: {s['requests']}", f"  - Tokens: {s['tokens']:,}",
                  f"  - Cost: ${s['cost']:.4f}", ""]  # fmt: skip
    t = summary["total"]
    lines += [f"Total Daily Cost: ${t['cost']:.4f}", f"Total Requests: {t['requests']}",
              f"Total Tokens: {t['tokens']:,}"]  # fmt: skip
    return Result("\n".join(lines), {"date": day, **summary})
