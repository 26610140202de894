"""Janus on the toy population (no Django): people who ask for brevity prefer short answers, people
who ask for detail long ones."""
from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from tests.support.population_runs import run_method
from training.methods import janus, toys
from training.methods.common.splits import split_by_prompt
from training.methods.janus import Config


def flip_accuracy(folder, base, held_out):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return toys.system_message_flip_accuracy(AutoModelForCausalLM.from_pretrained(folder / "out"),
                                   AutoModelForCausalLM.from_pretrained(base),
                                   AutoTokenizer.from_pretrained(folder / "out"), held_out)


def test_the_policy_follows_the_system_message_it_is_given(tiny_model_dir, tmp_path):
    """The claim: trained with system messages, the policy prefers (over the base model) the answer
    the given system message asks for, on prompts it never saw, and flips when the system message
    does; trained without them it cannot, and stays at 50%."""
    pairs = toys.system_message_pairs(20, 12, seed=0)
    config = Config.tiny()
    with_system, hooks = run_method(janus, tmp_path / "with", tiny_model_dir, pairs, config)
    without, _ = run_method(janus, tmp_path / "without", tiny_model_dir, pairs,
                            Config(**{**asdict(config), "use_system_message": False}))
    _, held_out = split_by_prompt(pairs, config.eval_fraction, config.seed)
    assert len(held_out) > 40
    following = flip_accuracy(tmp_path / "with", tiny_model_dir, held_out)
    deaf = flip_accuracy(tmp_path / "without", tiny_model_dir, held_out)
    print(with_system.metrics, without.metrics, following, deaf)
    assert following >= 0.9 and deaf == pytest.approx(0.5, abs=0.05)
    assert with_system.metrics["eval_accuracy"] >= 0.9
    assert with_system.metrics["eval_accuracy_without_system"] <= with_system.metrics["eval_accuracy"] - 0.3
    assert with_system.summary["other_system_pairs"] > 0 and with_system.summary["system_messages"] == 2
    steps = [s for s, v in hooks.points]
    assert steps == sorted(steps) and any("dpo_accuracy" in v for _, v in hooks.points)  # SFT, then DPO


def test_a_policy_that_has_not_moved_from_its_reference_scores_one_half(tiny_model_dir):
    """Every implicit reward is exactly 0 for the reference itself: each pair is a tie, a coin flip,
    not an error (it used to score 0.0, which read as a policy that prefers every rejected response)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    pairs = toys.system_message_pairs(4, 2, seed=0)
    assert janus.implicit_reward_accuracy(model, model, AutoTokenizer.from_pretrained(tiny_model_dir), pairs) == 0.5


def test_other_system_messages_favourites_become_rejected_responses():
    pairs = [janus.Pair("Brief.", "Tea?", "Boil.", "Boil water and steep it."),
             janus.Pair("Detail.", "Tea?", "Boil water and steep it.", "Boil."),
             janus.Pair("Detail.", "Tea?", "Boil water, steep it, add milk.", "Boil."),
             janus.Pair("Brief.", "Rice?", "Rinse.", "Rinse it and cook it.")]
    out = janus.with_other_system_rejections(pairs, per_pair=5, seed=0)
    added = out[len(pairs):]
    assert janus.Pair("Brief.", "Tea?", "Boil.", "Boil water and steep it.") in added
    assert janus.Pair("Brief.", "Tea?", "Boil.", "Boil water, steep it, add milk.") in added
    assert janus.Pair("Detail.", "Tea?", "Boil water and steep it.", "Boil.") in added
    assert all(p.prompt == "Tea?" for p in added)  # "Rice?" has no other system message
    assert len(janus.with_other_system_rejections(pairs, per_pair=1, seed=0)) == len(pairs) + 3
    assert janus.with_other_system_rejections(pairs, per_pair=0, seed=0) == pairs


def test_a_restarted_run_skips_sft_and_resumes_dpo_and_the_model_generates(tiny_model_dir, tmp_path, capsys):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pairs = toys.system_message_pairs(6, 6, seed=1)
    config = Config(**{**asdict(Config.tiny()), "sft_steps": 4, "dpo_steps": 8, "save_steps": 4, "logging_steps": 2})
    run = tmp_path / "run"
    run_method(janus, run, tiny_model_dir, pairs, config)
    sft_weights = run / "work" / "sft-model" / "model.safetensors"
    sft_written, first_attempt = sft_weights.stat().st_mtime_ns, load_file(run / "out" / "model.safetensors")

    config.dpo_steps = 12  # as if the first attempt had died after DPO step 8
    _, hooks = run_method(janus, run, tiny_model_dir, pairs, config)
    # SFT did not run again: its model is the first attempt's file, and no SFT step was reported.
    assert "resuming after the SFT stage of an earlier attempt" in hooks.lines
    assert sft_weights.stat().st_mtime_ns == sft_written
    assert [s for s, _ in hooks.points] == [14, 16]  # DPO steps 10 and 12 only, numbered after SFT's 4
    # DPO went on from step 8 to 12, and the published policy is where it ended, not the first attempt's.
    checkpoints = run / "work" / "dpo-checkpoints"
    assert sorted(p.name for p in checkpoints.glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-8"]
    published = load_file(run / "out" / "model.safetensors")
    resumed_end = load_file(checkpoints / "checkpoint-12" / "model.safetensors")
    assert all(torch.equal(published[k], resumed_end[k]) for k in resumed_end)
    assert any(not torch.equal(published[k], first_attempt[k]) for k in first_attempt)

    # The model page's snippet (janus.USAGE) loads the published policy and generates greedily.
    exec(janus.USAGE, {"path": str(run / "out")})
    tokenizer = AutoTokenizer.from_pretrained(run / "out")
    model = AutoModelForCausalLM.from_pretrained(checkpoints / "checkpoint-12").eval()
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "How do I make tea?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=64, do_sample=False)
    expected = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert capsys.readouterr().out == expected + "\n"
