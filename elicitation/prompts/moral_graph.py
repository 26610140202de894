"""Prompt for wisdom-upgrade stories: someone who moved from value A to value B in a context."""
from __future__ import annotations

from elicitation.prompts.common import UNTRUSTED_RULE, card_json, delimit

__all__ = ["STORY_SYSTEM", "STORY_SCHEMA", "card_json", "delimit"]

STORY_SYSTEM = f"""You write a short first-person story (3-5 sentences) of someone who used to follow value A
in a situation and came to follow value B instead, because B attends to something A missed. Write it
plainly and believably. Return JSON {{"story": "..."}}. {UNTRUSTED_RULE}"""

STORY_SCHEMA = {
    "type": "object",
    "properties": {"story": {"type": "string", "minLength": 40, "maxLength": 1200}},
    "required": ["story"],
    "additionalProperties": False,
}
