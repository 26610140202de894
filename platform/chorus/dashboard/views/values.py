"""Curators review deduplication: each question's values with the participants' cards in them; split and merge."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.dashboard.access import staff_member_required
from elicitation.domain.values import DISTANCE_THRESHOLD
from elicitation.models import Campaign, ValuesCard
from elicitation.selectors.dedup import borderline_pending, dedup_mode
from elicitation.selectors.values import MERGE_CHOICES, canonical_get, question_values
from elicitation.services.values import card_move


@staff_member_required
@require_GET
def campaign_values(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    questions = question_values(questions=list(campaign.questions.all()))
    return render(request, "dashboard/curation.html", {
        "campaign": campaign,
        "campaign_id": campaign.pk,
        "questions": questions,
        "has_values": any(q.values or q.unplaced for q in questions),
        "threshold": DISTANCE_THRESHOLD,
        "merge_choices": MERGE_CHOICES,
        "mode": dedup_mode(),
        "borderline": borderline_pending(campaign=campaign),
    })


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def card_split(request: HttpRequest, campaign_id: int, card_id: int) -> HttpResponse:
    card = _card(campaign_id, card_id)
    try:
        card_move(card=card, canonical=None)
    except ValidationError as exc:
        return _moved(request, card, ok=False, text=" ".join(exc.messages))
    return _moved(request, card, ok=True, text=f"“{card.title}” is now a value of its own.")


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def card_merge(request: HttpRequest, campaign_id: int, card_id: int) -> HttpResponse:
    card = _card(campaign_id, card_id)
    target_id = request.POST.get("canonical", "")
    target = canonical_get(canonical_id=target_id)
    if target is None:
        return _moved(request, card, ok=False, text="Choose a value to merge the card into.")
    try:
        card_move(card=card, canonical=target)
    except ValidationError as exc:
        return _moved(request, card, ok=False, text=" ".join(exc.messages))
    return _moved(request, card, ok=True, text=f"“{card.title}” is now part of the value “{target.title}”.")


def _card(campaign_id: int, card_id: int) -> ValuesCard:
    return get_object_or_404(ValuesCard.objects.select_related("question"), pk=card_id,
                             question__campaign_id=campaign_id)


def _moved(request: HttpRequest, card: ValuesCard, *, ok: bool, text: str) -> HttpResponse:
    """htmx gets the question's section again with the notice in it; a plain form post is redirected."""
    if request.htmx:
        (section,) = question_values(questions=[card.question])
        context = {"campaign_id": card.question.campaign_id, "qv": section, "notice": text, "notice_ok": ok,
                   "threshold": DISTANCE_THRESHOLD}
        return render(request, "dashboard/curation.html#question", context, status=200 if ok else 400)
    (messages.success if ok else messages.error)(request, text)
    url = reverse("dashboard:campaign_values", args=[card.question.campaign_id])
    return redirect(f"{url}#question-{card.question_id}")
