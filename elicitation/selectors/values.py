"""Reads of values: each question's canonical values with the participants' cards in them and their
nearest neighbours (for curators who split and merge), and lookups of single cards."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Q, QuerySet

from elicitation.domain.values import DISTANCE_THRESHOLD
from elicitation.models import CanonicalCard, CardImpression, Question, ValuesCard

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
    canonicals = CanonicalCard.objects.filter(question__in=questions, merged_into__isnull=True).only(
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


def values_picked_by(*, participant, question: Question) -> set[int]:
    """The values the participant last picked as wise for the question (an empty set before they vote)."""
    return set(CardImpression.objects.filter(participant=participant, question=question, picked=True)
               .values_list("card_id", flat=True))


def canonical_get(*, canonical_id) -> CanonicalCard | None:
    return CanonicalCard.objects.filter(pk=int(canonical_id)).first() if str(canonical_id).isdigit() else None


def canonical_list(*, campaign: int | None = None, question: int | None = None) -> QuerySet[CanonicalCard]:
    """Canonical values, each with `card_count` (participants' cards merged into it), oldest first;
    not those retired by a curator's merge."""
    qs = CanonicalCard.objects.filter(merged_into__isnull=True).annotate(card_count=Count("cards")).order_by("pk")
    if campaign is not None:
        qs = qs.filter(campaign_id=campaign)
    if question is not None:
        qs = qs.filter(question_id=question)
    return qs


def canonicals_worded_by(*, participant) -> list[tuple[CanonicalCard, ValuesCard | None]]:
    """The values of the participant's campaign whose wording came from their cards, each with the
    earliest card of someone else that is part of it (None where no one else's card is).

    A value has a card's wording when deduplication created it from that card ("new"), or when its
    title, description and policies are the card's own (a curator split the card off into a value of
    its own, or moved it elsewhere afterwards). Imported values are the study's, never a participant's."""
    cards = list(ValuesCard.objects.filter(participant=participant).values(
        "canonical_id", "dedup_method", "title", "description", "policies"))
    if not cards:
        return []
    worded = Q(pk__in=[c["canonical_id"] for c in cards if c["dedup_method"] == "new" and c["canonical_id"]])
    for card in cards:
        worded |= Q(title=card["title"], description=card["description"], policies=card["policies"])
    values = CanonicalCard.objects.filter(worded, campaign_id=participant.campaign_id, external_id="").order_by("pk")
    return [
        (value, ValuesCard.objects.filter(canonical=value).exclude(participant=participant)
         .order_by("created_at", "pk").first())
        for value in values
    ]
