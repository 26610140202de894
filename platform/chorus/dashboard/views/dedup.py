"""Curators see which mode deduplication is in, calibrate the judge, and decide borderline pairs.

The section sits on each campaign's values page (`views.values.campaign_values`)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.dashboard.access import staff_member_required
from elicitation.models import BorderlinePair, Campaign
from elicitation.selectors.dedup import dedup_mode
from elicitation.services.dedup import borderline_decide, judge_calibration_request


@staff_member_required
@require_GET
def mode(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The mode section alone: the page polls it while a calibration is queued or running."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return render(request, "dashboard/dedup.html#mode", {"campaign": campaign, "mode": dedup_mode()})


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def calibrate(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        judge_calibration_request()
    except ValidationError as exc:
        ok, text = False, " ".join(exc.messages)
    else:
        ok, text = True, "Calibration queued: a worker asks the judge about each labelled pair; the result appears here."
    if request.htmx:
        return render(request, "dashboard/dedup.html#mode",
                      {"campaign": campaign, "mode": dedup_mode(), "notice": text, "notice_ok": ok},
                      status=200 if ok else 400)
    (messages.success if ok else messages.error)(request, text)
    return redirect(reverse("dashboard:campaign_values", args=[campaign.pk]) + "#dedup-mode")


@staff_member_required
@require_POST
def decide(request: HttpRequest, campaign_id: int, pair_id: int) -> HttpResponse:
    """Merge the card into the value, or keep them apart; the whole page changes, so it is reloaded."""
    pair = get_object_or_404(BorderlinePair.objects.select_related("card", "canonical"), pk=pair_id,
                             card__question__campaign_id=campaign_id)
    decision = request.POST.get("decision", "")
    url = reverse("dashboard:campaign_values", args=[campaign_id]) + "#borderline"
    if decision not in ("merge", "keep_apart"):
        messages.error(request, "Choose to merge the card into the value or to keep them apart.")
        return redirect(url)
    try:
        borderline_decide(pair=pair, merge=decision == "merge")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(url)
    if decision == "merge":
        messages.success(request, f"“{pair.card.title}” is now part of the value “{pair.canonical.title}”.")
    else:
        messages.success(request, f"“{pair.card.title}” and “{pair.canonical.title}” are kept apart.")
    return redirect(url)
