"""The `memvault` command line: a thin shell over library calls."""

from __future__ import annotations

from memvault.cli import migrate  # noqa: F401  (registers the `migrate` group)
from memvault.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "main"]
