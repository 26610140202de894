"""The local backend with the real bundled SmolLM2-135M-Instruct on CPU: no model is mocked here."""

from __future__ import annotations

import json
import time
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from chorus.inference import ChatBackend, StructuredOutputError
from chorus.inference.local import MODEL_NAME, prepare_local_model
from tests.inference.conftest import CHARTER_PROMPT, CHARTER_SCHEMA, FRANCE

pytestmark = pytest.mark.slow


def test_complete_generates_a_real_answer(local_backend: ChatBackend) -> None:
    text = local_backend.complete(FRANCE, max_tokens=24)

    assert "Paris" in text


def test_stream_yields_the_same_reply_piece_by_piece(local_backend: ChatBackend) -> None:
    pieces = list(local_backend.stream(FRANCE, max_tokens=24))

    assert len(pieces) >= 4
    assert "".join(pieces) == local_backend.complete(FRANCE, max_tokens=24)


def test_closing_a_stream_early_stops_the_generation(local_backend: ChatBackend) -> None:
    # Run to the end, this story takes the 135M model well over ten seconds on two cores.
    pieces = local_backend.stream(
        [{"role": "user", "content": "Write a long story about a dragon who learns to share."}], max_tokens=300
    )
    next(pieces)

    started = time.monotonic()
    pieces.close()

    assert time.monotonic() - started < 2


def test_schema_output_is_valid_json_even_from_a_tiny_model(local_backend: ChatBackend) -> None:
    text = local_backend.complete(CHARTER_PROMPT, json_schema=CHARTER_SCHEMA, max_tokens=120)

    charter = json.loads(text)
    jsonschema.validate(charter, CHARTER_SCHEMA)
    assert len(charter["policies"]) == 3


def test_schema_output_cut_off_every_time_raises_a_clear_error(local_backend: ChatBackend) -> None:
    # Four tokens cannot hold a charter: each attempt is cut off, so all three fail.
    with pytest.raises(StructuredOutputError, match=r"Charter after 3 attempts: not valid JSON .*max_tokens"):
        local_backend.complete(CHARTER_PROMPT, json_schema=CHARTER_SCHEMA, max_tokens=4)


def test_logprobs_prefer_the_true_answer(local_backend: ChatBackend) -> None:
    true, false = local_backend.logprobs(
        FRANCE, ["The capital of France is Paris.", "The capital of France is Berlin."]
    )

    assert true < 0 and false < 0
    assert true > false


def test_conversion_is_kept_and_reused(local_backend: ChatBackend, model_cache: Path) -> None:
    local_backend.complete(FRANCE, max_tokens=1)  # the first load converts, if no earlier run did

    again = prepare_local_model(model_cache)

    assert not again.created
    assert again.path == model_cache / MODEL_NAME
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in again.path.iterdir()}


def test_prepare_models_command_reports_each_model(local_backend: ChatBackend, model_cache: Path) -> None:
    local_backend.complete(FRANCE, max_tokens=1)
    out = StringIO()

    call_command("prepare_models", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{MODEL_NAME}: already prepared at {model_cache / MODEL_NAME} (")
    assert lines[1].startswith("all-MiniLM-L6-v2: loaded from ") and lines[1].endswith(" s")
