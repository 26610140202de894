"""VPL on the toy population (no Django): half the people prefer short answers, half long ones."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from tests.support.population_runs import run_method
from training.methods import toys, vpl
from training.methods.common.contract import TrainingDiverged
from training.methods.vpl import Config


def test_a_latent_per_person_personalises_and_new_people_are_inferred_from_four_pairs(tiny_model_dir, tmp_path):
    """The claim: one reward model for a split population. Each person's latent gets their held-out
    pairs right; everyone's average latent, or a latent squeezed to the prior by a large KL
    weight, can only side with one half. New people need no training: the encoder reads 4 pairs."""
    pairs = toys.population(40, 12, seed=0)
    result, hooks = run_method(vpl, tmp_path / "vpl", tiny_model_dir, pairs, Config.tiny())
    squeezed, _ = run_method(vpl, tmp_path / "prior", tiny_model_dir, pairs, Config(**{**asdict(Config.tiny()),
                                                                                         "beta": 100.0}))
    print(result.metrics, squeezed.metrics)
    assert result.metrics["eval_accuracy"] >= 0.9
    assert result.metrics["new_user_accuracy"] >= 0.85
    assert result.metrics["eval_accuracy_average_latent"] <= 0.65
    assert squeezed.metrics["eval_accuracy"] <= result.metrics["eval_accuracy"] - 0.25
    assert result.summary["new_people"] == 8 and result.summary["latent_spread"] > squeezed.summary["latent_spread"]
    assert len(hooks.points) >= 4 and all({"loss", "kl"} <= set(values) for _, values in hooks.points)


def test_the_saved_model_loads_and_scores_for_people_seen_and_new(tiny_model_dir, tmp_path, capsys):
    from transformers import AutoModel

    folder = tmp_path / "run"
    run_method(vpl, folder, tiny_model_dir, toys.population(20, 10, seed=1), Config.tiny())
    AutoModel.from_pretrained(folder / "out")  # the frozen base travels with the model
    scorer = vpl.VplScorer.load(folder / "out")
    meta = json.loads((folder / "out" / "vpl.json").read_text())
    assert scorer.users == meta["users"] and len(scorer.users) == 16 and len(scorer.latent_of(scorer.users[0])) == 4
    short, long = "Start small.", "Start small. First read the steps, then gather what you need and go."
    likes_short = next(u for u in scorer.users if int(u.split("-")[1]) % 2 == 0)
    likes_long = next(u for u in scorer.users if int(u.split("-")[1]) % 2 == 1)
    prompt = "How do I make friends?"  # a prompt never seen in training
    assert scorer.score(likes_short, prompt, short) > scorer.score(likes_short, prompt, long)
    assert scorer.score(likes_long, prompt, long) > scorer.score(likes_long, prompt, short)
    # Someone new who likes detail, inferred from three pairs without training.
    z = scorer.infer([(prompt, long, short), ("Why is the sky blue?", "Air. Then check it twice.", "Air."),
                      ("How do I make tea?", "Boil water. Go one step at a time.", "Boil water.")])
    assert scorer.score_latent(z, "How do I cook rice?", "Rinse it. Then check it twice, and wait a bit.") > \
        scorer.score_latent(z, "How do I cook rice?", "Rinse it.")
    # The model page's snippet (vpl.USAGE) prints the first person's reward.
    exec(vpl.USAGE, {"path": str(folder / "out")})
    printed = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == pytest.approx(scorer.score(scorer.users[0], "How do I make tea?", "Boil water, then steep."),
                                    abs=1e-5)


def test_a_restarted_run_resumes_from_its_checkpoint_and_reuses_its_features(tiny_model_dir, tmp_path):
    pairs = toys.population(10, 6, seed=2)
    config = Config(**{**asdict(Config.tiny()), "steps": 100, "save_steps": 50})
    run_method(vpl, tmp_path / "run", tiny_model_dir, pairs, config)
    config.steps = 150  # as if the first attempt had died after step 100
    _, hooks = run_method(vpl, tmp_path / "run", tiny_model_dir, pairs, config)
    assert "resuming training from checkpoint-100" in hooks.lines
    assert any(line.startswith("resuming with the features") for line in hooks.lines)
    assert [s for s, _ in hooks.points] == [125, 150]  # only the steps after the checkpoint ran
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "work" / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-100", "checkpoint-150"]


def test_a_population_of_one_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least 2 people"):
        run_method(vpl, tmp_path / "run", tiny_model_dir, toys.population(1, 8, seed=0), Config.tiny())


def test_a_run_whose_loss_diverges_fails_naming_the_learning_rate_and_publishes_nothing(tiny_model_dir, tmp_path):
    """At a learning rate of 1.0 VPL's loss turns NaN on the toy population. Such a run used to
    finish and publish a model that got every pair wrong; now it stops with the reason."""
    config = Config(**{**asdict(Config.tiny()), "learning_rate": 1.0, "steps": 200, "logging_steps": 10})
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step \d+.*Lower learning_rate \(it was 1\)"):
        run_method(vpl, tmp_path / "run", tiny_model_dir, toys.population(16, 8, seed=0), config)
    assert not any((tmp_path / "run" / "out").iterdir())
