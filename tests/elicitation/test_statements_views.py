"""Participant and staff pages for statement voting, over the Django test client."""
import pytest
from django.core.cache.backends.dummy import DummyCache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Participant
from elicitation.models import Campaign, Principle, Statement, StatementVote
from elicitation.selectors import statements as selectors_statements
from elicitation.services import statements as svc
from tests.factories import CampaignFactory, make_participant
from tests.support.shared_data import POLIS_EXPORT, needs_polis_export, shared_data

EXPORT = shared_data(POLIS_EXPORT)

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory(activities=["principles"])


def joined(client, campaign) -> Participant:
    client.post(f"/join/{join_token_make(campaign_id=campaign.pk)}/", {"consent": "yes"})
    return Participant.objects.filter(campaign=campaign).latest("pk")


def test_participant_writes_and_votes(client, campaign):
    other = make_participant(campaign)
    theirs = svc.statement_submit(participant=other, text="Parks need more trees.")
    me = joined(client, campaign)
    page = client.get(reverse("elicitation:statements", args=[campaign.slug]))
    assert page.status_code == 200 and "Parks need more trees." in page.content.decode()

    response = client.post(reverse("elicitation:statement_vote", args=[campaign.slug]),
                           {"statement": theirs.pk, "choice": "disagree"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="all-voted"' in response.content.decode()
    assert "HX-Request" in response["Vary"]
    assert StatementVote.objects.get(participant=me).choice == -1

    response = client.post(reverse("elicitation:statements", args=[campaign.slug]), {"text": ""})
    assert response.status_code == 400 and "Write a statement before sending it." in response.content.decode()
    response = client.post(reverse("elicitation:statements", args=[campaign.slug]), {"text": "y" * 500})
    assert response.status_code == 400 and "at most 400 characters" in response.content.decode()
    response = client.post(reverse("elicitation:statements", args=[campaign.slug]), {"text": "<b>Bold</b> claim"})
    assert response.status_code == 302
    assert Statement.objects.get(author=me).text == "<b>Bold</b> claim"


def test_statement_text_is_escaped_on_every_page(client, admin_client, campaign):
    author = make_participant(campaign)
    svc.statement_submit(participant=author, text='<script>alert(1)</script><img src=x onerror="alert(2)">')
    joined(client, campaign)
    pages = [
        client.get(reverse("elicitation:statements", args=[campaign.slug])),
        client.get(reverse("elicitation:statement_groups", args=[campaign.slug])),
        admin_client.get(reverse("dashboard:statements_campaign", args=[campaign.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_groups_page_needs_a_participant_or_staff_and_polls(client, admin_client, campaign):
    url = reverse("elicitation:statement_groups", args=[campaign.slug])
    assert client.get(url).status_code == 302
    joined(client, campaign)
    page = client.get(url)
    assert 'hx-trigger="every 3s"' in page.content.decode()
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="statement-groups"' in fragment
    assert "<html" not in fragment
    assert admin_client.get(url).status_code == 200
    no_statements = CampaignFactory(activities=["interview"])
    assert client.get(reverse("elicitation:statement_groups", args=[no_statements.slug])).status_code == 404


def test_closed_campaign_takes_no_statements(client, campaign):
    joined(client, campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)
    response = client.post(reverse("elicitation:statements", args=[campaign.slug]), {"text": "Late"})
    assert response.status_code == 400 and "closed" in response.content.decode()


def test_staff_moderate_and_promote(admin_client, campaign):
    author = make_participant(campaign)
    good = svc.statement_submit(participant=author, text="The AI should cite its sources.")
    spam = svc.statement_submit(participant=author, text="Buy now!")
    admin_client.post(reverse("dashboard:statement_moderate", args=[spam.pk]), {"status": "rejected"})
    spam.refresh_from_db()
    assert spam.status == "rejected"
    page = admin_client.get(reverse("dashboard:statements_campaign", args=[campaign.pk])).content.decode()
    assert "Promote to principle" in page and f'data-statement="{spam.pk}"' in page  # listed for moderation

    admin_client.post(reverse("dashboard:statement_promote", args=[good.pk]), {"name": "Cite Sources"})
    principle = Principle.objects.get()
    assert principle.name == "Cite Sources" and principle.source_statement == good
    assert "consensus" in principle.source_note


def test_staff_statements_page_query_count_does_not_grow_with_statements(admin_client, campaign, monkeypatch):
    monkeypatch.setattr(selectors_statements, "cache", DummyCache("none", {}))  # count the computation too
    author = make_participant(campaign)
    url = reverse("dashboard:statements_campaign", args=[campaign.pk])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    svc.statement_submit(participant=author, text="One.")
    few = queries()
    for i in range(10):
        svc.statement_submit(participant=author, text=f"More {i}.")
    assert queries() == few


@needs_polis_export
def test_polis_upload_from_the_dashboard(admin_client):
    files = {name: SimpleUploadedFile(f"{name}.csv", (EXPORT / f"{name}.csv").read_bytes())
             for name in ("comments", "votes", "summary")}
    response = admin_client.post(reverse("dashboard:statements_import_polis"), {"title": "", **files})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and campaign.title == "$15/hour"
    assert StatementVote.objects.count() == 2872

    bad = SimpleUploadedFile("votes.csv", b"timestamp,datetime,comment-id,voter-id,vote\n1,x,0,1,7\n")
    comments = SimpleUploadedFile("comments.csv", (EXPORT / "comments.csv").read_bytes())
    response = admin_client.post(reverse("dashboard:statements_import_polis"),
                                 {"title": "Bad", "comments": comments, "votes": bad})
    assert response.status_code == 400
    assert "votes.csv line 2: vote must be -1 (disagree), 0 (pass) or 1 (agree), got &#x27;7&#x27;" in response.content.decode()
    assert Campaign.objects.count() == 1
