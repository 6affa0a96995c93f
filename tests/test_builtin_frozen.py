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
    4: "fd33cf36afcbe0c1567a8e0e77dba1712de30c6e6279a255ac70bc6f4ad3990d",
    5: "adc1322610e93c5bfa08cd9c1551d598ccce7f2f1ea644f3cad689b95e3fefbd",
    6: "78b1f374d74ee2af89b8426643a3bc270af80ba55a73453361d2d1a9904a623a",
}


def test_shipped_migrations_are_unchanged() -> None:
    current = {m.version: m.checksum for m in load_migrations(BUILTIN_MIGRATIONS)}
    changed = [v for v, digest in SHIPPED.items() if current.get(v) != digest]
    assert not changed, f"shipped migrations edited: {changed}; add a new migration instead"
