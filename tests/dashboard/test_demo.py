"""The demo `run.sh` loads gives every activity something to do for a new participant, and every
curator action something to make (issue 14, item 3: the first study must not be a dead end)."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from elicitation.models import Activity, Campaign, CampaignJob, Principle, UpgradeStory
from elicitation.selectors.moral_graph import graph_compute
from elicitation.services import constitutions as constitution_services
from elicitation.services import moral_graph as moral_graph_services
from elicitation.services.values import voting_draw
from elicitation.tasks import principles_draft, upgrade_stories_propose
from tests.factories import make_participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setattr("elicitation.services.campaigns.dispatch_or_keep", lambda *args: True)  # the test runs the tasks
    out = StringIO()
    call_command("load_demo", "--base-url", "http://testserver", stdout=out)
    return Campaign.objects.get(slug="demo"), out.getvalue()


def test_a_new_participant_has_something_to_do_in_every_activity(demo):
    campaign, printed = demo
    assert set(campaign.activities) == {Activity.INTERVIEW, Activity.VOTING, Activity.UPGRADES}
    assert "demo data: 18 values by 6 earlier participants, 6 contexts, 6 upgrade stories" in printed
    newcomer = make_participant(campaign)
    for question in campaign.questions.all():
        assert len(voting_draw(participant=newcomer, question=question)) >= 4, question.text  # peers to vote on
    assert len(moral_graph_services.upgrade_draw(participant=newcomer)) == moral_graph_services.UPGRADES_PER_PARTICIPANT


def test_every_curator_action_makes_something(demo, scripted_llm):
    campaign, _ = demo
    stories = moral_graph_services.upgrade_stories_request(campaign=campaign)
    assert stories.status == CampaignJob.Status.QUEUED
    upgrade_stories_propose.run(stories.pk)
    stories.refresh_from_db()
    assert stories.made == 36 - 6 and UpgradeStory.objects.filter(campaign=campaign).count() == 36  # 6 pairs a context

    assert len(graph_compute(campaign=campaign).graph.edges) == 3  # one kept edge per question
    drafts = constitution_services.principles_draft_request(campaign=campaign)
    principles_draft.run(drafts.pk)
    drafts.refresh_from_db()
    assert drafts.made == 3 == Principle.objects.filter(campaign=campaign, provenance="from_value").count()


def test_loading_again_changes_nothing(demo):
    campaign, _ = demo
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "demo data" not in out.getvalue() and "existing account" in out.getvalue()
    assert campaign.canonical_cards.count() == 18 and campaign.participants.count() == 6
