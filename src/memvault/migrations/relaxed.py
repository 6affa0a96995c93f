"""Secure delete relaxed to FAST for the one built-in migration whose freed pages hold nothing new.

SQLite as Debian and Ubuntu build it (SQLITE_SECURE_DELETE) zeroes every page it frees.
Migration 003 rewrites every embedding from JSON text (~33 KB at 1536-d, 8 overflow pages)
to a float32 BLOB (6 KB): zeroing the freed overflow pages made the transaction write the
whole file to the WAL and then checkpoint it again (measured here: 24,619 WAL pages with
secure_delete on, 6,400 with FAST, for 3,000 x 1536-d rows; `memvault bench migrations`).

FAST still zeroes deleted content inside b-tree pages; only pages that leave the b-tree
keep their old bytes until reused or VACUUMed. For 003 those bytes are the JSON text of
vectors that the same rows still hold as float32 (unconvertible text is kept verbatim in
its quarantine table anyway): nothing a user deleted survives. So the runner relaxes it
for exactly that file's content (its checksum: an edited copy is not trusted), in both
directions, and puts the connection's setting back afterwards. Durability is untouched
(synchronous, journal mode and checkpoints are as they were).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from memvault.db import Database

# checksum of a built-in migration -> why its freed pages may keep their old bytes
FAST_SECURE_DELETE = {
    "282000cd09fd5da1aa178c7c57946b711202a7bb673912315cd0ba025b4b8d40": (
        "003_embeddings_to_float32_blobs: the freed pages hold the JSON text of vectors "
        "the rows still hold as float32"
    ),
}
SECURE_DELETE_ON = 1


@contextmanager
def secure_delete_for(db: Database, checksum: str) -> Iterator[None]:
    """Run the block with secure_delete FAST when the migration is listed above and the
    connection has it fully on; otherwise change nothing."""
    if checksum not in FAST_SECURE_DELETE or not db.capabilities.pragmas:
        yield
        return
    previous = db.scalar("PRAGMA secure_delete")
    if previous != SECURE_DELETE_ON:
        yield
        return
    db.execute("PRAGMA secure_delete = FAST")
    try:
        yield
    finally:
        db.execute(f"PRAGMA secure_delete = {int(previous)}")
