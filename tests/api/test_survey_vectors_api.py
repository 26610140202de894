"""/api/v1/campaigns/<id>/value-vectors/: the survey's vector per wave, under the read:data scope."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from elicitation.models import Activity
from elicitation.selectors.surveys import survey_screen, survey_vectors
from elicitation.services import surveys as svc
from tests.factories import CampaignFactory, make_participant, make_wave

pytestmark = pytest.mark.django_db


def test_the_vector_per_wave_with_intervals(api):
    campaign = CampaignFactory(activities=[Activity.SURVEY])
    make_wave(campaign, timezone.now() - timedelta(days=1), label="Now")
    for _ in range(2):
        person = make_participant(campaign)
        for _ in range(3):
            item = survey_screen(round=svc.survey_round_for(participant=person)).item
            svc.survey_answer_record(participant=person, item_id=item.id, choice=0)
    body = api.get(f"/api/v1/campaigns/{campaign.pk}/value-vectors/").json()
    assert [d["name"] for d in body["dimensions"]][:2] == ["do_not_kill", "do_not_cause_pain"]
    [wave] = body["waves"]
    assert (wave["number"], wave["participants"], wave["answers"]) == (1, 2, 6)
    expected = survey_vectors(campaign=campaign)[0].vector.to_json()
    assert wave["vector"] == expected and len(wave["vector"]["mean"]) == 19
    answered = [m for m in wave["vector"]["mean"] if m is not None]
    assert answered and all(0 <= m <= 1 for m in answered)


def test_unknown_campaign_and_missing_token(api):
    assert api.get("/api/v1/campaigns/999999/value-vectors/").status_code == 404
    assert APIClient().get("/api/v1/campaigns/1/value-vectors/").status_code in (401, 403)
