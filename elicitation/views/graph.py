"""The moral graph page: staff see it live, participants once the campaign has closed."""
from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from chorus.accounts.selectors import consented_participant

from ..models import Campaign, Context, Wave
from ..services import graphs


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
        return render(request, "elicitation/closed.html", {"campaign": campaign,
                      "message": "The moral graph is shown to participants once the study has closed."}, status=403)
    return render(request, "elicitation/graph.html", {
        "campaign": campaign, "contexts": Context.objects.filter(campaign=campaign),
        "waves": Wave.objects.filter(campaign=campaign), "snapshots": campaign.snapshots.all()[:20],
        "is_staff": request.user.is_staff,
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
    summary = result.graph.to_mai_json()
    summary["asOf"] = result.as_of.isoformat()
    summary["voteCount"] = len(result.votes)
    summary["wisest"] = graphs.wisest_values_per_context(result=result, campaign=campaign)
    summary["contexts"] = {str(w["context_id"]): w["context"] for w in summary["wisest"]}  # every context
    attribute = request.GET.get("split", "").strip()
    if attribute:
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
    wave = Wave.objects.filter(pk=request.POST.get("wave") or 0, campaign=campaign).first()
    snapshot = graphs.graph_snapshot_create(campaign=campaign, wave=wave)
    messages.success(request, f"Snapshot frozen as of {snapshot.as_of:%Y-%m-%d %H:%M} with {snapshot.vote_count} votes.")
    return redirect("elicitation:graph", slug=slug)


@require_GET
def snapshot_json(request: HttpRequest, slug: str, snapshot_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, slug=slug)
    if not _may_see(request, campaign):
        return JsonResponse({"detail": "Not available."}, status=403)
    snapshot = get_object_or_404(campaign.snapshots, pk=snapshot_id)
    return JsonResponse(snapshot.summary)
