"""Shipped migrations are frozen: an edit would show up as drift in every database that ran it.

To change the schema, add a new migration. If a checksum below must change (only before a
release), say why in the commit.
"""

from __future__ import annotations

from memvault.config import BUILTIN_MIGRATIONS
from memvault.migrations import load_migrations

SHIPPED = {
    1: "4a600bd19caf6e3fde82d8606e617f9cb52fedb3ea6c3bbb22a43492bdf40caf",
    2: "2bb22b49bbbf5fa6a4f35b8bd9021d8dedd16b45b1590900ddca5e2191ad0b76",
    3: "282000cd09fd5da1aa178c7c57946b711202a7bb673912315cd0ba025b4b8d40",
    4: "7740fb7c6f9f2582b5fb7c9710ae1725d197f85e307627f4c73327983b79a0c2",
    5: "c4fb4ead2e3e2bd513c595a67a3501e6d121d01828d79d59b2bfea4b2755bb43",
    6: "78b1f374d74ee2af89b8426643a3bc270af80ba55a73453361d2d1a9904a623a",
    7: "480979ff9eca666e45bc2ac809839024f2f715d2d315f7926f968332e7b3dd32",
    8: "47a20208f601eba3e643b83e1190ce3116371d5ace86353bbf7792a791adf6a0",
    9: "74d77c34f6e81142c53182c528afdac24695c707074c5e80c7a576d8aa59ab07",
    10: "d4218754b33263416c5a69a2ac5863b816c221519f7e41e149e765f977444f8c",
    11: "09c0b92738e4204c091f4c7fa80eb84b1811b50fcae86fd3e6fcd22bc895a3d6",
}


def test_shipped_migrations_are_unchanged() -> None:
    current = {m.version: m.checksum for m in load_migrations(BUILTIN_MIGRATIONS)}
    changed = [v for v, digest in SHIPPED.items() if current.get(v) != digest]
    assert not changed, f"shipped migrations edited: {changed}; add a new migration instead"
