"""The retry loop every backend shares, fed scripted outputs (the model-backed path is in test_local)."""

from __future__ import annotations

import json

import pytest

from chorus.inference import GenerationParams, InferenceError, StructuredOutputError
from chorus.inference.structured import generate_valid_json
from tests.inference.conftest import CHARTER_SCHEMA

VALID = json.dumps({"title": "Kitchen", "policies": ["Clean up", "Label food", "Share"]})
TOO_FEW = json.dumps({"title": "Kitchen", "policies": ["Clean up", "Label food"]})


class Scripted:
    """Returns the given outputs in turn and records the params of each call."""

    def __init__(self, *outputs: str) -> None:
        self.outputs = list(outputs)
        self.calls: list[GenerationParams] = []

    def __call__(self, params: GenerationParams) -> str:
        self.calls.append(params)
        return self.outputs[len(self.calls) - 1]


def test_invalid_output_is_retried_with_sampling_then_accepted() -> None:
    generate = Scripted(TOO_FEW, VALID)

    text = generate_valid_json(generate, CHARTER_SCHEMA, GenerationParams(temperature=0.0, seed=7))

    assert text == VALID
    assert len(generate.calls) == 2
    assert generate.calls[0].temperature == 0.0
    # Greedy would repeat the same mistake, so the retry samples, with a new seed.
    assert generate.calls[1].temperature > 0
    assert generate.calls[1].seed == 8


def test_every_attempt_failing_raises_naming_the_violation() -> None:
    generate = Scripted(TOO_FEW, TOO_FEW, TOO_FEW)

    with pytest.raises(StructuredOutputError) as raised:
        generate_valid_json(generate, CHARTER_SCHEMA, GenerationParams())

    assert len(generate.calls) == 3
    message = str(raised.value)
    assert "Charter" in message and "3 attempts" in message
    assert "at $.policies: ['Clean up', 'Label food'] is too short" in message


def test_text_that_is_not_json_is_reported_as_such() -> None:
    generate = Scripted('{"title": "Kit', '{"title": "Kit')

    with pytest.raises(StructuredOutputError, match="not valid JSON"):
        generate_valid_json(generate, CHARTER_SCHEMA, GenerationParams(), attempts=2)


def test_a_malformed_schema_fails_before_generating() -> None:
    generate = Scripted(VALID)

    with pytest.raises(InferenceError, match="invalid JSON schema"):
        generate_valid_json(generate, {"type": "banana"}, GenerationParams())

    assert generate.calls == []
