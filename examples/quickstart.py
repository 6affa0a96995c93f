"""memvault quick start: the memory store through its public API only.

    python examples/quickstart.py [path/to/database.db]

Two users, their entities and memories; full-text search (ranked, one user only, archived
left out, safe for any text), semantic search, what another tenant's id can do (nothing),
camelCase JSON, and embeddings stored as float32 BLOBs. Every claim is checked: the script
exits non-zero if one does not hold.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from memvault import MemoryStore, ValidationError, connect


def check(claim: str, holds: bool) -> None:
    """Print a claim and whether it held; stop at the first one that does not."""
    print(f"{'ok  ' if holds else 'FAIL'} {claim}")
    if not holds:
        sys.exit(1)


def main(path: Path) -> None:
    with MemoryStore.open(path) as store:
        ada, ada_key = store.users.create("ada@example.com", name="Ada")
        bob, _ = store.users.create("bob@example.com", name="Bob")
        check("an API key finds its user", store.users.get_by_api_key(ada_key) == ada)

        # Entities, newest first.
        for name in ("Charles Babbage", "Mary Somerville", "Analytical Engine"):
            kind = "project" if "Engine" in name else "person"
            store.entities.create(ada.id, name=name, entity_type=kind)
        names = [e.name for e in store.entities.list(ada.id)]
        print("  Ada's entities:", names)
        check("entities are listed newest first", names[0] == "Analytical Engine")

        # Memories with embeddings; one archived; Bob has his own.
        add = store.memories.create
        tea = add(
            ada.id,
            title="Green tea",
            content="Ada drinks green tea in the morning",
            memory_type="preference",
            tags=["tea"],
            embedding=[0.9, 0.1, 0.0],
        )
        add(
            ada.id,
            title="Engine notes",
            content="The engine could weave patterns; tea break",
            memory_type="professional",
            embedding=[0.1, 0.9, 0.2],
        )
        old = add(
            ada.id,
            title="Old tea order",
            content="tea, tea and more tea",
            memory_type="MEMORY",
            embedding=[0.8, 0.2, 0.0],
        )
        store.memories.archive(ada.id, old.id)
        other_topics = [
            "Piano lessons on Tuesdays",
            "Marathon in April",
            "Garden: plant tomatoes",
            "Budget review",
            "Lecture on Bernoulli numbers",
            "Letter to Faraday",
        ]
        store.memories.create_many(
            ada.id,
            [{"title": t, "content": t.lower(), "memory_type": "personal"} for t in other_topics],
        )
        bobs = add(
            bob.id,
            title="Bob's tea",
            content="Bob only drinks tea",
            memory_type="preference",
            embedding=[1.0, 0.0, 0.0],
        )

        hits = store.memories.search(ada.id, "tea")
        print("  search 'tea' as Ada:", [(h.memory.title, round(h.score, 4)) for h in hits])
        check(
            "search returns only the caller's non-archived matches",
            {h.memory.user_id for h in hits} == {ada.id}
            and old.id not in [h.memory.id for h in hits]
            and len(hits) == 2,
        )
        check(
            "search is ranked: the title and tag match comes first",
            hits[0].memory.id == tea.id and hits[0].score >= hits[1].score,
        )
        for hostile in ['tea" OR 1=1 --', "NEAR(", "*", "", "'; DROP TABLE memories; --"]:
            found = store.memories.search(ada.id, hostile)
            check(
                f"hostile query {hostile!r} is harmless ({len(found)} hits)",
                all(h.memory.user_id == ada.id for h in found),
            )

        nearest = store.memories.similar(ada.id, [1.0, 0.0, 0.0], limit=2)
        print("  similar to [1, 0, 0]:", [(h.memory.title, round(h.score, 3)) for h in nearest])
        check("similar() ranks the nearest vector first", nearest[0].memory.id == tea.id)

        # Another tenant's id finds nothing and changes nothing.
        check("Ada cannot read Bob's memory", store.memories.get(ada.id, bobs.id) is None)
        check("Ada cannot update it", store.memories.update(ada.id, bobs.id, title="x") is None)
        check("Ada cannot delete it", store.memories.delete(ada.id, bobs.id) is False)
        check("Bob's memory is untouched", store.memories.get(bob.id, bobs.id) == bobs)

        # Validation on write.
        try:
            add(ada.id, title="x", content="y", memory_type="dream")
            check("an unknown memory_type is refused", False)
        except ValidationError as exc:
            check(f"an unknown memory_type is refused: {str(exc)[:60]}...", True)

        dumped = tea.model_dump(mode="json", by_alias=True)
        print(
            "  JSON:",
            json.dumps(
                {
                    k: dumped[k]
                    for k in ("userId", "memoryType", "isArchived", "entityIds", "createdAt")
                }
            ),
        )
        check("JSON uses camelCase keys", {"userId", "memoryType", "isArchived"} <= set(dumped))

    db = connect(str(path))
    try:
        kinds = {
            row[0]
            for row in db.query(
                "SELECT typeof(embedding) FROM memories WHERE embedding IS NOT NULL"
            )
        }
    finally:
        db.close()
    check(f"embeddings are stored as BLOBs ({sorted(kinds)})", kinds == {"blob"})
    print("quick start: all checks passed")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "quickstart.db")
