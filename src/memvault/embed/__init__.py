"""Embedding providers (offline wordllama, any OpenAI-compatible API, none) and the back-fill.

    embedder = make_embedder(EmbedSettings(provider="offline"))
    vectors = embedder.embed(["likes green tea"], user_id)   # (1, 256) float32

Nothing here is imported by the store: only `memvault mcp` and `memvault memory embed` load
a provider, and a provider loads its model on first use.
"""

from memvault.embed.providers import (
    Embedder,
    EmbeddingError,
    EmbedSettings,
    make_embedder,
)

__all__ = ["EmbedSettings", "Embedder", "EmbeddingError", "make_embedder"]
