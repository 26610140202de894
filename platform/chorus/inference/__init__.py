"""Text generation and embeddings behind one small interface; no Django here.

    backend = make_backend(InferenceConfig(backend="local"))
    backend.complete([{"role": "user", "content": "Hello"}], max_tokens=32)

Heavy libraries (torch, transformers, openai, vllm) load when a backend is first used.
"""

from __future__ import annotations

from chorus.inference.base import (
    BackendUnavailable,
    ChatBackend,
    GenerationParams,
    InferenceConfig,
    InferenceError,
    Message,
    NotSupported,
    StructuredOutputError,
)
from chorus.inference.embeddings import Embedder, get_embedder

BACKENDS = ("local", "openai", "vllm")

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "ChatBackend",
    "Embedder",
    "GenerationParams",
    "InferenceConfig",
    "InferenceError",
    "Message",
    "NotSupported",
    "StructuredOutputError",
    "get_embedder",
    "make_backend",
]


def make_backend(config: InferenceConfig) -> ChatBackend:
    if config.backend == "local":
        from chorus.inference.local import LocalBackend

        return LocalBackend(config)
    if config.backend == "openai":
        from chorus.inference.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "vllm":
        from chorus.inference.vllm_backend import VLLMBackend

        return VLLMBackend(config)
    raise InferenceError(f"unknown LLM backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
