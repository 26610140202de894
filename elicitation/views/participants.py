"""Participant pages: join by signed link, consent, the campaign home, finish and withdraw."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from chorus.accounts import services as account_services
from chorus.accounts.join_links import InvalidJoinLink, join_token_read
from chorus.accounts.selectors import participant_from_session
from elicitation.models import Campaign
from elicitation.selectors.campaigns import participant_progress
from elicitation.selectors.moral_graph import upgrades_answered
from elicitation.services.moral_graph import UPGRADES_PER_PARTICIPANT
from elicitation.services.participants import participant_withdraw
from elicitation.views.common import campaign_and_participant


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    try:
        campaign_id = join_token_read(token)
    except InvalidJoinLink as exc:
        return render(request, "elicitation/closed.html", {"message": str(exc)}, status=404)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not campaign.is_open:
        return render(request, "elicitation/closed.html", {"campaign": campaign,
                      "message": "This study is not taking participants at the moment."}, status=403)
    participant = participant_from_session(session=request.session, campaign_id=campaign.pk)
    if participant and participant.consented_at:
        return redirect("elicitation:home", slug=campaign.slug)
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return render(request, "elicitation/consent.html",
                          {"campaign": campaign, "error": "Please tick the box to say you agree, or close this page."},
                          status=400)
        participant = account_services.participant_join(campaign=campaign, session=request.session)
        account_services.participant_consent(participant=participant)
        return redirect("elicitation:home", slug=campaign.slug)
    return render(request, "elicitation/consent.html", {"campaign": campaign})


def home(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = campaign_and_participant(request, slug)
    if participant is None:
        return render(request, "elicitation/closed.html", {"campaign": campaign,
                      "message": "Open your join link to take part in this study."}, status=403)
    return render(request, "elicitation/home.html", {
        "campaign": campaign, "participant": participant,
        "progress": participant_progress(participant=participant, campaign=campaign),
        "upgrades_answered": upgrades_answered(participant=participant),
        "upgrades_total": UPGRADES_PER_PARTICIPANT,
    })


@require_POST
def finish(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = campaign_and_participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    account_services.participant_complete(participant=participant)
    return redirect("elicitation:home", slug=slug)


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = campaign_and_participant(request, slug)
    if request.method == "POST" and participant is not None:
        participant_withdraw(participant=participant, session=request.session)
        return render(request, "elicitation/withdrawn.html", {"campaign": campaign})
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    return render(request, "elicitation/withdraw.html", {"campaign": campaign})
