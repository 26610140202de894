"""chorus.llm builds the backend the settings name, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chorus import llm
from chorus.inference.local import LocalBackend
from chorus.inference.openai_backend import OpenAIBackend


@pytest.fixture(autouse=True)
def fresh_backend() -> Iterator[None]:
    llm.chat_backend.cache_clear()
    yield
    llm.chat_backend.cache_clear()


def test_backend_follows_settings_and_is_built_once(settings) -> None:
    settings.CHORUS_LLM_BACKEND = "openai"
    settings.CHORUS_LLM_BASE_URL = "http://127.0.0.1:8001/v1"

    backend = llm.chat_backend()

    assert isinstance(backend, OpenAIBackend)
    assert llm.chat_backend() is backend


def test_local_backend_uses_the_model_cache_setting(settings, tmp_path) -> None:
    settings.CHORUS_LLM_BACKEND = "local"
    settings.CHORUS_MODEL_CACHE = tmp_path

    assert isinstance(llm.chat_backend(), LocalBackend)
    assert llm.inference_config().cache_dir == tmp_path
