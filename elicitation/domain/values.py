"""What a values card is, as data: the rules every card must meet, whoever wrote it.

A card has a title of 2-5 words, a one-sentence description, and 3-6 different attentional policies.
A policy (MAI's "CAPS-WORD ..." form) names a thing one attends to, then what about it matters:
"OPPORTUNITIES for my child to discover ...", "SUPPORTERS, religious or not, who ...". So:

- its head, the first word, is one word in capitals (letters and hyphens, 2 or more letters) that may be
  followed by ordinary punctuation (, ; : or a dash);
- the head is not a pronoun, article, conjunction, verb form or interjection ("I'M", "SO", "SORRY"):
  those do not name anything to attend to, and they are how chat lines ("I'M SO SORRY TO HEAR") start;
- the rest is ordinary writing, not shouting: at least half of its words have a lower-case letter;
- no two policies are the same once case, spacing and punctuation are ignored.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError

# bench/dedup.py: reworded cards of one value sit at a median distance of about 0.3, so 0.35 lets a
# capable judge (vLLM in production) see them (pairwise F1 0.63 with a perfect judge). The bundled
# 135M judge cannot tell values apart either way (100 pairs at 0.35, half duplicates): asked for
# JSON it says "same" to all (accuracy 0.50); scored by Yes/No logprobs minus its lean on
# content-free cards, it says "same" to 50% but at accuracy 0.46 (precision 0.46), chance too.
# Calibration removes the blanket "same", not the guessing: on the embedded default curators still
# split and merge on the values page.
DISTANCE_THRESHOLD = 0.35

TITLE_MAX_CHARS = 60
DESCRIPTION_MAX_CHARS = 300
POLICY_MAX_CHARS = 200
MIN_POLICIES, MAX_POLICIES = 3, 6
# An upper-case head (the plural noun), optional punctuation, then the qualifier: "MOMENTS where ...".
POLICY_PATTERN = re.compile(r"^(?P<head>[A-Z][A-Z-]*[A-Z])[,;:\u2013\u2014-]? (?P<rest>\S.*)$")
# First words that cannot name a thing one attends to (see the module docstring).
NOT_A_HEAD = frozenset("""
    I ME MY WE US OUR YOU YOUR HE HIM HIS SHE HER IT ITS THEY THEM THEIR THIS THAT THESE THOSE
    A AN THE AND OR BUT SO IF THEN BECAUSE WHAT WHO WHEN WHERE WHY HOW WHICH
    IS ARE AM WAS WERE BE BEEN DO DOES DID HAVE HAS HAD CAN COULD WILL WOULD SHOULD MUST NOT
    YES NO OK OKAY OH SORRY THANKS THANK PLEASE HELLO HI HEY WELL VERY JUST ALSO TO OF IN ON FOR WITH
