"""Timeline targets: a campaign's waves frozen as steps, each with the pairs decided in it and the
population's value vector; content-hashed; refused with too few waves or an empty wave; a
withdrawal removes the participant's pairs from every step."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.exceptions import ValidationError
from django.utils import timezone

from elicitation.domain.comparisons_exports import pseudonym
from elicitation.services.participants import participant_withdraw
from tests.factories import CampaignFactory, make_wave, moment
from tests.support.comparisons import judge, person
from tests.support.timelines import PLAIN, WARM, drifting_campaign
from training.models import AlignmentTarget
from training.services.targets import target_freeze
from training.storage import target_dir

pytestmark = pytest.mark.django_db


def rows(target, name):
    return [json.loads(line) for line in (target_dir(target.uuid) / name).read_text().splitlines()]


def test_each_wave_becomes_a_step_with_its_own_pairs(scripted_llm):
    campaign, (first, second) = drifting_campaign(scripted_llm, waves=3, people=2)
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)

    assert (target.kind, target.campaign_id) == (AlignmentTarget.Kind.TIMELINE, campaign.pk)
    steps = rows(target, "steps.jsonl")
    assert [(s["step"], s["wave"], s["label"], s["pairs"], s["users"]) for s in steps] == [
        (0, 1, "Wave 1", 4, 2), (1, 2, "Wave 2", 4, 2), (2, 3, "Wave 3", 4, 2)]
    assert all(s["population_vector"] is None for s in steps)  # no value survey answers in this campaign
    assert steps[0]["ends_at"] == steps[1]["starts_at"] and steps[2]["ends_at"] is None
    pairs = rows(target, "preferences.jsonl")
    warm_share = [sum(p["chosen"] == WARM for p in pairs if p["step"] == s) / 4 for s in range(3)]
    assert warm_share == [0.0, 0.5, 1.0]  # the drift, wave by wave
    assert {p["user"] for p in pairs} == {pseudonym(first.public_id), pseudonym(second.public_id)}
    assert target.provenance["waves"] == 3 and target.provenance["pairs_kept"] == 12
    assert {f.name: f.rows for f in target.files.all()} == {"steps.jsonl": 3, "preferences.jsonl": 12}

    again = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    assert again.version == 2 and again.content_sha256 == target.content_sha256


def test_fewer_than_three_waves_or_an_empty_wave_is_refused_before_anything_is_written(scripted_llm):
    campaign, _ = drifting_campaign(scripted_llm, waves=2, people=1)
    with pytest.raises(ValidationError) as refused:
        target_freeze(kind="timeline", name="short", source_id=campaign.pk)
    assert "at least 3 waves; this campaign has 2" in str(refused.value.message_dict["timeline_campaign"])

    make_wave(campaign, timezone.now() + timedelta(minutes=1), label="Quiet")  # a third wave, nothing decided in it
    with pytest.raises(ValidationError) as refused:
        target_freeze(kind="timeline", name="quiet", source_id=campaign.pk)
    assert "No pair was decided in wave 3" in str(refused.value.message_dict["timeline_campaign"])
    assert not AlignmentTarget.objects.exists()
    with pytest.raises(ValidationError):
        target_freeze(kind="timeline", name="none", source_id=campaign.pk + 1000)


def test_ties_alone_make_an_empty_wave(scripted_llm):
    campaign = CampaignFactory()
    someone = person(campaign, system="Be brief.")
    start = timezone.now() - timedelta(days=4)
    for w in range(3):
        make_wave(campaign, start + timedelta(days=w))
        with moment(start + timedelta(days=w, hours=1)):
            judge(someone, scripted_llm, prompt="P", choice="tie" if w == 1 else "a", a=PLAIN, b=WARM)
    with pytest.raises(ValidationError, match="wave 2"):
        target_freeze(kind="timeline", name="ties", source_id=campaign.pk)


def test_each_step_carries_the_population_vector_of_its_wave(scripted_llm):
    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=2, survey=True)
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    vectors = [s["population_vector"] for s in rows(target, "steps.jsonl")]
    assert all(v is not None and len(v["mean"]) == 19 and v["participants"] == 2 for v in vectors)
    assert target.provenance["waves_with_population_vector"] == 3
    answered = [d for d, x in enumerate(vectors[0]["mean"]) if x is not None and d < 15]  # two-option dimensions
    assert answered and all(vectors[0]["mean"][d] == 1.0 and vectors[2]["mean"][d] == 0.0 for d in answered)


def test_a_withdrawal_removes_their_pairs_from_every_step(scripted_llm):
    campaign, (first, second) = drifting_campaign(scripted_llm, waves=3, people=2, survey=True)
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    before = target.content_sha256
    assert rows(target, "steps.jsonl")[1]["population_vector"]["participants"] == 2

    participant_withdraw(participant=first, session=SessionStore())

    target.refresh_from_db()
    pairs = rows(target, "preferences.jsonl")
    assert {p["user"] for p in pairs} == {pseudonym(second.public_id)} and len(pairs) == 6
    steps = rows(target, "steps.jsonl")
    assert [(s["pairs"], s["users"]) for s in steps] == [(2, 1), (2, 1), (2, 1)]
    assert all(s["population_vector"]["participants"] == 1 for s in steps)  # their answers left the vectors
    assert target.content_sha256 != before and target.redactions[0]["rows_removed"] == 6
    assert {f.name: f.rows for f in target.files.all()} == {"steps.jsonl": 3, "preferences.jsonl": 6}
