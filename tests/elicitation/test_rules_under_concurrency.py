"""Rules hold when requests arrive together: each is enforced in its service with a lock, not in the page."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

import chorus.llm
from chorus.accounts.models import Participant
from elicitation.models import Activity, EdgeVote, InterviewMessage, Statement, StatementVote, UpgradeStory
from elicitation.services import comparisons, interviews, moral_graph, statements
from elicitation.services.campaigns import CampaignClosed, campaign_create
from tests.support.scripted_llm import ScriptedBackend
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db(transaction=True)
TOGETHER = 20


def together(n: int, action) -> list:
    """Runs `action(i)` in n threads released at the same moment; each result, or the exception raised."""
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        try:
            return action(i)
        except Exception as exc:  # the refusals are what some of these tests count
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def study(*activities):
    campaign = campaign_create(title="Together", questions=["What should the assistant consider?"],
                               activities=list(activities), status="open")
    return campaign, Participant.objects.create(campaign=campaign, consented_at=timezone.now())


def test_the_same_statement_sent_twenty_times_at_once_is_written_once():
    _, participant = study(Activity.PRINCIPLES)
    results = together(TOGETHER, lambda i: statements.statement_submit(participant=participant, text="Parks for all."))
    assert Statement.objects.count() == 1 and StatementVote.objects.count() == 1
    assert sum(isinstance(r, ValidationError) for r in results) == TOGETHER - 1


def test_twenty_messages_at_once_leave_one_awaiting_a_reply():
    campaign, participant = study(Activity.INTERVIEW)
    interview = interviews.interview_start(participant=participant, question=campaign.questions.get())
    together(TOGETHER, lambda i: interviews.interview_message_add(interview=interview, text=f"My story, part {i}"))
    assert interview.messages.filter(role=InterviewMessage.Role.USER).count() == 1


class SlowBackend(ScriptedBackend):
    def stream(self, messages, **params):
        for piece in super().stream(messages, **params):
            time.sleep(0.05)  # long enough for every request to arrive while the first is writing
            yield piece


def test_four_reply_requests_at_once_make_the_model_write_one_reply(monkeypatch):
    backend = SlowBackend(replies=["What did you notice first, back then?"])
    monkeypatch.setattr(chorus.llm, "chat_backend", lambda: backend)
    campaign, participant = study(Activity.INTERVIEW)
    interview = interviews.interview_start(participant=participant, question=campaign.questions.get())
    interviews.interview_message_add(interview=interview, text="I helped my sister decide.")
    replies = together(4, lambda i: "".join(interviews.interview_reply_stream(interview=interview)))
    assert len(backend.calls) == 1
    assert sorted(bool(r) for r in replies) == [False, False, False, True]
    assert interview.messages.filter(role=InterviewMessage.Role.ASSISTANT).count() == 2  # the opening and one reply


def test_answers_beyond_the_cap_are_refused_even_all_at_once():
    campaign, participant = study(Activity.UPGRADES)
    seed_peer_values(campaign.questions.get(), stories=6)
    stories = list(UpgradeStory.objects.all())
    assert len(stories) == 6
    together(6, lambda i: moral_graph.edge_vote_cast(participant=participant, story=stories[i], relationship="upgrade"))
    assert EdgeVote.objects.filter(participant=participant).count() == moral_graph.UPGRADES_PER_PARTICIPANT


def test_a_campaign_takes_only_the_activities_it_runs(scripted_llm):
    campaign, participant = study(Activity.PRINCIPLES)  # statements only
    question = campaign.questions.get()
    with pytest.raises(comparisons.ComparisonError, match="does not ask for comparisons"):
        comparisons.system_message_write(participant=participant, text="Be brief.")
    interview = interviews.interview_start(participant=participant, question=question)
    with pytest.raises(interviews.InterviewError, match="does not ask for interviews"):
        interviews.interview_message_add(interview=interview, text="Hello")
    seed_peer_values(question, stories=1)
    with pytest.raises(CampaignClosed, match="does not ask for answers about wisdom upgrades"):
        moral_graph.edge_vote_cast(participant=participant, story=UpgradeStory.objects.get(), relationship="upgrade")
    assert not EdgeVote.objects.exists()
