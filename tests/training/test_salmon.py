"""SALMON on the toy task (no Django): the principle decides the preference, and the model learns that."""
from __future__ import annotations

import json
import math

import pytest

from training.methods import salmon, toys
from training.methods.salmon import Config, Pair, Principle


def test_verdicts_must_agree_in_both_orders_after_removing_position_bias():
    principle = Principle("Concise", "Keep it short.", "Make it long.")
    pairs = [Pair("q1", "short", "long long"), Pair("q2", "long long", "short"), Pair("q3", "same", "same!")]

    def biased(p, prompt, first, second):  # prefers "A" by 5 nats, plus a real preference for shorter
        content = {"short": 1.0, "long long": -1.0}
        return 5.0 + content.get(first, 0.0) - content.get(second, 0.0)

    config = Config(principles_per_example=1, negation_probability=0.0)
    examples = salmon.label_pairs(pairs, [principle], salmon.per_query(biased), config=config)
    # Raw margins are all positive ("A" both times): only the calibrated comparison finds verdicts.
    assert [(e.prompt, e.chosen) for e in examples] == [("q1", "short"), ("q2", "short")]

    def position_only(p, prompt, first, second):
        return 3.0

    assert salmon.label_pairs(pairs, [principle], salmon.per_query(position_only), config=config) == []


def test_a_negated_principle_flips_the_label_and_is_shown_negated():
    principle = Principle("Concise", "Keep it short.", "Make it long.")
    pair = Pair("q", "a b c d", "a")
    config = Config(principles_per_example=1, negation_probability=1.0)
    (example,) = salmon.label_pairs([pair], [principle], toys.length_judge, config=config)
    assert example.shown[0].negated and example.shown[0].text == "Make it long."
    assert (example.chosen, example.rejected) == ("a b c d", "a")
    # A principle without a negation is never negated.
    plain = Principle("Plain", "Keep it short.")
    (example,) = salmon.label_pairs([pair], [plain], toys.length_judge, config=config)
    assert not example.shown[0].negated and example.chosen == "a"


def test_the_most_certain_agreeing_principle_decides():
    weak, strong = Principle("W", "weak", "not weak"), Principle("S", "strong", "not strong")

    def judge(p, prompt, first, second):
        sign = 1.0 if first == "x" else -1.0
        return sign * (0.1 if p == "weak" else -2.0)  # weak prefers x a little, strong prefers y a lot

    config = Config(principles_per_example=2, negation_probability=0.0)
    (example,) = salmon.label_pairs([Pair("q", "x", "y")], [weak, strong], salmon.per_query(judge), config=config)
    assert example.shown[example.decisive].principle == strong and example.chosen == "y"


def test_principle_following_reward_model_trains_on_cpu(tiny_model_dir, tmp_path):
    """The claim: held-out accuracy >= 85% on pairs whose label flips when the principle is negated,
    while the same model trained without principles stays at 50% on them. (How fast it trains is
    measured by bench/salmon.py, not here.)"""
    config = Config.tiny()
    train_set = salmon.label_pairs(toys.principle_pairs(toys.TOPICS[:18], 30, seed=0), toys.PRINCIPLES,
                                   toys.principle_judge, config=config)
    held_out = salmon.label_pairs(toys.principle_pairs(toys.TOPICS[18:], 20, seed=1), toys.PRINCIPLES,
                                  toys.principle_judge, config=config)
    assert len(train_set) > 200 and len(held_out) > 40
    assert not {e.prompt for e in train_set} & {e.prompt for e in held_out}

    model, tokenizer = salmon.train_reward_model(train_set, base_model=str(tiny_model_dir), config=config,
                                                 checkpoint_dir=tmp_path / "with")
    scorer = salmon.RewardScorer(model, tokenizer)
    # Every configured step ran, and the Bradley-Terry loss fell from where it started.
    state = json.loads((tmp_path / "with" / f"checkpoint-{config.max_steps}" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert state["global_step"] == config.max_steps and losses[-1] < losses[0] / 2
    with_principles = salmon.flip_accuracy(scorer, held_out)

    config.use_principles = False
    model, tokenizer = salmon.train_reward_model(train_set, base_model=str(tiny_model_dir), config=config,
                                                 checkpoint_dir=tmp_path / "without")
    without = salmon.flip_accuracy(salmon.RewardScorer(model, tokenizer), held_out, use_principles=False)

    print(f"flip accuracy: with principles {with_principles:.3f}, without {without:.3f}")
    assert with_principles >= 0.85
    assert without == pytest.approx(0.5, abs=0.05)

    # Any principle set at scoring time: the concise principle ranks the short answer first, its
    # negation the long one; principles never seen in training give a finite reward that depends on
    # what they say.
    short, long = "Start small. Good luck, friend!", "Start small. First read the steps, then gather what you need and go. Good luck, friend!"
    assert scorer.score(["Keep it short."], "How do I make friends?", short) > scorer.score(["Keep it short."], "How do I make friends?", long)
    assert scorer.score(["Make it long."], "How do I make friends?", long) > scorer.score(["Make it long."], "How do I make friends?", short)
    unseen = scorer.score(["Rhyme.", "Use French."], "Hi?", "Bonjour.")
    assert math.isfinite(unseen) and unseen != scorer.score(["Keep it short."], "Hi?", "Bonjour.")


def test_lora_training_gives_a_plain_model_that_loads_without_peft(tiny_model_dir, tmp_path, capsys):
    import torch
    from transformers import AutoModelForSequenceClassification

    config = Config.tiny()
    config.max_steps, config.lora_r = 3, 4
    examples = salmon.label_pairs(toys.principle_pairs(toys.TOPICS[:4], 4, seed=0), toys.PRINCIPLES,
                                  toys.principle_judge, config=config)
    model, tokenizer = salmon.train_reward_model(examples, base_model=str(tiny_model_dir), config=config,
                                                 checkpoint_dir=tmp_path / "checkpoints")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "model")
    assert not any("lora" in name for name, _ in loaded.named_parameters())
    # The adapters were merged into the backbone's weights, not dropped: they moved away from the base.
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(loaded.state_dict()[name], base.state_dict()[name])
    # The folder scores exactly like the merged model that training returned.
    scorer = salmon.RewardScorer.load(tmp_path / "model")
    in_memory = salmon.RewardScorer(model, tokenizer)
    assert scorer.score(["Be kind."], "Hi?", "Hello!") == pytest.approx(in_memory.score(["Be kind."], "Hi?", "Hello!"),
                                                                        abs=1e-5)

    # The model page shows salmon.USAGE: plain transformers must reproduce RewardScorer's reward.
    exec(salmon.USAGE, {"path": str(tmp_path / "model")})
    printed = float(capsys.readouterr().out.strip().splitlines()[-1])
    expected = scorer.score(["Keep it short."], "How do I make tea?", "Boil water, then steep.")
    assert printed == pytest.approx(expected, abs=1e-5)
