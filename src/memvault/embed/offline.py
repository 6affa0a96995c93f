"""The offline provider: wordllama's 256-d l2_supercat embeddings, shipped in its wheel.

wordllama's own `WordLlama.load()` looks for the tokenizer in a folder its wheel does not
have (`tokenizer/` instead of the shipped `tokenizers/`) and then downloads it, so the model
is built here from the two files the wheel does ship: nothing is fetched, ever.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memvault.embed.providers import EmbeddingError

MODEL = "wordllama-l2-supercat-256"
DIMENSION = 256
WEIGHTS = ("weights", "l2_supercat_256.safetensors")
TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")


class OfflineEmbedder:
    """Embeds with the weights inside the wordllama wheel; loads them on first use."""

    provider = "offline"
    model = MODEL

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str], user_id: str) -> np.ndarray:
        """Unit-length float32 rows (wordllama normalizes); no network, no usage rows."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vectors = self._load().embed(list(texts), norm=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSION)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _build()
        return self._model


def _build() -> Any:
    try:
        import wordllama  # type: ignore[import-untyped]
        from safetensors import safe_open
        from wordllama import WordLlama
        from wordllama.inference import WordLlamaInference  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EmbeddingError(
            f"the offline embedding provider needs wordllama ({exc.name} is missing): "
            "pip install 'memvault[mcp]', or use --embeddings none"
        ) from None
    root = Path(wordllama.__file__).parent
    weights, tokenizer = root.joinpath(*WEIGHTS), root.joinpath(*TOKENIZER)
    for path in (weights, tokenizer):
        if not path.is_file():
            raise EmbeddingError(f"the wordllama wheel lacks {path}; reinstall wordllama")
    with safe_open(str(weights), framework="np", device="cpu") as f:
        matrix = f.get_tensor("embedding.weight")
    return WordLlamaInference(matrix, WordLlama.load_tokenizer(tokenizer))
