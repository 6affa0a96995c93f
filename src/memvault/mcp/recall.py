"""recall_memories' five strategies over one candidate pool (BM25 hits and vector hits).

Candidates: the user's best `pool_size(limit)` full-text (FTS5 BM25) matches and, when an
embedding provider is set, as many best by cosine at or above `threshold` (similarity
takes just `limit`): each candidate is a full record, so the pool is kept near the limit.
Each strategy then ranks the pool (the service's orders, with one real hybrid):

- similarity: cosine only (needs a provider); no text candidates.
- recency: newest first by decay = 0.5 ** (age_days / HALF_LIFE_DAYS).
- frequency: importance x decay (the service had no access counts; this is its formula).
- importance: 0.8 importance + 0.2 decay.
- composite: WEIGHTS["text"] x bm25 / best bm25 + WEIGHTS["vector"] x cosine
  + WEIGHTS["importance"] x importance + WEIGHTS["recency"] x decay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from memvault.embed.backfill import text_of, usable_model
from memvault.errors import ValidationError
from memvault.mcp.tools import Session
from memvault.store.models import Memory, MemoryHit

STRATEGIES = ("recency", "frequency", "importance", "similarity", "composite")
MIN_CANDIDATES = 20
HALF_LIFE_DAYS = 30.0
WEIGHTS = {"text": 0.35, "vector": 0.35, "importance": 0.15, "recency": 0.15}
NEUTRAL_IMPORTANCE = 0.5


def recall(
    session: Session, query: str, limit: int, strategy: str, threshold: float
) -> list[MemoryHit]:
    """The user's memories for `query`, best first by `strategy`, at most `limit`."""
    if strategy == "similarity":
        return _vector_hits(session, query, threshold, limit)
    size = pool_size(limit)
    by_vector = _vector_hits(session, query, threshold, size)
    by_text = session.store.memories.search(session.user_id, query, size)
    best_text = max((h.score for h in by_text), default=0.0) or 1.0
    text = {h.memory.id: h.score / best_text for h in by_text}
    cosine = {h.memory.id: max(h.score, 0.0) for h in by_vector}
    pool = {h.memory.id: h.memory for h in [*by_text, *by_vector]}
    now = datetime.now(UTC)
    score = _scorer(strategy, text, cosine, now)
    ranked = sorted(pool.values(), key=lambda m: (-score(m), -m.id))
    return [MemoryHit(memory=m, score=round(score(m), 6)) for m in ranked[:limit]]


def _scorer(
    strategy: str, text: dict[int, float], cosine: dict[int, float], now: datetime
) -> Callable[[Memory], float]:
    def composite(m: Memory) -> float:
        return (
            WEIGHTS["text"] * text.get(m.id, 0.0)
            + WEIGHTS["vector"] * cosine.get(m.id, 0.0)
            + WEIGHTS["importance"] * importance(m)
            + WEIGHTS["recency"] * decay(m, now)
        )

    scorers: dict[str, Callable[[Memory], float]] = {
        "recency": lambda m: decay(m, now),
        "frequency": lambda m: importance(m) * decay(m, now),
        "importance": lambda m: 0.8 * importance(m) + 0.2 * decay(m, now),
        "composite": composite,
    }
    return scorers[strategy]


def pool_size(limit: int) -> int:
    """Candidates per source: twice the limit, at least MIN_CANDIDATES."""
    return max(2 * limit, MIN_CANDIDATES)


def _vector_hits(session: Session, query: str, threshold: float, size: int) -> list[MemoryHit]:
    if session.embedder is None:
        return []
    model = usable_model(session.store, session.user_id, session.embedder)
    vector = session.embedder.embed([text_of("", query)], session.user_id)[0]
    hits = session.store.memories.similar(session.user_id, vector, size)
    done = model.reembed_after_id  # while re-embedding, larger ids hold the old model's vectors
    return [h for h in hits if h.score >= threshold and (done is None or h.memory.id <= done)]


def require_vectors(session: Session, what: str = "strategy 'similarity'") -> None:
    """ValidationError when `what` cannot work for lack of vectors (provider `none`)."""
    if session.embedder is None:
        raise ValidationError(
            f"{what} needs an embedding provider; the server runs with --embeddings none "
            "(restart it with --embeddings offline or openai)"
        )


def importance(memory: Memory) -> float:
    """The memory's importance in [0, 1]; legacy values outside it count as neutral."""
    value = memory.importance
    if isinstance(value, int | float) and 0.0 <= float(value) <= 1.0:
        return float(value)
    return NEUTRAL_IMPORTANCE


def decay(memory: Memory, now: datetime) -> float:
    """1 for a memory made now, halving every HALF_LIFE_DAYS; 0.5 when its date is unreadable."""
    try:
        text = str(memory.created_at).replace("Z", "+00:00").replace(" ", "T")
        made = datetime.fromisoformat(text)
    except ValueError:
        return 0.5
    if made.tzinfo is None:
        made = made.replace(tzinfo=UTC)
    age_days = max((now - made).total_seconds(), 0.0) / 86400
    return math.pow(0.5, age_days / HALF_LIFE_DAYS)
