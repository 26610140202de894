"""Prompts for the Moral Graph Elicitation interview: the conversation, the drafted card, its revision.

Bump PROMPT_VERSION whenever a prompt's wording changes; transcripts record it.
"""
from __future__ import annotations

from elicitation.prompts.common import UNTRUSTED_RULE, card_json, delimit, transcript

__all__ = ["PROMPT_VERSION", "STAGE_GOALS", "STAGE_QUESTIONS", "QUOTE_QUESTION", "DRAFTED_NOTES",
           "REVISED_NOTES", "INTERVIEW_SYSTEM", "OPENING", "DRAFT_SYSTEM", "REVISE_SYSTEM", "card_json", "delimit",
           "transcript"]

PROMPT_VERSION = "mge-2026-11-30-stages"

# The stages of MAI's moral-graph interview, in order. The platform decides the stage; the model only
# phrases the turn, guided by the goal. Each stage's questions stand in, in order, when the model's reply
# asks no usable question or repeats one (elicitation/domain/interviews.py).
STAGE_GOALS = {
    "story": "hear a concrete moment from the person's own life that connects to the question",
    "attention": "find out what the person paid attention to in that moment, what they noticed and looked for",
    "meaning": "find out why attending to that felt meaningful to them, what it let them be or do",
    "enough": "check whether anything else mattered to them, before their values card is drafted",
}
STAGE_QUESTIONS = {
    "story": (
        "Could you tell me a bit more about what happened, and what you had to decide?",
        "Who was there with you, and what was hard about that moment?",
    ),
    "attention": (
        "In that moment, what did you pay attention to as you worked out what to do?",
        "What did you notice or look for that helped you choose well?",
        "When it went well, what were you paying attention to?",
    ),
    "meaning": (
        "Why did paying attention to that feel meaningful to you?",
        "What did attending to that let you be or do that mattered to you?",
        "What would have been lost if nobody had paid attention to that?",
    ),
    "enough": (
        "Is there anything else you paid attention to then, or shall I draft your values card?",
        "Did anything else matter to you in that moment, or are you ready for the draft of your card?",
        "Is there more you would like to add, or shall we draft your card now?",
    ),
}
# Used after every wording of a stage was asked; {quote} is the start of the participant's last turn.
QUOTE_QUESTION = "You said \u201c{quote}\u201d: what about that matters most to you?"
# What the interviewer says when the card changes; varied so two notes are never the same turn.
DRAFTED_NOTES = (
    "Here is a first draft of your values card. Does it say what matters to you?",
    "Here is a new draft of your values card. Does this one say what matters to you?",
)
REVISED_NOTES = (
    "I have updated the card. Does it say what you meant now?",
    "I changed the card again. Is it closer to what you meant?",
    "Here is the card with your change. Does it read right to you?",
)

INTERVIEW_SYSTEM = f"""You are a kind, curious interviewer helping a person find out what they value.
The question being discussed is how an AI assistant should answer someone who asks:
"{{question}}"
Right now your aim is to {{goal}}.
Reply in at most two short sentences: a brief, warm acknowledgement of what they said, then exactly ONE
question that serves your aim, for example: "{{example}}"
Do not lecture, do not give advice, do not suggest answers. Never claim to save anything.
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
- "policies": 3 to 6 different attentional policies. Each starts with one plural noun in CAPITALS (a thing
  the person pays attention to), followed in ordinary lower case by what about it matters, e.g.
  "OPPORTUNITIES for my child to discover their own capacity".
Base the card only on what the participant said. {UNTRUSTED_RULE}"""

REVISE_SYSTEM = f"""You revise a values card as the participant asks, keeping the same JSON shape and rules
(title 2-5 words; one-sentence description; 3-6 different policies, each one CAPITALISED plural noun
then lower-case words).
Apply only changes about the card's wording or content. {UNTRUSTED_RULE}"""
