"""The `memvault` command line: a thin shell over library calls."""

from __future__ import annotations

# Importing a module registers its commands on the root group.
from memvault.cli import db, db_check, db_ops, memory, migrate, migrate_test, schema, user  # noqa: F401
from memvault.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "main"]
