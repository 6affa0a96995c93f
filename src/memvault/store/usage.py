"""A user's API usage: one row per provider call; daily and monthly totals. Scoped by user."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, date, datetime
from typing import Any

from memvault.errors import ValidationError
from memvault.store.columns import dump_json, load_enum, load_json, row_values
from memvault.store.models import ApiProvider, ApiUsage, UsageFields, UsageTotal, validate_fields
from memvault.store.runner import QueryRunner
from memvault.store.users import require_user

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def usage_from_row(row: sqlite3.Row) -> ApiUsage:
    """A trusted api_usage_tracking row as a record."""
    problems: list[str] = []
    values = row_values(row)
    values["api_provider"] = load_enum(row["api_provider"], ApiProvider, "api_provider", problems)
    values["metadata"] = load_json(row["metadata"], "metadata", problems)
    return ApiUsage.model_construct(**values, problems=problems)


class UsageRepository:
    """Record provider calls and sum them per day or month, provider and model."""

    def __init__(self, run: QueryRunner) -> None:
        self._run = run

    def record(self, user_id: str, *, at: datetime | None = None, **fields: Any) -> ApiUsage:
        """Record one call (api_provider, model, cost_usd, operation_type, tokens_used,
        metadata); `at` defaults to now. NotFoundError if no such user."""
        data = validate_fields(UsageFields, "API usage", fields)
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        values = data.model_dump() | {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "timestamp": int(moment.timestamp() * 1000),  # unix ms, as the service writes
            "date": moment.date().isoformat(),
        }
        values["api_provider"] = str(values["api_provider"])
        values["metadata"] = dump_json(values["metadata"])
        with self._run.atomic():
            require_user(self._run, user_id)
            self._run.execute("usage.insert", **values)
        return ApiUsage.model_construct(**(values | {"metadata": data.metadata}), problems=[])

    def daily_totals(self, user_id: str, start: date | str, end: date | str) -> list[UsageTotal]:
        """Totals per day, provider and model from `start` to `end` inclusive."""
        rows = self._run.rows(
            "usage.daily_totals", user_id=user_id, start=_day(start), end=_day(end)
        )
        return [_total(row) for row in rows]

    def monthly_totals(self, user_id: str, start_month: str, end_month: str) -> list[UsageTotal]:
        """Totals per month (YYYY-MM), provider and model from `start_month` to `end_month`."""
        for month in (start_month, end_month):
            if not _MONTH.match(month):
                raise ValidationError(f"invalid month {month!r}: use YYYY-MM")
        rows = self._run.rows(
            "usage.monthly_totals", user_id=user_id, start_month=start_month, end_month=end_month
        )
        return [_total(row) for row in rows]


def _total(row: sqlite3.Row) -> UsageTotal:
    return UsageTotal.model_construct(
        period=row["period"],
        api_provider=row["api_provider"],
        model=row["model"],
        requests=row["requests"],
        tokens_used=row["tokens_used"],
        cost_usd=row["cost_usd"],
    )


def _day(value: date | str) -> str:
    try:
        return (value if isinstance(value, date) else date.fromisoformat(value)).isoformat()
    except ValueError:
        raise ValidationError(f"invalid date {value!r}: use YYYY-MM-DD") from None
