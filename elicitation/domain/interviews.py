"""The interview protocol as plain functions: which stage the next question serves, and how a model's
reply becomes a turn that ends on exactly one question, at a sentence boundary, unlike any earlier turn.

The platform owns the protocol and the model only phrases it: whatever the model writes, the stored
turn is (at most two of its complete sentences, then) one question, and the stage's own question
stands in when the model asked none, asked a fragment, or repeated itself.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

STORY, ATTENTION, MEANING, ENOUGH = "story", "attention", "meaning", "enough"
STAGES = (STORY, ATTENTION, MEANING, ENOUGH)
# A story thinner than this (all participant turns together) is asked about once more before moving on.
STORY_MIN_WORDS = 15
STORY_ASKS = 2  # the opening, plus one follow-up at most
LEAD_SENTENCES = 2  # what may come before the question: a short acknowledgement, not a lecture
QUESTION_WORDS = (4, 40)  # a model's question outside this range is a fragment or a ramble

# A sentence ends at . ! or ?, optionally followed by a closing quote or bracket.
_SENTENCE = re.compile(r"[^.!?]*[.!?]+[\"'”’)\]]*")


@dataclass(frozen=True)
class Reply:
    text: str
    source: str  # "model", "model+stage" (the stage's question appended), "stage" (substituted)


def next_stage(participant_turns: Sequence[str]) -> str:
    """The stage the interviewer's next question serves, replayed from what the participant wrote so far.

    The opening asked for a story; each participant turn moves one stage on (a thin story is asked about
    once more first), and the last stage, "enough to draft", repeats until the participant drafts.
    """
    index, words, story_asks = 0, 0, 1
    for text in participant_turns:
        words += len(text.split())
        if STAGES[index] == STORY and words < STORY_MIN_WORDS and story_asks < STORY_ASKS:
            story_asks += 1
            continue
        index = min(index + 1, len(STAGES) - 1)
    return STAGES[index]


def sentences(text: str) -> list[str]:
    """The complete sentences of `text`; a trailing fragment (a reply cut at its token budget) is dropped."""
    return [s.strip() for s in _SENTENCE.findall(" ".join(text.split())) if s.strip()]


def reply_finish(raw: str, *, questions: Sequence[str], fallback: str, earlier: Sequence[str]) -> Reply:
    """The turn to store for the model's `raw` reply.

    questions: the stage's own questions, in order of preference; fallback: a question used when every
    one of them was asked before; earlier: the interview's previous assistant turns.
    """
    parts = sentences(raw)
    first_question = next((i for i, s in enumerate(parts) if _is_question(s)), None)
    lead = (parts if first_question is None else parts[:first_question])[:LEAD_SENTENCES]
    used = {_key(t) for t in earlier} | {_key(_last_question(t)) for t in earlier}

    if first_question is not None:
        question = parts[first_question]
        text = " ".join([*lead, question])
        if QUESTION_WORDS[0] <= len(question.split()) <= QUESTION_WORDS[1] and _fresh(question, used) \
                and _fresh(text, used):
            return Reply(text=text, source="model")
    question = _unused([*questions, fallback], used)
    text = " ".join([*lead, question])
    if lead and _fresh(text, used):
        return Reply(text=text, source="model+stage")
    return Reply(text=question, source="stage")


def _fresh(text: str, used: set[str]) -> bool:
    return _key(text) not in used and _key(_last_question(text)) not in used


def _unused(candidates: Sequence[str], used: set[str]) -> str:
    for candidate in candidates:
        if _fresh(candidate, used):
            return candidate
    # Every wording was used (a very long interview): number the last one, so no two turns are identical.
    base, n = candidates[-1].rstrip("?"), 2
    while not _fresh(f"{base} ({n})?", used):
        n += 1
    return f"{base} ({n})?"


def _is_question(sentence: str) -> bool:
    return sentence.rstrip("\"'”’)]").endswith("?")


def _last_question(turn: str) -> str:
    questions = [s for s in sentences(turn) if _is_question(s)]
    return questions[-1] if questions else turn


def _key(text: str) -> str:
    """Two turns are the same if they differ only in case, spacing or punctuation."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
