"""Curators review deduplication: each question's values with the participants' cards in them; split and merge."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from elicitation.models import Campaign, CanonicalCard, Question, ValuesCard
from elicitation.services.dedup import DISTANCE_THRESHOLD, card_move

# A card can be merged into one of the values nearest its own; listing every value for every card
# would make the page grow with cards x values.
MERGE_CHOICES = 10


@dataclass
class ValueRow:
    canonical: CanonicalCard
    cards: list[ValuesCard] = field(default_factory=list)
    nearest: CanonicalCard | None = None
    nearest_distance: float | None = None
    merge_choices: list[tuple[CanonicalCard, float | None]] = field(default_factory=list)

    @property
    def looks_duplicate(self) -> bool:
        return self.nearest_distance is not None and self.nearest_distance <= DISTANCE_THRESHOLD


@dataclass
class QuestionValues:
    question: Question
    values: list[ValueRow]
    unplaced: list[ValuesCard]  # confirmed, not yet deduplicated (or deduplication failed)


def question_values(*, questions: list[Question]) -> list[QuestionValues]:
    """Each question's values, largest first, with their cards and nearest neighbours; two queries in all."""
    canonicals = CanonicalCard.objects.filter(question__in=questions).only(
        "question_id", "title", "description", "policies", "embedding")
    rows: dict[int, ValueRow] = {c.pk: ValueRow(canonical=c) for c in canonicals}
    unplaced: dict[int, list[ValuesCard]] = defaultdict(list)
    cards = ValuesCard.objects.filter(question__in=questions).only(
        "question_id", "canonical_id", "title", "description", "policies", "dedup_method", "dedup_distance",
        "created_at").order_by("created_at", "pk")
    for card in cards:
        row = rows.get(card.canonical_id)
        if row is None:
            unplaced[card.question_id].append(card)
        else:
            row.cards.append(card)
    by_question: dict[int, list[ValueRow]] = defaultdict(list)
    for row in rows.values():
        by_question[row.canonical.question_id].append(row)
    for question_rows in by_question.values():
        _add_neighbours(question_rows)
        question_rows.sort(key=lambda r: (-len(r.cards), r.canonical.pk))
    return [QuestionValues(q, by_question[q.pk], unplaced[q.pk]) for q in questions]


def _add_neighbours(rows: list[ValueRow]) -> None:
    """Nearest other values of the same question, by the cosine distance of their policies' embeddings.

    Values without an embedding (seeded or imported ones) have no distance; they are offered last.
    """
    embedded = [r for r in rows if r.canonical.embedding]
    plain = [r for r in rows if not r.canonical.embedding]
    if embedded:
        matrix = np.asarray([r.canonical.embedding for r in embedded], dtype=np.float32)  # (V, 384), unit rows
        distances = 1.0 - matrix @ matrix.T  # (V, V)
        np.fill_diagonal(distances, np.inf)
    for i, row in enumerate(embedded):
        nearest = np.argsort(distances[i], kind="stable")[: min(MERGE_CHOICES, len(embedded) - 1)]
        row.merge_choices = [(embedded[j].canonical, float(distances[i, j])) for j in nearest]
        if row.merge_choices:
            row.nearest, row.nearest_distance = row.merge_choices[0]
    for row in plain:
        row.merge_choices = [(r.canonical, None) for r in embedded]
    for row in rows:
        row.merge_choices += [(r.canonical, None) for r in plain if r is not row]


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
    target = CanonicalCard.objects.filter(pk=int(target_id)).first() if target_id.isdigit() else None
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
