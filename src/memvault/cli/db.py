"""`memvault db ...`: operations on the database file itself."""

from __future__ import annotations

from memvault.cli.app import cli


@cli.group()
def db() -> None:
    """Back up, restore, check, maintain and measure the database."""
