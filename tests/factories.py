"""Test data built through the project's services, so it obeys the rules production data obeys.

Rows no service writes stay direct writes in the tests that need them: peer values and upgrade
stories an LLM would propose, imported votes, comparisons with made-up model names, and rows a
test plants on purpose to see the database or a reader refuse them.

Services stamp rows with `timezone.now()`; `at=` runs them at another moment (for waves and
as-of graphs), the way the row would have been written then.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from unittest import mock

import factory
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from chorus.accounts import services as account_services
from chorus.accounts.models import Participant
from elicitation.models import (
    Activity,
    Campaign,
    CanonicalCard,
    Context,
    EdgeVote,
    SystemMessage,
    UpgradeStory,
    ValuesCard,
    Wave,
)
from elicitation.services import campaigns as campaign_services
from elicitation.services import comparisons as comparison_services
from elicitation.services import interviews as interview_services
from elicitation.services import moral_graph as moral_graph_services


@contextlib.contextmanager
def moment(at: datetime | None) -> Iterator[None]:
    """Inside the block `timezone.now()` is `at` (nothing changes when `at` is None)."""
    if at is None:
        yield
        return
    with mock.patch.object(timezone, "now", return_value=at):
        yield


class CampaignFactory(factory.Factory):
    """A campaign made by `campaign_create`, open by default, with one question unless given some."""

    class Meta:
        model = Campaign

    title = factory.Sequence(lambda n: f"Study {n}")
    slug = factory.Sequence(lambda n: f"study-{n}")
    status = Campaign.Status.OPEN
    activities = factory.LazyFunction(lambda: list(Activity.values))  # every activity, unless a test says
    questions = factory.LazyFunction(lambda: ["What should the assistant consider?"])

    @classmethod
    def _create(cls, model_class, **kwargs) -> Campaign:
        return campaign_services.campaign_create(**kwargs)

    _build = _create  # nothing here is built without the service


def make_participant(campaign: Campaign, *, consented: bool = True, at: datetime | None = None,
                     attributes: dict | None = None) -> Participant:
    """Joins the campaign as a browser following its link does, and consents unless told not to."""
    with moment(at):
        participant = account_services.participant_join(campaign=campaign, session=SessionBase())
        if consented:
            account_services.participant_consent(participant=participant)
    if attributes:  # self-described attributes: no service writes them yet
        participant.attributes = attributes
        participant.save(update_fields=["attributes"])
    return participant


def make_values_card(participant: Participant, *, title: str, description: str, policies: Sequence[str],
                     question=None) -> ValuesCard:
    """A card the participant confirmed at the end of their interview, the interviewer (scripted) having
    drafted exactly this card. One per participant and question, as in production.

    Not deduplicated: outside a test whose transactions commit, the dedup task is never dispatched.
    """
    import chorus.llm
    from tests.support.scripted_llm import ScriptedBackend

    question = question or participant.campaign.questions.get()
    interviewer = ScriptedBackend(cards=[{"title": title, "description": description, "policies": list(policies)}])
    interview = interview_services.interview_start(participant=participant, question=question)
    interview_services.interview_message_add(interview=interview, text="It happened to someone close to me.")
    with mock.patch.object(chorus.llm, "chat_backend", lambda: interviewer):
        interview_services.interview_draft(interview=interview)
    return interview_services.interview_confirm(
        interview=interview, draft_version=interview_services.draft_version_of(interview.draft))


def make_edge_vote(participant: Participant, from_card: CanonicalCard, to_card: CanonicalCard, context: Context,
                   relationship: str = "upgrade", *, at: datetime | None = None) -> EdgeVote:
    """The participant's answer to "Did this person become wiser?" for from_card -> to_card in the context.

    The story it answers is planted if there is none (an LLM proposes stories; no service writes a given one).
    """
    story, _ = UpgradeStory.objects.get_or_create(
        campaign=participant.campaign, context=context, from_card=from_card, to_card=to_card,
        defaults={"story": f"I used to care most about {from_card.title}. Then I saw {to_card.title} mattered more."},
    )
    with moment(at):
        return moral_graph_services.edge_vote_cast(participant=participant, story=story, relationship=relationship)


def make_wave(campaign: Campaign, starts_at: datetime, label: str = "") -> Wave:
    """The campaign's next wave (numbered after the last one, which it must start after)."""
    return campaign_services.wave_create(campaign=campaign, label=label, starts_at=starts_at)


def make_system_message(participant: Participant, text: str = "Be brief.", dimensions: dict | None = None,
                        *, at: datetime | None = None) -> SystemMessage:
    """How the participant wants to be answered, written on the comparisons page."""
    with moment(at):
        return comparison_services.system_message_write(participant=participant, text=text, dimensions=dimensions)
