"""Accounts: the only repository whose rows are not scoped by another user's id.

API keys are never stored: only the SHA-256 hex digest of a key (`api_key_hash`), so a key
is shown once, when it is made, and looked up by hashing what a client presents.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from memvault.db import driver
from memvault.errors import NotFoundError, ValidationError
from memvault.store.columns import Clock, dump_json, load_bool, load_json, row_values
from memvault.store.models import User, UserFields, validate_fields, validate_patch
from memvault.store.runner import QueryRunner
from memvault.store.search_index import SearchIndex

API_KEY_PREFIX = "mv_"
# A key a user brings must be at least this long (generated ones have 46 characters).
MIN_API_KEY_LENGTH = 24


def hash_api_key(api_key: str) -> str:
    """The stored form of an API key: SHA-256, hex (the legacy `api_key_hash`)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A fresh random API key (shown once; only its hash is kept)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def user_from_row(row: driver.Row) -> User:
    """A trusted users row as a record, without re-validating it."""
    problems: builtins.list[str] = []
    return User.model_construct(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        organization=row["organization"],
        api_key_hash=row["api_key_hash"],
        oauth_provider=row["oauth_provider"],
        oauth_id=row["oauth_id"],
        is_active=load_bool(row["is_active"]),
        metadata=load_json(row["metadata"], "metadata", problems),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        problems=problems,
    )


class UserRepository:
    """Create, find, change and delete accounts."""

    def __init__(self, run: QueryRunner, clock: Clock) -> None:
        self._run = run
        self._clock = clock

    def create(
        self,
        email: str,
        *,
        api_key: str | None = None,
        user_id: str | None = None,
        **fields: Any,
    ) -> tuple[User, str]:
        """Create an account; return it and its API key (the only time the key is shown).

        `api_key` adopts a key made elsewhere; otherwise one is generated. Other fields:
        name, organization, oauth_provider, oauth_id, is_active, metadata.
        """
        data = validate_fields(UserFields, "user", {"email": email, **fields})
        key = api_key if api_key is not None else new_api_key()
        if len(key.strip()) < MIN_API_KEY_LENGTH:
            raise ValidationError(
                f"invalid user: api_key must be at least {MIN_API_KEY_LENGTH} characters "
                f"(got {len(key.strip())})"
            )
        now = self._clock.now()
        values = {
            "id": user_id or str(uuid.uuid4()),
            "api_key_hash": hash_api_key(key),
            **_storable(data.model_dump()),
            "created_at": now,
            "updated_at": now,
        }
        with self._run.atomic():
            self._check_email_free(data.email, None)
            if self._run.one("users.exists", user_id=values["id"]) is not None:
                raise ValidationError(f"invalid user: id {values['id']!r} is already taken")
            self._run.execute("users.insert", **values)
            user = self.get(values["id"])
        assert user is not None
        return user, key

    def get(self, user_id: str) -> User | None:
        """The account with this id, or None."""
        row = self._run.one("users.get", user_id=user_id)
        return None if row is None else user_from_row(row)

    def get_by_email(self, email: str) -> User | None:
        """The account with this email, or None."""
        row = self._run.one("users.get_by_email", email=email)
        return None if row is None else user_from_row(row)

    def get_by_api_key(self, api_key: str) -> User | None:
        """The active account this API key belongs to, or None (inactive accounts too)."""
        row = self._run.one("users.get_by_api_key_hash", api_key_hash=hash_api_key(api_key))
        return None if row is None else user_from_row(row)

    def list(self, limit: int = 50, offset: int = 0) -> builtins.list[User]:
        """Accounts, newest first (for operators)."""
        rows = self._run.rows("users.list", limit=limit, offset=offset)
        return [user_from_row(row) for row in rows]

    def update(self, user_id: str, **changes: Any) -> User | None:
        """Change an account's fields; None (and nothing changed) when it does not exist."""
        patch = validate_patch(UserFields, "user", changes)
        with self._run.atomic():
            row = self._run.one("users.get", user_id=user_id)
            if row is None:
                return None
            if "email" in patch:
                self._check_email_free(patch["email"], user_id)
            values = row_values(row) | _storable(patch)
            values["updated_at"] = self._clock.now()
            self._run.execute(
                "users.update", **_without(values, "id", "created_at"), user_id=user_id
            )
            return self.get(user_id)

    def rotate_api_key(self, user_id: str, api_key: str | None = None) -> str | None:
        """Give an account a new API key (the old one stops working); None if no account."""
        key = api_key if api_key is not None else new_api_key()
        with self._run.atomic():
            row = self._run.one("users.get", user_id=user_id)
            if row is None:
                return None
            values = row_values(row)
            values |= {"api_key_hash": hash_api_key(key), "updated_at": self._clock.now()}
            self._run.execute(
                "users.update", **_without(values, "id", "created_at"), user_id=user_id
            )
        return key

    def delete(self, user_id: str) -> bool:
        """Delete an account and, by cascade, everything it owns; False when none."""
        with self._run.atomic():
            deleted = self._run.execute("users.delete", user_id=user_id) > 0
            SearchIndex(self._run).drain()  # the cascade queued the user's rows
            return deleted

    def _check_email_free(self, email: str, user_id: str | None) -> None:
        """Emails are unique ignoring case (stored legacy rows are left as they are)."""
        others = self._run.rows("users.ids_by_email_nocase", email=email)
        if any(row["id"] != user_id for row in others):
            raise ValidationError(f"invalid user: email {email!r} is already in use")


def require_user(run: QueryRunner, user_id: str) -> None:
    """NotFoundError unless the account exists (checked before writing rows it owns)."""
    if run.one("users.exists", user_id=user_id) is None:
        raise NotFoundError(f"user {user_id!r} does not exist")


def _storable(data: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(data)
    if "metadata" in values:
        values["metadata"] = dump_json(values["metadata"])
    if "is_active" in values:
        values["is_active"] = int(values["is_active"])
    return values


def _without(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in keys}
