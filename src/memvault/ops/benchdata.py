"""The benchmark's synthetic dataset: seeded, legacy-shaped, with text that searches realistically.

Words are drawn from a Zipf-like vocabulary (a few very common words, a long tail of rare
ones), so full-text search terms of different frequencies exist; timestamps spread over
2025; about one memory in ten is archived; embeddings are unit-free random vectors.
The same seed always produces the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from memvault.db import Database
from memvault.store import catalog
from memvault.store.search import fts_query

MEMORY_TYPES = ("MEMORY", "LEARNED", "personal", "professional", "technical", "preference")
ENTITY_TYPES = ("person", "organization", "project", "concept", "location", "event")
VOCABULARY_SIZE = 4000
# Positions in the Zipf-ordered vocabulary of the search terms: very common to rare.
SEARCH_TERM_POSITIONS = (2, 20, 200, 2000)
YEAR_START = np.datetime64("2025-01-01T00:00:00.000")
MS_PER_YEAR = 365 * 24 * 3600 * 1000


@dataclass(frozen=True)
class BenchSize:
    """How much data a benchmark run builds and how often it times each query."""

    name: str
    users: int
    entities_per_user: int
    memories_per_user: int
    legacy_dim: int  # embedding size of the listing users' memories (JSON text at v1)
    vectors: int  # memories with embeddings for similar() and create_many
    dim: int  # their embedding size
    batch: int  # create_many batch size
    repeat: int  # timed calls per query, stage and variant
    heavy_repeat: int  # the same, for calls taking hundreds of milliseconds (similar())
    warmup: int
    # The tenant section (memories, tenants, dim, repeat, repeat for the 50% tenant, repeat
    # for the listings: a page takes under a millisecond, so their p95 can rest on hundreds)
    tenants: tuple[int, int, int, int, int, int] | None = None
    legacy_stages: bool = True  # the listing dataset at v1 and the migrations' effect


SIZES = {
    "tiny": BenchSize(
        "tiny", 3, 20, 60, 8, 300, 16, 100, 5, 3, 1, tenants=(3_000, 20, 16, 3, 2, 5)
    ),
    "small": BenchSize(
        "small", 10, 100, 1000, 256, 10_000, 1536, 1000, 30, 7, 2,
        tenants=(20_000, 100, 64, 40, 15, 400),
    ),
    "medium": BenchSize(
        "medium", 20, 200, 2000, 768, 20_000, 1536, 1000, 60, 15, 3,
        tenants=(200_000, 500, 64, 40, 15, 400),
    ),
    # 1M memories over 1,000 tenants only: the listing/migration stages are small/medium's.
    "large": BenchSize(
        "large", 0, 0, 0, 0, 0, 1536, 1000, 0, 0, 1,
        tenants=(1_000_000, 1000, 64, 40, 12, 400), legacy_stages=False,
    ),
}  # fmt: skip


class SyntheticData:
    """Deterministic rows for users, entities, memories and query inputs."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocabulary = pseudo_words(np.random.default_rng(seed + 1), VOCABULARY_SIZE)
        self.weights = zipf_weights(VOCABULARY_SIZE)

    def user_ids(self, count: int) -> list[str]:
        return [f"bench-user-{i:04d}" for i in range(count)]

    def search_terms(self) -> list[str]:
        """Words of decreasing frequency: very common, common, uncommon, rare."""
        return [self.vocabulary[r] for r in SEARCH_TERM_POSITIONS]

    def _text(self, rows: int, words: int) -> list[str]:
        picks = self.rng.choice(VOCABULARY_SIZE, size=(rows, words), p=self.weights)
        return [" ".join(self.vocabulary[i] for i in row) for row in picks]

    def _timestamps(self, rows: int) -> list[str]:
        offsets = self.rng.integers(0, MS_PER_YEAR, size=rows)
        stamps = YEAR_START + offsets.astype("timedelta64[ms]")
        return [str(s) + "Z" for s in stamps]

    def vectors(self, rows: int, dim: int) -> np.ndarray:
        """(rows, dim) float32 vectors, normally distributed."""
        return self.rng.standard_normal((rows, dim), dtype=np.float32)

    def user_rows(self, user_ids: list[str]) -> list[dict[str, Any]]:
        stamps = self._timestamps(len(user_ids))
        return [
            {
                "id": uid, "email": f"{uid}@bench.example", "name": uid.title(),
                "organization": None, "api_key_hash": f"{i:064x}", "oauth_provider": None,
                "oauth_id": None, "is_active": 1, "metadata": None, "created_at": stamps[i],
                "updated_at": stamps[i],
            }
            for i, uid in enumerate(user_ids)
        ]  # fmt: skip

    def entity_rows(self, user_id: str, count: int) -> list[dict[str, Any]]:
        names, descriptions = self._text(count, 2), self._text(count, 12)
        created, types = self._timestamps(count), self.rng.integers(0, len(ENTITY_TYPES), count)
        importance = self.rng.integers(1, 5, count)
        return [
            {
                "user_id": user_id, "name": names[i].title(), "entity_type": ENTITY_TYPES[types[i]],
                "person_type": None, "description": descriptions[i], "company": None,
                "title": None, "email": None, "phone": None, "address": None, "website": None,
                "social_media": None, "notes": None, "importance": int(importance[i]),
                "tags": json.dumps([names[i].split()[0]]), "relationships": None,
                "last_interaction": None, "interaction_count": 0, "metadata": None,
                "created_at": created[i], "updated_at": created[i],
            }
            for i in range(count)
        ]  # fmt: skip

    def memory_rows(
        self, user_id: str, count: int, embeddings: np.ndarray | None, *, as_json: bool
    ) -> list[dict[str, Any]]:
        """Memories for the `memories.insert` statement; embeddings as legacy JSON text or
        as float32 BLOBs."""
        titles, contents = self._text(count, 4), self._text(count, 40)
        created, updated = self._timestamps(count), self._timestamps(count)
        types = self.rng.integers(0, len(MEMORY_TYPES), count)
        archived = self.rng.random(count) < 0.1
        importance = self.rng.integers(0, 11, count) / 10  # the service's 0-1 scale
        rows = []
        for i in range(count):
            vector = None if embeddings is None else embeddings[i]
            rows.append(
                {
                    "user_id": user_id, "title": titles[i], "content": contents[i],
                    "memory_type": MEMORY_TYPES[types[i]], "importance": float(importance[i]),
                    "tags": json.dumps(titles[i].split()[:2]), "entity_ids": "[]",
                    "embedding": _stored_embedding(vector, as_json), "metadata": None,
                    "is_archived": int(archived[i]), "created_at": min(created[i], updated[i]),
                    "updated_at": max(created[i], updated[i]),
                }
            )  # fmt: skip
        return rows


