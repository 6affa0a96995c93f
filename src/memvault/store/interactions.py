"""A user's interactions (prompt and response pairs), listed by date. Scoped by user."""

from __future__ import annotations

import builtins
from datetime import date, timedelta
from typing import Any

from memvault.db import driver
from memvault.errors import ValidationError
from memvault.store.columns import Clock, dump_json, load_json, row_values
from memvault.store.models import Interaction, InteractionFields, validate_fields
from memvault.store.runner import QueryRunner
from memvault.store.users import require_user


def interaction_from_row(row: driver.Row) -> Interaction:
    """A trusted interactions row as a record; broken metadata is kept and noted."""
    problems: builtins.list[str] = []
    values = row_values(row)
    values["metadata"] = load_json(row["metadata"], "metadata", problems)
    return Interaction.model_construct(**values, problems=problems)


class InteractionRepository:
    """Record and list one user's interactions."""

    def __init__(self, run: QueryRunner, clock: Clock) -> None:
        self._run = run
        self._clock = clock

    def add(self, user_id: str, **fields: Any) -> Interaction:
        """Record an interaction (user_prompt, assistant_response required, context,
        feedback, sentiment, metadata optional); NotFoundError if no such user."""
        data = validate_fields(InteractionFields, "interaction", fields)
        now = self._clock.now()
        values = data.model_dump() | {"created_at": now, "updated_at": now}
        values["metadata"] = dump_json(values["metadata"])
        with self._run.atomic():
            require_user(self._run, user_id)
            new_id = self._run.insert("interactions.insert", **values, user_id=user_id)
        return Interaction.model_construct(
            id=new_id,
            user_id=user_id,
            **data.model_dump(),
            created_at=now,
            updated_at=now,
            problems=[],
        )

    def list(
        self, user_id: str, start: date | str, end: date | str, limit: int = 100
    ) -> builtins.list[Interaction]:
        """The user's interactions dated from `start` to `end` inclusive (UTC), newest first."""
        first, last = _day(start, "start"), _day(end, "end")
        # A range on the raw ISO text (not DATE(created_at)) lets one index serve both the
        # filter and the newest-first order: no sort, whatever the range.
        after = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
        rows = self._run.rows(
            "interactions.list_by_date", user_id=user_id, start=first, after=after, limit=limit
        )
        return [interaction_from_row(row) for row in rows]


def _day(value: date | str, what: str) -> str:
    try:
        return (value if isinstance(value, date) else date.fromisoformat(value)).isoformat()
    except ValueError:
        raise ValidationError(f"invalid {what} date {value!r}: use YYYY-MM-DD") from None
