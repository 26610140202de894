"""The moral graph page (staff see it live, participants once the campaign has closed), its JSON and
snapshots, and the participants' wisdom-upgrade questions."""
from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chorus.accounts.selectors import consented_participant
from chorus.bad_input import BadInput, posted_id
from elicitation.models import Campaign, Relationship, UpgradeStory
from elicitation.selectors import moral_graph as graphs
from elicitation.selectors.campaigns import wave_get
from elicitation.selectors.moral_graph import upgrades_answered_ids
from elicitation.services import moral_graph as services
from elicitation.services.campaigns import CampaignClosed
from elicitation.views.common import campaign_and_participant


def _may_see(request: HttpRequest, campaign: Campaign) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    participant = consented_participant(session=request.session, campaign_id=campaign.pk)
    return participant is not None and campaign.status == Campaign.Status.CLOSED


def _as_of(request: HttpRequest) -> datetime | None:
    raw = request.GET.get("as_of", "").strip()
    if not raw:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        raise ValidationError({"as_of": "Give as_of as an ISO date and time, e.g. 2026-05-01T12:00:00Z."})
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.UTC)


@require_GET
def graph_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, slug=slug)
    if not _may_see(request, campaign):
        return render(request, "elicitation/closed.html", {"campaign": campaign, "back_to_study": True,
                      "message": "The moral graph is shown to participants once the study has closed."}, status=403)
    return render(request, "elicitation/graph.html", {
        "campaign": campaign, **graphs.graph_page_parts(campaign=campaign),
        "attributes": graphs.participant_attribute_names(campaign=campaign), "is_staff": request.user.is_staff,
    })


@require_GET
def graph_json(request: HttpRequest, slug: str) -> HttpResponse:
    """MAI's MoralGraphSummary, plus the contexts and wisest values per context."""
    campaign = get_object_or_404(Campaign, slug=slug)
    if not _may_see(request, campaign):
        return JsonResponse({"detail": "Not available."}, status=403)
    try:
        result = graphs.graph_compute(campaign=campaign, as_of=_as_of(request))
    except ValidationError as exc:
        return JsonResponse({"detail": exc.message_dict}, status=400)
    summary = graphs.graph_summary(result=result, campaign=campaign)
    summary["wisest"] = graphs.wisest_values_per_context(result=result, campaign=campaign)
    summary["contextVoteCounts"] = graphs.votes_per_context(result=result)
    attribute = request.GET.get("split", "").strip()
    if attribute:
        known = graphs.participant_attribute_names(campaign=campaign)
        if attribute not in known:
            offer = f"Choose one of: {', '.join(known)}." if known else "No participant has described themselves yet."
            return JsonResponse({"detail": {"split": [f"No participant in this study has the attribute "
                                                      f"“{attribute}”. {offer}"]}}, status=400)
        split = graphs.edge_agreement_by(result=result, attribute=attribute)
        summary["split"] = [
            {"sourceValueId": a, "wiserValueId": b,
             "groups": {g: {"wiserLikelihood": t.wiser_likelihood, "votes": t.impressions} for g, t in groups.items()}}
            for (a, b), groups in split.items()
        ]
    return JsonResponse(summary)


@require_POST
def snapshot_create(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, slug=slug)
    if not request.user.is_staff:
        return HttpResponse(status=403)
    wave = None
    if request.POST.get("wave", "").strip():
        wave = wave_get(campaign=campaign, wave_id=posted_id(request, "wave"))
        if wave is None:
            raise BadInput("wave", "this campaign has no such wave.")
    snapshot = services.graph_snapshot_create(campaign=campaign, wave=wave)
    messages.success(request, f"Snapshot frozen as of {snapshot.as_of:%Y-%m-%d %H:%M} with {snapshot.vote_count} votes.")
    return redirect("elicitation:graph", slug=slug)


@require_GET
def snapshot_json(request: HttpRequest, slug: str, snapshot_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, slug=slug)
    if not _may_see(request, campaign):
        return JsonResponse({"detail": "Not available."}, status=403)
    snapshot = get_object_or_404(campaign.snapshots, pk=snapshot_id)
    return JsonResponse(snapshot.summary)


@require_http_methods(["GET", "POST"])
def upgrades_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign, participant = campaign_and_participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    error = ""
    if request.method == "POST":
        story = get_object_or_404(UpgradeStory, pk=posted_id(request, "story"), campaign=campaign)
        try:
            services.edge_vote_cast(participant=participant, story=story, relationship=request.POST.get("relationship", ""),
                               comment=request.POST.get("comment", ""))
            return redirect("elicitation:upgrades", slug=slug)
        except CampaignClosed as exc:
            error = str(exc)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    answered = upgrades_answered_ids(participant=participant)
    stories = services.upgrade_draw(participant=participant, answered=answered) if campaign.is_open else []
    return render(request, "elicitation/upgrades.html", {
        "campaign": campaign, "story": stories[0] if stories else None, "answered": len(answered),
        "total": services.UPGRADES_PER_PARTICIPANT, "choices": Relationship.choices, "error": error,
    }, status=400 if error else 200)
