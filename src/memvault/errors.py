"""The errors memvault raises. The library raises these; only the CLI prints them."""

from __future__ import annotations


class MemvaultError(Exception):
    """Base class of every error memvault raises on purpose.

    The message is one line that names the culprit (a file, a version, an argument).
    """


class ConfigError(MemvaultError, ValueError):
    """A setting or argument is wrong (bad URL, missing folder, bad version)."""


class DatabaseError(MemvaultError, OSError):
    """The database cannot be opened or used (not a database, locked, corrupt)."""


class MigrationLoadError(MemvaultError, ImportError):
    """A migration file cannot be loaded (bad name, duplicate version, syntax error)."""


class MigrationError(MemvaultError, RuntimeError):
    """A migration failed while running; its changes were rolled back."""

    def __init__(self, message: str, version: int | None = None) -> None:
        super().__init__(message)
        self.version = version


class VerificationError(MigrationError):
    """A migration's verify step failed."""


class RollbackRefused(MemvaultError, RuntimeError):
    """A rollback would undo an adopted baseline or drop tables holding rows."""


class DriftError(MemvaultError, RuntimeError):
    """Applied migrations no longer match their files (edited or missing)."""


class LockError(MemvaultError, TimeoutError):
    """The migration lock is held by another runner."""


class NotFoundError(MemvaultError, LookupError):
    """A requested row does not exist (or belongs to another tenant)."""


class ValidationError(MemvaultError, ValueError):
    """Input to the memory store is invalid."""


class BusyError(DatabaseError, TimeoutError):
    """Another connection kept the database's write lock longer than the busy timeout."""


class StatementRefusedError(DatabaseError, PermissionError):
    """SQLite's authorizer refused a statement that would end or escape the transaction."""

    def __init__(self, message: str, statement: str, what: str) -> None:
        super().__init__(message)
        self.statement = statement
        self.what = what
