"""Participants write statements, vote agree / disagree / pass on others', and watch the opinion groups."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.bad_input import posted_id
from elicitation.models import Activity, Campaign, Statement
from elicitation.selectors.statements import statement_groups, statement_next, statement_votes_cast
from elicitation.services import statements as svc
from elicitation.services.campaigns import CampaignClosed
from elicitation.views.common import campaign_and_participant


def _campaign_and_participant(request: HttpRequest, slug: str):
    campaign, participant = campaign_and_participant(request, slug)
    if Activity.PRINCIPLES not in campaign.activities:
        raise Http404("This study has no statements.")
    return campaign, participant


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def statements_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = _campaign_and_participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    error, text = "", ""
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            svc.statement_submit(participant=participant, text=text)
        except CampaignClosed as exc:
            error = str(exc)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, "Thank you: your statement is added, and others can vote on it now.")
            return redirect("elicitation:statements", slug=slug)
    return render(request, "elicitation/statements.html", _voting_context(campaign, participant, error=error, text=text),
                  status=400 if error else 200)


@require_POST
@vary_on_headers("HX-Request")
def statement_vote(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = _campaign_and_participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    statement = get_object_or_404(Statement, pk=posted_id(request, "statement"), campaign=campaign)
    vote_error = ""
    try:
        svc.statement_vote_cast(participant=participant, statement=statement, choice=request.POST.get("choice", ""))
    except CampaignClosed as exc:
        vote_error = str(exc)
    except ValidationError as exc:
        vote_error = " ".join(exc.messages)
    if not request.htmx and not vote_error:
        return redirect("elicitation:statements", slug=slug)
    context = _voting_context(campaign, participant, vote_error=vote_error)
    template = "elicitation/statements.html#voting" if request.htmx else "elicitation/statements.html"
    return render(request, template, context, status=400 if vote_error else 200)


def _voting_context(campaign: Campaign, participant, **extra) -> dict:
    return {
        "campaign": campaign, "statement": statement_next(participant=participant) if campaign.is_open else None,
        "voted": statement_votes_cast(participant=participant),
        "max_chars": svc.STATEMENT_MAX_CHARS, "is_open": campaign.is_open, **extra,
    }


@require_GET
@vary_on_headers("HX-Request")
def groups_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = _campaign_and_participant(request, slug)
    if participant is None and not request.user.is_staff:
        return redirect("elicitation:home", slug=slug)
    context = {"campaign": campaign, "view": statement_groups(campaign=campaign, participant=participant),
               "poll_url": reverse("elicitation:statement_groups", args=[slug])}
    template = "elicitation/statement_groups.html#groups" if request.htmx else "elicitation/statement_groups.html"
    return render(request, template, context)
