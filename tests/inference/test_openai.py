"""The openai backend against a real llama.cpp server serving the bundled GGUF."""

from __future__ import annotations

import json
import urllib.request

import jsonschema
import pytest

from chorus.inference import ChatBackend
from tests.inference.conftest import CHARTER_PROMPT, CHARTER_SCHEMA, FRANCE, SERVED_MODEL

pytestmark = pytest.mark.slow


def test_complete_returns_the_servers_reply(openai_backend: ChatBackend, llama_base_url: str) -> None:
    text = openai_backend.complete(FRANCE, max_tokens=24)

    assert "Paris" in text  # the question reached the model and its answer came back
    # Word for word what the server answers the same request (greedy decoding, so one answer).
    request = {"model": SERVED_MODEL, "messages": FRANCE, "max_tokens": 24, "temperature": 0.0, "top_p": 1.0}
    with urllib.request.urlopen(urllib.request.Request(
        f"{llama_base_url}/chat/completions", data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
    ), timeout=120) as response:
        assert text == json.load(response)["choices"][0]["message"]["content"]


def test_stream_yields_the_same_reply_token_by_token(openai_backend: ChatBackend) -> None:
    pieces = list(openai_backend.stream(FRANCE, max_tokens=24))

    assert len(pieces) >= 4
    assert "".join(pieces) == openai_backend.complete(FRANCE, max_tokens=24)


def test_json_schema_output_validates(openai_backend: ChatBackend) -> None:
    text = openai_backend.complete(CHARTER_PROMPT, json_schema=CHARTER_SCHEMA, max_tokens=120)

    charter = json.loads(text)
    jsonschema.validate(charter, CHARTER_SCHEMA)
    assert len(charter["policies"]) == 3
