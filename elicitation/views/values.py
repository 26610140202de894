"""Participants pick wise values among their peers'."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from elicitation.selectors.values import values_picked_by
from elicitation.services import values as svc
from elicitation.services.campaigns import CampaignClosed
from elicitation.views.common import NotJoined, participant_question


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
        except CampaignClosed as exc:
            error = str(exc)
        except (ValidationError, ValueError) as exc:
            error = " ".join(getattr(exc, "messages", [str(exc)]))
    cards = svc.voting_draw(participant=participant, question=question) if campaign.is_open else []
    # A refused submission shows what was ticked; otherwise, what the participant last submitted.
    picked = ({int(i) for i in request.POST.getlist("picked") if i.isdigit()} if error
              else values_picked_by(participant=participant, question=question))
    return render(request, "elicitation/vote.html", {"campaign": campaign, "question": question, "cards": cards,
                                                     "picked": picked, "error": error}, status=400 if error else 200)
