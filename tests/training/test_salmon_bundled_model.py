"""SALMON with the real bundled model (SmolLM2-135M-Instruct) as the policy that writes and judges
the response pairs; the reward model trained on them is the tiny test Llama, to stay fast on CPU."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from training.methods import salmon, toys
from training.methods.common.contract import RunInputs
from training.methods.common.policies import TransformersPolicy


@pytest.fixture(scope="module")
def bundled_model_dir() -> Path:
    from django.conf import settings

    from chorus.inference.local import prepare_local_model

    return prepare_local_model(settings.CHORUS_MODEL_CACHE).path


@pytest.fixture(scope="module")
def bundled_policy(bundled_model_dir):
    policy = TransformersPolicy(str(bundled_model_dir), device="cpu", bf16=False)
    yield policy
    policy.close()


class RecordingHooks:
    def __init__(self) -> None:
        self.stages: list[str] = []
        self.lines: list[str] = []

    def progress(self, fraction: float, *, stage: str) -> None:
        assert 0.0 <= fraction <= 1.0
        if not self.stages or self.stages[-1] != stage:
            self.stages.append(stage)

    def metrics(self, step, values) -> None:  # type: ignore[no-untyped-def]
        pass

    def log(self, message: str) -> None:
        self.lines.append(message)

    def check_cancelled(self) -> None:
        pass


def test_batched_answer_logprobs_match_one_conversation_at_a_time(bundled_policy):
    """Left padding must not change a judgement: each conversation scores the same alone or batched."""
    conversations = [
        [{"role": "user", "content": "Which is a fruit? A: an apple. B: a stone. Answer A or B."}],
        [{"role": "user", "content": "Which is bigger, A: the sun or B: a pea? This question is longer on "
                                     "purpose, so that the other one gets padded. Answer A or B."}],
    ]
    batched = bundled_policy.choice_logprobs(conversations, ["A", "B"])
    for conversation, scores in zip(conversations, batched):
        (alone,) = bundled_policy.choice_logprobs([conversation], ["A", "B"])
        assert scores == pytest.approx(alone, abs=1e-3)
        assert all(s < 0 for s in scores) and sum(math.exp(s) for s in scores) <= 1.0
    with pytest.raises(ValueError, match="one token"):
        bundled_policy.choice_logprobs(conversations, ["Response A"])


def test_a_run_with_the_bundled_model_as_policy_labels_its_own_pairs(bundled_model_dir, tiny_model_dir, tmp_path):
    dataset = {"principles.jsonl": tmp_path / "principles.jsonl", "prompts.jsonl": tmp_path / "prompts.jsonl"}
    dataset["principles.jsonl"].write_text("".join(
        json.dumps({"name": p.name, "definition": p.definition, "negated_definition": p.negated_definition}) + "\n"
        for p in toys.PRINCIPLES))
    prompts = [f"How do I {topic}?" for topic in toys.TOPICS[:8]]
    dataset["prompts.jsonl"].write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    (tmp_path / "work").mkdir()
    (tmp_path / "out").mkdir()
    inputs = RunInputs(run_id=1, base_model=str(tiny_model_dir), dataset=dataset, work_dir=tmp_path / "work",
                       output_dir=tmp_path / "out", device="cpu", bf16=False)
    config = salmon.Config.tiny()
    config.policy_model, config.max_new_tokens, config.max_steps = str(bundled_model_dir), 48, 4
    config.pairs_per_prompt, config.principles_per_example, config.eval_fraction = 2, 2, 0.0
    hooks = RecordingHooks()

    result = salmon.train(inputs, config, hooks)

    assert hooks.stages[:3] == ["writing responses", "judging", "training"]
    assert "policy model loaded with transformers" in hooks.lines
    labelled = [salmon.Example.from_json(json.loads(line))
                for line in (tmp_path / "work" / "preferences.jsonl").read_text().splitlines()]
    assert len(labelled) == result.summary["examples"] >= 1
    for example in labelled:  # the policy's own, distinct responses, with a verdict that held
        assert example.prompt in prompts and example.chosen.strip() and example.chosen != example.rejected
        assert example.margin > 0
    for stage in ("generation", "judging", "training"):
        assert result.summary[f"{stage}_samples_per_second"] > 0
    assert math.isfinite(salmon.RewardScorer.load(tmp_path / "out").score(["Be kind."], prompts[0], "Good luck!"))
