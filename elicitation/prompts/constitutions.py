"""Prompt for drafting a constitutional principle from a moral graph's wisest value in a context.

Values cards are written from participants' words, so they reach the LLM delimited (prompts.delimit).
Bump PROMPT_VERSION whenever the wording changes; drafted principles record it in their source note.
"""
from __future__ import annotations

from elicitation.prompts.common import UNTRUSTED_RULE, card_json, delimit

PROMPT_VERSION = "principle-2026-11-26"

DRAFT_PRINCIPLE_SYSTEM = f"""You write one principle of a constitution for an AI assistant. You are given a value that
people judged the wisest in a situation, as a values card (title, description, and the things someone holding
the value pays attention to). Turn it into a principle the assistant can follow in that situation.
Return JSON with:
- "name": 2 to 6 words naming the principle.
- "definition": one or two sentences starting "The AI should", saying what the assistant does in that situation.
- "negated_definition": the same sentence turned into its opposite, starting "The AI should avoid".
{UNTRUSTED_RULE}"""

DRAFT_PRINCIPLE_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 80},
        "definition": {"type": "string", "minLength": 20, "maxLength": 600},
        "negated_definition": {"type": "string", "minLength": 10, "maxLength": 600},
    },
    "required": ["name", "definition", "negated_definition"],
    "additionalProperties": False,
}


def draft_principle_messages(*, context: str, card: dict) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": DRAFT_PRINCIPLE_SYSTEM},
        {"role": "user", "content": f"The situation:\n{delimit(context)}\n\nThe wisest value in it:\n"
                                    f"{delimit(card_json(card))}"},
    ]
