"""Scripted same-value judges for calibration: one that knows the labelled pairs, one that flips a coin.

Both answer in JSON (no logprobs), as a backend over the OpenAI API would; on cards that are not a
labelled pair they answer as the ScriptedBackend does (`same_value`)."""
from __future__ import annotations

import json
import random

from elicitation.domain.dedup import labelled_pairs
from elicitation.prompts import values as prompts
from tests.support.scripted_llm import ScriptedBackend


class PairJudge(ScriptedBackend):
    name = "pair-judge"

    def __init__(self, *, knows: bool, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.knows, self.coin = knows, random.Random(seed)
        self.truth = {(prompts.card_json(p.a), prompts.card_json(p.b)): p.same for p in labelled_pairs()}
        self.pairs_asked = 0

    def complete(self, messages, *, json_schema=None, **params) -> str:
        if json_schema is not None and "same" in json_schema.get("properties", {}):
            same = self._labelled(messages[-1]["content"])
            if same is not None:
                self.calls.append({"messages": list(messages), "json_schema": json_schema, "params": params})
                self.pairs_asked += 1
                return json.dumps({"same": same if self.knows else self.coin.random() < 0.5})
        return super().complete(messages, json_schema=json_schema, **params)

    def _labelled(self, content: str) -> bool | None:
        card_1, _, card_2 = content.partition("Card 2:")
        return next((same for (a, b), same in self.truth.items() if a in card_1 and b in card_2), None)


def calibrate_with(monkeypatch, judge: ScriptedBackend, then: ScriptedBackend | None = None):
    """Calibrates `judge` through the service, as a worker would, then puts `then` back as the chat backend."""
    import chorus.llm
    from elicitation.services.dedup import judge_calibrate, judge_calibration_request

    monkeypatch.setattr(chorus.llm, "chat_backend", lambda: judge)
    calibration = judge_calibrate(calibration=judge_calibration_request(queue=False))
    if then is not None:
        monkeypatch.setattr(chorus.llm, "chat_backend", lambda: then)
    return calibration
