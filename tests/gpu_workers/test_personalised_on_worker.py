"""More methods through the same machinery: PAL, VPL and Janus trained on the gpu worker from a
preference population frozen out of real judged comparisons."""
from __future__ import annotations

import random
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from chorus.accounts.models import Participant
from elicitation.domain.comparisons_exports import pseudonym
from tests.factories import CampaignFactory
from tests.support.comparisons import judge, person
from training.methods import janus, pal, vpl
from training.methods.toys import PROMPTS
from training.models import ModelArtifact, TrainingRun
from training.services.runs import run_create
from training.services.targets import target_freeze_preference_population

pytestmark = pytest.mark.django_db(transaction=True)

SHORT = ("Start small.", "Ask a friend.", "Take your time.")
MORE = " Then check it twice, and wait a bit before the next step."


def brevity_population(scripted_llm):  # type: ignore[no-untyped-def]
    """16 people judge 12 short-vs-long pairs each; even-numbered ones want brevity, odd detail."""
    campaign = CampaignFactory(title="Brevity study")
    rng = random.Random(0)
    people = []
    for n in range(16):
        participant = person(campaign, system="Short answers, please." if n % 2 == 0 else "Give me detail.")
        # Fixed ids, so the pseudonyms, and with them who is held out, are the same in every run.
        Participant.objects.filter(pk=participant.pk).update(public_id=uuid.UUID(int=n + 1))
        participant.refresh_from_db()
        for _ in range(12):
            short = rng.choice(SHORT)
            long_first = rng.random() < 0.5
            a, b = (short + MORE, short) if long_first else (short, short + MORE)
            wants_long = n % 2 == 1
            judge(participant, scripted_llm, prompt=rng.choice(PROMPTS), a=a, b=b,
                  choice="a" if long_first == wants_long else "b")
        people.append(participant)
    return people, target_freeze_preference_population(name="brevity", campaign_id=campaign.pk)


def finished(run: TrainingRun) -> TrainingRun:
    deadline = time.monotonic() + 180
    while not (run := TrainingRun.objects.get(pk=run.pk)).is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    return run


@pytest.mark.parametrize(("method", "scorer_class", "one_for_all"), [
    (pal, pal.PalScorer, "eval_accuracy_population_weights"),
    (vpl, vpl.VplScorer, "eval_accuracy_average_latent"),
], ids=["pal", "vpl"])
def test_a_population_target_trains_a_personalised_model_on_the_gpu_worker(
    celery_workers, tiny_model_dir, scripted_llm, client, staff_user, method, scorer_class, one_for_all
):
    people, target = brevity_population(scripted_llm)

    name = method.__name__.rsplit(".", 1)[1]
    run = run_create(target=target, method=name, base_model=str(tiny_model_dir),
                     config={**asdict(method.Config.tiny()), "new_user_fraction": 0.25, "eval_fraction": 0.25})
    run = finished(run)
    # The same people are held out each run (fixed ids); bounds with room to spare all the same.
    assert run.metrics["eval_accuracy"] >= 0.75 and run.metrics["new_user_accuracy"] >= 0.75
    assert run.metrics["eval_accuracy"] >= run.metrics[one_for_all] + 0.2
    assert run.summary["people"] == 16 and run.metric_points.filter(values__has_key="loss").exists()

    artifact = ModelArtifact.objects.get(run=run)
    scorer = scorer_class.load(Path(settings.MEDIA_ROOT) / artifact.path)
    number = {pseudonym(p.public_id): n for n, p in enumerate(people)}
    brief = next(u for u in scorer.users if number[u] % 2 == 0)  # people seen in training, by pseudonym
    detailed = next(u for u in scorer.users if number[u] % 2 == 1)
    tea, short = "How do I make tea?", SHORT[0]
    assert scorer.score(brief, tea, short) > scorer.score(brief, tea, short + MORE)
    assert scorer.score(detailed, tea, short + MORE) > scorer.score(detailed, tea, short)
    assert f"{name.upper()} personalised reward model" in artifact.model_card
    client.force_login(staff_user)  # the model page shows this method's loading code
    page = client.get(reverse("dashboard:models_detail", args=[artifact.pk])).content.decode()
    assert f"{scorer_class.__name__}.load(path)" in page


def test_a_population_target_trains_a_system_message_policy_on_the_gpu_worker(
    celery_workers, tiny_model_dir, scripted_llm, client, staff_user
):
    from transformers import AutoModelForCausalLM

    _, target = brevity_population(scripted_llm)
    run = finished(run_create(target=target, method="janus", base_model=str(tiny_model_dir),
                              config={**asdict(janus.Config.tiny()), "eval_fraction": 0.3}))
    assert run.metrics["eval_accuracy"] >= 0.75
    assert run.metrics["eval_accuracy"] >= run.metrics["eval_accuracy_without_system"] + 0.2
    assert run.summary["system_messages"] == 2 and run.metric_points.filter(values__has_key="dpo_accuracy").exists()
    artifact = ModelArtifact.objects.get(run=run)
    AutoModelForCausalLM.from_pretrained(Path(settings.MEDIA_ROOT) / artifact.path)
    client.force_login(staff_user)
    page = client.get(reverse("dashboard:models_detail", args=[artifact.pk])).content.decode()
    assert "AutoModelForCausalLM.from_pretrained(path)" in page and "system-message-following policy" in page
