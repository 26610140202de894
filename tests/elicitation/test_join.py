"""Participants join by signed link, consent, finish with a completion code, and can withdraw."""
import pytest
from django.core.exceptions import ValidationError

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Participant
from elicitation.models import Campaign
from elicitation.services.campaigns import campaign_create
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def join_url(campaign) -> str:
    return f"/join/{join_token_make(campaign_id=campaign.pk)}/"


def test_consent_then_home(client):
    campaign = CampaignFactory(questions=["Is it ever right to lie?"])
    page = client.get(join_url(campaign))
    assert page.status_code == 200 and b"I have read this" in page.content
    assert not Participant.objects.exists()  # nobody is created before consenting

    response = client.post(join_url(campaign), {"consent": "yes"})
    assert response.status_code == 302 and response["Location"] == f"/c/{campaign.slug}/"
    participant = Participant.objects.get()
    assert participant.consented_at is not None
    assert client.get(f"/c/{campaign.slug}/").content.count(b"Is it ever right to lie?") == 1


def test_consent_box_is_required(client):
    campaign = CampaignFactory()
    response = client.post(join_url(campaign), {})
    assert response.status_code == 400
    assert b"tick the box" in response.content
    assert not Participant.objects.exists()


def test_the_same_browser_is_the_same_participant(client):
    campaign = CampaignFactory()
    client.post(join_url(campaign), {"consent": "yes"})
    client.post(join_url(campaign), {"consent": "yes"})
    assert client.get(join_url(campaign)).status_code == 302
    assert Participant.objects.count() == 1


def test_another_browser_is_another_participant(client, django_user_model):
    from django.test import Client

    campaign = CampaignFactory()
    client.post(join_url(campaign), {"consent": "yes"})
    Client().post(join_url(campaign), {"consent": "yes"})
    assert Participant.objects.count() == 2


def test_tampered_link_is_refused(client):
    campaign = CampaignFactory()
    response = client.get(join_url(campaign)[:-3] + "xx/")
    assert response.status_code == 404
    assert b"not valid" in response.content


@pytest.mark.parametrize("status", [Campaign.Status.DRAFT, Campaign.Status.CLOSED])
def test_campaign_not_open_refuses_joining(client, status):
    campaign = CampaignFactory(status=status)
    response = client.post(join_url(campaign), {"consent": "yes"})
    assert response.status_code == 403
    assert not Participant.objects.exists()


def test_home_without_joining_is_refused(client):
    campaign = CampaignFactory()
    assert client.get(f"/c/{campaign.slug}/").status_code == 403


def test_finish_gives_a_stable_completion_code(client):
    campaign = CampaignFactory()
    client.post(join_url(campaign), {"consent": "yes"})
    client.post(f"/c/{campaign.slug}/finish/")
    code = Participant.objects.get().completion_code
    assert len(code) == 8
    client.post(f"/c/{campaign.slug}/finish/")
    assert Participant.objects.get().completion_code == code
    assert code.encode() in client.get(f"/c/{campaign.slug}/").content


def test_withdraw_deletes_the_participant(client):
    campaign = CampaignFactory()
    client.post(join_url(campaign), {"consent": "yes"})
    response = client.post(f"/c/{campaign.slug}/withdraw/")
    assert b"You have withdrawn" in response.content
    assert not Participant.objects.exists()
    assert client.get(f"/c/{campaign.slug}/").status_code == 403


def test_campaign_create_validates_and_writes_nothing_on_error():
    with pytest.raises(ValidationError) as exc:
        campaign_create(title=" ", questions=["ok", ""], activities=["dancing"])
    assert set(exc.value.message_dict) == {"title", "questions", "activities"}
    assert not Campaign.objects.exists()


def test_campaign_slug_must_be_unique():
    campaign_create(title="Same", questions=["q"])
    with pytest.raises(ValidationError, match="exists already"):
        campaign_create(title="Same", questions=["q"])
