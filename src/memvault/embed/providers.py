"""The embedding-provider setting: what each provider is called and how one is made."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from memvault.errors import ConfigError, MemvaultError

PROVIDERS = ("offline", "openai", "none")
ENV_PROVIDER = "MEMVAULT_EMBEDDINGS"
ENV_OPENAI_MODEL = "MEMVAULT_OPENAI_MODEL"
ENV_OPENAI_BASE_URL = "OPENAI_BASE_URL"
ENV_OPENAI_DIMENSION = "MEMVAULT_OPENAI_DIMENSION"
ENV_OPENAI_KEY = "OPENAI_API_KEY"
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"  # what the TypeScript service used (1536-d)
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class EmbeddingError(MemvaultError):
    """A provider could not embed (network, HTTP status, a malformed answer)."""


class Embedder(Protocol):
    """Turns texts into vectors of one model and dimension."""

    provider: str
    model: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], user_id: str) -> np.ndarray:
        """An (n, dimension) float32 array, one row per text, in order."""
        ...


# Called after each paid request: (user_id, model, tokens, cost_usd, metadata).
UsageRecorder = Callable[[str, str, int, float, dict[str, Any]], None]


@dataclass(frozen=True)
class EmbedSettings:
    """Which provider to use and, for `openai`, where and how."""

    provider: str = "offline"
    openai_model: str = DEFAULT_OPENAI_MODEL
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    openai_api_key: str | None = None
    openai_dimension: int | None = None  # known up front only for custom models
    timeout: float = 30.0
    retries: int = 3
    batch_size: int = 64

    @classmethod
    def from_env(cls, provider: str | None = None) -> EmbedSettings:
        """Settings from the environment, `provider` (a CLI option) first."""
        chosen = (provider or os.environ.get(ENV_PROVIDER) or "offline").lower()
        if chosen not in PROVIDERS:
            raise ConfigError(
                f"unknown embedding provider {chosen!r} (from --embeddings or {ENV_PROVIDER}); "
                f"use one of {', '.join(PROVIDERS)}"
            )
        return cls(
            provider=chosen,
            openai_model=os.environ.get(ENV_OPENAI_MODEL) or DEFAULT_OPENAI_MODEL,
            openai_base_url=os.environ.get(ENV_OPENAI_BASE_URL) or DEFAULT_OPENAI_BASE_URL,
            openai_api_key=os.environ.get(ENV_OPENAI_KEY),
            openai_dimension=_dimension(os.environ.get(ENV_OPENAI_DIMENSION)),
        )


def _dimension(value: str | None) -> int | None:
    """MEMVAULT_OPENAI_DIMENSION: the vector size of a model memvault does not know."""
    if not value:
        return None
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(f"{ENV_OPENAI_DIMENSION} must be a positive integer, got {value!r}")
    return int(value)


def make_embedder(settings: EmbedSettings, record: UsageRecorder | None = None) -> Embedder | None:
    """The configured provider (None for `none`); its model loads on first use."""
    if settings.provider == "none":
        return None
    if settings.provider == "offline":
        from memvault.embed.offline import OfflineEmbedder

        return OfflineEmbedder()
    if not settings.openai_api_key:
        raise ConfigError(f"the openai embedding provider needs {ENV_OPENAI_KEY} to be set")
    from memvault.embed.openai import OpenAIEmbedder

    return OpenAIEmbedder(settings, record)
