"""The value survey: one question per screen, answered with htmx, progress shown ("3 of 8")."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from elicitation.models import Activity, Campaign
from elicitation.selectors.surveys import survey_screen
from elicitation.services import surveys as svc
from elicitation.services.campaigns import CampaignClosed
from elicitation.views.common import campaign_and_participant


def _campaign_and_participant(request: HttpRequest, slug: str):
    """The campaign (404 unless it runs the survey) and this session's consented participant, or None."""
    campaign, participant = campaign_and_participant(request, slug)
    if Activity.SURVEY not in campaign.activities:
        raise Http404("This study has no value survey.")
    return campaign, participant


def _render(request: HttpRequest, campaign: Campaign, participant, *, error: str = "", status: int = 200) -> HttpResponse:
    context: dict = {"campaign": campaign, "error": error, "screen": None, "closed": ""}
    try:
        context["screen"] = survey_screen(round=svc.survey_round_for(participant=participant))
    except CampaignClosed as exc:
        context["closed"] = str(exc)
    except ValidationError as exc:
        context["closed"] = " ".join(exc.messages)
    template = "elicitation/survey.html#screen" if request.htmx else "elicitation/survey.html"
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
def survey_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = _campaign_and_participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    return _render(request, campaign, participant)


@require_POST
@vary_on_headers("HX-Request")
def survey_answer(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = _campaign_and_participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    try:
        svc.survey_answer_record(participant=participant, item_id=request.POST.get("item", ""),
                                 choice=request.POST.get("choice", ""))
    except (CampaignClosed, ValidationError) as exc:
        message = str(exc) if isinstance(exc, CampaignClosed) else " ".join(exc.messages)
        return _render(request, campaign, participant, error=message, status=400)
    if not request.htmx:
        return redirect("elicitation:survey", slug=slug)
    return _render(request, campaign, participant)