def _stored_embedding(vector: np.ndarray | None, as_json: bool) -> str | bytes | None:
    if vector is None:
        return None
    if as_json:
        return json.dumps(np.round(vector.astype(np.float64), 6).tolist())
    return vector.astype("<f4").tobytes()


def zipf_weights(size: int) -> np.ndarray:
    """Probabilities of the words of a Zipf (s = 1) vocabulary of `size` words, by rank."""
    weights = 1.0 / np.arange(1, size + 1, dtype=np.float64)
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def pseudo_words(rng: np.random.Generator, size: int) -> list[str]:
    """`size` distinct lowercase pseudo-words (4-9 letters), the same for the same rng."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(letters, size=int(rng.integers(4, 10))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def fill_listing_dataset(db: Database, data: SyntheticData, size: BenchSize) -> list[str]:
    """Insert the users, entities and memories the listing and search queries read, with
    legacy JSON embeddings (the database is at version 1). Returns the user ids."""
    user_ids = data.user_ids(size.users)
    with db.atomic():
        db.executemany(catalog.sql("users.insert"), data.user_rows(user_ids))
        for uid in user_ids:
            db.executemany(
                catalog.sql("entities.insert"), data.entity_rows(uid, size.entities_per_user)
            )
            vectors = data.vectors(size.memories_per_user, size.legacy_dim)
            db.executemany(
                catalog.sql("memories.insert"),
                data.memory_rows(uid, size.memories_per_user, vectors, as_json=True),
            )
    return user_ids


def vector_batches(
    data: SyntheticData, size: BenchSize
) -> Iterator[tuple[np.ndarray, list[dict[str, Any]]]]:
    """The similar()/create_many dataset, batch by batch: vectors and memory rows (BLOBs)."""
    done = 0
    while done < size.vectors:
        count = min(size.batch, size.vectors - done)
        vectors = data.vectors(count, size.dim)
        yield vectors, data.memory_rows("", count, vectors, as_json=False)
        done += count


def fts_words(term: str) -> str:
    """The MATCH expression memvault's search builds from `term`."""
    query = fts_query(term)
    assert query is not None
    return query
