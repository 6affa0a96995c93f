"""Search building blocks: a safe FTS5 query from user text, exact cosine top-k, and rank fusion.

`fts_query` is what makes any typed text a safe full-text query: the text is cut into
words (letters and digits only) and every word becomes a double-quoted FTS5 string, so
quotes, `*`, `NEAR(`, `OR`, `-`, `:` and parentheses are never FTS syntax. The words are
joined by spaces, which FTS5 reads as AND. No words means no query (search returns []).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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
    arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"a query vector must be a non-empty list of numbers (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError("a query vector must hold finite numbers only")
    return arr


def cosine_top_k(
    query: np.ndarray, ids: Sequence[int], matrix: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """The k rows of `matrix` most cosine-similar to `query`, as (id, similarity), best first.

    Rows with zero norm are never returned; among equal scores the lower id comes first.
    """
    if k <= 0 or matrix.shape[0] == 0:
        return []
    q_norm = float(np.linalg.norm(query))
    if q_norm == 0.0:
        return []
    norms = np.linalg.norm(matrix, axis=1)
    valid = norms > 0
    scores = np.full(matrix.shape[0], -np.inf, dtype=np.float64)
    scores[valid] = (matrix[valid] @ query) / (norms[valid] * q_norm)
    k = min(k, int(valid.sum()))
    if k == 0:
        return []
    ids_arr = np.asarray(ids, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = sorted(top.tolist(), key=lambda i: (-scores[i], ids_arr[i]))[:k]
    return [(int(ids_arr[i]), float(scores[i])) for i in order]


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """Merge ranked id lists: score(id) = sum of 1 / (k + rank), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
