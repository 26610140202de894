"""Helpers shared by participant views."""
from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from chorus.accounts.models import Participant
from chorus.accounts.selectors import participant_by_campaign_slug
from elicitation.models import Campaign, Question


class NotJoined(Exception):
    pass


def campaign_and_participant(request: HttpRequest, slug: str) -> tuple[Campaign, Participant | None]:
    """The campaign by slug (or 404) and this session's consented participant in it, or None. A
    participant's campaign comes with them in one query."""
    participant = participant_by_campaign_slug(session=request.session, slug=slug)
    if participant is None:
        return get_object_or_404(Campaign, slug=slug), None
    return participant.campaign, participant if participant.consented_at else None


def participant_question(request: HttpRequest, slug: str, question_id: int):
    """(campaign, participant, question) for a consented participant, or NotJoined."""
    campaign, participant = campaign_and_participant(request, slug)
    if participant is None:
        raise NotJoined
    question = get_object_or_404(Question, pk=question_id, campaign=campaign)
    return campaign, participant, question

