"""Helpers shared by participant views."""
from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from chorus.accounts.selectors import consented_participant
from elicitation.models import Campaign, Question


class NotJoined(Exception):
    pass


def participant_question(request: HttpRequest, slug: str, question_id: int):
    """(campaign, participant, question) for a consented participant, or NotJoined."""
    campaign = get_object_or_404(Campaign, slug=slug)
    participant = consented_participant(session=request.session, campaign_id=campaign.pk)
    if participant is None:
        raise NotJoined
    question = get_object_or_404(Question, pk=question_id, campaign=campaign)
    return campaign, participant, question

