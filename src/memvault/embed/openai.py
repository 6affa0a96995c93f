"""The `openai` provider: any OpenAI-compatible /embeddings endpoint, batched, with retries.

Each successful request is recorded as the TypeScript service recorded it (its
EmbeddingService.recordUsage): provider `openai`, the model, the response's total_tokens,
cost = tokens / 1e6 x $0.02 (text-embedding-3-small), operation `embedding`, timestamp in
milliseconds, the UTC date, and metadata {duration, batchSize}.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np

from memvault.embed.providers import EmbeddingError, EmbedSettings, UsageRecorder

PRICE_PER_MILLION_TOKENS = 0.02  # USD, text-embedding-3-small, as the service priced it
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
                    "text-embedding-ada-002": 1536}  # fmt: skip
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class OpenAIEmbedder:
    """Embeds through POST {base_url}/embeddings; records each request's usage."""

    provider = "openai"

    def __init__(self, settings: EmbedSettings, record: UsageRecorder | None = None) -> None:
        self.model = settings.openai_model
        self._settings = settings
        self._record = record
        self._dimension = settings.openai_dimension or KNOWN_DIMENSIONS.get(self.model)

    @property
    def dimension(self) -> int:
        """The model's dimension: known for OpenAI's models or set by MEMVAULT_OPENAI_DIMENSION,
        else learned by one request (not recorded as usage: it belongs to no user)."""
        if self._dimension is None:
            self._dimension = int(self._request(["dimension probe"], None).shape[1])
        return self._dimension

    def embed(self, texts: Sequence[str], user_id: str) -> np.ndarray:
        """Rows for `texts`, in batches of `batch_size` (one usage row per request)."""
        size = self._settings.batch_size
        parts = [
            self._request(list(texts[i : i + size]), user_id) for i in range(0, len(texts), size)
        ]
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        matrix = np.vstack(parts)
        self._dimension = int(matrix.shape[1])
        return matrix

    def _request(self, texts: list[str], user_id: str | None) -> np.ndarray:
        started = time.monotonic()
        body = self._post({"model": self.model, "input": texts})
        vectors = _vectors(body, len(texts))
        tokens = int((body.get("usage") or {}).get("total_tokens") or 0)
        if self._record is not None and user_id is not None:
            cost = tokens / 1_000_000 * PRICE_PER_MILLION_TOKENS
            meta = {"duration": round((time.monotonic() - started) * 1000), "batchSize": len(texts)}
            self._record(user_id, self.model, tokens, cost, meta)
        return vectors

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on timeouts, connection errors, 429 and 5xx (backoff 0.5 s x 2^n)."""
        url = self._settings.openai_base_url.rstrip("/") + "/embeddings"
        data = json.dumps(payload).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self._settings.openai_api_key}",
        }
        problem = ""
        for attempt in range(self._settings.retries + 1):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self._settings.timeout) as response:
                    parsed = json.loads(response.read())
                    if not isinstance(parsed, dict):
                        raise EmbeddingError(f"{url} answered with JSON that is not an object")
                    return parsed
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code} {exc.reason}"
                if exc.code not in RETRY_STATUSES:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                problem = str(getattr(exc, "reason", exc))
            except json.JSONDecodeError:
                raise EmbeddingError(f"{url} answered with something that is not JSON") from None
        raise EmbeddingError(f"embedding request to {url} failed: {problem}")


def _vectors(body: dict[str, Any], expected: int) -> np.ndarray:
    items = body.get("data")
    if not isinstance(items, list) or len(items) != expected:
        raise EmbeddingError(
            f"the embeddings answer holds {len(items or [])} vectors, not {expected}"
        )
    ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
    try:
        matrix = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        raise EmbeddingError("the embeddings answer holds a malformed vector") from None
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise EmbeddingError(
            "the embeddings answer holds vectors of mixed size or non-finite values"
        )
    return matrix
