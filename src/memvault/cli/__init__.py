"""The `memvault` command line: a thin shell over library calls.

Command modules register themselves on the root group when imported; the root group
imports them on first use (see `memvault.cli.app.LAZY_COMMANDS`).
"""

from __future__ import annotations

from memvault.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "main"]
