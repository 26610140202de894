"""PAL on the toy population (no Django): half the people prefer short answers, half long ones."""
from __future__ import annotations

import json

import pytest

from tests.support.population_runs import run_method
from training.methods import pal, toys
from training.methods.common.population import split_population
from training.methods.pal import Config


def run(tmp_path, base, pairs, config, name="run"):
    folder = tmp_path / name
    result, hooks = run_method(pal, folder, base, pairs, config)
    return result, hooks, folder


def test_each_person_gets_their_own_reward_and_new_people_are_placed_from_four_pairs(tiny_model_dir, tmp_path):
    """The claim: one model for a split population. With two prototypes, held-out pairs are right
    for each person; the same model with everyone's average weights, or a single ideal point for
    all, can only side with one half."""
    pairs = toys.population(40, 12, seed=0)
    result, hooks, _ = run(tmp_path, tiny_model_dir, pairs, Config.tiny())
    one_point, _, _ = run(tmp_path, tiny_model_dir, pairs, Config(**{**Config.tiny().__dict__, "prototypes": 1}),
                          name="one")
    print(result.metrics, one_point.metrics)
    assert result.metrics["eval_accuracy"] >= 0.9
    assert result.metrics["new_user_accuracy"] >= 0.85  # fitted from their first 4 pairs
    assert result.metrics["eval_accuracy_population_weights"] <= 0.65
    assert one_point.metrics["eval_accuracy"] <= result.metrics["eval_accuracy"] - 0.25
    assert sorted(result.summary["people_per_prototype"]) == [16, 16]  # 32 seen people, two camps
    assert len(hooks.points) >= 4 and all("loss" in values for _, values in hooks.points)


def test_the_saved_model_loads_through_from_pretrained_and_scores_for_anyone(tiny_model_dir, tmp_path, capsys):
    from transformers import AutoModel

    _, _, folder = run(tmp_path, tiny_model_dir, toys.population(20, 10, seed=1), Config.tiny())
    AutoModel.from_pretrained(folder / "out")  # the frozen base travels with the model
    scorer = pal.PalScorer.load(folder / "out")
    meta = json.loads((folder / "out" / "pal.json").read_text())
    assert scorer.users == meta["users"] and len(scorer.users) == 16  # people seen in training, as named
    short, long = "Start small.", "Start small. First read the steps, then gather what you need and go."
    likes_short = next(u for u in scorer.users if int(u.split("-")[1]) % 2 == 0)
    likes_long = next(u for u in scorer.users if int(u.split("-")[1]) % 2 == 1)
    prompt = "How do I make friends?"  # a prompt never seen in training
    assert scorer.score(likes_short, prompt, short) > scorer.score(likes_short, prompt, long)
    assert scorer.score(likes_long, prompt, long) > scorer.score(likes_long, prompt, short)
    # Someone new who likes detail, placed from three pairs.
    weights = scorer.fit_user([(prompt, long, short), ("Why is the sky blue?", "Air. Then check it twice.", "Air."),
                               ("How do I make tea?", "Boil water. Go one step at a time.", "Boil water.")])
    assert sum(weights) == pytest.approx(1.0)
    assert scorer.score_weights(weights, "How do I cook rice?", "Rinse it. Then check it twice, and wait a bit.") > \
        scorer.score_weights(weights, "How do I cook rice?", "Rinse it.")
    # The model page's snippet (pal.USAGE) prints the first person's reward.
    exec(pal.USAGE, {"path": str(folder / "out")})
    printed = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == pytest.approx(scorer.score(scorer.users[0], "How do I make tea?", "Boil water, then steep."), abs=1e-5)


def test_a_restarted_run_resumes_from_its_checkpoint_and_reuses_its_features(tiny_model_dir, tmp_path):
    pairs = toys.population(10, 6, seed=2)
    config = Config(**{**Config.tiny().__dict__, "steps": 100, "save_steps": 50})
    _, _, folder = run(tmp_path, tiny_model_dir, pairs, config)
    config.steps = 150  # as if the first attempt had died after step 100
    _, hooks = run_method(pal, folder, tiny_model_dir, pairs, config)
    assert "resuming training from checkpoint-100" in hooks.lines
    assert any(line.startswith("resuming with the features") for line in hooks.lines)
    assert sorted(p.name for p in (folder / "work" / "checkpoints").iterdir()) == ["checkpoint-100", "checkpoint-150"]


def test_new_people_never_train_and_everyone_seen_keeps_a_training_pair():
    pairs = toys.population(30, 3, seed=3)
    split = split_population(pairs, seed=0, new_user_fraction=0.2, eval_fraction=0.5, adaptation_pairs=2)
    trained_on = {p.user for p in split.train}
    assert len(split.new_users) == 6 and not trained_on & set(split.new_users)
    assert {p.user for p in split.held_out} <= trained_on and len(trained_on) == 24


def test_a_population_of_one_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least 2 people"):
        run(tmp_path, tiny_model_dir, toys.population(1, 8, seed=0), Config.tiny())


def test_people_with_too_few_pairs_to_test_a_fit_train_instead_of_being_dropped():
    pairs = toys.population(10, 2, seed=4) + toys.population(10, 6, seed=5)[:6]  # person-000 has 8
    split = split_population(pairs, seed=0, new_user_fraction=0.5, eval_fraction=0.2, adaptation_pairs=4)
    assert list(split.new_users) == ["person-000"]
    assert len(split.train) + len(split.held_out) + sum(map(len, split.new_users.values())) == len(pairs)
