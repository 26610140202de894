"""Any OpenAI-compatible chat endpoint (vLLM `vllm serve`, llama.cpp server, hosted APIs): the production path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chorus.inference import structured
from chorus.inference.base import (
    BackendUnavailable,
    ChatBackend,
    GenerationParams,
    InferenceConfig,
    InferenceError,
    JsonSchema,
    Message,
)

# Long enough for a slow CPU server to finish a reply, short enough that a hung one surfaces.
REQUEST_TIMEOUT_S = 120.0


class OpenAIBackend(ChatBackend):
    name = "openai"

    def __init__(self, config: InferenceConfig) -> None:
        from openai import OpenAI

        self._base_url = config.base_url
        self._model = config.model
        # Local servers ignore the key, but the client refuses to start without one.
        self._client = OpenAI(
            base_url=config.base_url, api_key=config.api_key or "not-needed", timeout=REQUEST_TIMEOUT_S
        )
        # llama.cpp's server only knows its own spelling of schema output; learnt on its first refusal.
        self._llama_cpp_schema_format = False

    def complete(self, messages: list[Message], *, json_schema: JsonSchema | None = None, **params: Any) -> str:
        first = GenerationParams.from_kwargs(params)
        if json_schema is None:
            return self._create(messages, first)
        return structured.generate_valid_json(
            lambda p: self._complete_json(messages, p, json_schema), json_schema, first
        )

    def stream(self, messages: list[Message], **params: Any) -> Iterator[str]:
        chunks = self._create(messages, GenerationParams.from_kwargs(params), stream=True)
        # Closing the stream (also when the consumer stops early) tells the server to stop generating.
        with chunks, _translated_errors(self._base_url):
            for chunk in chunks:
                # Some servers end with a usage-only chunk that has no choices.
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def _complete_json(self, messages: list[Message], params: GenerationParams, schema: JsonSchema) -> str:
        if not self._llama_cpp_schema_format:
            try:
                return self._create(messages, params, response_format=_json_schema_format(schema))
            except _RefusedFormat:
                self._llama_cpp_schema_format = True
        try:
            return self._create(messages, params, response_format={"type": "json_object", "schema": dict(schema)})
        except _RefusedFormat as error:
            raise InferenceError(f"LLM endpoint {self._base_url} supports no JSON-schema output: {error}") from None

    def _create(self, messages: list[Message], params: GenerationParams, **extra: Any) -> Any:
        request: dict[str, Any] = {
            "model": self._model,
            "messages": [dict(m) for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            **extra,
        }
        if params.seed is not None:
            request["seed"] = params.seed
        with _translated_errors(self._base_url, format_may_be_refused="response_format" in extra):
            response = self._client.chat.completions.create(**request)
        if extra.get("stream"):
            return response
        return response.choices[0].message.content or ""


class _RefusedFormat(Exception):
    """The server rejected the request's response_format."""


@contextmanager
def _translated_errors(base_url: str, *, format_may_be_refused: bool = False) -> Iterator[None]:
    """Turn the openai client's exceptions into ours, with the one line an operator needs."""
    import openai

    try:
        yield
    except openai.APIConnectionError as error:  # includes timeouts
        raise BackendUnavailable(
            f"LLM endpoint {base_url} is unreachable ({_reason(error)}); "
            f"start the server or point CHORUS_LLM_BASE_URL at a running one"
        ) from None
    except openai.APIStatusError as error:
        if format_may_be_refused and "response_format" in str(error.message):
            raise _RefusedFormat(error.message) from None
        raise InferenceError(f"LLM endpoint {base_url} answered {error.status_code}: {error.message}") from error


def _json_schema_format(schema: JsonSchema) -> dict[str, Any]:
    # Not "strict": OpenAI's strict mode refuses many ordinary schemas, and we validate anyway.
    # The name must match ^[a-zA-Z0-9_-]+$; the schema's own title makes a readable one.
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in str(schema.get("title", "output")))
    return {"type": "json_schema", "json_schema": {"name": name[:64] or "output", "schema": dict(schema)}}


def _reason(error: BaseException) -> str:
    """The innermost cause, e.g. 'Connection refused', rather than the client's generic wrapper text."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
