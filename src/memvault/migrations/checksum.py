"""Content checksums: what catches an edited migration."""

from __future__ import annotations

import hashlib


def checksum(content: bytes) -> str:
    """sha256 of a migration file, with CRLF and CR line endings normalised to LF.

    Re-saving a file on Windows does not count as an edit; any other byte change does.
    """
    normalised = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(normalised).hexdigest()
