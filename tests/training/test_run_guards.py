"""Runs are refused before queueing when the method cannot train from the target (PAL and VPL need
pairs from at least 2 people) or the base model is not one the server has; a finished run's held-out
accuracy is tested against chance (issue 14, item 7)."""
from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from tests.factories import CampaignFactory
from tests.support.comparisons import judge, person
from training.base_models import base_models_available
from training.chance import held_out_verdict, wilson_interval
from training.models import TrainingRun
from training.services import runs as run_services
from training.services.targets import target_freeze_preference_population

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: calls.append(run_id))
    return calls


def population(backend, people: int):
    campaign = CampaignFactory()
    for i in range(people):
        someone = person(campaign, system=f"Person {i}: answer briefly.")
        for n in range(3):
            judge(someone, backend, prompt=f"Prompt {n}", choice="a", a=f"Short {n}.", b=f"Long {n}.")
    return target_freeze_preference_population(name=f"{people} people", campaign_id=campaign.pk)


@pytest.mark.parametrize("method", ["pal", "vpl"])
def test_personalised_methods_refuse_a_one_person_target_with_the_reason(method, scripted_llm, tiny_model_dir, sent):
    alone = population(scripted_llm, 1)
    with pytest.raises(ValidationError) as exc:
        run_services.run_create(target=alone, method=method, base_model=str(tiny_model_dir), config={})
    [message] = exc.value.message_dict["target"]
    assert message.startswith(f"{method.upper()} needs pairs from at least 2 people;") and "from 1." in message
    assert not TrainingRun.objects.exists() and sent == []

    pair = population(scripted_llm, 2)
    assert run_services.run_target_problem(target=pair, method=method) == ""
    assert run_services.run_target_problem(target=alone, method="janus") == ""  # Janus learns one person too


def _folder(root, name, architectures):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": architectures}))
    return folder


def test_the_server_offers_its_language_models_and_refuses_any_other_path(settings, tmp_path, toy_target, sent):
    bundled = _folder(tmp_path / "cache", "smollm2-135m-instruct", ["LlamaForCausalLM"])
    other = _folder(tmp_path / "cache", "qwen-0.5b", ["Qwen2ForCausalLM"])
    _folder(tmp_path / "cache", "all-minilm", ["BertModel"])  # an embedder is no base for a policy
    (tmp_path / "cache" / "half-copied").mkdir()
    settings.CHORUS_BASE_MODEL_DIRS = [tmp_path / "cache", tmp_path / "missing"]
    offered = base_models_available()
    assert [(m.path, m.source) for m in offered] == [(str(bundled), "bundled"), (str(other), "prepared")]

    loose = _folder(tmp_path / "elsewhere", "model", ["LlamaForCausalLM"])
    with pytest.raises(ValidationError) as exc:
        run_services.run_create(target=toy_target, method="salmon", base_model=str(loose), config={})
    assert "Choose one of the base models this server has" in exc.value.message_dict["base_model"][0]
    with pytest.raises(ValidationError) as exc:
        run_services.run_create(target=toy_target, method="salmon", base_model=str(bundled / ".." / "qwen-0.5b"),
                                config={})
    assert "base_model" in exc.value.message_dict and sent == []

    settings.CHORUS_BASE_MODEL_DIRS = []
    with pytest.raises(ValidationError, match="prepare_models"):
        run_services.run_create(target=toy_target, method="salmon", base_model=str(bundled), config={})


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(20, 40)  # 0.50 on 40 pairs
    assert (round(low, 3), round(high, 3)) == (0.352, 0.648)
    low, high = wilson_interval(9, 10)
    assert (round(low, 3), round(high, 3)) == (0.596, 0.982)


@pytest.mark.parametrize(("accuracy", "pairs", "better"), [
    (0.50, 40, False),   # chance itself
    (0.65, 20, False),   # looks better, but 20 pairs cannot tell it from a coin
    (0.65, 200, True),
    (0.90, 40, True),
    (0.30, 100, False),  # worse than chance is not better than chance
])
def test_held_out_accuracy_is_better_than_chance_only_when_its_interval_clears_a_half(accuracy, pairs, better):
    verdict = held_out_verdict({"eval_accuracy": accuracy}, {"held_out_examples": pairs})
    assert verdict.better_than_chance is better
    assert verdict.sentence.startswith("Held-out accuracy" if better else "Not better than chance")


def test_no_held_out_measurement_gives_no_verdict():
    assert held_out_verdict({"train_accuracy": 1.0}, {"held_out_examples": 10}) is None
    assert held_out_verdict({"eval_accuracy": 0.9}, {"held_out_pairs": 0}) is None
    assert held_out_verdict({"eval_accuracy": 0.9}, {"held_out_pairs": 12}).pairs == 12
