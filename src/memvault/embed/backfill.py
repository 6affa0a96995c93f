"""One model per user: check it before a vector is written or compared, and (re-)embed.

A user's vectors are comparable only when one model made them all. The model is recorded
in `embedding_models`; a provider whose model differs is refused with a line that says how
to re-embed. Vectors written before the record existed (the TypeScript service's) are taken
to be its `openai/text-embedding-3-small`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from memvault.embed.providers import Embedder
from memvault.errors import MemvaultError
from memvault.store import MemoryStore
from memvault.store.vectors import VectorModel

LEGACY_MODEL = ("openai", "text-embedding-3-small")
BATCH = 64
DEFAULT_TITLE = "Memory"  # the service's title when none is given


class ModelMismatchError(MemvaultError):
    """The user's vectors were made by another model than the configured provider's."""


@dataclass(frozen=True)
class BackfillResult:
    """What one back-fill run did."""

    updated: int
    model: VectorModel


def text_of(title: str, content: str) -> str:
    """The text a memory is embedded by: its content, after its title when it has one."""
    return content if title in ("", DEFAULT_TITLE) or title in content else f"{title}. {content}"


def model_of(embedder: Embedder) -> VectorModel:
    return VectorModel(embedder.provider, embedder.model, embedder.dimension)


def usable_model(store: MemoryStore, user_id: str, embedder: Embedder) -> VectorModel:
    """The user's model if the embedder makes it (recording it for a user with none);
    ModelMismatchError otherwise."""
    mine = model_of(embedder)
    current = store.vectors.model(user_id)
    if current is None:
        if store.vectors.counts(user_id).embedded and (mine.provider, mine.model) != LEGACY_MODEL:
            raise ModelMismatchError(_mismatch(user_id, "/".join(LEGACY_MODEL) + " (legacy)", mine))
        store.vectors.set_model(user_id, mine)
        return mine
    if (current.provider, current.model, current.dimension) != (
        mine.provider,
        mine.model,
        mine.dimension,
    ):
        raise ModelMismatchError(_mismatch(user_id, f"{current.provider}/{current.model}", mine))
    return current


def _mismatch(user_id: str, theirs: str, mine: VectorModel) -> str:
    return (
        f"user {user_id!r} has vectors made by {theirs}, not by {mine.provider}/{mine.model}; "
        f"run 'memvault memory embed --all -u {user_id}' to re-embed them, or choose that provider"
    )


def backfill(
    store: MemoryStore,
    embedder: Embedder,
    user_id: str,
    *,
    everything: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    """Embed the user's memories without a vector (or, `everything`, all of them with this
    embedder's model), a page per transaction; a killed run resumes where it stopped.

    `progress(done, total)` is called after each page.
    """
    model, after = _start(store, user_id, embedder, everything)
    counts = store.vectors.counts(user_id)
    total = counts.total if everything else counts.total - counts.embedded
    done = _already_done(store, user_id, after) if everything else 0
    if progress:
        progress(done, total)
    updated = 0
    while page := store.vectors.pending(user_id, after, BATCH, missing=not everything):
        vectors = embedder.embed([text_of(m.title, m.content) for m in page], user_id)
        after = page[-1].id
        if everything:
            model = replace(model, reembed_after_id=after)
        store.vectors.write(user_id, {m.id: v for m, v in zip(page, vectors, strict=True)}, model)
        updated += len(page)
        done += len(page)
        if progress:
            progress(done, total)
    if everything:
        model = replace(model, reembed_after_id=None)
        store.vectors.set_model(user_id, model)
    return BackfillResult(updated, model)


def _start(
    store: MemoryStore, user_id: str, embedder: Embedder, everything: bool
) -> tuple[VectorModel, int]:
    """The model to write and the id to continue after (a re-embedding resumes)."""
    if not everything:
        return usable_model(store, user_id, embedder), 0
    mine = model_of(embedder)
    current = store.vectors.model(user_id)
    if current is not None and current.reembed_after_id is not None and _same(current, mine):
        return current, current.reembed_after_id
    started = replace(mine, reembed_after_id=0)
    store.vectors.set_model(user_id, started)
    return started, 0


def _same(a: VectorModel, b: VectorModel) -> bool:
    return (a.provider, a.model, a.dimension) == (b.provider, b.model, b.dimension)


def _already_done(store: MemoryStore, user_id: str, after: int) -> int:
    if not after:
        return 0
    done = 0
    cursor = 0
    while page := store.vectors.pending(user_id, cursor, 1000, missing=False):
        inside = [m for m in page if m.id <= after]
        done += len(inside)
        if len(inside) < len(page):
            break
        cursor = page[-1].id
    return done
