"""A scripted chat backend for testing interview flow logic without a model.

Replies come from a list; JSON replies are chosen by the schema asked for. Every call is recorded,
so tests can check what the LLM was shown (e.g. that participant text was delimited).
A test beside each scripted one runs the real bundled model.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

from chorus.inference import ChatBackend, InferenceError, NotSupported, StructuredOutputError

CARD = {
    "title": "Informed Personal Choice",
    "description": "Helping someone choose for themselves with the facts they need.",
    "policies": [
        "OPPORTUNITIES for her to weigh each option on her own terms",
        "FACTS she needs that nobody has told her yet",
        "MOMENTS where she feels pressure from others",
    ],
}


PRINCIPLE = {
    "name": "Support Informed Choice",
    "definition": "The AI should help the person weigh each option with the facts they need.",
    "negated_definition": "The AI should avoid helping the person weigh each option with the facts they need.",
}


class ScriptedBackend(ChatBackend):
    name = "scripted"
    principle = PRINCIPLE  # drafted principles; a test may set its own on the instance
    # The dedup judge's Yes/No logprobs: "Yes" leads "No" by `yes_lean` on any pair of cards, plus
    # `signal` (or minus it) by `same_value` on cards with content. None: no logprobs, as over the OpenAI API.
    yes_lean: float | None = None
    signal = 1.0

    def __init__(self, replies=None, cards=None, same_value=False, contexts=None, story=None):
        self.replies = list(replies or ["What did you pay attention to then?"])
        self.cards = list(cards or [CARD])
        self.same_value = same_value
        self.contexts = contexts or ["When a person faces a choice that shapes their future"]
        self.story = story or "I used to tell people what to do. Then I saw that they needed to decide for themselves."
        self.calls: list[dict] = []
        self.fail_next = False

    def complete(self, messages, *, json_schema=None, **params) -> str:
        self.calls.append({"messages": list(messages), "json_schema": json_schema, "params": params})
        if self.fail_next:
            self.fail_next = False
            raise StructuredOutputError("scripted failure")
        if json_schema is None:
            return self._next_reply()
        props = json_schema.get("properties", {})
        if "policies" in props:
            card = self.cards.pop(0) if len(self.cards) > 1 else self.cards[0]
            return json.dumps(card)
        if "same" in props:
            return json.dumps({"same": self.same_value})
        if "contexts" in props:
            return json.dumps({"contexts": self.contexts})
        if "story" in props:
            return json.dumps({"story": self.story})
        if "negated_definition" in props:
            return json.dumps(self.principle)
        raise InferenceError(f"the scripted backend has no answer for schema {sorted(props)}")

    def logprobs(self, messages, candidates) -> list[float]:
        from elicitation.prompts import values as prompts
        from elicitation.services.values import CONTENT_FREE_CARDS

        if self.yes_lean is None:
            raise NotSupported("the scripted backend scores nothing unless a test gives it a yes_lean")
        self.calls.append({"messages": list(messages), "json_schema": None, "params": {"candidates": candidates}})
        if candidates != prompts.JUDGE_ANSWERS:
            raise InferenceError(f"the scripted backend cannot score {candidates}")
        content_free = any(prompts.card_json(c) in messages[-1]["content"] for c in CONTENT_FREE_CARDS)
        margin = self.yes_lean + (0.0 if content_free else self.signal if self.same_value else -self.signal)
        return [margin / 2, -margin / 2]

    def stream(self, messages, **params) -> Iterator[str]:
        self.calls.append({"messages": list(messages), "json_schema": None, "params": params})
        reply = self._next_reply()
        for word in reply.split(" "):
            yield word + " "

    def _next_reply(self) -> str:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
