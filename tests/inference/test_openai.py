"""The openai backend against a real llama.cpp server serving the bundled GGUF."""

from __future__ import annotations

import json

import jsonschema
import pytest
from chorus.inference import ChatBackend

from tests.inference.conftest import CHARTER_PROMPT, CHARTER_SCHEMA, FRANCE

pytestmark = pytest.mark.slow


def test_complete_returns_the_servers_reply(openai_backend: ChatBackend) -> None:
    text = openai_backend.complete(FRANCE, max_tokens=24)

    assert len(text.split()) >= 3


def test_stream_yields_the_same_reply_token_by_token(openai_backend: ChatBackend) -> None:
    pieces = list(openai_backend.stream(FRANCE, max_tokens=24))

    assert len(pieces) >= 4
    assert "".join(pieces) == openai_backend.complete(FRANCE, max_tokens=24)


def test_json_schema_output_validates(openai_backend: ChatBackend) -> None:
    text = openai_backend.complete(CHARTER_PROMPT, json_schema=CHARTER_SCHEMA, max_tokens=120)

    charter = json.loads(text)
    jsonschema.validate(charter, CHARTER_SCHEMA)
    assert len(charter["policies"]) == 3
