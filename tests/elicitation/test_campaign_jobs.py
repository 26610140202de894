"""Work a curator queues on a campaign ends in a recorded outcome: how many stories or principles were
made, or why none could be (and what to do), never a promise that silently comes to nothing."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from elicitation.models import CampaignJob, UpgradeStory
from elicitation.services import constitutions as constitution_services
from elicitation.services import moral_graph as moral_graph_services
from elicitation.tasks import principles_draft, upgrade_stories_propose
from tests.factories import CampaignFactory, make_edge_vote, make_participant
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Task messages that would reach the broker, captured instead."""
    calls = []
    monkeypatch.setattr("elicitation.services.campaigns.dispatch_or_keep",
                        lambda name, *args: calls.append((name, args)) or True)
    return calls


def test_stories_with_no_values_are_refused_at_once_with_the_reason(sent, django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    with django_capture_on_commit_callbacks(execute=True):
        job = moral_graph_services.upgrade_stories_request(campaign=campaign)
    assert job.status == "finished" and job.made == 0 and "No values yet" in job.note
    assert sent == []  # nothing was queued that could only make nothing


def test_values_that_share_no_context_are_named_as_the_reason(sent):
    campaign = CampaignFactory()
    question = campaign.questions.get()
    seed_peer_values(question, stories=0)
    campaign.contexts.get().cards.remove(*list(campaign.canonical_cards.all())[1:])  # one value per context
    job = moral_graph_services.upgrade_stories_request(campaign=campaign)
    assert job.status == "finished" and "No two values share a context yet (7 values, 1 context)" in job.note


def test_stories_are_queued_then_counted_and_a_second_click_joins_the_first(
        sent, scripted_llm, django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=3)
    with django_capture_on_commit_callbacks(execute=True):
        job = moral_graph_services.upgrade_stories_request(campaign=campaign)
        again = moral_graph_services.upgrade_stories_request(campaign=campaign)
    assert job.status == "queued" and again.pk == job.pk
    assert sent == [("elicitation.tasks.upgrade_stories_propose", (job.pk,))]

    upgrade_stories_propose.run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.made, job.note) == ("finished", 21 - 3, "") and UpgradeStory.objects.count() == 21
    upgrade_stories_propose.run(job.pk)  # a repeat delivery changes nothing
    assert UpgradeStory.objects.count() == 21

    done = moral_graph_services.upgrade_stories_request(campaign=campaign)
    assert done.pk != job.pk and done.status == "finished" and "has a story already (21)" in done.note


def test_pairs_the_llm_fails_on_are_reported_and_the_rest_written(sent, scripted_llm):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=0)
    job = moral_graph_services.upgrade_stories_request(campaign=campaign)
    scripted_llm.fail_next = True
    upgrade_stories_propose.run(job.pk)
    job.refresh_from_db()
    assert job.status == "finished" and job.made == 20
    assert job.note.startswith("The LLM could not write 1 story (") and "scripted failure" in job.note


def test_an_error_that_stops_the_worker_is_recorded_on_the_job(sent, scripted_llm):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=0)
    job = moral_graph_services.upgrade_stories_request(campaign=campaign)
    with mock.patch("elicitation.tasks.propose_stories", side_effect=RuntimeError("database went away")), \
            pytest.raises(RuntimeError):
        upgrade_stories_propose.run(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "database went away" in job.note


def test_a_job_whose_worker_vanished_is_failed_when_the_curator_asks_again(sent):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=0)
    lost = moral_graph_services.upgrade_stories_request(campaign=campaign)
    CampaignJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = moral_graph_services.upgrade_stories_request(campaign=campaign)
    lost.refresh_from_db()
    assert fresh.pk != lost.pk and fresh.status == "queued"
    assert lost.status == "failed" and "stopped without reporting" in lost.note


def test_a_broker_that_cannot_be_reached_keeps_the_job_queued_and_says_so(monkeypatch,
                                                                          django_capture_on_commit_callbacks):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from chorus.models import PendingTask

    def down(name, *args, **options):
        raise RedisConnectionError("Redis refused")

    monkeypatch.setattr("chorus.dispatch.dispatch", down)
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=0)
    with django_capture_on_commit_callbacks(execute=True):
        job = moral_graph_services.upgrade_stories_request(campaign=campaign)
    job.refresh_from_db()
    assert job.status == "queued" and "unreachable" in job.note
    assert PendingTask.objects.get().args == [job.pk]  # sent by beat once Redis answers


def test_a_task_that_cannot_be_queued_at_all_fails_the_job_with_the_reason(monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    def broken(name, *args):
        raise RuntimeError("no such queue")

    monkeypatch.setattr("elicitation.services.campaigns.dispatch_or_keep", broken)
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=0)
    with django_capture_on_commit_callbacks(execute=True):
        job = moral_graph_services.upgrade_stories_request(campaign=campaign)
    job.refresh_from_db()
    assert job.status == "failed" and "Could not queue the work: no such queue" in job.note


def test_drafts_without_a_kept_edge_say_why(sent):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=1)
    job = constitution_services.principles_draft_request(campaign=campaign)
    assert job.status == "finished" and job.made == 0 and "No wisest value yet" in job.note
    assert "0 upgrade votes" in job.note and sent == []


def test_drafts_are_counted_then_a_second_request_says_they_exist(sent, scripted_llm):
    campaign = CampaignFactory()
    cards = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    for _ in range(3):
        make_edge_vote(make_participant(campaign), cards[0], cards[1], context)
    job = constitution_services.principles_draft_request(campaign=campaign)
    principles_draft.run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.made, job.note) == ("finished", 1, "")
    again = constitution_services.principles_draft_request(campaign=campaign)
    assert again.status == "finished" and "has a draft already (1)" in again.note
