"""The `memvault` command line: a thin shell over library calls.

Command modules register themselves on the root group when imported; the root group
imports them on first use (see `memvault.cli.app.LAZY_COMMANDS`).
"""

from __future__ import annotations

import gc

from memvault.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    try:
        cli()
    finally:
        # The process ends here, every database closed: taking what is left out of the
        # cycle collector's reach spares the interpreter's collections at exit (~20 ms of a
        # ~0.2 s `migrate status`, docs/performance.md); the OS reclaims the memory anyway.
        gc.freeze()


__all__ = ["cli", "main"]
