"""Staff manage campaigns in the dashboard: create, open and close, add waves, import a MAI study."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from elicitation.models import Campaign, CanonicalCard, EdgeVote, Wave
from elicitation.services.campaigns import wave_create
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

VALUES = [
    {"id": 1, "title": "Informed Autonomy", "instructionsShort": "Full information.",
     "evaluationCriteria": ["FACTS about each option"]},
    {"id": 2, "title": "Care For Wellbeing", "instructionsShort": "Health and safety.",
     "evaluationCriteria": ["RISKS to her health"]},
]
EDGES_CSV = (
    "userId,fromId,toId,contextId,relationship,story,comment,createdAt\n"
    "7,1,2,When a choice shapes a life,upgrade,A story.,,2023-10-05T10:00:00.000Z\n"
    "8,1,2,When a choice shapes a life,upgrade,A story.,yes,2023-10-05T11:00:00.000Z\n"
)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_create_campaign_with_questions_and_activities(staff_client):
    response = staff_client.post("/dashboard/campaigns/new/", {
        "title": "Abortion advice", "description": "How should the assistant answer?",
        "questions": "I am considering an abortion. What should I do?\n\n  Should I tell my parents?  \n",
        "activities": ["interview", "upgrades"],
    })

    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/dashboard/campaigns/{campaign.pk}/"
    assert [q.text for q in campaign.questions.all()] == [
        "I am considering an abortion. What should I do?", "Should I tell my parents?"]
    assert campaign.activities == ["interview", "upgrades"]
    assert campaign.status == Campaign.Status.DRAFT
    page = staff_client.get(response["Location"]).content.decode()
    assert "is created as a draft" in page and "Should I tell my parents?" in page
    assert "/join/" in page and "Wisdom upgrades" in page and "Vote on values" not in page


def test_new_campaign_form_checks_the_default_activities(staff_client):
    page = staff_client.get("/dashboard/campaigns/new/").content.decode()
    for value in ("interview", "voting", "upgrades"):
        assert f'value="{value}" checked' in page
    assert 'value="comparisons" checked' not in page


def test_create_shows_validation_errors_and_keeps_what_was_typed(staff_client):
    response = staff_client.post("/dashboard/campaigns/new/", {
        "title": "  ", "description": "Kept <b>as typed</b>", "questions": "\n \n", "activities": ["dancing"],
    })

    assert response.status_code == 400
    page = response.content.decode()
    assert "A campaign needs a title." in page
    assert "A campaign needs at least one question" in page
    assert "Unknown activities: dancing." in page
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;" in page  # escaped, and not lost
    assert not Campaign.objects.exists()


def test_create_refuses_a_title_already_in_use(staff_client):
    CampaignFactory(title="Study", slug="study")
    response = staff_client.post("/dashboard/campaigns/new/", {"title": "Study", "questions": "Why?"})

    assert response.status_code == 400
    assert "exists already" in response.content.decode()
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize(("title", "message"), [
    ("x" * 201, "A campaign title has at most 200 characters."),
    ("!!!", "The title needs at least one letter or digit"),  # it would make an empty address
])
def test_create_refuses_a_title_that_cannot_be_stored(staff_client, title, message):
    response = staff_client.post("/dashboard/campaigns/new/", {"title": title, "questions": "Why?"})

    assert response.status_code == 400 and message in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_campaign_page_shows_no_template_comment(staff_client):
    """A {# #} comment spans one line only; a longer one is printed on the page as text."""
    campaign = CampaignFactory()
    page = staff_client.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    assert "{#" not in page and "#}" not in page and 'id="jobs-' in page


def test_the_waves_page_sends_non_staff_to_the_platform_login(client):
    campaign = CampaignFactory()
    assert client.get(f"/dashboard/campaigns/{campaign.pk}/waves/values/")["Location"].startswith("/login/")


def test_open_and_close_a_campaign(staff_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    url = f"/dashboard/campaigns/{campaign.pk}/status/"

    response = staff_client.post(url, {"status": "open"}, HTTP_HX_REQUEST="true")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    assert 'data-status="open"' in response.content.decode() and "Close campaign" in response.content.decode()
    assert "HX-Request" in response["Vary"]

    response = staff_client.post(url, {"status": "closed"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED
    assert response.status_code == 302
    assert "Reopen campaign" in staff_client.get(response["Location"]).content.decode()


def test_unknown_status_is_refused(staff_client):
    campaign = CampaignFactory(status=Campaign.Status.OPEN)
    response = staff_client.post(f"/dashboard/campaigns/{campaign.pk}/status/", {"status": "paused"},
                                 HTTP_HX_REQUEST="true")

    assert response.status_code == 400 and "Unknown status" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN


def test_waves_are_numbered_in_order(staff_client):
    campaign = CampaignFactory()
    url = f"/dashboard/campaigns/{campaign.pk}/waves/"

    staff_client.post(url, {"label": "Baseline", "starts_at": "2025-03-01T09:30"})
    response = staff_client.post(url, {"label": "", "starts_at": "2025-06-01T09:30"}, HTTP_HX_REQUEST="true")

    assert list(Wave.objects.filter(campaign=campaign).values_list("number", "label")) == [(1, "Baseline"), (2, "")]
    assert Wave.objects.get(number=1).starts_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)  # the site's zone is UTC
    body = response.content.decode()
    assert response.status_code == 200 and 'data-wave="2"' in body and "Add wave 3" in body


def test_a_wave_must_start_after_the_last_one(staff_client):
    campaign = CampaignFactory()
    url = f"/dashboard/campaigns/{campaign.pk}/waves/"
    staff_client.post(url, {"starts_at": "2025-06-01T09:30"})

    response = staff_client.post(url, {"label": "Earlier", "starts_at": "2025-03-01T09:30"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "Wave 1 starts 2025-06-01 09:30; a new wave must start after it." in response.content.decode()
    assert 'value="Earlier"' in response.content.decode()
    assert Wave.objects.count() == 1


@pytest.mark.parametrize("starts_at", ["", "next tuesday"])
def test_a_wave_needs_a_readable_start(staff_client, starts_at):
    campaign = CampaignFactory()
    response = staff_client.post(f"/dashboard/campaigns/{campaign.pk}/waves/", {"starts_at": starts_at})

    assert response.status_code == 400
    assert "A wave needs the date and time it starts." in response.content.decode()
    assert not Wave.objects.exists()


def test_wave_numbers_are_per_campaign():
    first, second = CampaignFactory(), CampaignFactory()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    wave_create(campaign=first, label="", starts_at=start)
    wave_create(campaign=first, label="", starts_at=start.replace(month=2))

    assert wave_create(campaign=second, label="", starts_at=start).number == 1
    with pytest.raises(ValidationError):
        wave_create(campaign=second, label="x" * 101, starts_at=start.replace(month=3))


def test_detail_shows_counts_and_join_link(staff_client, django_assert_max_num_queries):
    campaign = CampaignFactory()
    with django_assert_max_num_queries(12):
        page = staff_client.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()

    assert 'data-count="participants">0<' in page and 'data-count="votes">0<' in page
    assert "http://testserver/join/" in page


def test_home_links_to_new_campaign_import_and_details(staff_client):
    campaign = CampaignFactory()
    page = staff_client.get("/dashboard/").content.decode()

    assert 'href="/dashboard/campaigns/new/"' in page and 'href="/dashboard/imports/mai/"' in page
    assert f'href="/dashboard/campaigns/{campaign.pk}/"' in page


def _upload(edges: str = EDGES_CSV):
    return {
        "title": "MAI 2023", "questions": "What should she do?",
        "values": SimpleUploadedFile("values.json", json.dumps(VALUES).encode(), content_type="application/json"),
        "edges": SimpleUploadedFile("edges.csv", edges.encode(), content_type="text/csv"),
    }


def test_import_page_imports_a_study(staff_client):
    response = staff_client.post("/dashboard/imports/mai/", _upload(), follow=True)

    campaign = Campaign.objects.get()
    assert response.redirect_chain == [(f"/dashboard/campaigns/{campaign.pk}/", 302)]
    page = response.content.decode()
    assert "Imported “MAI 2023”: 2 values, 1 contexts, 2 votes by 2 voters, 1 stories; 0 repeated votes counted once." in page
    assert 'data-count="votes">2<' in page and 'data-count="imported_voters">2<' in page
    assert CanonicalCard.objects.filter(campaign=campaign).count() == 2


def test_import_page_shows_the_row_and_field_of_a_problem(staff_client):
    response = staff_client.post("/dashboard/imports/mai/", _upload(EDGES_CSV.replace(",upgrade,A story.,yes", ",yes,A story.,")))

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "edges.csv row 3: relationship must be upgrade, no_upgrade or not_sure, got &#x27;yes&#x27;" in page
    assert not Campaign.objects.exists() and not EdgeVote.objects.exists()


def test_import_page_asks_for_both_files(staff_client):
    data = _upload()
    del data["edges"]
    response = staff_client.post("/dashboard/imports/mai/", data)

    assert response.status_code == 400 and "Choose the edges file." in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(("method", "url"), [
    ("get", "/dashboard/campaigns/new/"),
    ("post", "/dashboard/campaigns/new/"),
    ("get", "/dashboard/campaigns/{pk}/"),
    ("post", "/dashboard/campaigns/{pk}/status/"),
    ("post", "/dashboard/campaigns/{pk}/waves/"),
    ("get", "/dashboard/imports/mai/"),
    ("post", "/dashboard/imports/mai/"),
])
def test_non_staff_are_refused(client, django_user_model, method, url):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    url = url.format(pk=campaign.pk)
    data = {"title": "X", "questions": "Q", "status": "open", "starts_at": "2025-01-01T00:00"}

    assert getattr(client, method)(url, data).status_code == 302
    client.force_login(django_user_model.objects.create_user(username="p", password="pw-123456-x"))
    response = getattr(client, method)(url, data)

    assert response.status_code == 302 and response["Location"].startswith("/login/")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert Campaign.objects.count() == 1 and not Wave.objects.exists()


def test_staff_can_queue_upgrade_story_writing(client, staff_user, django_capture_on_commit_callbacks):
    from unittest import mock

    from elicitation.models import CampaignJob
    from tests.factories import CampaignFactory
    from tests.support.seed import seed_peer_values

    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=0)
    client.force_login(staff_user)
    with mock.patch("celery.app.base.Celery.send_task") as send_task:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/dashboard/campaigns/{campaign.pk}/upgrade-stories/", follow=True)
    job = CampaignJob.objects.get()
    send_task.assert_called_once_with("elicitation.tasks.upgrade_stories_propose", args=[job.pk], task_id=None,
                                      ignore_result=True)
    page = response.content.decode()
    assert "A worker is writing upgrade stories" in page and f'data-job="{job.pk}" data-job-status="queued"' in page
