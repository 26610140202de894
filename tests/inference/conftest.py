"""The real bundled models, loaded once per session; a real llama.cpp server for the openai backend."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from chorus.inference import ChatBackend, InferenceConfig, make_backend
from chorus.inference.llama_server import INSTALL_HINT, llama_server
from chorus.inference.local import bundled_gguf

SERVED_MODEL = "SmolLM2-135M-Instruct"

# A small schema of the kind elicitation asks for; "title" names it in error messages.
CHARTER_SCHEMA = {
    "title": "Charter",
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 2, "maxLength": 40},
        "policies": {"type": "array", "items": {"type": "string", "maxLength": 80}, "minItems": 3, "maxItems": 3},
    },
    "required": ["title", "policies"],
    "additionalProperties": False,
}
CHARTER_PROMPT = [
    {"role": "user", "content": "Write a short charter for a shared kitchen: a title and three policies."}
]
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="session")
def model_cache() -> Path:
    from django.conf import settings

    # The same cache prepare_models fills, so the GGUF conversion happens once per machine.
    return Path(settings.CHORUS_MODEL_CACHE)


@pytest.fixture(scope="session")
def local_backend(model_cache: Path) -> ChatBackend:
    return make_backend(InferenceConfig(backend="local", cache_dir=model_cache))


@pytest.fixture(scope="session")
def llama_base_url() -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        # Not a skip: the setup script installs it, so its absence is a broken environment.
        pytest.fail(
            f"llama_cpp is not importable, so the openai backend cannot be tested: {INSTALL_HINT}", pytrace=False
        )
    with llama_server(bundled_gguf(), model_alias=SERVED_MODEL) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def openai_backend(llama_base_url: str) -> ChatBackend:
    return make_backend(InferenceConfig(backend="openai", base_url=llama_base_url, model=SERVED_MODEL))
