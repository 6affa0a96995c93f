"""Shipped migrations are frozen: an edit would show up as drift in every database that ran it.

To change the schema, add a new migration. If a checksum below must change (only before a
release), say why in the commit.
"""

from __future__ import annotations

from memvault.config import BUILTIN_MIGRATIONS
from memvault.migrations import load_migrations

SHIPPED = {
    1: "e155cd2f1492a7a3fe6e14e7cf9aad7225783734e693af4770db69dba35f29be",
    2: "2bb22b49bbbf5fa6a4f35b8bd9021d8dedd16b45b1590900ddca5e2191ad0b76",
    3: "3ee9f691241589b2c1c3e0c321143aaee92da7f03e59b8c2a947ecd560bfda0d",
    4: "7740fb7c6f9f2582b5fb7c9710ae1725d197f85e307627f4c73327983b79a0c2",
    5: "c4fb4ead2e3e2bd513c595a67a3501e6d121d01828d79d59b2bfea4b2755bb43",
    6: "78b1f374d74ee2af89b8426643a3bc270af80ba55a73453361d2d1a9904a623a",
    10: "d4218754b33263416c5a69a2ac5863b816c221519f7e41e149e765f977444f8c",
}


def test_shipped_migrations_are_unchanged() -> None:
    current = {m.version: m.checksum for m in load_migrations(BUILTIN_MIGRATIONS)}
    changed = [v for v, digest in SHIPPED.items() if current.get(v) != digest]
    assert not changed, f"shipped migrations edited: {changed}; add a new migration instead"