""".split())

# The same rules as a JSON schema, for constrained decoding of LLM drafts.
CARD_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": TITLE_MAX_CHARS, "pattern": "^[A-Za-z'-]+( [A-Za-z'-]+){1,4}$"},
        "description": {"type": "string", "minLength": 10, "maxLength": DESCRIPTION_MAX_CHARS,
                        "pattern": "^[^.!?]+[.!?]$"},
        "policies": {
            "type": "array",
            "minItems": MIN_POLICIES,
            "maxItems": MAX_POLICIES,
            # The head, then a lower-case word: keeps a small model from writing whole lines in capitals.
            "items": {"type": "string", "minLength": 8, "maxLength": POLICY_MAX_CHARS,
                      "pattern": "^[A-Z][A-Z-]*[A-Z],? [a-z][^ ]* [^ ].*$"},
        },
    },
    "required": ["title", "description", "policies"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class CardData:
    title: str
    description: str
    policies: tuple[str, ...]

    def as_json(self) -> dict:
        data = asdict(self)
        data["policies"] = list(self.policies)
        return data


def card_clean(*, title: str, description: str, policies: list[str] | tuple[str, ...]) -> CardData:
    """Normalises whitespace and checks the rules; raises ValidationError naming each bad field."""
    title = " ".join(str(title).split())
    description = " ".join(str(description).split())
    policies = tuple(" ".join(str(p).split()) for p in policies if str(p).strip())
    errors: dict[str, list[str]] = {}
    words = len(title.split())
    if not 2 <= words <= 5 or len(title) > TITLE_MAX_CHARS:
        errors["title"] = [f"The title needs 2 to 5 words (at most {TITLE_MAX_CHARS} characters)."]
    if not description:
        errors["description"] = ["Describe the value in one sentence."]
    elif len(description) > DESCRIPTION_MAX_CHARS:
        errors["description"] = [f"Keep the description to one sentence of at most {DESCRIPTION_MAX_CHARS} characters."]
    elif _sentence_count(description) > 1:
        errors["description"] = ["Keep the description to one sentence."]
    if not MIN_POLICIES <= len(policies) <= MAX_POLICIES:
        errors["policies"] = [f"List {MIN_POLICIES} to {MAX_POLICIES} things you pay attention to, one per line."]
    else:
        problems = _duplicates(policies) + [problem for problem in map(policy_problem, policies) if problem]
        if problems:
            errors["policies"] = problems
    if errors:
        raise ValidationError(errors)
    return CardData(title=title, description=description, policies=policies)


def policy_problem(policy: str) -> str:
    """Why `policy` is not an attentional policy, in words for the participant; "" if it is one."""
    shown = repr(policy[:60])
    if len(policy) > POLICY_MAX_CHARS:
        return f"Keep each line under {POLICY_MAX_CHARS} characters. Check: {shown}"
    match = POLICY_PATTERN.match(policy)
    if not match:
        return ("Start each line with one plural noun in capitals, then what about it matters "
                f"(e.g. \"MOMENTS where she can choose freely\"). Check: {shown}")
    if match["head"].replace("-", "") in NOT_A_HEAD:
        return (f"\"{match['head']}\" does not name something you pay attention to: start the line with a plural "
                f"noun such as MOMENTS, PEOPLE or CHANCES. Check: {shown}")
    words = match["rest"].split()
    if 2 * sum(any(c.islower() for c in w) for w in words) < len(words):
        return f"Only the first word goes in capitals; write the rest in ordinary letters. Check: {shown}"
    return ""


def _policy_key(policy: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", policy.casefold()).split())


def _duplicates(policies: tuple[str, ...]) -> list[str]:
    seen: set[str] = set()
    for policy in policies:
        key = _policy_key(policy)
        if key in seen:
            return [f"Each line must say something different; this one appears twice: {policy[:60]!r}"]
        seen.add(key)
    return []


def card_from_json(data: object) -> CardData:
    if not isinstance(data, dict):
        raise ValidationError({"card": ["A card must be an object with title, description and policies."]})
    policies = data.get("policies")
    if not isinstance(policies, list):
        raise ValidationError({"policies": ["Policies must be a list."]})
    return card_clean(title=data.get("title", ""), description=data.get("description", ""), policies=policies)


def draft_tidy(data: object) -> object:
    """A model's draft with its repeated policies and its lines that break the policy rules left out, as
    long as enough good lines remain; a person's own card is never tidied, only checked."""
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list):
        return data
    kept, seen = [], set()
    for policy in data["policies"]:
        if not isinstance(policy, str):
            return data
        key = _policy_key(policy.strip())
        if key not in seen and not policy_problem(policy.strip()):
            kept.append(policy)
        seen.add(key)
    return {**data, "policies": kept} if len(kept) >= MIN_POLICIES else data


def policies_text(policies) -> str:
    """What deduplication embeds: the policies, sorted, one per line."""
    return "\n".join(sorted(policies))


def _sentence_count(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip()) if s])
