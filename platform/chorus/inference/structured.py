"""JSON-schema output shared by every backend: generate, parse, validate, retry, then fail clearly.

Backends constrain decoding to the schema where they can, but still pass through here: a grammar
cannot see a `max_tokens` cut-off, and some schema keywords are not enforced by every server.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from chorus.inference.base import GenerationParams, InferenceError, JsonSchema, StructuredOutputError

DEFAULT_ATTEMPTS = 3
# Greedy decoding would repeat the same failure, so retries sample, at least this warm.
RETRY_TEMPERATURE = 0.7


def check_schema(schema: JsonSchema) -> None:
    """A malformed schema is the caller's bug: fail at once rather than after N generations."""
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise InferenceError(f"invalid JSON schema: {error.message}") from None


def attempt_params(params: GenerationParams, attempt: int) -> GenerationParams:
    """The params for attempt number `attempt` (0-based): the caller's first, then sampled ones."""
    if attempt == 0:
        return params
    seed = None if params.seed is None else params.seed + attempt
    return dataclasses.replace(params, temperature=max(params.temperature, RETRY_TEMPERATURE), seed=seed)


def schema_violation(text: str, schema: JsonSchema) -> str | None:
    """Why `text` is not a valid instance of `schema`, in one line; None when it is."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    try:
        instance = json.loads(text)
    except json.JSONDecodeError as error:
        return f"not valid JSON ({error.msg} at char {error.pos}; was it cut off by max_tokens?)"
    error = best_match(Draft202012Validator(schema).iter_errors(instance))
    if error is None:
        return None
    return f"at {error.json_path}: {error.message}"


def generate_valid_json(
    generate: Callable[[GenerationParams], str],
    schema: JsonSchema,
    params: GenerationParams,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> str:
    """Call `generate` until its text validates against `schema`; return that text.

    Raises StructuredOutputError naming the last violation when every attempt fails.
    """
    check_schema(schema)
    violation, text = "", ""
    for attempt in range(attempts):
        text = generate(attempt_params(params, attempt))
        violation = schema_violation(text, schema)
        if violation is None:
            return text
    name = schema.get("title", "the JSON schema")
    raise StructuredOutputError(
        f"model output did not match {name} after {attempts} attempts: {violation} (last output: {_clip(text)})"
    )


def _clip(text: str, limit: int = 160) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
