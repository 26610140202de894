"""Participants pick wise values among peers', and judge proposed wisdom upgrades."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from chorus.accounts.selectors import consented_participant

from ..models import Campaign, EdgeVote, Relationship, UpgradeStory
from ..services import votes as svc
from .common import NotJoined, participant_question


@require_http_methods(["GET", "POST"])
def vote_page(request: HttpRequest, slug: str, question_id: int) -> HttpResponse:
    try:
        campaign, participant, question = participant_question(request, slug, question_id)
    except NotJoined:
        return redirect("elicitation:home", slug=slug)
    error = ""
    if request.method == "POST":
        try:
            count = svc.votes_submit(participant=participant, question=question,
                                     picked_ids=request.POST.getlist("picked"))
            messages.success(request, f"Thank you: you picked {count} value{'s' if count != 1 else ''} as wise.")
            return redirect("elicitation:home", slug=slug)
        except svc.CampaignClosed as exc:
            error = str(exc)
        except (ValidationError, ValueError) as exc:
            error = " ".join(getattr(exc, "messages", [str(exc)]))
    cards = svc.voting_draw(participant=participant, question=question) if campaign.is_open else []
    return render(request, "elicitation/vote.html", {"campaign": campaign, "question": question, "cards": cards,
                                                     "error": error}, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def upgrades_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, slug=slug)
    participant = consented_participant(session=request.session, campaign_id=campaign.pk)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    error = ""
    if request.method == "POST":
        story = get_object_or_404(UpgradeStory, pk=request.POST.get("story", 0), campaign=campaign)
        try:
            svc.edge_vote_cast(participant=participant, story=story, relationship=request.POST.get("relationship", ""),
                               comment=request.POST.get("comment", ""))
            return redirect("elicitation:upgrades", slug=slug)
        except svc.CampaignClosed as exc:
            error = str(exc)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    stories = svc.upgrade_draw(participant=participant) if campaign.is_open else []
    answered = EdgeVote.objects.filter(participant=participant).count()
    return render(request, "elicitation/upgrades.html", {
        "campaign": campaign, "story": stories[0] if stories else None, "answered": answered,
        "total": svc.UPGRADES_PER_PARTICIPANT, "choices": Relationship.choices, "error": error,
    }, status=400 if error else 200)
