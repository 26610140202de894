"""The project's chat backend and embedder, built once per process from settings.

Code elsewhere calls `chat_backend()` / `embedder()` and never reads CHORUS_LLM_* itself.
Tests that change those settings call `chat_backend.cache_clear()`.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from chorus.inference import ChatBackend, Embedder, InferenceConfig, get_embedder, make_backend


def inference_config() -> InferenceConfig:
    return InferenceConfig(
        backend=settings.CHORUS_LLM_BACKEND,
        base_url=settings.CHORUS_LLM_BASE_URL,
        model=settings.CHORUS_LLM_MODEL,
        api_key=settings.CHORUS_LLM_API_KEY,
        cache_dir=settings.CHORUS_MODEL_CACHE,
    )


@cache
def chat_backend() -> ChatBackend:
    # Cheap to build: the models themselves load on first use, once per process, behind a lock.
    return make_backend(inference_config())


def backend_identity() -> str:
    """Which judge answers: the bundled model's id, or the backend, base URL and model name.

    What is measured about a backend (the dedup judge's calibration) is kept under this key."""
    config = inference_config()
    if config.backend == "local":
        from chorus.inference.local import MODEL_NAME

        return f"local:{MODEL_NAME}"
    if config.backend == "vllm":  # in-process: the model is all there is
        return f"vllm:{config.model}"
    return f"{config.backend}:{config.base_url.rstrip('/')}:{config.model}"


def embedder() -> Embedder:
    return get_embedder(settings.CHORUS_MODEL_CACHE)
