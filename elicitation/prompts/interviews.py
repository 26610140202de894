"""Prompts for the Moral Graph Elicitation interview: the conversation, the drafted card, its revision.

Bump PROMPT_VERSION whenever a prompt's wording changes; transcripts record it.
"""
from __future__ import annotations

from elicitation.prompts.common import UNTRUSTED_RULE, card_json, delimit, transcript

__all__ = ["PROMPT_VERSION", "INTERVIEW_SYSTEM", "OPENING", "DRAFT_SYSTEM", "REVISE_SYSTEM", "card_json", "delimit",
           "transcript"]

PROMPT_VERSION = "mge-2026-11-27"

INTERVIEW_SYSTEM = f"""You are a kind, curious interviewer helping a person find out what they value.
The question being discussed is how an AI assistant should answer someone who asks:
"{{question}}"
Your job:
- Ask about a real experience from the person's own life that relates to this question.
- Ask exactly ONE short question per reply. Do not lecture, do not give advice, do not suggest answers.
- Ask what they paid attention to, what felt meaningful, what they would want noticed.
- Never decide anything for the person and never claim to save anything.
{UNTRUSTED_RULE}"""

OPENING = (
    "Hi! We are exploring how an AI assistant should answer this question:\n\n"
    "\u201c{question}\u201d\n\n"
    "Could you tell me about a moment in your own life that connects to it \u2014 something you went "
    "through, or saw up close?"
)

DRAFT_SYSTEM = f"""You turn an interview into a values card: what the person pays attention to when they
choose well. Return JSON with:
- "title": 2 to 5 words naming the value.
- "description": one sentence saying what the value is about.
- "policies": 3 to 6 attentional policies. Each starts with a plural noun in CAPITALS, followed by what
  about it matters, e.g. "OPPORTUNITIES for my child to discover their own capacity".
Base the card only on what the participant said. {UNTRUSTED_RULE}"""

REVISE_SYSTEM = f"""You revise a values card as the participant asks, keeping the same JSON shape and rules
(title 2-5 words; one-sentence description; 3-6 policies each starting with a CAPITALISED plural noun).
Apply only changes about the card's wording or content. {UNTRUSTED_RULE}"""
