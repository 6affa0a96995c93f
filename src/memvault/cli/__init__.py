"""The `memvault` command line: a thin shell over library calls."""

from __future__ import annotations

# Importing a module registers its commands on the root group.
from memvault.cli import (  # noqa: F401
    bench,
    db,
    db_backup,
    db_check,
    db_ops,
    memory,
    migrate,
    migrate_test,
    schema,
    schema_diagram,
    user,
)
from memvault.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "main"]
