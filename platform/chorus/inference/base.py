"""The one interface every backend implements, its config, its parameters and its errors.

No Django and no heavy imports here: web views, Celery tasks and GPU workers all import this.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A chat message: {"role": "system" | "user" | "assistant", "content": "..."}.
Message = Mapping[str, str]
JsonSchema = Mapping[str, Any]


class InferenceError(Exception):
    """Anything that went wrong producing text; callers catch this one class."""


class StructuredOutputError(InferenceError):
    """The model's output still broke its JSON schema after every retry."""


class BackendUnavailable(InferenceError):
    """The inference endpoint could not be reached at all."""


class NotSupported(InferenceError, NotImplementedError):
    """The backend has no way to do this operation (e.g. logprobs over a chat API)."""


@dataclass(frozen=True)
class InferenceConfig:
    backend: str = field(metadata={"help": "One of 'local', 'openai', 'vllm'."})
    base_url: str = field(default="", metadata={"help": "OpenAI-compatible endpoint, e.g. http://host:8001/v1."})
    model: str = field(default="", metadata={"help": "Model name sent to the endpoint, or loaded by vLLM."})
    api_key: str = field(default="", metadata={"help": "Key for the endpoint; local servers accept anything."})
    cache_dir: Path = field(
        default=Path.home() / ".cache" / "chorus" / "models",
        metadata={"help": "Where converted bundled models are kept between runs."},
    )


@dataclass(frozen=True)
class GenerationParams:
    """The sampling knobs every backend accepts. Greedy by default: reproducible, and best for a tiny model."""

    max_tokens: int = field(default=256, metadata={"help": "Most new tokens to generate."})
    temperature: float = field(default=0.0, metadata={"help": "0 means greedy decoding."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass; only used when temperature > 0."})
    seed: int | None = field(default=None, metadata={"help": "Makes sampling repeatable."})

    @classmethod
    def from_kwargs(cls, params: Mapping[str, Any]) -> GenerationParams:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            # A typo like `max_new_tokens` would otherwise be silently ignored.
            raise InferenceError(f"unknown generation parameter(s) {unknown}; accepted: {sorted(known)}")
        return cls(**params)


class ChatBackend(ABC):
    """Turns a conversation into the assistant's next reply."""

    name: str

    @abstractmethod
    def complete(self, messages: list[Message], *, json_schema: JsonSchema | None = None, **params: Any) -> str:
        """The whole reply. With `json_schema`, the reply is JSON text that validates against it
        (or StructuredOutputError is raised)."""

    @abstractmethod
    def stream(self, messages: list[Message], **params: Any) -> Iterator[str]:
        """The reply in pieces as they are generated; joined, they are the reply."""

    def batch(self, conversations: list[list[Message]], **params: Any) -> list[str]:
        """One reply per conversation. Backends with real batching override this loop."""
        return [self.complete(messages, **params) for messages in conversations]

    def logprobs(self, messages: list[Message], candidates: list[str]) -> list[float]:
        """Total log-probability that the assistant's reply begins with each candidate (judging, value measurement).

        No end-of-turn token is scored, so candidates of different lengths are not penalised for stopping."""
        raise NotSupported(f"the {self.name!r} backend cannot score candidates; use 'local' or 'vllm'")
