"""Prompts for deduplicating values cards (the same-value judge) and for the contexts a value guides."""
from __future__ import annotations

from elicitation.prompts.common import UNTRUSTED_RULE, card_json, delimit

__all__ = ["JUDGE_SYSTEM", "JUDGE_SCHEMA", "JUDGE_YES_NO_SYSTEM", "JUDGE_QUESTION", "JUDGE_ANSWERS",
           "CONTEXTS_SYSTEM", "CONTEXTS_SCHEMA", "card_json", "delimit"]

JUDGE_SYSTEM = f"""You compare two values cards. Two cards express the same value when someone who holds
one would pay attention to the same things in a choice as someone who holds the other, even if the
wording differs. Answer with JSON {{"same": true}} or {{"same": false}}. {UNTRUSTED_RULE}"""

JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"same": {"type": "boolean"}},
    "required": ["same"],
    "additionalProperties": False,
}

# The judge as scored by answer log-probabilities (backends with `logprobs`): one word, Yes or No.
# The JSON prompt above is the fallback for backends without logprobs (e.g. the OpenAI API).
JUDGE_YES_NO_SYSTEM = f"""You compare two values cards. Two cards express the same value when someone who holds
one would pay attention to the same things in a choice as someone who holds the other, even if the
wording differs. Answer with one word, Yes or No. {UNTRUSTED_RULE}"""
JUDGE_QUESTION = "Do the two cards express the same value? Answer Yes or No."
JUDGE_ANSWERS = ["Yes", "No"]

CONTEXTS_SYSTEM = f"""You list the situations in which a value is the right guide for answering a question.
Each situation starts with "When" and is general enough to apply to other people, e.g.
"When a person faces a decision that will shape their future". Return JSON {{"contexts": [...]}} with 1 to 3
situations. {UNTRUSTED_RULE}"""

CONTEXTS_SCHEMA = {
    "type": "object",
    "properties": {
        "contexts": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "minLength": 10, "maxLength": 200, "pattern": "^When .+$"},
        }
    },
    "required": ["contexts"],
    "additionalProperties": False,
}
