"""Search building blocks: a safe FTS5 query from user text, exact cosine top-k, and rank fusion.

`fts_query` is what makes any typed text a safe full-text query: the text is cut into
words (letters and digits only) and every word becomes a double-quoted FTS5 string, so
quotes, `*`, `NEAR(`, `OR`, `-`, `:` and parentheses are never FTS syntax. The words are
joined by spaces, which FTS5 reads as AND. No words means no query (search returns []).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# Words as FTS5's unicode61 tokenizer sees them: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_WORDS = 32
RRF_K = 60


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression requiring every word of `text`; None when it has none."""
    words = _WORD.findall(text)[:MAX_QUERY_WORDS]
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def as_query_vector(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """A query vector as float32; ValueError when it is empty, not 1-D or not finite."""
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused just below
        arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"a query vector must be a non-empty list of numbers (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError("a query vector must hold finite numbers only")
    return arr


@dataclass(frozen=True)
class UnitVectors:
    """Row vectors with their inverse lengths, computed once, and their ids.

    A query then costs one matrix-vector product and one scaling of the n scores; the
    matrix itself is never copied into a normalised one. Zero rows get inverse length 0
    and are marked invalid.
    """

    ids: np.ndarray  # int64, one per row
    matrix: np.ndarray  # float32 (n, dimension), as stored
    inv_norms: np.ndarray  # float32 (n,), 1/|row| (0 for zero rows)
    valid: np.ndarray  # bool, False for rows of zero length
    all_valid: bool

    @classmethod
    def build(cls, ids: Sequence[int] | np.ndarray, matrix: np.ndarray) -> UnitVectors:
        """Compute the rows' inverse lengths once."""
        matrix = np.asarray(matrix, dtype=np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
        valid = norms > 0
        inv_norms = np.zeros(norms.shape, dtype=np.float32)
        np.divide(1.0, norms, out=inv_norms, where=valid)
        return cls(np.asarray(ids, dtype=np.int64), matrix, inv_norms, valid, bool(valid.all()))

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.matrix.nbytes + self.inv_norms.nbytes + self.valid.nbytes)

    def top_k(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k rows most cosine-similar to `query` as (id, similarity), best first.

        Zero rows are never returned; among equal scores the lower id comes first.
        """
        q_norm = float(np.linalg.norm(query))
        k = min(k, len(self.ids) if self.all_valid else int(self.valid.sum()))
        if k <= 0 or q_norm == 0.0:
            return []
        scores = self.matrix @ (query / q_norm).astype(np.float32)
        scores *= self.inv_norms
        if not self.all_valid:
            scores[~self.valid] = -np.inf
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        chosen = [(float(scores[i]), int(self.ids[i])) for i in top.tolist()]
        chosen.sort(key=lambda pair: (-pair[0], pair[1]))
        return [(memory_id, score) for score, memory_id in chosen]


def cosine_top_k(
    query: np.ndarray, ids: Sequence[int], matrix: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """The k rows of `matrix` most cosine-similar to `query`, as (id, similarity), best first."""
    return UnitVectors.build(ids, matrix).top_k(query, k)


class VectorCache:
    """The users' unit vectors, kept between queries while the database has not changed.

    An entry is valid for one `version` (this connection's change count and SQLite's data
    version, which moves when another connection commits); any write makes it stale.
    Least recently used entries are dropped beyond `max_bytes`; 0 disables the cache.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Hashable, UnitVectors]] = OrderedDict()

    def get(self, key: Hashable, version: Hashable) -> UnitVectors | None:
        """The vectors stored for `key` at exactly `version`, or None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, version: Hashable, vectors: UnitVectors) -> None:
        """Keep `vectors` for `key` at `version`, evicting the least recently used."""
        self._entries.pop(key, None)
        if vectors.nbytes > self.max_bytes:
            return
        self._entries[key] = (version, vectors)
        while sum(v.nbytes for _, v in self._entries.values()) > self.max_bytes:
            self._entries.popitem(last=False)


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """Merge ranked id lists: score(id) = sum of 1 / (k + rank), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
