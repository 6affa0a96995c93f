"""A user's entities: people, organizations, projects and more. Every call is scoped by user."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from memvault.db import driver
from memvault.store.columns import Clock, dump_json, load_enum, load_json, load_list, row_values
from memvault.store.models import (
    Entity,
    EntityFields,
    EntityHit,
    EntityType,
    PersonType,
    construct_record,
    fields_set,
    validate_fields,
    validate_patch,
)
from memvault.store.queries import ENTITY_COLUMNS
from memvault.store.runner import QueryRunner, check_count
from memvault.store.search_index import SearchIndex, match_expression
from memvault.store.users import require_user

_JSON_COLUMNS = ("tags", "relationships", "metadata")


_ENTITY_NAMES = tuple(name.strip() for name in ENTITY_COLUMNS.split(","))
_ENTITY_FIELDS = fields_set(Entity)


def entity_from_row(row: driver.Row | tuple[Any, ...]) -> Entity:
    """A trusted entities row (ENTITY_COLUMNS, in order, then any extra column such as a
    search's score, left out) as a record; broken legacy values are kept and noted."""
    problems: builtins.list[str] = []
    values = dict(zip(_ENTITY_NAMES, row, strict=False))  # every field is a column
    values["entity_type"] = load_enum(values["entity_type"], EntityType, "entity_type", problems)
    if values["person_type"] is not None:
        values["person_type"] = load_enum(
            values["person_type"], PersonType, "person_type", problems
        )
    tags = values["tags"]
    values["tags"] = [] if tags == "[]" else load_list(tags, "tags", problems)
    for column in ("relationships", "metadata"):
        if values[column] is not None:
            values[column] = load_json(values[column], column, problems)
    values["interaction_count"] = values["interaction_count"] or 0
    values["problems"] = problems
    return construct_record(Entity, values, _ENTITY_FIELDS)


def storable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated entity fields as column values (JSON columns as text)."""
    values = dict(fields)
    for column in _JSON_COLUMNS:
        if column in values:
            values[column] = dump_json(values[column])
    for column in ("entity_type", "person_type"):
        if values.get(column) is not None:
            values[column] = str(values[column])
    return values


class EntityRepository:
    """Create, read, search, change and delete one user's entities."""

    def __init__(self, run: QueryRunner, clock: Clock, index: SearchIndex | None = None) -> None:
        self._run = run
        self._clock = clock
        self._index = index or SearchIndex(run)

    def create(self, user_id: str, **fields: Any) -> Entity:
        """Add an entity for `user_id` (name and entity_type required); NotFoundError if no
        such user."""
        data = validate_fields(EntityFields, "entity", fields)
        now = self._clock.now()
        values = storable(data.model_dump()) | {
            "user_id": user_id,
            "last_interaction": None,
            "interaction_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self._run.atomic():
            require_user(self._run, user_id)
            entity_id = self._run.insert("entities.insert", **values)
            self._index.drain()
            entity = self.get(user_id, entity_id)
        assert entity is not None
        return entity

    def get(self, user_id: str, entity_id: int) -> Entity | None:
        """The user's entity with this id, or None (also for another user's entity)."""
        row = self._run.one("entities.get", id=entity_id, user_id=user_id)
        return None if row is None else entity_from_row(row)

    def list(self, user_id: str, limit: int = 50, offset: int = 0) -> builtins.list[Entity]:
        """The user's entities, newest first."""
        rows = self._run.tuples("entities.list", user_id=user_id, limit=limit, offset=offset)
        return [entity_from_row(row) for row in rows]

    def search(self, user_id: str, text: str, limit: int = 20) -> builtins.list[EntityHit]:
        """Full-text search over name, description, notes and tags, best match first.

        Any text is safe: it is reduced to words, each matched literally (see fts_query).
        """
        if check_count("limit", limit) == 0:
            return []
        tenant = self._index.tenant(user_id)
        query = None if tenant is None else match_expression(tenant, text)
        if query is None:
            return []
        rows = self._run.rows("entities.search", query=query, user_id=user_id, limit=limit)
        return [EntityHit(entity=entity_from_row(r), score=float(r["score"])) for r in rows]

    def update(self, user_id: str, entity_id: int, **changes: Any) -> Entity | None:
        """Change fields of the user's entity; None (nothing changed) when it is not theirs."""
        patch = validate_patch(EntityFields, "entity", changes)
        with self._run.atomic():
            row = self._run.one("entities.get", id=entity_id, user_id=user_id)
            if row is None:
                return None
            values = row_values(row) | storable(patch)
            values["updated_at"] = self._clock.now()
            for column in ("id", "user_id", "created_at", "last_interaction", "interaction_count"):
                values.pop(column)
            self._run.execute("entities.update", **values, id=entity_id, user_id=user_id)
            self._index.drain()
            return self.get(user_id, entity_id)

    def record_interaction(self, user_id: str, entity_id: int) -> Entity | None:
        """Count one more interaction with the entity, now; None when it is not theirs."""
        with self._run.atomic():
            changed = self._run.execute(
                "entities.record_interaction", at=self._clock.now(), id=entity_id, user_id=user_id
            )
            return self.get(user_id, entity_id) if changed else None

    def delete(self, user_id: str, entity_id: int) -> bool:
        """Delete the user's entity; False (nothing deleted) when it is not theirs."""
        with self._run.atomic():
            deleted = self._run.execute("entities.delete", id=entity_id, user_id=user_id) > 0
            self._index.drain()
            return deleted
